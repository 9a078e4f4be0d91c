"""A partner's letter: its organisation's leads hear that its webhook kept failing and was paused.

It names the partner and where it sends, never the secret, and says how deliveries start again
(an admin's `tools.ff webhook-resume`; nothing is lost meanwhile).
"""

from __future__ import annotations

from urllib.parse import urlsplit

from ...core.jobs import MailJob
from ...core.status import Access, SubscriberStatus
from .base import Composer, Letter, Letters


class PartnerLetters(Letters):
    def composers(self) -> dict[str, Composer]:
        return {"webhook_paused": self.paused}

    def paused(self, job: MailJob) -> Letter | None:
        partner_id, lead_id, paused_at = (job.ref.split(":", 2) + ["", ""])[:3]
        partner = self._store.get_partner(partner_id) if partner_id else None
        lead = self._store.get_subscriber(lead_id) if lead_id else None
        if not partner or partner.get("paused_at") != paused_at:
            return None  # resumed since: nothing to tell
        if not lead or lead.get("status") != SubscriberStatus.ACTIVE or lead.get("access") != Access.LEAD:
            return None
        if lead.get("organisation") != partner.get("organisation"):
            return None
        return Letter(
            to=lead["email"],
            template="webhook_paused",
            context={
                "name": lead.get("name", ""),
                "organisation_name": lead.get("organisation_name", ""),
                "partner_name": partner.get("name", ""),
                "partner_host": urlsplit(partner.get("url", "")).hostname or "",
                "failures": self._settings.webhook_pause_after,
                "moderators_email": self._settings.moderators_email,
                "site_url": self._settings.site_url.rstrip("/"),
            },
        )
