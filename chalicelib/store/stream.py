"""The table's stream, read once: what a record is about, decoded from its keys into one `Change`.

The stream handler decodes each record here, once, and hands the same Change to every reaction
(chalicelib/changes.py), so no reaction reads the raw record or knows a key.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .table import _public, from_item

_THREAD_KINDS = {"READ": "read", "RESPONSE": "response", "REPLY": "reply"}


@dataclass(frozen=True)
class Change:
    """What a stream record is about, decoded from its keys."""

    # "story", "contact", "read", "response", "reply", "subscriber", "subscription", "link_request",
    # "pass" (a story passed on), "public_tag" (a staff tag shown in public),
    # "me_too" (a reader's me-too item), "check" (an answer to a change check),
    # "concern_contact", "concern_case" (a reporter's address, the case of reports on one item),
    # "message" (between a moderator and the author), "partner" (a webhook's
    # registration; ref: the partner id), "other"
    kind: str
    story_id: str | None
    old: dict[str, Any] | None
    new: dict[str, Any] | None
    # The item's own id within its partition: a response, reply, subscription, me-too or check
    # answer id, or a reader's subscriber id.
    ref: str = ""
    subscriber_id: str | None = None
    event: str = ""  # the record's eventName: INSERT, MODIFY or REMOVE
    sequence: str = ""  # the record's SequenceNumber: what makes an audit entry unique
    seen_at: float | None = None  # ApproximateCreationDateTime (epoch seconds), when the table changed

    @property
    def inserted(self) -> bool:
        return self.event == "INSERT"


def decode(record: dict[str, Any]) -> Change:
    """Say what a DynamoDB stream record is about, from its keys: one decoder for every kind."""
    ddb = record.get("dynamodb", {})
    keys = from_item(ddb.get("Keys", {}))
    old = _public(from_item(ddb["OldImage"])) if ddb.get("OldImage") else None
    new = _public(from_item(ddb["NewImage"])) if ddb.get("NewImage") else None
    seen = ddb.get("ApproximateCreationDateTime")
    about = {
        "event": record.get("eventName", ""),
        "sequence": str(ddb.get("SequenceNumber", "")),
        "seen_at": float(seen) if seen else None,
    }
    pk, sk = str(keys.get("PK", "")), str(keys.get("SK", ""))
    prefix, _, ident = pk.partition("#")
    if prefix == "STORY" and sk == "STORY":
        return Change("story", ident, old, new, **about)
    if prefix == "PRIVATE" and sk == "CONTACT":
        # The address itself never leaves the store: only whether its owner has confirmed it.
        return Change("contact", ident, _confirmed(old), _confirmed(new), **about)
    if prefix == "PRIVATE" and sk.startswith("CONCERNCONTACT#"):
        # A reporter's address (issue 16): as an author's, only whether it is confirmed.
        return Change("concern_contact", ident, _confirmed(old), _confirmed(new), sk.partition("#")[2], **about)
    if prefix == "PRIVATE" and sk.startswith("CASE#"):
        return Change("concern_case", ident, old, new, sk.partition("#")[2], **about)
    if prefix == "PRIVATE" and sk.startswith("MESSAGE#"):
        # A moderator's message to the author, or the author's answer (issue 20): its text, never an address.
        return Change("message", ident, old, new, sk.partition("#")[2], **about)
    if prefix == "PRIVATE" and sk.startswith("PASS#"):
        return Change("pass", ident, old, new, sk.partition("#")[2], **about)
    if prefix == "STORY" and sk.startswith("STAFFTAG#"):
        return Change("public_tag", ident, old, new, sk.partition("#")[2], **about)
    sk_kind, _, ref = sk.partition("#")
    if prefix == "STORY" and sk_kind in _THREAD_KINDS:
        return Change(_THREAD_KINDS[sk_kind], ident, old, new, ref, (new or old or {}).get("subscriber_id"), **about)
    if prefix == "STORY" and sk_kind == "CHECK":
        return Change("check", ident, old, new, ref, **about)
    if prefix == "METOO":
        return Change("me_too", ident, old, new, sk, **about)
    if prefix == "SUBSCRIBER" and sk == "PROFILE":
        return Change("subscriber", None, old, new, ident, ident, **about)
    if prefix == "SUBSCRIBER" and sk_kind == "SUB":
        return Change("subscription", None, old, new, ref, ident, **about)
    if prefix == "PARTNER" and sk == "PARTNER":
        # A partner's webhook: its secret, even sealed, is no reaction's business.
        return Change("partner", None, _unsealed(old), _unsealed(new), ident, **about)
    if prefix == "LINKREQUEST":
        return Change("link_request", None, old, new, ident, (new or old or {}).get("subscriber_id"), **about)
    return Change("other", None, None, None, **about)


def _confirmed(contact: dict[str, Any] | None) -> dict[str, Any] | None:
    return {"confirmed_at": contact.get("confirmed_at") or ""} if contact is not None else None


def _unsealed(partner: dict[str, Any] | None) -> dict[str, Any] | None:
    return {k: v for k, v in partner.items() if k != "secret_sealed"} if partner is not None else None
