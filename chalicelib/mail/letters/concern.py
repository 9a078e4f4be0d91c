"""Emails to someone who reported a concern and left an address (issue 16): first, in fixed words,
is this your address?; once they confirm it, what was decided. Nothing they typed, and nothing
about who else reported, is ever in them."""

from __future__ import annotations

from ...core.jobs import MailJob
from .base import Composer, Letter, Letters

# What the reporter is told of each decision, in fixed words.
DECIDED_WORDS = {
    "dismiss": "looked at it and left it as it was",
    "edit": "edited it",
    "restrict": "restricted it: its page now says only who asked and why",
    "remove": "taken it off the site",
    "hold": "taken it off the site while it is checked",
}


class ConcernLetters(Letters):
    def composers(self) -> dict[str, Composer]:
        return {"concern_confirm": self._confirm, "concern_decided": self._decided}

    def _confirm(self, job: MailJob) -> Letter | None:
        """ref: the report id. Fixed words and a confirm link (counted against the address's daily cap)."""
        contact = self._store.concern_contact(job.story_id, job.ref)
        if not contact or contact.get("confirmed_at"):
            return None
        days = self._settings.confirm_link_days
        link = self._links.issue("concern", job.story_id, job.ref, days)
        return Letter(
            contact["email"],
            "concern_confirm",
            {
                "confirm_url": f"{self._settings.api_url}/api/concerns/confirm/{link}",
                "link_days": days,
                "site_url": self._settings.site_url,
            },
        )

    def _decided(self, job: MailJob) -> Letter | None:
        """ref: "<report id>:<case version>". Only to an address its owner confirmed."""
        report_id, _, _ = job.ref.partition(":")
        contact = self._store.concern_contact(job.story_id, report_id)
        if not contact or not contact.get("confirmed_at"):
            return None
        case = self._store.get_case(job.story_id, contact.get("target", "story"))
        decisions = (case or {}).get("decisions") or []
        if not decisions:
            return None
        words = DECIDED_WORDS.get(decisions[-1].get("action", ""), "decided")
        return Letter(contact["email"], "concern_decided", {"words": words, "site_url": self._settings.site_url})
