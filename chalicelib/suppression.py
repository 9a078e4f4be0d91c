"""SES bounces and complaints, delivered by SNS: each puts the address on the suppression list
that every send checks (notifications.py), so we never write twice to an address that bounced
for good or whose owner marked us as spam.

Both shapes SES publishes are read: identity notifications ("notificationType") and
configuration-set event publishing ("eventType"). A permanent bounce and a complaint suppress;
a transient or undetermined bounce, a delivery and anything else are only counted. Neither
logs nor metrics carry an address: only its hash, which is also the suppression item's key.
"""

from __future__ import annotations

import json
from email.utils import parseaddr
from typing import TYPE_CHECKING, Any

from .core import clock
from .core.observability import logger, metrics
from .store import email_hash

if TYPE_CHECKING:
    from .store import PeopleStore


class Unreadable(ValueError):
    """Not an SES notification we understand: logged and dropped, never retried."""


def handle_sns(event: dict[str, Any], store: PeopleStore) -> dict[str, int]:
    """The on_mail_event handler. A malformed record is skipped, so it cannot block the others;
    if the table fails, the other records are still done and then the error is raised, so Lambda
    retries the event (suppressing twice is harmless, dropping a complaint is not)."""
    counts = {"suppressed": 0, "ignored": 0}
    error: Exception | None = None
    try:
        for record in (event or {}).get("Records") or []:
            sns_id = _sns_message_id(record)
            try:
                n = apply(parse(record), store)
            except Unreadable as e:
                counts["ignored"] += 1
                logger.warning("mail event ignored", extra={"sns_message_id": sns_id, "why": str(e)})
                continue
            except Exception as e:  # noqa: BLE001 - the table or the network; retried as a whole
                logger.exception("mail event failed", extra={"sns_message_id": sns_id})
                error = error or e
                continue
            if n:
                counts["suppressed"] += n
            else:
                counts["ignored"] += 1
        if error:
            raise error
        return counts
    finally:
        metrics.flush_metrics()


def parse(record: dict[str, Any]) -> dict[str, Any]:
    """The SES notification inside one SNS record of a Lambda event."""
    try:
        message = record["Sns"]["Message"]
    except (KeyError, TypeError) as e:
        raise Unreadable("not an SNS record") from e
    try:
        notification = json.loads(message)
    except (TypeError, ValueError) as e:
        raise Unreadable("message is not JSON") from e
    if not isinstance(notification, dict):
        raise Unreadable("message is not a JSON object")
    return notification


def apply(notification: dict[str, Any], store: PeopleStore) -> int:
    """Suppress whom one notification says to; returns how many addresses."""
    kind = notification.get("notificationType") or notification.get("eventType")
    if kind == "Bounce":
        bounce = _object(notification, "bounce")
        bounce_type, sub_type = str(bounce.get("bounceType", "")), str(bounce.get("bounceSubType", ""))
        recipients = _recipients(bounce, "bouncedRecipients")
        if bounce_type != "Permanent":
            # The mailbox is full or the server busy: SES has retried already, and the next email may arrive.
            metrics.add_metric(name="EmailsBouncedTransient", unit="Count", value=len(recipients))
            logger.info(
                "transient bounce",
                extra={"bounce_type": bounce_type, "bounce_sub_type": sub_type, "recipients": len(recipients)},
            )
            return 0
        return _suppress(
            store, recipients, "bounce", f"{bounce_type}/{sub_type}", bounce.get("timestamp"), "EmailsBounced"
        )
    if kind == "Complaint":
        complaint = _object(notification, "complaint")
        recipients = _recipients(complaint, "complainedRecipients")
        detail = str(complaint.get("complaintFeedbackType") or complaint.get("complaintSubType") or "")
        return _suppress(store, recipients, "complaint", detail, complaint.get("timestamp"), "EmailsComplained")
    if isinstance(kind, str) and kind:
        logger.info("mail event not acted on", extra={"type": kind[:40]})
        return 0
    raise Unreadable("neither notificationType nor eventType")


def _suppress(store: PeopleStore, addresses: list[str], reason: str, detail: str, at: Any, metric: str) -> int:
    when = at if isinstance(at, str) and at else clock.iso()
    for address in addresses:
        store.suppress(address, reason, when, detail[:100])
        logger.info(
            "address suppressed", extra={"reason": reason, "detail": detail[:100], "email_hash": email_hash(address)}
        )
    metrics.add_metric(name=metric, unit="Count", value=len(addresses))
    return len(addresses)


def _object(notification: dict[str, Any], name: str) -> dict[str, Any]:
    value = notification.get(name)
    if not isinstance(value, dict):
        raise Unreadable(f"no {name} object")
    return value


def _recipients(obj: dict[str, Any], name: str) -> list[str]:
    """The plain addresses in bouncedRecipients or complainedRecipients (each {"emailAddress": ...})."""
    entries = obj.get(name)
    if not isinstance(entries, list):
        raise Unreadable(f"no {name} list")
    out: list[str] = []
    for entry in entries:
        raw = entry.get("emailAddress") if isinstance(entry, dict) else None
        address = parseaddr(raw)[1] if isinstance(raw, str) else ""
        if "@" in address:
            out.append(address)
    if not out:
        raise Unreadable(f"no address in {name}")
    return out


def _sns_message_id(record: Any) -> str:
    try:
        return str(record["Sns"]["MessageId"])[:80]
    except (KeyError, TypeError):
        return ""
