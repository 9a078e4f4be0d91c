"""Lazily created, cached boto3 clients: nothing talks to AWS, or even builds a client, at import."""

from __future__ import annotations

from functools import cache
from typing import Any


@cache
def client(service: str) -> Any:
    import boto3
    from botocore.config import Config

    # Standard retry mode backs off on throttling; adaptive adds client-side rate limiting.
    retries = _RETRIES.get(service, {"mode": "standard", "max_attempts": 5})
    config = Config(retries=retries, connect_timeout=5, read_timeout=20)
    return boto3.session.Session().client(service, config=config)


# SES throttles at the account's sending rate. Adaptive mode slows this client down to that
# rate and retries with backoff; a send still throttled after that raises, and its queue
# message is retried later (only MessageRejected is permanent: see mail.py).
_RETRIES: dict[str, dict[str, Any]] = {"ses": {"mode": "adaptive", "max_attempts": 8}}


def reset_clients() -> None:
    """Drop cached clients, for tests that start a fresh emulator."""
    client.cache_clear()
