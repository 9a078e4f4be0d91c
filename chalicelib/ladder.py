"""The escalation ladder: no published story goes unanswered without someone being told.

A story awaiting its first response climbs, once each step (promise.py sets the times):
  reminder      at half its promise: the staff the story reached (the alert's reach) are reminded;
  overdue       at the promise: `overdue_at` is set on the story, and the subscribers of the
                parent service(s) of its services are told;
  organisation  at twice the promise: the subscribers of the organisation (the top of the tree).
The hourly `escalation_ladder` handler Queries the ladders that are due (never a Scan), in
bounded pages. Each step is claimed with a conditional update of the ladder item before its
emails are queued, so two runs never both act; the emails are MailJobs whose keys name the step
and the recipient, so a job delivered twice sends one email. If a step falls due when a later one
is due too (the handler did not run for days), only the latest is sent: a reminder after the
deadline would only be noise.

Escalations go to every active subscription of the parent or organisation, whatever its tag and
criticality filters: the point is that the people it was meant for did not answer.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from .core import clock
from .core.jobs import MailJob, MailKind
from .core.observability import logger
from .core.status import Status, SubscriberStatus
from .promise import ENDED
from .views import LADDER_STEPS as STEPS

if TYPE_CHECKING:
    from .store import LadderStore

PAGE = 100
MOST = 500  # steps in one run; what is left stays due for the next hour
HELD_RETRY = timedelta(days=1)  # a held story is looked at again a day later


class Ladder:
    def __init__(self, store: LadderStore, queues: Any, reach: Callable[[Mapping[str, Any]], Mapping[str, Any]]):
        self._store = store
        self._queues = queues
        self._reach = reach

    def run(self, most: int = MOST) -> dict[str, Any]:
        """The scheduled handler: act on every ladder due now, at most `most` of them."""
        now = clock.now()
        counts: dict[str, int] = {}
        seen = 0
        start_key = None
        while seen < most:
            items, start_key = self._store.ladders_due(clock.iso(now), min(PAGE, most - seen), start_key)
            for item in items:
                outcome = self.step(item, now)
                counts[outcome] = counts.get(outcome, 0) + 1
            seen += len(items)
            if not start_key or not items:
                break
        logger.info("escalation ladder run", extra={"ladders": seen, **counts})
        return {"ladders": seen, **counts}

    def step(self, item: dict[str, Any], now: Any) -> str:
        story_id = item["story_id"]
        story = self._store.get_story(story_id, consistent=True)
        if not story or story.get("status") in ENDED or story.get("first_response_at"):
            self._store.end_ladder(story_id)  # the stream ends it too; this covers a missed record
            return "ended"
        current = item.get("next_step")
        if current not in STEPS:
            return "done"
        if story.get("status") != Status.PUBLISHED:  # held for safeguarding: wait, do not escalate
            self._store.advance_ladder(story_id, current, current, clock.iso(now + HELD_RETRY))
            return "waiting"
        now_iso = clock.iso(now)
        pending = STEPS[STEPS.index(current) :]
        due = [s for s in pending if item["steps"][s] <= now_iso]
        if not due:
            return "early"  # the index lagged behind an advance
        act = due[-1]
        following = pending[pending.index(act) + 1] if pending.index(act) + 1 < len(pending) else None
        if not self._store.advance_ladder(
            story_id, current, following or "done", item["steps"].get(following) if following else None
        ):
            return "raced"
        try:
            if act != "reminder":
                # Overdue from the moment the promise passed, set once however often this runs.
                self._store.mark_progress(story_id, "overdue_at", item["steps"]["overdue"])
            jobs = self.jobs(story, act)
            if jobs:
                self._queues.send(jobs)
        except Exception:
            # Give the step back, so the next run does it again (the mail jobs de-duplicate).
            self._store.advance_ladder(story_id, following or "done", current, item["steps"][current])
            raise
        logger.info("ladder step", extra={"story_id": story_id, "step": act, "emails": len(jobs)})
        return act

    def jobs(self, story: Mapping[str, Any], step: str) -> list[MailJob]:
        kind: MailKind = "ladder_reminder" if step == "reminder" else "ladder_escalation"
        return [
            MailJob(kind=kind, story_id=story["id"], ref=f"{step}:{sid}")
            for sid in sorted(self.recipients(story, step))
        ]

    def recipients(self, story: Mapping[str, Any], step: str) -> set[str]:
        """Subscriber ids told at one step."""
        if step == "reminder":
            return set(self._reach(story))
        services = self._store.get_services(story.get("services", []))
        if step == "overdue":
            # The parent of each service (a top-level service is its own parent here).
            slugs = {svc.get("parent") or svc["slug"] for svc in services.values()}
        else:
            slugs = {svc.get("path", [svc["slug"]])[0] for svc in services.values()}
        return {
            sub["subscriber_id"]
            for slug in sorted(slugs)
            for sub in self._store.watchers(slug)
            if sub.get("status") == SubscriberStatus.ACTIVE
        }
