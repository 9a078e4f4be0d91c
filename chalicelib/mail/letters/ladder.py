"""The escalation ladder's emails: the reminder at half the promise, and the escalations once it
has passed (ladder.py decides who is told at each step)."""

from __future__ import annotations

from ...core.jobs import MailJob
from ...core.status import ItemStatus
from ...views import LADDER_STEPS, long_day
from .base import Composer, Letter
from .staff import StaffLetters


class LadderLetters(StaffLetters):
    """Like an alert, with the story's read-and-respond link and one-click unsubscribe, plus what
    was promised and when it fell due."""

    def composers(self) -> dict[str, Composer]:
        return {
            "ladder_reminder": lambda job: self._compose(job, "staff_ladder_reminder"),
            "ladder_escalation": lambda job: self._compose(job, "staff_ladder_escalation"),
        }

    def _compose(self, job: MailJob, template: str) -> Letter | None:
        step, _, sid = job.ref.partition(":")
        if step not in LADDER_STEPS:
            return None
        story = self._store.get_story(job.story_id, consistent=True)
        # Answered, withdrawn or held since the step: nobody needs telling any more.
        if (
            not story
            or story.get("status") != ItemStatus.PUBLISHED
            or story.get("first_response_at")
            or not story.get("response_days")
        ):
            return None
        subscriber = self._active_subscriber(sid)
        if not subscriber:
            return None
        services = self._store.get_services(story.get("services", []))
        entry = self._entry(story, services, subscriber, self._store.subscriptions_of(sid))
        if not entry:
            return None  # unsubscribed from it since the step
        days = int(story["response_days"])
        return self._letter(
            subscriber,
            template,
            {
                "story": entry,
                "step": step,
                "days": days,
                "twice": 2 * days,
                "due_on": long_day(story["response_due_at"]),
            },
        )
