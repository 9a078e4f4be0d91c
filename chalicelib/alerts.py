"""Which staff hear about a published story, and the emails that tell them.

`reach` walks up the directory from each of the story's services (one Query per level) and
keeps one subscription per person. `fan_out` turns that into one staff_alert job per person
on the mail queue (ten to a SendMessageBatch, so ten thousand recipients fit in one Lambda)
or an entry in that day's digest; `queue_digests` queues the digests each morning. Every
step is safe to repeat: a staff_alert job is sent once per person and story however often
it is queued, and a digest entry is an overwrite.
"""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any, Iterable

from .core import clock
from .core.jobs import MailJob
from .core.models import CRITICALITY_WORDS  # seen only by staff, never in public
from .mail.dispatch import Composer, Letter
from .core.observability import logger, metrics
from .store import digest_day
from .core.matching import criticality_of, matches, pick_subscription
from .views.labels import day_label as _day_label, staff_role_label as _role_label
from .views.people import subscriber_links
from .views.story import listing_entry

# A digest is sent the morning after its day; its entries are kept a week longer for retries.
DIGEST_KEEP_DAYS = 8
_DAY = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def _levels(services: Iterable[dict[str, Any]]) -> list[str]:
    """Every node on the paths of the story's services, each once (two wards of one hospital
    share the hospital and the trust)."""
    seen: dict[str, None] = {}
    for svc in services:
        for slug in svc.get("path", [svc["slug"]]):
            seen.setdefault(slug, None)
    return list(seen)


class Alerts:
    def __init__(self, store: Any, queues: Any):
        self._store = store
        self._queues = queues

    def reach(self, story: dict[str, Any]) -> dict[str, dict[str, Any]]:
        """Subscriber id -> the subscription through which the story reaches them. One entry per
        person, whatever the number of their subscriptions that match; an immediate one wins
        over a digest one."""
        services = self._store.get_services(story.get("services", []))
        found: dict[str, dict[str, Any]] = {}
        for slug in _levels(services[s] for s in story.get("services", []) if s in services):
            for subscription in self._store.watchers(slug):
                if not matches(subscription, story):
                    continue
                sid = subscription["subscriber_id"]
                current = found.get(sid)
                if current is None or (current.get("frequency") == "digest" and subscription.get("frequency") != "digest"):
                    found[sid] = subscription
        return found

    def fan_out(self, job: MailJob) -> dict[str, Any]:
        """The alert_fanout job: queue one staff_alert per person, or add the story to their digest."""
        story = self._store.get_story(job.story_id, consistent=True)
        if not story or story.get("status") != "published":
            # Held, withdrawn or erased before the job ran: nobody is told.
            logger.info("fan-out skipped", extra={"story_id": job.story_id, "status": (story or {}).get("status")})
            return {"alerts": 0, "digests": 0}
        reached = self.reach(story)
        digest = sorted(sid for sid, sub in reached.items() if sub.get("frequency") == "digest")
        immediate = sorted(sid for sid, sub in reached.items() if sub.get("frequency") != "digest")
        if digest:
            published_at = story.get("published_at") or clock.iso()  # set by every publication but a bare console edit
            expires = int((clock.parse(published_at) + timedelta(days=DIGEST_KEEP_DAYS)).timestamp())
            self._store.add_to_digests(digest_day(published_at), digest, story["id"], expires)
        if immediate:
            self._queues.send(MailJob(kind="staff_alert", story_id=story["id"], ref=sid) for sid in immediate)
        metrics.add_metric(name="AlertsQueued", unit="Count", value=len(immediate))
        metrics.add_metric(name="DigestEntries", unit="Count", value=len(digest))
        logger.info("fan-out done", extra={"story_id": story["id"], "alerts": len(immediate), "digests": len(digest)})
        return {"alerts": len(immediate), "digests": len(digest)}

    def queue_digests(self, day: str | None = None) -> dict[str, Any]:
        """The scheduled job: one staff_digest per person with stories on `day` (yesterday, UTC)."""
        day = day or (clock.now() - timedelta(days=1)).date().isoformat()
        people = sorted(self._store.digest(day))
        if people:
            self._queues.send(MailJob(kind="staff_digest", ref=f"{day}:{sid}") for sid in people)
        logger.info("digests queued", extra={"day": day, "digests": len(people)})
        metrics.add_metric(name="DigestsQueued", unit="Count", value=len(people))
        return {"day": day, "digests": len(people)}


class StaffLetters:
    """The emails to staff about new stories: one alert per story, or one digest per day."""

    def __init__(self, store: Any, links: Any, settings: Any):
        self._store = store
        self._links = links
        self._settings = settings

    def composers(self) -> dict[str, Composer]:
        return {"staff_alert": self.alert, "staff_digest": self.digest}

    def alert(self, job: MailJob) -> Letter | None:
        story = self._store.get_story(job.story_id, consistent=True)
        if not story or story.get("status") != "published":
            return None
        subscriber = self._active_subscriber(job.ref)
        if not subscriber:
            return None
        services = self._store.get_services(story.get("services", []))
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
        stories = [self._store.get_story(i, consistent=True) for i in dict.fromkeys(self._store.digest_of(day, sid))]
        stories = sorted((s for s in stories if s and s.get("status") == "published"), key=lambda s: s.get("published_at", ""))
        if not stories:
            return None
        services = self._store.get_services({slug for s in stories for slug in s.get("services", [])})
        subscriptions = self._store.subscriptions_of(sid)
        entries = [e for e in (self._entry(s, services, subscriber, subscriptions) for s in stories) if e]
        if not entries:
            return None
        return self._letter(subscriber, "staff_digest", {"stories": entries, "day": day, "day_label": _day_label(day)})

    # ---- pieces ------------------------------------------------------------------------------

    def _active_subscriber(self, subscriber_id: str) -> dict[str, Any] | None:
        if not subscriber_id:
            return None
        subscriber = self._store.get_subscriber(subscriber_id)
        return subscriber if subscriber and subscriber.get("status") == "active" else None

    def _entry(
        self, story: dict[str, Any], services: dict[str, dict[str, Any]], subscriber: dict[str, Any], subscriptions: list[dict[str, Any]]
    ) -> dict[str, Any] | None:
        """What a letter shows of one story: public fields, its criticality, and a read-and-respond
        link bound to the subscription it reached this person through. Nothing else about the
        author than the public page shows."""
        mine = [services[s] for s in story.get("services", []) if s in services]
        subscription = pick_subscription(subscriptions, story, mine)
        if not subscription:
            return None
        token = self._links.issue(
            "respond", story["id"], subscriber["id"], self._settings.respond_link_days,
            subscriber_id=subscriber["id"], subscription_id=subscription["id"], service=subscription["service"],
        )
        public = listing_entry(story)
        level = criticality_of(story)
        return {
            "id": story["id"],
            "title": public["title"],
            "excerpt": public["excerpt"],
            "pseudonym": public["pseudonym"],
            "role": _role_label(public["role"]),
            "tags": public["tags"],
            "services": [{"name": s["name"], "within": " › ".join(a["name"] for a in s.get("trail", []))} for s in mine],
            "service_names": ", ".join(s["name"] for s in mine),
            "criticality": level,
            "criticality_words": CRITICALITY_WORDS[level],
            "published_on": _day_label(digest_day(story.get("published_at", ""))) if story.get("published_at") else "",
            "url": f"{self._settings.site_url}/stories/{story['id']}/",
            "respond_url": f"{self._settings.api_url}/api/respond/{token}",
            "subscription_service": subscription.get("service_name") or subscription["service"],
            "me_too_count": int(story.get("me_too_count") or 0),  # CHECK: staff see patterns
        }

    def _letter(self, subscriber: dict[str, Any], template: str, context: dict[str, Any]) -> Letter:
        headers, unsubscribe_url, manage_url = subscriber_links(self._links, self._settings, subscriber["id"])
        return Letter(
            subscriber["email"],
            template,
            context | {
                "name": subscriber.get("name", ""),
                "unsubscribe_url": unsubscribe_url,
                "manage_url": manage_url,
                "site_url": self._settings.site_url,
                "respond_link_days": self._settings.respond_link_days,
            },
            headers,
        )
