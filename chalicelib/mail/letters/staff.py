"""The emails to staff about new stories: one alert per story, or one digest per day.

Each story in them comes with a read-and-respond link bound to the subscription it reached the
person through, and each email with one-click unsubscribe.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from ...core.jobs import MailJob
from ...core.labels import CRITICALITY_WORDS  # seen only by staff, never in public
from ...core.matching import about_organisation, criticality_of, pick_subscription
from ...core.status import Status, SubscriberStatus
from ...store import digest_day
from ...views import day_label, listing_entry, long_day, staff_role_label
from ...views.links import subscriber_links
from .base import Composer, Letter, Letters

if TYPE_CHECKING:
    from ...store import Subscriber

_DAY = re.compile(r"^\d{4}-\d{2}-\d{2}$")


class StaffLetters(Letters):
    def composers(self) -> dict[str, Composer]:
        return {"staff_alert": self.alert, "staff_digest": self.digest, "story_passed": self.passed}

    def alert(self, job: MailJob) -> Letter | None:
        story = self._store.get_story(job.story_id, consistent=True)
        if not story or story.get("status") != Status.PUBLISHED:
            return None
        subscriber = self._active_subscriber(job.ref)
        if not subscriber:
            return None
        services = self._store.get_services(story.get("services", []))
        with self._links.held():  # its three links in one write
            entry = self._entry(story, services, subscriber, self._store.subscriptions_of(subscriber["id"]))
            if not entry:
                return None  # unsubscribed from it since the fan-out
            return self._letter(subscriber, "staff_alert", {"story": entry})

    def digest(self, job: MailJob) -> Letter | None:
        day, _, sid = job.ref.partition(":")
        if not _DAY.match(day):
            return None
        subscriber = self._active_subscriber(sid)
        if not subscriber:
            return None
        found = [self._store.get_story(i, consistent=True) for i in dict.fromkeys(self._store.digest_of(day, sid))]
        stories = sorted(
            (s for s in found if s and s.get("status") == Status.PUBLISHED), key=lambda s: s.get("published_at", "")
        )
        if not stories:
            return None
        services = self._store.get_services({slug for s in stories for slug in s.get("services", [])})
        subscriptions = self._store.subscriptions_of(sid)
        with self._links.held():  # a link per story and the two of every email: one write per 25
            entries = [e for e in (self._entry(s, services, subscriber, subscriptions) for s in stories) if e]
            if not entries:
                return None
            context = {"stories": entries, "day": day, "day_label": day_label(day)}
            return self._letter(subscriber, "staff_digest", context)

    def passed(self, job: MailJob) -> Letter | None:
        """A colleague passed this person a story (or passed it to a service they follow)."""
        pass_id, _, sid = job.ref.partition(":")
        record = self._store.get_pass(job.story_id, pass_id) if pass_id else None
        story = self._store.get_story(job.story_id, consistent=True)
        subscriber = self._active_subscriber(sid)
        if not record or not story or story.get("status") != Status.PUBLISHED or not subscriber:
            return None
        services = self._store.get_services(story.get("services", []))
        subscriptions = self._store.subscriptions_of(subscriber["id"])
        passed = {k: record.get(k, "") for k in ("by_name", "to_name", "note", "at")}
        with self._links.held():  # its three links in one write
            entry = self._entry(story, services, subscriber, subscriptions, fallback=record.get("to_service", ""))
            if not entry:
                return None
            return self._letter(subscriber, "staff_passed", {"story": entry, "passed": passed})

    # ---- pieces ------------------------------------------------------------------------------

    def _active_subscriber(self, subscriber_id: str) -> Subscriber | None:
        if not subscriber_id:
            return None
        subscriber = self._store.get_subscriber(subscriber_id)
        # Fail closed: only a confirmed member with a grant hears about stories (and their criticality).
        if not subscriber or subscriber.get("status") != SubscriberStatus.ACTIVE or not subscriber.get("access"):
            return None
        return subscriber

    def _entry(
        self,
        story: Mapping[str, Any],
        services: dict[str, dict[str, Any]],
        subscriber: Mapping[str, Any],
        subscriptions: Sequence[Mapping[str, Any]],
        fallback: str | None = None,
    ) -> dict[str, Any] | None:
        """What a letter shows of one story: public fields, its criticality, and a read-and-respond
        link bound to the subscription it reached this person through. Nothing else about the
        author than the public page shows."""
        mine = [services[s] for s in story.get("services", []) if s in services]
        subscription = pick_subscription(subscriptions, story, mine)
        if not subscription and fallback is None:
            return None
        bound = (
            {"subscription_id": subscription["id"], "service": subscription["service"]}
            if subscription
            # A story passed on: the link is tied to the person only (their subscriptions may not cover it).
            else {"service": fallback or (mine[0]["slug"] if mine else "")}
        )
        token = self._links.issue(
            "respond",
            story["id"],
            subscriber["id"],
            self._settings.respond_link_days,
            subscriber_id=subscriber["id"],
            **bound,
        )
        public = listing_entry(story)
        level = criticality_of(story)
        own = about_organisation(subscriber.get("organisation"), mine)
        return {
            "id": story["id"],
            "title": public["title"],
            "excerpt": public["excerpt"],
            "pseudonym": public["pseudonym"],
            "role": staff_role_label(public["role"]),
            "tags": public["tags"],
            "services": [
                {"name": s["name"], "within": " › ".join(a["name"] for a in s.get("trail", []))} for s in mine
            ],
            "service_names": ", ".join(s["name"] for s in mine),
            # Staff-only, and only for the members of an organisation the story is about.
            "criticality": level if own else None,
            "criticality_words": CRITICALITY_WORDS[level] if own else "",
            # When a first reply is due (the promise, set by the stream before the alert is queued).
            "due_on": long_day(story["response_due_at"]) if story.get("response_due_at") else "",
            "published_on": day_label(digest_day(story.get("published_at", ""))) if story.get("published_at") else "",
            # None for a story kept for staff only (issue 21): it has no public page to link to.
            "url": "" if story.get("staff_only") else f"{self._settings.site_url}/stories/{story['id']}/",
            "respond_url": f"{self._settings.api_url}/api/respond/{token}",
            "subscription_service": (subscription.get("service_name") or subscription["service"])
            if subscription
            else "",
            "me_too_count": int(story.get("me_too_count") or 0),  # staff see patterns
        }

    def _letter(self, subscriber: Mapping[str, Any], template: str, context: dict[str, Any]) -> Letter:
        headers, unsubscribe_url, manage_url = subscriber_links(self._links, self._settings, subscriber["id"])
        return Letter(
            subscriber["email"],
            template,
            context
            | {
                "name": subscriber.get("name", ""),
                "unsubscribe_url": unsubscribe_url,
                "manage_url": manage_url,
                "site_url": self._settings.site_url,
                "respond_link_days": self._settings.respond_link_days,
            },
            headers,
        )
