"""Webhooks for partners: a registration per endpoint, the events the stream turns into deliveries,
and the delivery worker (docs/partners.md).

- An admin registers an HTTPS endpoint for a service subtree (an organisation is the top of one):
  `python -m tools.ff webhook-add`. Its secret is shown once and kept sealed (core/webhooks.py).
- The stream, never a request, turns each event into one DeliveryJob per partner watching one of the
  story's services (`delivery_jobs`, registered in reactions.py): story published or withdrawn (by
  its author, erased, or taken down by a moderator), response published, change marked.
- The worker (`Webhooks.deliver`) builds the body from the public API's view of the story, at send
  time, so nothing private and nothing no longer public goes out; signs it; POSTs it. A 2xx is done;
  anything else raises, and SQS brings the job back, backed off, with the same id. After
  `webhook_pause_after` failures in a row the partner is paused: its deliveries are kept, its leads
  are told (through the mail path), and `tools.ff webhook-resume` sends every kept one again.
"""

from __future__ import annotations

import hashlib
import ipaddress
import json
from collections.abc import Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from .core import clock
from .core.errors import NotFound, ValidationFailed
from .core.ids import new_id
from .core.jobs import DeliveryJob, EventType, MailJob
from .core.observability import logger, metrics
from .core.status import Status, public
from .core.webhooks import SIGNATURE_HEADER, SecretBox, new_secret, post, sign
from .store.stream import Change

if TYPE_CHECKING:
    from .core.settings import Settings
    from .store import WebhookStore

LOCAL_HOSTS = ("127.0.0.1",)  # plain http is allowed only to these, and only on the local stack
PAYLOAD_VERSION = "2026-12-07"  # the body's shape (docs/partners.md); a change of shape gets a new one


class DeliveryFailed(RuntimeError):
    """The partner did not take the delivery (no 2xx): the queue brings it back later."""


# ---- events, from the stream ---------------------------------------------------------------------


def events(change: Change) -> list[tuple[EventType, str, str]]:
    """The partner events in one change: (type, ref, when). A replayed record gives the same ones."""
    old, new = change.old or {}, change.new or {}
    if change.kind == "story" and change.story_id:
        # A story kept for staff only (issue 21) is never a partner's: as if it were not published.
        was = old.get("status") if public(old) or old.get("status") != Status.PUBLISHED else "staff-only"
        now = new.get("status") if public(new) or new.get("status") != Status.PUBLISHED else "staff-only"
        if now == Status.PUBLISHED and was != Status.PUBLISHED:
            return [("story.published", str(new.get("version", "")), new.get("published_at", ""))]
        if was == Status.PUBLISHED and now != Status.PUBLISHED:
            # A report that hides it, or a moderator's restriction (issue 16), say so; any other way out is "removed".
            reasons = {"withdrawn": "withdrawn", "erasing": "erased", "hidden": "hidden", "restricted": "restricted"}
            reason = reasons.get(str(now or ""), "removed")
            at = new.get("withdrawn_at") or new.get("erase_requested_at") or new.get("decided_at") or _seen(change)
            return [("story.withdrawn", reason, at)]
    if change.kind == "response" and change.story_id and new:
        at = new.get("published_at") or new.get("created_at", "")
        out: list[tuple[EventType, str, str]] = []
        if new.get("status") == Status.PUBLISHED:
            if old.get("status") != Status.PUBLISHED:
                out.append(("response.published", change.ref, at))
            marked = new.get("change") in ("planned", "made")
            if marked and (old.get("status") != Status.PUBLISHED or old.get("change") != new.get("change")):
                out.append(("change.marked", change.ref, new.get("edited_at") or at))
        return out
    return []


def delivery_jobs(store: WebhookStore, change: Change) -> list[DeliveryJob]:
    """One delivery per event and per partner watching any service of the story (or above it)."""
    found = events(change)
    if not found or change.story_id is None or not store.watched_services():
        return []  # no partner anywhere: nothing read but the watched services' item, kept a minute
    # A story's own change carries it (a console's delete too, in its old image); a response's does not.
    story = (change.new or change.old) if change.kind == "story" else store.get_story(change.story_id)
    if not story or (change.kind != "story" and not public(story)):
        return []  # a response on a story that is not public is no partner's
    services = store.get_services(story.get("services") or (change.old or {}).get("services") or [])
    slugs = {s for svc in services.values() for s in svc.get("path", [svc["slug"]])}
    partners = store.partners_watching(slugs) if slugs else []
    jobs = []
    for partner in {p["id"]: p for p in partners}.values():
        for kind, ref, at in found:
            basis = f"{kind}:{change.story_id}:{ref}"
            if kind == "change.marked":
                basis += f":{(change.new or {}).get('change')}"
            elif kind == "story.withdrawn":  # a story can leave, come back (a report dismissed) and leave again
                basis += f":{(change.new or change.old or {}).get('version', '')}"
            jobs.append(
                DeliveryJob(
                    id=delivery_id(basis, partner["id"]),
                    partner_id=partner["id"],
                    type=kind,
                    story_id=change.story_id,
                    ref=ref,
                    created=at or _seen(change),
                )
            )
    return jobs


def delivery_id(event: str, partner_id: str) -> str:
    """Stable for one event and one partner: the partner's de-duplication key."""
    return "evt_" + hashlib.sha256(f"{event}|{partner_id}".encode()).hexdigest()[:32]


def paused_mail(store: WebhookStore, change: Change) -> list[MailJob]:
    """A partner just paused: each lead of its organisation is told, once per pause."""
    if change.kind != "partner" or not change.new:
        return []
    was, now = (change.old or {}).get("paused_at"), change.new.get("paused_at")
    if not now or was:
        return []
    leads = store.leads(change.new.get("organisation", ""))
    return [MailJob(kind="webhook_paused", ref=f"{change.ref}:{lead['id']}:{now}") for lead in leads]


def _private_address(host: str) -> bool:
    """An IP literal that is not on the public internet (a partner's endpoint is): private, loopback,
    link-local (the cloud's metadata address) or reserved. Names are left to the partner's DNS."""
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return host == "localhost" or host.endswith(".localhost")
    return not address.is_global


def _seen(change: Change) -> str:
    return clock.iso(datetime.fromtimestamp(change.seen_at, UTC)) if change.seen_at else clock.iso()


# ---- registration and delivery -------------------------------------------------------------------


class Webhooks:
    def __init__(
        self,
        store: WebhookStore,
        box: SecretBox | None,
        queues: Any,
        settings: Settings,
        public_story: Callable[[str], dict[str, Any]],
        send: Callable[[str, bytes, dict[str, str], float], int] = post,
    ):
        self._store, self._box, self._queues, self._settings = store, box, queues, settings
        self._public_story = public_story
        self._send = send
        # Opened secrets, per warm container: one KMS Decrypt per partner, not per delivery.
        self._opened: dict[tuple[str, str], str] = {}

    def register(self, service: str, url: str, name: str, by: str) -> tuple[dict[str, Any], str]:
        """A partner's endpoint for a service subtree; returns (the partner, its secret: shown once)."""
        problems = []
        svc = self._store.get_service(service) if service else None
        if not svc:
            problems.append({"field": "service", "message": "No service has this slug"})
        url_problem = self.url_problem(url)
        if url_problem:
            problems.append({"field": "url", "message": url_problem})
        if not name.strip() or len(name) > 100:
            problems.append({"field": "name", "message": "Give the partner's name, up to 100 characters"})
        if problems:
            raise ValidationFailed(problems, {"service": service, "url": url, "name": name})
        assert svc is not None
        box = self._need_box()
        partner_id, secret = new_id(), new_secret()
        partner = {
            "id": partner_id,
            "name": name.strip(),
            "url": url,
            "service": service,
            "organisation": (svc.get("path") or [service])[0],
            "secret_sealed": box.seal(secret, partner_id),
            "created_at": clock.iso(),
            "created_by": by,
        }
        self._store.create_partner(partner)
        logger.info("webhook registered", extra={"partner_id": partner_id, "service": service})
        return {k: v for k, v in partner.items() if k != "secret_sealed"}, secret

    def url_problem(self, url: str) -> str:
        """Why this endpoint is refused, or "": HTTPS only (plain http to 127.0.0.1 on the local stack)."""
        try:
            parts = urlsplit(url)
            parts.port  # noqa: B018 (a bad port raises here)
        except ValueError:
            return "Give a whole address, starting https://"
        if len(url) > 2000 or not parts.hostname or parts.username or parts.password or parts.fragment:
            return "Give a whole address, starting https://, with no user name, password or #fragment"
        if parts.scheme == "https" and not _private_address(parts.hostname):
            return ""
        if parts.scheme == "http" and self._settings.stage == "local" and parts.hostname in LOCAL_HOSTS:
            return ""
        return (
            "The address must start https:// and name a host on the internet "
            "(plain http is allowed only to 127.0.0.1 on the local stack)"
        )

    def resume(self, partner_id: str) -> int:
        """Un-pause a partner and queue every delivery kept while it was paused (same ids); how many."""
        if not self._store.resume_partner(partner_id):
            raise NotFound(f"There is no partner {partner_id!r}.")
        sent = 0
        for _ in range(10_000):  # bounded: a delivery kept again meanwhile waits for the next resume
            kept = self._store.held_deliveries(partner_id, 100)
            if not kept:
                break
            self._queues.send([DeliveryJob.model_validate(d) for d in kept])
            for d in kept:  # released only once queued: at least once, never lost
                self._store.release_delivery(partner_id, d["id"])
            sent += len(kept)
        logger.info("webhook resumed", extra={"partner_id": partner_id, "requeued": sent})
        return sent

    def deliver(self, job: DeliveryJob) -> str:
        """Send one delivery: "delivered", "kept" (the partner is paused) or "gone" (no such partner).
        Raises DeliveryFailed for the queue to bring it back."""
        partner = self._store.get_partner(job.partner_id)
        if not partner:
            logger.warning("delivery for an unknown partner dropped", extra={"partner_id": job.partner_id})
            return "gone"
        if partner.get("paused_at"):
            self._store.hold_delivery(job.partner_id, job.model_dump())
            return "kept"
        body = self.body(job)
        secret = self._secret(job.partner_id, partner["secret_sealed"])
        headers = {
            "Content-Type": "application/json",
            "User-Agent": "FeedForward-Webhooks/1",
            SIGNATURE_HEADER: sign(secret, body),
            "FeedForward-Delivery": job.id,
            "FeedForward-Event": job.type,
        }
        status = self._send(partner["url"], body, headers, float(self._settings.webhook_timeout_seconds))
        if 200 <= status < 300:
            if partner.get("failures"):
                self._store.clear_failures(job.partner_id)
            metrics.add_metric(name="WebhooksDelivered", unit="Count", value=1)
            return "delivered"
        metrics.add_metric(name="WebhooksFailed", unit="Count", value=1)
        failures = self._store.count_failure(job.partner_id)
        if failures >= self._settings.webhook_pause_after:
            self._store.hold_delivery(job.partner_id, job.model_dump())  # kept before the pause: never lost
            self._store.pause_partner(job.partner_id, clock.iso())
            logger.warning("webhook paused", extra={"partner_id": job.partner_id, "failures": failures})
            metrics.add_metric(name="WebhooksPaused", unit="Count", value=1)
            return "kept"
        # The URL and the answer's body stay out of the log: a partner's address may carry a token.
        raise DeliveryFailed(f"partner {job.partner_id} answered {status or 'nothing'} ({failures} in a row)")

    def body(self, job: DeliveryJob) -> bytes:
        """The JSON body: the event and the public view of its story, as it is now (docs/partners.md)."""
        data: dict[str, Any] = {"story_id": job.story_id}
        if job.type == "story.withdrawn":
            data |= {"reason": job.ref, "story": None}
        else:
            try:
                story: dict[str, Any] | None = self._public_story(job.story_id)
            except NotFound:
                story = None  # no longer public: its words are not sent
            data["story"] = story
            if job.type in ("response.published", "change.marked"):
                entries = (story or {}).get("conversation", [])
                data["response"] = next((e for e in entries if e["kind"] == "response" and e["id"] == job.ref), None)
        payload = {"id": job.id, "type": job.type, "created": job.created, "version": PAYLOAD_VERSION, "data": data}
        return json.dumps(payload, ensure_ascii=False, separators=(",", ":"), sort_keys=True).encode()

    def _secret(self, partner_id: str, sealed: str) -> str:
        key = (partner_id, sealed)
        if key not in self._opened:
            self._opened[key] = self._need_box().open(sealed, partner_id)
        return self._opened[key]

    def _need_box(self) -> SecretBox:
        if self._box is None:
            raise RuntimeError(
                "webhook secrets cannot be sealed: set FF_WEBHOOK_KMS_KEY_ID (AWS) or FF_WEBHOOK_SECRET_KEY"
            )
        return self._box
