"""Lazily created, cached boto3 clients: nothing talks to AWS, or even builds a client, at import.

Every client comes from one boto3 session per process: each session loads its own endpoint data and
registers its own handlers, which cost a cold start about 30 ms per client (issue 17).
"""

from __future__ import annotations

import threading
from functools import cache
from typing import Any

_LOCK = threading.Lock()  # a boto3 session is not safe to make clients from in two threads at once


@cache
def client(service: str) -> Any:
    from botocore.config import Config

    # Standard retry mode backs off on throttling; adaptive adds client-side rate limiting.
    retries = _RETRIES.get(service, {"mode": "standard", "max_attempts": 5})
    config = Config(retries=retries, connect_timeout=5, read_timeout=20)
    with _LOCK:
        return _session().client(service, config=config)


@cache
def _session() -> Any:
    import boto3

    return boto3.session.Session()


# SES throttles at the account's sending rate. Adaptive mode slows this client down to that
# rate and retries with backoff; a send still throttled after that raises, and its queue
# message is retried later (only MessageRejected is permanent: see mail.py).
_RETRIES: dict[str, dict[str, Any]] = {"ses": {"mode": "adaptive", "max_attempts": 8}}


def reset_clients() -> None:
    """Drop cached clients and their session, for tests that start a fresh emulator."""
    client.cache_clear()
    _session.cache_clear()
