"""An organisation's letters: a request to join (to each lead), the decision (to the person), and a
lead's "manage your organisation" link. Each carries a fresh link; none says anything about an
author. A lead's link is short-lived (settings.organisation_link_days): it changes who speaks.
"""

from __future__ import annotations

from typing import Any

from ...core.jobs import MailJob
from ...core.status import ACCESS_NAMES, Access, SubscriberStatus
from ...views import subscription_view
from .base import Composer, Letter, Letters


class OrganisationLetters(Letters):
    def composers(self) -> dict[str, Composer]:
        return {
            "membership_request": self.request,
            "membership_decided": self.decided,
            "organisation_link": self.link,
        }

    def request(self, job: MailJob) -> Letter | None:
        requester_id, _, lead_id = job.ref.partition(":")
        person = self._store.get_subscriber(requester_id) if requester_id else None
        lead = self._lead(lead_id)
        if not person or not lead or person.get("status") != SubscriberStatus.REQUESTED:
            return None  # decided already, or the lead is no longer one
        if person.get("organisation") != lead.get("organisation"):
            return None
        subs = [s for s in self._store.subscriptions_of(person["id"]) if s.get("address_confirmed_at")]
        services = self._store.get_services({s["service"] for s in subs}) if subs else {}
        return self._letter(
            lead,
            "membership_request",
            {
                "person": {k: person.get(k, "") for k in ("name", "display_name", "role", "email")},
                "subscriptions": [subscription_view(s, services.get(s["service"])) for s in subs],
            },
        )

    def decided(self, job: MailJob) -> Letter | None:
        subscriber_id, _, rest = job.ref.partition(":")
        status = rest.partition(":")[0]
        person = self._store.get_subscriber(subscriber_id) if subscriber_id else None
        if not person or person.get("status") != status:
            return None  # decided otherwise since
        return Letter(
            to=person["email"],
            template="membership_decided",
            context={
                "name": person.get("name", ""),
                "organisation_name": person.get("organisation_name", ""),
                "approved": status == SubscriberStatus.ACTIVE,
                "access": ACCESS_NAMES.get(person.get("access", ""), ""),
                "can_respond": person.get("access") in (Access.RESPONDER, Access.LEAD),
                "site_url": self._settings.site_url.rstrip("/"),
            },
        )

    def link(self, job: MailJob) -> Letter | None:
        request = self._store.get_link_request(job.ref)
        lead = self._lead(request.get("subscriber_id", "")) if request else None
        if not lead:
            return None
        return self._letter(lead, "organisation_link", {})

    # ---- pieces ------------------------------------------------------------------------------

    def _lead(self, subscriber_id: str) -> dict[str, Any] | None:
        lead = self._store.get_subscriber(subscriber_id) if subscriber_id else None
        if not lead or lead.get("status") != SubscriberStatus.ACTIVE or lead.get("access") != Access.LEAD:
            return None
        return dict(lead)

    def _letter(self, lead: dict[str, Any], template: str, context: dict[str, Any]) -> Letter:
        days = self._settings.organisation_link_days
        token = self._links.issue(
            "organisation", "", lead["id"], days, subscriber_id=lead["id"], organisation=lead["organisation"]
        )
        return Letter(
            to=lead["email"],
            template=template,
            context=context
            | {
                "name": lead.get("name", ""),
                "organisation_name": lead.get("organisation_name", ""),
                "organisation_url": f"{self._settings.api_url}/api/organisation/{token}",
                "link_days": days,
                "site_url": self._settings.site_url.rstrip("/"),
            },
        )
