"""Words for values: months, roles, feelings, criticality, days. Pages, emails and the JSON
API say each thing the same way because they take the words from here."""

from __future__ import annotations

from typing import Any

from ..core import clock
from ..core.calendar import uk_zone
from ..core.models import CRITICALITY_WORDS, FEELING_LABELS, ROLE_LABELS

MONTHS = (
    "January", "February", "March", "April", "May", "June",
    "July", "August", "September", "October", "November", "December",
)


def month_year(value: Any) -> str:
    """"2026-12" as "December 2026"."""
    text = str(value or "")
    year, _, month = text.partition("-")
    if year.isdigit() and month.isdigit() and 1 <= int(month) <= 12:
        return f"{MONTHS[int(month) - 1]} {int(year)}"
    return text


def role_label(value: Any) -> str:
    """A role as the public reads it (an unknown one is "someone")."""
    return ROLE_LABELS.get(str(value), "someone")


def staff_role_label(role: str) -> str:
    """A role as a letter to staff names it (an unknown one is left out)."""
    return ROLE_LABELS.get(role, "")


def feeling_label(value: Any) -> str:
    return FEELING_LABELS.get(str(value), str(value).replace("-", " "))


def criticality_label(value: Any) -> str:
    """"3 – moderately critical", for staff only ("" when unreadable)."""
    try:
        n = max(0, min(5, int(value)))
    except (TypeError, ValueError):
        return ""
    return f"{n} – {CRITICALITY_WORDS[n]}"


def day_label(day: str) -> str:
    """"2026-11-26" -> "Thursday 26 November 2026"."""
    try:
        moment = clock.parse(f"{day}T00:00:00Z")
    except ValueError:
        return day
    return f"{moment:%A} {moment.day} {moment:%B %Y}"


def long_day(value: str) -> str:
    """An ISO timestamp as "Tuesday 5 January 2027" (UK time)."""
    moment = clock.parse(value).astimezone(uk_zone())
    return f"{moment:%A} {moment.day} {moment:%B %Y}"
