"""The response promise: how many working days a service gives itself to answer a story.

Each directory node may carry `response_days`; a node without one has its nearest ancestor's
(directory.flatten stores the effective value on every service item). A story about several
services takes the strictest (smallest) promise. At first publication the stream calls
`story_changed`, which sets `response_days` and `response_due_at` on the story and starts its
escalation ladder (ladder.py) in one transaction; a response, a withdrawal, a rejection or an
erasure ends the ladder.

Working days skip weekends and the bank holidays of the service's nation (core/calendar.py).
A directory node sets `holidays` for itself and all below it; a story's calendar is that of the
service whose promise it keeps, stored with the promise.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .core import clock
from .core.calendar import DEFAULT_CALENDAR, add_working_days
from .core.observability import logger
from .core.status import Status

if TYPE_CHECKING:
    from .store import DirectoryStore, PromiseStore

# When each of the ladder's steps comes, in multiples of the promise (ladder.py acts on them).
STEP_FACTORS = {"reminder": 0.5, "overdue": 1, "organisation": 2}
ENDED = ("withdrawn", "rejected", "erasing", "restricted", "removed")  # restricted, removed: issue 16
PROMISE_FIELDS = ("response_days", "response_due_at", "response_holidays")  # what `start` sets on the story


# ---- when the promise and its steps fall due ----------------------------------------------------


def due_at(published_at: str, days: int, calendar: str = DEFAULT_CALENDAR) -> str:
    return clock.iso(add_working_days(clock.parse(published_at), days, calendar))


def ladder_steps(published_at: str, days: int, calendar: str = DEFAULT_CALENDAR) -> dict[str, str]:
    """When each step of the ladder comes (ISO UTC): half the promise, the promise, twice it."""
    start = clock.parse(published_at)
    return {step: clock.iso(add_working_days(start, days * factor, calendar)) for step, factor in STEP_FACTORS.items()}


# ---- the promise of services and stories --------------------------------------------------------


def _inherited(field: str, service: dict[str, Any], ancestors: dict[str, dict[str, Any]]) -> Any:
    """A service's own value of `field`, else its nearest ancestor's."""
    if service.get(field):
        return service[field]
    for slug in reversed(service.get("path", [])[:-1]):
        value = (ancestors.get(slug) or {}).get(field)
        if value:
            return value
    return None


def effective_days(service: dict[str, Any], ancestors: dict[str, dict[str, Any]]) -> int | None:
    """A service's promise: its own `response_days`, else its nearest ancestor's."""
    days = _inherited("response_days", service, ancestors)
    return int(days) if days else None


def story_target(store: DirectoryStore, story: dict[str, Any]) -> int | None:
    """The strictest promise among a story's services (None when none of them has one)."""
    target = _target(store, story)
    return target[0] if target else None


def _target(store: DirectoryStore, story: dict[str, Any]) -> tuple[int, str] | None:
    """The strictest promise among a story's services, with the calendar of the service that makes it."""
    services = store.get_services(story.get("services", []))
    lacking = {slug for svc in services.values() if not svc.get("response_days") for slug in svc.get("path", [])[:-1]}
    # Items loaded by the directory carry the effective values; only older ones need their ancestors.
    ancestors = store.get_services(lacking) if lacking else {}
    found = [
        (days, _inherited("holidays", svc, ancestors) or DEFAULT_CALENDAR)
        for svc in services.values()
        if (days := effective_days(svc, ancestors))
    ]
    return min(found) if found else None


def story_changed(store: PromiseStore, story_id: str, old: dict[str, Any] | None, new: dict[str, Any] | None) -> bool:
    """The stream's one call for each change of a story item. Safe to repeat: the start is one
    conditional transaction, and ending a ladder that is gone changes nothing. True when the
    change was only the promise being set (by `start`, a record earlier): nothing else follows
    from it but the story's own page, so the caller stops there."""
    old_status, new_status = (old or {}).get("status"), (new or {}).get("status")
    if new is None:
        return False  # the item's REMOVE: erasure has already deleted the ladder (store.erase_story)
    if new_status == Status.PUBLISHED:
        if new.get("first_response_at"):
            if not (old or {}).get("first_response_at"):
                store.end_ladder(story_id)
            return False
        first = old_status != Status.PUBLISHED and not (old or {}).get("published_at")
        if first and not new.get("response_due_at"):
            start(store, story_id, new)
        changed = _changed(old, new) if old else set()
        return bool(changed) and changed <= set(PROMISE_FIELDS)
    if new_status in ENDED and old_status != new_status:
        store.end_ladder(story_id)
    return False


def _changed(old: dict[str, Any], new: dict[str, Any]) -> set[str]:
    return {k for k in set(old) | set(new) if old.get(k) != new.get(k)}


def plan(store: DirectoryStore, story: dict[str, Any]) -> tuple[dict[str, Any], dict[str, str]] | None:
    """The promise a story gets at its first publication (the fields `start` sets) and its ladder's
    steps; None when none of its services makes one. The moderator's publication writes them with
    the story (moderation.py); `start` is for a publication the stream sees without them."""
    target = _target(store, story)
    if not target:
        return None
    days, calendar = target
    published_at = story.get("published_at") or clock.iso()  # only a bare console edit lacks it
    steps = ladder_steps(published_at, days, calendar)
    return {"response_days": days, "response_due_at": steps["overdue"], "response_holidays": calendar}, steps


def start(store: PromiseStore, story_id: str, story: dict[str, Any]) -> bool:
    planned = plan(store, story)
    if not planned:
        return False
    promise, steps = planned
    started = store.start_promise(story_id, promise, steps)
    if started:
        logger.info(
            "response promise set",
            extra={"story_id": story_id, "response_days": promise["response_days"], "due": steps["overdue"]},
        )
    return started
