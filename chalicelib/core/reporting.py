"""What the board sees: periods, filters and the figures of a set of stories, compared with the
period before. Pure functions of story items (no store, no clock of its own), shared by the lead's
report page and export (reports.py) and the monthly board report email (mail/letters/board.py).

The figures are the public pages' own (figures.py): each story's `facts` summed as the stream sums
them into a listing's counter, then `summary`, so a report and a service page can never disagree
on what "responded" or "median time to a first reply" means.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from . import figures
from .clock import iso
from .errors import ValidationFailed
from .status import Status

# Figures that rank or compare services, or compare two periods, need this many stories: fewer
# would single out the people in them and say nothing reliable.
MIN_STORIES = 5
# The longest period a report reads (with the same length before it): two years.
MAX_DAYS = 731
EARLIEST = date(2020, 1, 1)
PERIODS = {
    "30-days": "the last 30 days",
    "quarter": "last quarter",
    "year": "the last 12 months",
    "month": "last month",
    "dates": "between two dates",
}
PROGRESS = {
    "awaiting": "No response yet",
    "responded": "Responded to",
    "planned": "Change planned",
    "made": "Change made",
}
OVERDUE = {"yes": "Waiting past the promised time", "no": "Not waiting past the promised time"}
# The figures compared between the two periods, in the order a page shows them.
FIGURES = (
    ("stories", "Stories published"),
    ("responded", "Responded to"),
    ("response_rate", "Share responded to"),
    ("median_hours", "Typical time to a first response"),
    ("p90_hours", "Time within which 9 in 10 first responses came"),
    ("overdue", "Waiting past the promised time now"),
    ("planned", "Changes planned"),
    ("made", "Changes made"),
    ("confirmed", "Changes the author says made a difference"),
)
_SLUG = re.compile(r"^[a-z0-9][a-z0-9-]{0,79}$")
_TAG = re.compile(r"^[a-z0-9][a-z0-9-]{0,39}$")
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
CHOOSE_PERIOD = "Choose the last 30 days, last quarter, the last 12 months, last month or two dates"
CHOOSE_PROGRESS = "Choose no response yet, responded, change planned or change made"
PARAMS = ("period", "from", "to", "service", "tag", "criticality", "progress", "overdue")


@dataclass(frozen=True)
class Period:
    """[start, end) in UTC, what it is called, and the period of the same kind just before it."""

    key: str
    start: datetime
    end: datetime
    label: str

    @property
    def lo(self) -> str:
        return iso(self.start)

    @property
    def hi(self) -> str:
        return iso(self.end)

    @property
    def first_day(self) -> date:
        return self.start.date()

    @property
    def last_day(self) -> date:
        return (self.end - timedelta(microseconds=1)).date()

    def holds(self, published_at: str) -> bool:
        return self.lo <= published_at < self.hi


@dataclass(frozen=True)
class Query:
    """A report's question: the period, the one before it, and the filters (empty: any)."""

    period: Period
    before: Period
    service: str = ""
    tag: str = ""
    criticality: int | None = None  # at least this
    progress: str = ""
    overdue: str = ""

    def params(self) -> dict[str, str]:
        """The query as URL parameters, to link the page, its exports and the next request."""
        out = {"period": self.period.key}
        if self.period.key == "dates":
            out |= {"from": self.period.first_day.isoformat(), "to": self.period.last_day.isoformat()}
        out |= {
            "service": self.service,
            "tag": self.tag,
            "criticality": "" if self.criticality is None else str(self.criticality),
            "progress": self.progress,
            "overdue": self.overdue,
        }
        return {k: v for k, v in out.items() if v}


# ---- periods ------------------------------------------------------------------------------------------


def _midnight(day: date) -> datetime:
    return datetime.combine(day, time(), tzinfo=UTC)


def _month_start(day: date, back: int = 0) -> date:
    """The first day of day's month, `back` months earlier."""
    index = day.year * 12 + day.month - 1 - back
    return date(index // 12, index % 12 + 1, 1)


def month_period(now: datetime, back: int = 1) -> Period:
    """A whole calendar month: last month for back=1."""
    first = _month_start(now.date(), back)
    end = _month_start(now.date(), back - 1)
    return Period("month", _midnight(first), _midnight(end), first.strftime("%B %Y"))


def _quarter(now: datetime, back: int) -> Period:
    today = now.date()
    this_quarter = _month_start(today, (today.month - 1) % 3)
    first, end = _month_start(this_quarter, 3 * back), _month_start(this_quarter, 3 * (back - 1))
    last = end - timedelta(days=1)
    return Period("quarter", _midnight(first), _midnight(end), f"{first:%B} to {last:%B %Y}")


def _months(now: datetime, back: int) -> Period:
    first, end = _month_start(now.date(), 12 * back), _month_start(now.date(), 12 * (back - 1))
    last = end - timedelta(days=1)
    return Period("year", _midnight(first), _midnight(end), f"{first:%B %Y} to {last:%B %Y}")


def _days(first: date, last: date, key: str) -> Period:
    return Period(key, _midnight(first), _midnight(last + timedelta(days=1)), f"{_day(first)} to {_day(last)}")


def _day(d: date) -> str:
    return f"{d.day} {d:%B %Y}"


def periods(key: str, now: datetime, first: date | None = None, last: date | None = None) -> tuple[Period, Period]:
    """(the period asked for, the one of the same length just before it). A calendar quarter, month or
    twelve months is compared with the quarter, month or twelve months before it."""
    if key == "month":
        return month_period(now, 1), month_period(now, 2)
    if key == "quarter":
        return _quarter(now, 1), _quarter(now, 2)
    if key == "year":
        return _months(now, 1), _months(now, 2)
    if key == "dates" and first and last:
        days = (last - first).days + 1
        return _days(first, last, "dates"), _days(first - timedelta(days=days), first - timedelta(days=1), "dates")
    today = now.date()
    return _days(today - timedelta(days=29), today, "30-days"), _days(
        today - timedelta(days=59), today - timedelta(days=30), "30-days"
    )


# ---- reading a query -------------------------------------------------------------------------------------


def _one(params: Mapping[str, Any], name: str) -> str:
    value = params.get(name, "")
    if isinstance(value, list):
        value = value[-1] if value else ""
    return str(value).strip() if value is not None else ""


def _date(params: Mapping[str, Any], name: str, problems: list[dict[str, str]], today: date) -> date | None:
    text = _one(params, name)
    if not text:
        problems.append({"field": name, "message": "Enter a date, like 2026-04-01"})
        return None
    if not _DATE.match(text):
        problems.append({"field": name, "message": "Enter the date as year-month-day, like 2026-04-01"})
        return None
    try:
        day = date.fromisoformat(text)
    except ValueError:
        problems.append({"field": name, "message": "Enter a real date, like 2026-04-01"})
        return None
    if day < EARLIEST or day > today:
        problems.append({"field": name, "message": f"Enter a date between {_day(EARLIEST)} and today"})
        return None
    return day


def parse_query(params: Mapping[str, Any], now: datetime) -> Query:
    """A report's query from the page's parameters, or a ValidationFailed naming every bad field
    (a 422: the page shows its error summary, a program reads `error.fields`)."""
    problems: list[dict[str, str]] = []
    values = {name: _one(params, name) for name in PARAMS}
    key = values["period"] or ("dates" if values["from"] or values["to"] else "30-days")
    first = last = None
    if key not in PERIODS:
        problems.append({"field": "period", "message": CHOOSE_PERIOD})
    elif key == "dates":
        first = _date(params, "from", problems, now.date())
        last = _date(params, "to", problems, now.date())
        if first and last and first > last:
            problems.append({"field": "to", "message": "The end date must be on or after the start date"})
        elif first and last and (last - first).days + 1 > MAX_DAYS:
            problems.append({"field": "to", "message": "Choose at most two years"})
    service, tag = values["service"], values["tag"]
    if service and not _SLUG.match(service):
        problems.append({"field": "service", "message": "Choose one of your organisation's services"})
    if tag and not _TAG.match(tag):
        problems.append({"field": "tag", "message": "A tag is lower-case letters, digits and hyphens"})
    criticality: int | None = None
    if values["criticality"]:
        if values["criticality"] in ("0", "1", "2", "3", "4", "5"):
            criticality = int(values["criticality"])
        else:
            problems.append({"field": "criticality", "message": "Choose a criticality from 0 to 5"})
    if values["progress"] and values["progress"] not in PROGRESS:
        problems.append({"field": "progress", "message": CHOOSE_PROGRESS})
    if values["overdue"] and values["overdue"] not in OVERDUE:
        problems.append({"field": "overdue", "message": "Choose yes or no"})
    if problems:
        raise ValidationFailed(problems, values)
    period, before = periods(key, now, first, last)
    return Query(period, before, service, tag, criticality, values["progress"], values["overdue"])


# ---- which stories, and what they add up to -----------------------------------------------------------


def is_overdue(story: Mapping[str, Any]) -> bool:
    """Waiting past the promised time now: as the figures count it (figures.facts)."""
    return bool(story.get("overdue_at")) and not story.get("first_response_at")


def matches(story: Mapping[str, Any], query: Query, period: Period) -> bool:
    """Whether a story from the service's listing answers the query's filters in `period`."""
    if story.get("status") != Status.PUBLISHED or not period.holds(story.get("published_at", "")):
        return False
    if query.tag and query.tag not in (story.get("tags") or []):
        return False
    if query.criticality is not None and int(story.get("criticality") or 0) < query.criticality:
        return False
    progress = query.progress
    if progress == "awaiting" and story.get("first_response_at"):
        return False
    attribute = {"responded": "first_response_at", "planned": "change_planned_at", "made": "change_made_at"}
    if progress in attribute and not story.get(attribute[progress]):
        return False
    return not query.overdue or is_overdue(story) == (query.overdue == "yes")


def tally(stories: Iterable[Mapping[str, Any]]) -> dict[str, Any]:
    """The figures of a set of stories, exactly as figures.summary gives a listing's from its counter."""
    total: dict[str, Any] | None = None
    for story in stories:
        facts = figures.facts(dict(story))
        if facts:
            total = figures.add(total, figures.delta({}, facts))
    if not total:
        return figures.summary({})
    return figures.summary({**total["counts"], "hours": total["hours"], "months": total["months"]})


def compare(now: dict[str, Any], before: dict[str, Any]) -> list[dict[str, Any]]:
    """Each figure in both periods. The change is given only when both have MIN_STORIES stories."""
    enough = now["stories"] >= MIN_STORIES and before["stories"] >= MIN_STORIES
    out = []
    for key, label in FIGURES:
        a, b = now.get(key), before.get(key)
        change = a - b if enough and a is not None and b is not None else None
        out.append({"key": key, "label": label, "now": a, "before": b, "change": change})
    return out


def by_service(
    stories: Sequence[Mapping[str, Any]], children: Sequence[Mapping[str, Any]], paths: Mapping[str, list[str]]
) -> list[dict[str, Any]]:
    """Each sub-service's figures (a story counts under every sub-service on its services' paths),
    most stories first; `shown` is False under MIN_STORIES, and the page then shows no figure of it."""
    rows = []
    for child in children:
        mine = [s for s in stories if any(child["slug"] in paths.get(svc, []) for svc in s.get("services") or [])]
        enough = len(mine) >= MIN_STORIES
        rows.append(
            {
                "slug": child["slug"],
                "name": child.get("name", child["slug"]),
                "shown": enough,
                "figures": tally(mine) if enough else None,
            }
        )
    shown = sorted((r for r in rows if r["shown"]), key=lambda r: (-r["figures"]["stories"], r["name"]))
    return shown + sorted((r for r in rows if not r["shown"]), key=lambda r: r["name"])


def months_of(stories: Iterable[Mapping[str, Any]]) -> dict[str, int]:
    out: dict[str, int] = {}
    for s in stories:
        month = s.get("published_at", "")[:7]
        out[month] = out.get(month, 0) + 1
    return out


def progress_key(story: Mapping[str, Any]) -> str:
    """The furthest step a story has reached, as the report's progress filter names it."""
    for key, attr in (("made", "change_made_at"), ("planned", "change_planned_at"), ("responded", "first_response_at")):
        if story.get(attr):
            return key
    return "awaiting"


def named_month(month: str) -> tuple[Period, Period]:
    """A month named "YYYY-MM" and the month before it (the board report's ref carries the month, so
    a job delivered late still reports on the month it was queued for)."""
    year, number = int(month[:4]), int(month[5:7])
    after = datetime(year + number // 12, number % 12 + 1, 1, tzinfo=UTC)
    return month_period(after, 1), month_period(after, 2)


def twelve_months(last: str) -> list[str]:
    """The twelve months ending with `last` (YYYY-MM), oldest first: the chart's months."""
    end = date(int(last[:4]), int(last[5:7]), 1)
    return [_month_start(end, back).strftime("%Y-%m") for back in range(11, -1, -1)]


def hours_words(hours: int | None) -> str:
    return figures.duration_words(hours) or "none yet"


def share(rate: float | None) -> str:
    return figures.share_words(rate) or "none yet"
