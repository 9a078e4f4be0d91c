"""Which staff hear about a published story (the emails that tell them are mail/letters/staff.py).

`reach` walks up the directory from each of the story's services (one Query per level) and
keeps one subscription per person. `fan_out` turns that into one staff_alert job per person
on the mail queue (ten to a SendMessageBatch, so ten thousand recipients fit in one Lambda)
or an entry in that day's digest; `queue_digests` queues the digests each morning. Every
step is safe to repeat: a staff_alert job is sent once per person and story however often
it is queued, and a digest entry is an overwrite.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from .core import clock
from .core.jobs import MailJob
from .core.matching import matches
from .core.observability import logger, metrics
from .core.status import Status
from .store import digest_day, digest_day_for, digest_days

if TYPE_CHECKING:
    from .store import AlertStore, Subscription

# A digest is sent the morning after its day; its entries are kept a week longer for retries. A story
# goes in the digest of the day it was published, or, if its fan-out runs after that digest's cut-off
# (06:50 the next morning, store.digest_day_for), in the next digest still to be sent.
DIGEST_KEEP_DAYS = 8


def _levels(services: Iterable[dict[str, Any]]) -> list[str]:
    """Every node on the paths of the story's services, each once (two wards of one hospital
    share the hospital and the trust)."""
    seen: dict[str, None] = {}
    for svc in services:
        for slug in svc.get("path", [svc["slug"]]):
            seen.setdefault(slug, None)
    return list(seen)


class Alerts:
    def __init__(self, store: AlertStore, queues: Any):
        self._store = store
        self._queues = queues

    def reach(self, story: Mapping[str, Any]) -> dict[str, Subscription]:
        """Subscriber id -> the subscription through which the story reaches them. One entry per
        person, whatever the number of their subscriptions that match; an immediate one wins
        over a digest one."""
        services = self._store.get_services(story.get("services", []))
        found: dict[str, Subscription] = {}
        for slug in _levels(services[s] for s in story.get("services", []) if s in services):
            for subscription in self._store.watchers(slug):
                if not matches(subscription, story):
                    continue
                sid = subscription["subscriber_id"]
                current = found.get(sid)
                if current is None or (
                    current.get("frequency") == "digest" and subscription.get("frequency") != "digest"
                ):
                    found[sid] = subscription
        return found

    def fan_out(self, job: MailJob) -> dict[str, Any]:
        """The alert_fanout job: queue one staff_alert per person, or add the story to their digest."""
        story = self._store.get_story(job.story_id, consistent=True)
        if not story or story.get("status") != Status.PUBLISHED:
            # Held, withdrawn or erased before the job ran: nobody is told.
            logger.info("fan-out skipped", extra={"story_id": job.story_id, "status": (story or {}).get("status")})
            return {"alerts": 0, "digests": 0}
        reached = self.reach(story)
        digest = sorted(sid for sid, sub in reached.items() if sub.get("frequency") == "digest")
        immediate = sorted(sid for sid, sub in reached.items() if sub.get("frequency") != "digest")
        if digest:
            published_at = story.get("published_at") or clock.iso()  # set by every publication but a bare console edit
            day = digest_day_for(published_at, clock.now())
            expires = int((clock.parse(day) + timedelta(days=DIGEST_KEEP_DAYS)).timestamp())
            if day != digest_day(published_at):
                # Late (the digest of its day is sent): the next digest, but not for anyone an earlier
                # run of this fan-out already put it in a digest for.
                for earlier in digest_days(published_at):
                    if earlier >= day:
                        break
                    done = self._store.digested(earlier, story["id"])
                    digest = [sid for sid in digest if sid not in done]
            self._store.add_to_digests(day, digest, story["id"], expires)
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
