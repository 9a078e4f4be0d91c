"""Who is told what, for each mail job. One email per job, however often the job arrives.

Each flow owns the letters it writes (authors here, staff in alerts.py, subscriptions in
subscriptions.py); this module sends them the same way: once, never to a suppressed
address, and never a second time when a job is delivered again.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

from ..core.idempotency import once
from ..core.jobs import MailJob
from .sender import Permanent
from ..core.models import ROLE_LABELS
from ..core.observability import logger, metrics


@dataclass(frozen=True)
class Letter:
    """One email to write: to whom, from which template pair, with what."""

    to: str
    template: str
    context: dict[str, Any]
    headers: dict[str, str] = field(default_factory=dict)


Composer = Callable[[MailJob], "Letter | None"]


class AuthorLetters:
    """Emails to the author of a story, each with a fresh private link."""

    def __init__(self, store: Any, links: Any, settings: Any):
        self._store = store
        self._links = links
        self._settings = settings

    def composers(self) -> dict[str, Composer]:
        return {
            "author_confirmation": lambda job: self._letter(job, "author_confirmation"),
            "author_published": lambda job: self._letter(job, "author_published"),
            "author_rejected": lambda job: self._letter(job, "author_rejected"),
            "author_read": self._read,
            "author_response": self._response,
        }

    def context(self, job: MailJob) -> tuple[str, dict[str, Any]] | None:
        """(address, template context) for an email to a story's author, or None if there is no one to tell."""
        story = self._store.get_story(job.story_id, consistent=True)
        contact = self._store.get_contact(job.story_id)
        if not story or not contact or story.get("status") in ("withdrawn", "erasing"):
            return None
        link = self._links.issue("author", job.story_id, "author", self._settings.author_link_days)
        return contact["email"], {
            "story": story,
            "role": ROLE_LABELS.get(story.get("role", ""), ""),
            "private_url": f"{self._settings.api_url}/api/my/{link}",
            "story_url": f"{self._settings.site_url}/stories/{job.story_id}/",
            "site_url": self._settings.site_url,
            "link_days": self._settings.author_link_days,
        }

    def _letter(self, job: MailJob, template: str, **extra: Any) -> Letter | None:
        found = self.context(job)
        return Letter(found[0], template, found[1] | extra) if found else None

    def _read(self, job: MailJob) -> Letter | None:
        """Staff have read the story for the first time: who read it first (as shown in public)."""
        receipts = sorted((i for i in self._store.story_thread(job.story_id) if i["item"] == "read"), key=lambda r: r.get("read_at", ""))
        if not receipts:
            return None
        first = receipts[0]
        reader = {k: first.get(k, "") for k in ("name", "role", "service_name", "organisation_name", "read_at")}
        return self._letter(job, "author_read", reader=reader, readers=len(receipts))

    def _response(self, job: MailJob) -> Letter | None:
        """A response was published (ref: its id). Public fields only: never the responder's address."""
        item = self._store.get_thread_item(job.story_id, "response", job.ref) if job.ref else None
        if not item or item.get("status") != "published":
            return None
        keep = ("name", "role", "service_name", "organisation_name", "text", "change", "change_description")
        return self._letter(job, "author_response", response={k: item.get(k, "") for k in keep})


class _StoryErased(Exception):
    """Raised inside the idempotent send so powertools deletes its record: an erased story
    must leave nothing behind, not even a note that an email about it was not sent."""


class Notifications:
    def __init__(
        self,
        store: Any,
        mailer: Any,
        composers: dict[str, Composer],
        fan_out: Callable[[MailJob], Any] | None = None,
    ):
        self._store = store
        self._mailer = mailer
        self._composers = composers
        self._fan_out = fan_out

    def handle(self, job: MailJob, lambda_context: Any = None) -> Any:
        """The mail worker's one entry point: a fan-out job queues emails, any other sends one."""
        if job.kind == "alert_fanout":
            if self._fan_out is None:
                raise RuntimeError("no fan-out configured")
            return self._fan_out(job)
        return self.send(job, lambda_context)

    def send(self, job: MailJob, lambda_context: Any = None) -> dict[str, Any]:
        from aws_lambda_powertools.utilities.idempotency.exceptions import IdempotencyPersistenceLayerError

        from ..store import mail_layer_name

        layer = self._store.idempotency_layer(mail_layer_name(job.story_id))
        done: dict[str, Any] = {}

        def send_noting(job: MailJob) -> dict[str, Any]:
            done["result"] = self._send(job)
            return done["result"]

        send_once = once(send_noting, layer, "notifications.send", 7 * 24 * 3600, lambda_context, data_keyword_argument="job")
        try:
            return send_once(job=job)
        except _StoryErased:
            logger.info("no email: its story was erased", extra={"kind": job.kind})
            return {"sent": False, "why": "erased"}
        except IdempotencyPersistenceLayerError:
            if "result" not in done:
                raise  # nothing was sent: the queue retries the job
            # SES took the email but its record could not be marked done. Failing the job now would
            # send it again once the record's in-progress time ran out: the job is done.
            logger.warning("email sent, its idempotency record left in progress", extra={"kind": job.kind, "story_id": job.story_id})
            return done["result"]

    def _send(self, job: MailJob) -> dict[str, Any]:
        letter = self._composers[job.kind](job)
        if letter is None:
            # A job that arrives after its story was erased (one read, only when there is no letter).
            if job.story_id and not self._store.get_story(job.story_id, consistent=True):
                raise _StoryErased()
            return {"sent": False, "why": "no one to tell"}
        if self._store.suppression(letter.to):
            # Bounced or complained before: sending again would hurt the sender's reputation.
            metrics.add_metric(name="EmailsSuppressed", unit="Count", value=1)
            logger.info("email suppressed", extra={"kind": job.kind, "story_id": job.story_id})
            return {"sent": False, "why": "suppressed"}
        try:
            message_id = self._mailer.send(letter.to, letter.template, letter.context, letter.headers)
        except Permanent as e:
            # Retrying cannot help; record it and let the batch move on.
            logger.warning("email refused by SES", extra={"story_id": job.story_id, "kind": job.kind, "reason": str(e)[:200]})
            return {"sent": False, "why": "rejected"}
        return {"sent": True, "message_id": message_id}
