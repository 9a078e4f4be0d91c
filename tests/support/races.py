"""Races against the emulator, shared by the tests that run them (tests/pipeline/test_concurrency.py,
test_concern_race.py): one lock per DynamoDB call, as DynamoDB promises; the stream records nobody reads
dropped; and calls started together at a barrier."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest


@pytest.fixture(autouse=True)
def atomic_writes(monkeypatch):
    """DynamoDB applies each call atomically; in-process moto checks a condition and writes in
    two steps another thread can get between (and can read a table while it changes). One lock
    per call restores what DynamoDB promises for one call, and nothing more: a read-then-write
    race in our own code would still lose an update here."""
    from moto.dynamodb.models import DynamoDBBackend
    from moto.dynamodb.responses import DynamoHandler

    lock = threading.RLock()
    # The handler too: moto's update_item copies the item it read outside the backend's methods,
    # and one thread's copy can meet another's write ("dictionary changed size during iteration").
    for cls in (DynamoDBBackend, DynamoHandler):
        for name in (
            "put_item",
            "update_item",
            "delete_item",
            "transact_write_items",
            "get_item",
            "query",
            "batch_get_item",
        ):
            original = getattr(cls, name)

            def locked(self, *args, _original=original, **kwargs):
                with lock:
                    return _original(self, *args, **kwargs)

            monkeypatch.setattr(cls, name, locked)


def forget_stream() -> None:
    """Nothing reads the stream here, yet moto keeps every record and copies them all with the table
    on each TransactWriteItems (its rollback copy): 1,000 rounds grew past 18 GB and slowed
    quadratically. Dropping the unread records (and erasing each round's story) keeps rounds flat."""
    from moto.core import DEFAULT_ACCOUNT_ID
    from moto.dynamodb.models import dynamodb_backends

    for backend in dynamodb_backends[DEFAULT_ACCOUNT_ID].values():
        for table in backend.tables.values():
            if getattr(table, "stream_shard", None) is not None:
                table.stream_shard.items.clear()


def race(*calls):
    """Run the calls at the same moment; each result is ("ok", value) or ("error", exception)."""
    barrier = threading.Barrier(len(calls))

    def run(call):
        barrier.wait()
        try:
            return "ok", call()
        except Exception as e:  # noqa: BLE001 - the test sorts what came back
            import traceback

            e.trace = traceback.format_exc()
            return "error", e

    with ThreadPoolExecutor(max_workers=len(calls)) as pool:
        return list(pool.map(run, calls))
