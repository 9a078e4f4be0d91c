"""The table's stream, read: what a record is about, decoded from its keys."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .table import _public, from_item

_THREAD_KINDS = {"READ": "read", "RESPONSE": "response", "REPLY": "reply"}


@dataclass(frozen=True)
class Change:
    """What a stream record is about, decoded from its keys."""

    # "story", "contact", "read", "response", "reply", "subscriber", "subscription", "other"
    kind: str
    story_id: str | None
    old: dict[str, Any] | None
    new: dict[str, Any] | None
    # The item's own id within its partition: a response, reply or subscription id, or a reader's subscriber id.
    ref: str = ""
    subscriber_id: str | None = None


def decode_change(record: dict[str, Any]) -> Change:
    """Say what a DynamoDB stream record is about, from its keys."""
    ddb = record.get("dynamodb", {})
    keys = from_item(ddb.get("Keys", {}))
    old = from_item(ddb["OldImage"]) if ddb.get("OldImage") else None
    new = from_item(ddb["NewImage"]) if ddb.get("NewImage") else None
    pk, sk = str(keys.get("PK", "")), str(keys.get("SK", ""))
    prefix, _, ident = pk.partition("#")
    if prefix == "STORY" and sk == "STORY":
        return Change("story", ident, old and _public(old), new and _public(new))
    if prefix == "PRIVATE" and sk == "CONTACT":
        return Change("contact", ident, None, None)  # the address itself never leaves the store
    sk_kind, _, ref = sk.partition("#")
    if prefix == "STORY" and sk_kind in _THREAD_KINDS:
        img_old, img_new = old and _public(old), new and _public(new)
        return Change(_THREAD_KINDS[sk_kind], ident, img_old, img_new, ref, (img_new or img_old or {}).get("subscriber_id"))
    if prefix == "SUBSCRIBER" and sk == "PROFILE":
        return Change("subscriber", None, old and _public(old), new and _public(new), ident, ident)
    if prefix == "SUBSCRIBER" and sk_kind == "SUB":
        return Change("subscription", None, old and _public(old), new and _public(new), ref, ident)
    return Change("other", None, None, None)


def decode_loop(record: dict[str, Any]) -> tuple[str, str, str, dict[str, Any] | None, dict[str, Any] | None] | None:
    """(kind, story id, item id, old, new) for a me-too ("me_too") or a change-check answer
    ("check") stream record; None for anything else."""
    ddb = record.get("dynamodb", {})
    keys = from_item(ddb.get("Keys", {}))
    pk, sk = str(keys.get("PK", "")), str(keys.get("SK", ""))
    prefix, _, story_id = pk.partition("#")
    old = _public(from_item(ddb["OldImage"])) if ddb.get("OldImage") else None
    new = _public(from_item(ddb["NewImage"])) if ddb.get("NewImage") else None
    if prefix == "METOO":
        return "me_too", story_id, sk, old, new
    if prefix == "STORY" and sk.startswith("CHECK#"):
        return "check", story_id, sk.split("#", 1)[1], old, new
    return None
