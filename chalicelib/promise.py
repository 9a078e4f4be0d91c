"""The response promise: how many working days a service gives itself to answer a story.

Each directory node may carry `response_days`; a node without one has its nearest ancestor's
(directory.flatten stores the effective value on every service item). A story about several
services takes the strictest (smallest) promise. At first publication the stream calls
`story_changed`, which sets `response_days` and `response_due_at` on the story and starts its
escalation ladder (ladder.py) in one transaction; a response, a withdrawal, a rejection or an
erasure ends the ladder.

Working days skip weekends and the bank holidays of England and Wales (the `holidays` package,
imported only when first needed: it costs about 200 ms, which the API's cold start never pays).
Days are counted on the UK calendar (Europe/London), so a story published at 00:30 BST on a
Monday counts from that Monday.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta, timezone, tzinfo
from functools import lru_cache
from typing import Any, Iterator

from . import clock
from .observability import logger

# The ladder's steps and when each comes, in multiples of the promise (ladder.py acts on them).
STEPS = ("reminder", "overdue", "organisation")
STEP_FACTORS = {"reminder": 0.5, "overdue": 1, "organisation": 2}
ENDED = ("withdrawn", "rejected", "erasing")
PROMISE_FIELDS = ("response_days", "response_due_at")  # what `start` sets on the story


# ---- working days -----------------------------------------------------------------------------


@lru_cache(maxsize=64)
def bank_holidays(year: int) -> frozenset[date]:
    """England and Wales bank holidays in one year, substitute days included (GOV.UK's list)."""
    import holidays  # lazy: see the module's docstring

    return frozenset(holidays.country_holidays("GB", subdiv="ENG", years=year))


def is_working_day(day: date) -> bool:
    return day.weekday() < 5 and day not in bank_holidays(day.year)


def _next_working_day(day: date) -> date:
    day += timedelta(days=1)
    while not is_working_day(day):
        day += timedelta(days=1)
    return day


@lru_cache(maxsize=1)
def _uk() -> tzinfo:
    try:
        from zoneinfo import ZoneInfo

        return ZoneInfo("Europe/London")
    except Exception:  # no time zone database: UTC is at most an hour out
        return timezone.utc


def _working_start(start: datetime) -> tuple[date, time]:
    """Where counting starts: the moment itself on a working day, else the start of the next one."""
    local = start.astimezone(_uk())
    if is_working_day(local.date()):
        return local.date(), local.time().replace(tzinfo=None)
    return _next_working_day(local.date()), time(0)


def _moments(start: datetime) -> Iterator[datetime]:
    """start + 1 working day, + 2, + 3, ... (UTC): the same time of day on each following working day."""
    day, wall = _working_start(start)
    while True:
        day = _next_working_day(day)
        yield datetime.combine(day, wall, tzinfo=_uk()).astimezone(timezone.utc)


def add_working_days(start: datetime, days: float) -> datetime:
    """`start` plus `days` working days (UTC). A half day adds 12 hours after the whole days,
    moved on to the next working day if that lands on a weekend or bank holiday."""
    whole = int(days)
    day, wall = _working_start(start)
    for _ in range(whole):
        day = _next_working_day(day)
    moment = datetime.combine(day, wall, tzinfo=_uk())
    fraction = days - whole
    if fraction:
        moment = moment + timedelta(hours=24 * fraction)
        if not is_working_day(moment.date()):
            moment = datetime.combine(_next_working_day(moment.date()), moment.time().replace(tzinfo=None), tzinfo=_uk())
    return moment.astimezone(timezone.utc)


def working_days_between(start: datetime, end: datetime, most: int = 1000) -> int:
    """Whole working days from `start` to `end` (0 when `end` comes within the first one)."""
    n = 0
    for moment in _moments(start):
        if moment > end or n >= most:
            return n
        n += 1
    return n


def due_at(published_at: str, days: int) -> str:
    return clock.iso(add_working_days(clock.parse(published_at), days))


def ladder_steps(published_at: str, days: int) -> dict[str, str]:
    """When each step of the ladder comes (ISO UTC): half the promise, the promise, twice it."""
    start = clock.parse(published_at)
    return {step: clock.iso(add_working_days(start, days * factor)) for step, factor in STEP_FACTORS.items()}


# ---- the promise of services and stories --------------------------------------------------------


def effective_days(service: dict[str, Any], ancestors: dict[str, dict[str, Any]]) -> int | None:
    """A service's promise: its own `response_days`, else its nearest ancestor's."""
    if service.get("response_days"):
        return int(service["response_days"])
    for slug in reversed(service.get("path", [])[:-1]):
        days = (ancestors.get(slug) or {}).get("response_days")
        if days:
            return int(days)
    return None


def story_target(store: Any, story: dict[str, Any]) -> int | None:
    """The strictest promise among a story's services (None when none of them has one)."""
    services = store.get_services(story.get("services", []))
    lacking = {slug for svc in services.values() if not svc.get("response_days") for slug in svc.get("path", [])[:-1]}
    # Items loaded by the directory carry the effective value; only older ones need their ancestors.
    ancestors = store.get_services(lacking) if lacking else {}
    found = [d for d in (effective_days(svc, ancestors) for svc in services.values()) if d]
    return min(found) if found else None


def story_changed(store: Any, story_id: str, old: dict[str, Any] | None, new: dict[str, Any] | None) -> bool:
    """The stream's one call for each change of a story item. Safe to repeat: the start is one
    conditional transaction, and ending a ladder that is gone changes nothing. True when the
    change was only the promise being set (by `start`, a record earlier): nothing else follows
    from it but the story's own page, so the caller stops there."""
    old_status, new_status = (old or {}).get("status"), (new or {}).get("status")
    if new is None:
        return False  # the item's REMOVE: erasure has already deleted the ladder (store.erase_story)
    if new_status == "published":
        if new.get("first_response_at"):
            if not (old or {}).get("first_response_at"):
                store.end_ladder(story_id)
            return False
        first = old_status != "published" and not (old or {}).get("published_at")
        if first and not new.get("response_due_at"):
            start(store, story_id, new)
        return bool(old) and _changed(old, new) == set(PROMISE_FIELDS)
    if new_status in ENDED and old_status != new_status:
        store.end_ladder(story_id)
    return False


def _changed(old: dict[str, Any], new: dict[str, Any]) -> set[str]:
    return {k for k in set(old) | set(new) if old.get(k) != new.get(k)}


def start(store: Any, story_id: str, story: dict[str, Any]) -> bool:
    days = story_target(store, story)
    if not days:
        return False
    published_at = story.get("published_at") or clock.iso()  # only a bare console edit lacks it
    steps = ladder_steps(published_at, days)
    started = store.start_promise(story_id, {"response_days": days, "response_due_at": steps["overdue"]}, steps)
    if started:
        logger.info("response promise set", extra={"story_id": story_id, "response_days": days, "due": steps["overdue"]})
    return started


# ---- what pages show -----------------------------------------------------------------------------


def story_promise(story: dict[str, Any], services: dict[str, dict[str, Any]] | None = None) -> dict[str, Any]:
    """The promise as the story page and its JSON show it: public dates and states only.
    {} for a story with no promise. Dates are stated rather than "N days ago", so a static
    page stays true as days pass; becoming overdue is a state change, which re-renders it.
    `services` (slug -> item) names the service whose promise it is (the strictest)."""
    days = story.get("response_days")
    if not days or not story.get("response_due_at"):
        return {}
    view: dict[str, Any] = {"days": int(days), "due_at": story["response_due_at"], "since": story.get("published_at", "")}
    mine = [services[s] for s in story.get("services", []) if s in (services or {})]
    named = [svc["name"] for svc in mine if svc.get("response_days") == int(days)]
    view["service_name"] = named[0] if named else ""
    if story.get("first_response_at"):
        view["state"] = "responded"
        view["responded_at"] = story["first_response_at"]
        if story.get("published_at"):
            view["response_working_days"] = working_days_between(clock.parse(story["published_at"]), clock.parse(story["first_response_at"]))
    elif story.get("overdue_at"):
        view["state"] = "overdue"
        view["overdue_at"] = story["overdue_at"]
    else:
        view["state"] = "awaiting"
    return view
