"""Lazily created, cached boto3 clients: nothing talks to AWS, or even builds a client, at import."""

from __future__ import annotations

from functools import lru_cache
from typing import Any


@lru_cache(maxsize=None)
def client(service: str) -> Any:
    import boto3
    from botocore.config import Config

    # Standard retry mode backs off on throttling; adaptive adds client-side rate limiting.
    config = Config(retries={"mode": "standard", "max_attempts": 5}, connect_timeout=5, read_timeout=20)
    return boto3.session.Session().client(service, config=config)


def reset_clients() -> None:
    """Drop cached clients, for tests that start a fresh emulator."""
    client.cache_clear()
