"""Concurrency: decisions and submissions racing each other, against the emulator.

Two moderators open the same story and decide at once: exactly one wins, the other gets a 409
(Conflict), and nothing the loser sent is written. The same form sent ten times at once with one
submission id makes one story. Threads share one boto3 client (clients are thread-safe) and start
together at a barrier, so the reads and the conditional writes really interleave.

`FF_PROVE_ROUNDS` raises the number of rounds (make prove runs 1,000; make test runs fewer).
"""

from __future__ import annotations

import os
import threading
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import pytest

from chalicelib import wiring
from chalicelib.core.errors import Conflict
from chalicelib.moderation import Moderator
from tests.support.factories import story_body
from tests.support.prove import record

ROUNDS = int(os.environ.get("FF_PROVE_ROUNDS", "30"))
ALICE, BOB = Moderator("alice", "Alice"), Moderator("bob", "Bob")


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


def test_two_moderators_on_one_story_one_wins_and_one_gets_a_conflict(aws, directory):
    stories, moderation = wiring.stories(), wiring.moderation()
    outcomes = Counter()
    for n in range(ROUNDS):
        forget_stream()
        story_id = stories.submit(story_body(title=f"Race {n}"))["id"]
        version = moderation.story(story_id)["story"]["version"]
        publish = {
            "action": "publish",
            "version": version,
            "criticality": 2,
            "tags": ["waiting"],
            "title": f"Edited by Alice {n}",
        }
        reject = {"action": "reject", "version": version, "note": "Not about a service we list."}
        results = race(
            lambda: moderation.decide(story_id, publish, ALICE), lambda: moderation.decide(story_id, reject, BOB)
        )
        kinds = sorted(kind for kind, _ in results)
        assert kinds == ["error", "ok"], (n, results)
        error = next(v for k, v in results if k == "error")
        assert isinstance(error, Conflict) and error.status == 409, getattr(error, "trace", error)
        winner = next(v for k, v in results if k == "ok")
        saved = wiring.store().get_story(story_id, consistent=True)
        # No lost update and no mix: the saved story is exactly the winner's decision.
        assert saved["version"] == version + 1 and saved["status"] == winner["status"] == saved["status"]
        assert saved["decided_by"] == winner["decided_by"]
        if saved["status"] == "published":
            assert saved["title"] == f"Edited by Alice {n}" and saved["decision_note"] == ""
        else:
            assert saved["title"] == f"Race {n}" and saved["decision_note"] == "Not about a service we list."
        outcomes[saved["decided_by"]] += 1
        # moto copies the whole table for each TransactWriteItems: each round starts from the same size.
        wiring.store().erase_story(story_id)
    assert sum(outcomes.values()) == ROUNDS
    record(
        "concurrency",
        {"moderator_pairs": ROUNDS, "lost_updates": 0, "conflicts_409": ROUNDS, "winners": dict(outcomes)},
    )


@pytest.mark.parametrize("copies", [10])
def test_one_form_sent_ten_times_at_once_makes_one_story(aws, directory, copies):
    stories = wiring.stories()
    rounds, sent = max(3, ROUNDS // 20), 0
    for n in range(rounds):
        forget_stream()
        body = story_body(title=f"Double tap {n}")
        results = race(*[lambda: stories.submit(dict(body)) for _ in range(copies)])
        made = {v["id"] for k, v in results if k == "ok"}
        errors = [v for k, v in results if k == "error"]
        assert len(made) == 1, results
        # The copies that found the first still in progress are told so (409), never a 5xx.
        assert all(isinstance(e, Conflict) for e in errors), errors
        pending = [s for s in wiring.store().queue("pending", 1000) if s["title"] == f"Double tap {n}"]
        assert [s["id"] for s in pending] == list(made)
        # Sent again once the first is done: the same story comes back.
        assert stories.submit(dict(body))["id"] in made
        sent += copies
        wiring.store().erase_story(next(iter(made)))
    record("concurrency", {"double_submits": sent, "double_submit_rounds": rounds, "stories_made_per_round": 1})
