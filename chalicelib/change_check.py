"""The author checks the change: six weeks after a response marks a change as made, the author
(and the me-too readers who left an address) are asked whether it made a difference.

- The stream (follow_up, a reaction wiring hands the stream handler) schedules the check when a
  published story gets `change_made_at` and applies answers to the story (metoo.count counts
  the me-too items, another reaction).
- The daily `change_checks` handler (queue_due) queues one `change_check` email per recipient
  for each check that is due, then closes it (a conditional update), so each is asked once.
- The email's "check" link shows the question (GET: changes nothing) and takes one answer
  (POST). The first answer from a link stands: the same answer again is harmless, a different
  one is refused (409), so a forwarded link cannot overturn what the author said.
- The author's answer sets `change_verdict` on the story; me-too readers' answers are counted
  as `me_too_yes`, `me_too_partly`, `me_too_no`. A comment waits on the replies queue for a
  moderator and shows in public only once published.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from .core import clock
from .core.errors import Conflict, NotFound, invalid
from .core.jobs import MailJob, RenderJob
from .core.observability import logger, metrics
from .core.settings import get_settings
from .core.status import Status
from .links import NOT_VALID
from .store.stream import Change
from .views import AUTHOR, VERDICTS, made_change

if TYPE_CHECKING:
    from .core.settings import Settings
    from .links import Links
    from .store import LoopStore, MeTooStore, ThreadItem

LABELS = {"answer": "whether the change made a difference", "comment": "your comment"}
ALREADY = "You have already answered from this link. Your first answer stands."
GONE = "This story is no longer published, so there is nothing to answer here."


# ---- the stream ------------------------------------------------------------------------------


def follow_up(store: LoopStore, change: Change) -> list:
    """The stream's reaction for change checks (wiring hands it to the handler): schedule the
    check when a published story gets change_made_at; apply an answer to the story once, and
    render the story's page when an answer's comment is published."""
    story_id = change.story_id
    if story_id is None:
        return []  # a subscriber's change, not a story's
    old, new = change.old or {}, change.new or {}
    if change.kind == "story":
        if new.get("status") == Status.PUBLISHED and new.get("change_made_at") and not old.get("change_made_at"):
            schedule(store, story_id, new["change_made_at"])
        return []
    if change.kind == "check" and new:
        if not new.get("counted") and new.get("answer") in VERDICTS:
            if new.get("recipient") == AUTHOR:
                store.set_change_verdict(story_id, new["answer"], new.get("created_at") or clock.iso())
            else:
                store.count_me_too_verdict(story_id, change.ref, new["answer"])
        if new.get("status") == Status.PUBLISHED and old.get("status") != Status.PUBLISHED:
            return [RenderJob(page="story", ref=story_id)]
    return []


def schedule(store: LoopStore, story_id: str, made_at: str) -> bool:
    due = clock.parse(made_at) + timedelta(days=get_settings().change_check_days)
    return store.schedule_check(story_id, clock.iso(due), made_at)


# ---- the daily job ---------------------------------------------------------------------------


class ChangeChecks:
    def __init__(self, store: MeTooStore, links: Links, settings: Settings, queues: Any = None, limits: Any = None):
        self._store = store
        self._links = links
        self._settings = settings
        self._queues = queues
        self._limits = limits

    def queue_due(self) -> dict[str, Any]:
        """Queue one change_check email per recipient of each check due now, then close the check.
        Jobs first, close second: a crash in between re-queues jobs that the mail worker sends once."""
        now = clock.iso()
        checks = stories = 0
        for due in self._store.due_checks(now):
            sid = due["story_id"]
            story = self._store.get_story(sid, consistent=True)
            jobs: list[MailJob] = []
            if story and story.get("status") == Status.PUBLISHED:
                if story.get("has_contact"):
                    jobs.append(MailJob(kind="change_check", story_id=sid, ref=AUTHOR))
                jobs += [MailJob(kind="change_check", story_id=sid, ref=m) for m in self._store.me_too_contacts(sid)]
                if jobs:
                    self._queues.send(jobs)
            if self._store.close_check(sid, now, len(jobs)):
                stories += 1
                checks += len(jobs)
        logger.info("change checks queued", extra={"stories": stories, "emails": checks})
        metrics.add_metric(name="ChangeChecksQueued", unit="Count", value=checks)
        return {"stories": stories, "emails": checks}

    # ---- the page (GET: changes nothing) and the answer (POST) ---------------------------------

    def _holder(self, token: str) -> tuple[dict[str, Any], list[ThreadItem], ThreadItem]:
        link = self._links.resolve(token, "check")
        items = self._store.story_thread(link["story_id"], consistent=True)
        story = next((i for i in items if i["item"] == "story"), None)
        if not story:
            raise NotFound(NOT_VALID)
        if story.get("status") != Status.PUBLISHED:
            raise NotFound(GONE)
        return link, items, story

    def question(self, token: str) -> dict[str, Any]:
        """What the link's page shows: the story, whether this is its author, the change asked
        about, and the answer already given from this link (or None)."""
        link, items, story = self._holder(token)
        recipient = link.get("recipient") or link.get("subject", "")
        answered = next((i for i in items if i["item"] == "check" and i.get("id") == recipient), None)
        return {
            "story": story,
            "is_author": recipient == AUTHOR,
            "change": made_change(items),
            "answered": {
                "answer": answered.get("answer"),
                "comment": answered.get("text", ""),
                "at": answered.get("created_at", ""),
            }
            if answered
            else None,
        }

    def answer(self, token: str, data: dict[str, Any], client: str) -> dict[str, Any]:
        """Record one answer (rate-limited per client). The first answer from a link stands."""
        s = self._settings
        link, _items, story = self._holder(token)
        # After the lookup: a link that does not work spends the guessing budget (limits.guard_links), not this one.
        self._limits.hit("check-answer", client, s.check_answer_limit, s.rate_window_seconds)
        recipient = link.get("recipient") or link.get("subject", "")
        from pydantic import ValidationError

        # Late: the stream imports this module for its reaction; it must not load pydantic and email_validator.
        from .core.models import CheckAnswer

        try:
            given = CheckAnswer.model_validate(data)
        except ValidationError as e:
            raise invalid(e, LABELS, data) from e
        item = {
            "id": recipient,
            "recipient": AUTHOR if recipient == AUTHOR else "me_too",
            "answer": given.answer.value,
            "text": given.comment,
            # A comment is shown only once a moderator has published it.
            "status": Status.PENDING if given.comment else "recorded",
            "created_at": clock.iso(),
        }
        if not self._store.put_check_answer(story["id"], item):
            earlier = self._store.get_thread_item(story["id"], "check", recipient) or {}
            if earlier.get("answer") != item["answer"] or earlier.get("text", "") != item["text"]:
                raise Conflict(ALREADY)
            return _view(earlier) | {"created": False}
        logger.info(
            "change check answered",
            extra={"story_id": story["id"], "recipient": item["recipient"], "answer": item["answer"]},
        )
        metrics.add_metric(name="ChangeChecksAnswered", unit="Count", value=1)
        return _view(item) | {"created": True}


def _view(item: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "answer": item.get("answer"),
        "comment": item.get("text", ""),
        "status": item.get("status"),
        "created_at": item.get("created_at", ""),
    }
