"""moto's state, kept and put back: the fresh world every test starts from, made once per worker.

Creating every resource through boto3 (the table with its stream and TTL, the bucket, four queues, the SES
identity, the SNS topic, the Cognito pool) and loading the small directory cost most of a test's setup:
hundreds of stubbed AWS calls, each through botocore's whole request path. The state they leave in moto's
backends is the same every time, so the first test of a worker makes it through the real calls and keeps
it (pickled), and every later one gets a fresh copy of it: same table, same pool, same queues, nothing
shared between tests.
"""

from __future__ import annotations

import io
import pickle
import threading
from typing import Any

from moto.core.base_backend import BackendDict, backend_lock

from local.resources import TABLE

_LOCKS: dict[Any, Any] = {
    type(threading.Lock()): threading.Lock,
    type(threading.RLock()): threading.RLock,
    threading.Condition: threading.Condition,
}


_SHARED: list[Any] = []  # objects kept by reference: the pool's signing keys, which nothing changes


class _Pickler(pickle.Pickler):
    """Each lock or condition (moto's SQS queues hold one) comes back as a new, unlocked one;
    a key object of the cryptography package (which cannot be pickled) comes back as itself."""

    def reducer_override(self, obj: Any) -> Any:
        make = _LOCKS.get(type(obj))
        return (make, ()) if make else NotImplemented

    def persistent_id(self, obj: Any) -> Any:
        if type(obj).__module__.startswith("cryptography."):
            _SHARED.append(obj)
            return len(_SHARED) - 1
        return None


class _Unpickler(pickle.Unpickler):
    def persistent_load(self, pid: Any) -> Any:
        return _SHARED[pid]


def _dump(state: Any) -> bytes:
    out = io.BytesIO()
    _Pickler(out, protocol=pickle.HIGHEST_PROTOCOL).dump(state)
    return out.getvalue()


def _load(data: bytes) -> Any:
    return _Unpickler(io.BytesIO(data)).load()


_saved: dict[str, tuple[list[Any], bytes, Any]] = {}


def save(name: str, extra: Any = None, services: set[str] | None = None) -> None:
    """Keep moto's backends as they are now (only those of `services`, if given)."""
    with backend_lock:
        live = [bd for bd in BackendDict._instances if services is None or bd.service_name in services]
        _saved[name] = (live, _dump([dict(bd) for bd in live]), extra)


def saved(name: str) -> bool:
    return name in _saved


def restore(name: str) -> Any:
    """Put a kept state back (a fresh copy of it, so the kept one stays as it was). Returns its `extra`."""
    live, state, extra = _saved[name]
    with backend_lock:
        for bd, accounts in zip(live, _load(state)):
            dict.clear(bd)
            dict.update(bd, accounts)
            if bd not in BackendDict._instances:
                BackendDict._instances.append(bd)
    return extra


def table_is_empty(account_id: str, region: str) -> bool:
    """No item in the table and nothing on its stream: the state right after create_all."""
    from moto.dynamodb.models import dynamodb_backends

    table = dynamodb_backends[account_id][region].tables[TABLE]
    return not table.items and not (table.stream_shard and table.stream_shard.items)
