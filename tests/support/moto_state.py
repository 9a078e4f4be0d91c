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

from chalicelib.core import clock
from local.resources import TABLE

_REAL_NOW = clock.now  # before any test holds the clock

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


def _fingerprint() -> tuple:
    """Enough of the world to tell that a fixture starts from where it started when its state was kept:
    a digest of the table's items, the stream's length, the objects stored, the mail sent and the FF_*
    settings. (Two worlds that differ only in a way this misses would be a test that wrote to S3 or
    SES in a way that leaves counts and keys alike: none does.)"""
    import hashlib
    import os

    from moto.core import DEFAULT_ACCOUNT_ID
    from moto.dynamodb.models import dynamodb_backends
    from moto.s3.models import s3_backends
    from moto.ses.models import ses_backends

    from local.resources import REGION

    table = dynamodb_backends[DEFAULT_ACCOUNT_ID][REGION].tables[TABLE]
    items = hashlib.sha1(pickle.dumps(table.items, protocol=pickle.HIGHEST_PROTOCOL)).hexdigest()
    stream = len(table.stream_shard.items) if table.stream_shard else 0
    objects = tuple(sorted(k for b in s3_backends[DEFAULT_ACCOUNT_ID]["global"].buckets.values() for k in b.keys))
    sent = len(ses_backends[DEFAULT_ACCOUNT_ID][REGION].sent_messages)
    settings = tuple(sorted((k, v) for k, v in os.environ.items() if k.startswith("FF_")))
    return items, stream, objects, sent, settings, _held_time()


def _held_time() -> Any:
    """The time a test holds the clock at (a world built at another held time is another world);
    None when the clock runs (a few minutes between the first build and a later test change nothing)."""
    return None if clock.now is _REAL_NOW else clock.now()


def remembered(fn: Any) -> Any:
    """A test helper `fn(client, pump, *args, **kwargs)` that builds through the whole pipeline, made
    once per worker for each set of arguments and each world it starts from (see `kept`)."""
    import functools

    @functools.wraps(fn)
    def wrapper(client: Any, pump: Any, *args: Any, **kwargs: Any) -> Any:
        key = f"{fn.__module__}.{fn.__qualname__}{args!r}{sorted(kwargs.items())!r}"
        return kept(key, lambda: fn(client, pump, *args, **kwargs), pump)

    return wrapper


def kept(name: str, build: Any, pump: Any = None) -> Any:
    """`build()`'s result, and the world it leaves, made once per worker.

    A fixture that publishes stories through the whole pipeline costs one to two seconds, in every test
    that uses it. The first call runs `build` for real and keeps moto's state, the pump's place on the
    stream and the result; a later call that starts from the same world (same fingerprint) gets a fresh
    copy of all three instead. Each starting world has its own kept result.
    """
    import copy

    from chalicelib import wiring

    before = _fingerprint()
    name = f"{name}|{hash(before)}"  # one kept world per starting world
    if saved(name):
        extra = restore(name)
        wiring.reset(clients=False)  # the store's held directory and such came from the world before
        if pump is not None:
            pump._last_sequence = dict(extra["sequence"])
        return copy.deepcopy(extra["value"])
    value = build()
    sequence = dict(pump._last_sequence) if pump is not None else {}
    save(name, {"value": copy.deepcopy(value), "sequence": sequence})
    return value
