"""The double opt-in email: for what, and one link to confirm. Fixed words only: the name and role
a stranger may have typed appear on the page the link opens, never in the email (issue 18)."""

from __future__ import annotations

from ...core.jobs import MailJob
from ...core.status import SubscriberStatus
from ...views import subscription_view
from .base import Composer, Letter, Letters


class SubscriptionLetters(Letters):
    def composers(self) -> dict[str, Composer]:
        return {"subscription_confirm": self.confirm_letter}

    def confirm_letter(self, job: MailJob) -> Letter | None:
        subscriber_id, _, subscription_id = job.ref.partition(":")
        subscriber = self._store.get_subscriber(subscriber_id) if subscriber_id else None
        sub = self._store.get_subscription(subscriber_id, subscription_id) if subscriber and subscription_id else None
        if not subscriber or not sub or sub.get("status") != SubscriberStatus.PENDING:
            return None  # confirmed, stopped or gone already: nothing to ask
        token = self._links.issue(
            "confirm",
            "",
            subscriber_id,
            self._settings.confirm_link_days,
            subscriber_id=subscriber_id,
            subscription_id=subscription_id,
        )
        view = subscription_view(sub, self._store.get_service(sub.get("service", "")))
        return Letter(
            to=subscriber["email"],
            template="subscription_confirm",
            context={
                "subscription": view,
                "confirm_url": f"{self._settings.api_url}/api/subscriptions/confirm/{token}",
                "link_days": self._settings.confirm_link_days,
                "site_url": self._settings.site_url.rstrip("/"),
            },
        )
