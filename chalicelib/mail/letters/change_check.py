"""The change check's email: six weeks after a change was made, the author (and each me-too
reader who left an address) is asked whether it made a difference, with a fresh link to answer."""

from __future__ import annotations

from ...core.jobs import MailJob
from ...core.status import Status
from ...views import AUTHOR, made_change
from .base import Composer, Letter, Letters


class ChangeCheckLetters(Letters):
    def composers(self) -> dict[str, Composer]:
        return {"change_check": self.letter}

    def letter(self, job: MailJob) -> Letter | None:
        story = self._store.get_story(job.story_id, consistent=True)
        if not story or story.get("status") != Status.PUBLISHED or not story.get("change_made_at") or not job.ref:
            return None
        if job.ref == AUTHOR:
            contact = self._store.get_contact(job.story_id) if story.get("has_contact") else None
            if contact and not contact.get("confirmed_at"):
                return None  # never confirmed as the author's (issue 18): nothing goes to it
        else:
            contact = self._store.me_too_contact(job.story_id, job.ref)
        if not contact or not contact.get("email"):
            return None
        if self._store.get_thread_item(job.story_id, "check", job.ref):
            return None  # answered already
        s = self._settings
        token = self._links.issue("check", job.story_id, job.ref, s.check_link_days, recipient=job.ref)
        return Letter(
            contact["email"],
            "change_check",
            {
                "story": {"id": story["id"], "title": story.get("title", "")},
                "is_author": job.ref == AUTHOR,
                "change": made_change(self._store.story_thread(job.story_id)),
                "check_url": f"{s.api_url.rstrip('/')}/api/check/{token}",
                "story_url": f"{s.site_url.rstrip('/')}/stories/{story['id']}/",
                "site_url": s.site_url.rstrip("/"),
                "link_days": s.check_link_days,
            },
        )
