"""Identifiers for stories: short, unguessable enough, and sorting by creation time."""

from __future__ import annotations

import secrets
import time

_ALPHABET = "0123456789abcdefghjkmnpqrstvwxyz"  # Crockford base32, lower case


def _encode(number: int, length: int) -> str:
    out = []
    for _ in range(length):
        number, digit = divmod(number, 32)
        out.append(_ALPHABET[digit])
    return "".join(reversed(out))


def new_story_id() -> str:
    return _encode(int(time.time() * 1000), 9) + _encode(secrets.randbits(40), 8)


def new_id() -> str:
    """Any other record's id (subscribers, subscriptions, responses, replies): same shape as a story's."""
    return new_story_id()
