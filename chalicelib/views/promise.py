"""The response promise as pages, emails and the JSON API show it: public dates and states only."""

from __future__ import annotations

from typing import Any

from ..core import clock
from ..core.calendar import DEFAULT_CALENDAR, HOLIDAYS_SAID, working_days_between

# The ladder's steps in order: promise.py times them, ladder.py climbs them, the letters name them.
STEPS = ("reminder", "overdue", "organisation")


def holidays_said(calendar: str | None) -> str:
    """Whose bank holidays a promise's working days skip, in words."""
    return HOLIDAYS_SAID.get(calendar or DEFAULT_CALENDAR, "bank holidays")


def service_promise(service: dict[str, Any]) -> dict[str, Any] | None:
    """A service's own promise, for its page (None when it has none)."""
    if not service.get("response_days"):
        return None
    return {"response_days": service["response_days"], "holidays": holidays_said(service.get("holidays"))}


def story_promise(story: dict[str, Any], services: dict[str, dict[str, Any]] | None = None) -> dict[str, Any]:
    """The promise as the story page and its JSON show it: public dates and states only.
    {} for a story with no promise. Dates are stated rather than "N days ago", so a static
    page stays true as days pass; becoming overdue is a state change, which re-renders it.
    `services` (slug -> item) names the service whose promise it is (the strictest)."""
    days = story.get("response_days")
    if not days or not story.get("response_due_at"):
        return {}
    calendar = story.get("response_holidays") or DEFAULT_CALENDAR
    view: dict[str, Any] = {"days": int(days), "due_at": story["response_due_at"], "since": story.get("published_at", ""),
                            "holidays": holidays_said(calendar)}
    mine = [services[s] for s in story.get("services", []) if s in (services or {})]
    named = [svc["name"] for svc in mine if svc.get("response_days") == int(days)]
    view["service_name"] = named[0] if named else ""
    if story.get("first_response_at"):
        view["state"] = "responded"
        view["responded_at"] = story["first_response_at"]
        if story.get("published_at"):
            view["response_working_days"] = working_days_between(clock.parse(story["published_at"]), clock.parse(story["first_response_at"]),
                                                                 calendar=calendar)
    elif story.get("overdue_at"):
        view["state"] = "overdue"
        view["overdue_at"] = story["overdue_at"]
    else:
        view["state"] = "awaiting"
    return view
