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
from .changes import listing_entry
from .core.jobs import MailJob
from .core.models import CRITICALITY_WORDS  # seen only by staff, never in public
from .mail.dispatch import Composer, Letter
from .core.observability import logger, metrics
from .store import digest_day

# A digest is sent the morning after its day; its entries are kept a week longer for retries.
DIGEST_KEEP_DAYS = 8
_DAY = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def criticality_of(story: dict[str, Any]) -> int:
    try:
        return max(0, min(5, int(story.get("criticality") or 0)))
    except (TypeError, ValueError):
        return 0


def matches(subscription: dict[str, Any], story: dict[str, Any]) -> bool:
    """An active subscription wants this story: no tags or a shared tag, and critical enough."""
    if subscription.get("status") != "active":
        return False
    tags = set(subscription.get("tags") or [])
    if tags and not tags & set(story.get("tags") or []):
        return False
    return int(subscription.get("min_criticality") or 0) <= criticality_of(story)


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


def subscriber_links(links: Any, settings: Any, subscriber_id: str) -> tuple[dict[str, str], str, str]:
    """(RFC 8058 headers, unsubscribe URL, manage URL) for one person: the subscriptions flow owns these links."""
    from .subscriptions import list_unsubscribe, manage_url, unsubscribe_url

    unsubscribe = unsubscribe_url(links, settings, subscriber_id)
    return list_unsubscribe(unsubscribe), unsubscribe, manage_url(links, settings, subscriber_id)


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


def pick_subscription(
    subscriptions: list[dict[str, Any]], story: dict[str, Any], services: list[dict[str, Any]]
) -> dict[str, Any] | None:
    """The person's subscription a story reached them through: an active one on the path of one of
    its services, preferring one whose filters match, then the most specific service."""
    depth: dict[str, int] = {}
    for svc in services:
        for i, slug in enumerate(svc.get("path", [svc["slug"]])):
            depth[slug] = max(depth.get(slug, 0), i)
    candidates = [s for s in subscriptions if s.get("status") == "active" and s.get("service") in depth]
    if not candidates:
        return None
    return min(candidates, key=lambda s: (not matches(s, story), -depth[s["service"]], s.get("created_at", ""), s["id"]))


def _role_label(role: str) -> str:
    from .core.models import ROLE_LABELS

    return ROLE_LABELS.get(role, "")


def _day_label(day: str) -> str:
    """"2026-11-26" -> "Thursday 26 November 2026"."""
    try:
        moment = clock.parse(f"{day}T00:00:00Z")
    except ValueError:
        return day
    return f"{moment:%A} {moment.day} {moment:%B %Y}"
