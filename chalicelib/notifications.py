"""Who is told what, for each mail job. One email per job, however often the job arrives."""

from __future__ import annotations

from typing import Any

from .idempotency import once
from .jobs import MailJob
from .mail import Permanent
from .models import ROLE_LABELS
from .observability import logger

TEMPLATES = {
    "author_confirmation": "author_confirmation",
    "author_published": "author_published",
    "author_rejected": "author_rejected",
}


class Notifications:
    def __init__(self, store: Any, links: Any, mailer: Any, settings: Any, idempotency_layer: Any):
        self._store = store
        self._links = links
        self._mailer = mailer
        self._settings = settings
        self._layer = idempotency_layer

    def send(self, job: MailJob, lambda_context: Any = None) -> dict[str, Any]:
        send_once = once(self._send, self._layer, "notifications.send", 7 * 24 * 3600, lambda_context, data_keyword_argument="job")
        return send_once(job=job)

    def _send(self, job: MailJob) -> dict[str, Any]:
        story = self._store.get_story(job.story_id, consistent=True)
        contact = self._store.get_contact(job.story_id)
        if not story or not contact:
            return {"sent": False, "why": "no story or no contact"}
        link = self._links.issue("author", job.story_id, "author", self._settings.author_link_days)
        context = {
            "story": story,
            "role": ROLE_LABELS.get(story.get("role", ""), ""),
            "private_url": f"{self._settings.api_url}/api/my/{link}",
            "story_url": f"{self._settings.site_url}/stories/{job.story_id}/",
            "site_url": self._settings.site_url,
            "link_days": self._settings.author_link_days,
        }
        try:
            message_id = self._mailer.send(contact["email"], TEMPLATES[job.kind], context)
        except Permanent as e:
            # Retrying cannot help; record it and let the batch move on.
            logger.warning("email refused by SES", extra={"story_id": job.story_id, "kind": job.kind, "reason": str(e)[:200]})
            return {"sent": False, "why": "rejected"}
        return {"sent": True, "message_id": message_id}
