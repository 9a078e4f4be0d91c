"""A listing's figures: what each published story contributes, and what the counters add up to.

`facts` is a pure function of one story item. The stream handler (changes.py) applies the
difference between the facts last applied for a story and its new facts to the counters of
every listing the story is on, in one transaction with the facts themselves (store.apply_facts):
a stream record delivered twice finds its facts already applied and changes nothing.
"""

from __future__ import annotations

import math
from typing import Any

from .clock import parse
from .i18n import gettext, ngettext
from .status import Status

# The counts a counter item keeps, besides its histogram of response hours and stories per month.
COUNTS = ("published", "responded", "planned", "made", "confirmed", "overdue")


def stream_order(sequence: str) -> str:
    """A stream record's SequenceNumber as a string that sorts as the records do (DynamoDB's are
    decimal digits of varying length, up to 40; within one item they only grow). "" if it is not one."""
    return sequence.zfill(40) if sequence.isdigit() and len(sequence) <= 40 else ""


def facts(story: dict[str, Any] | None) -> dict[str, Any]:
    """What one story adds to the figures of each listing it is on: nothing unless it is published."""
    if not story or story.get("status") != Status.PUBLISHED or not story.get("published_at"):
        return {}
    responded = bool(story.get("first_response_at"))
    out: dict[str, Any] = {
        "published": 1,
        "month": story["published_at"][:7],
        "responded": int(responded),
        "planned": int(bool(story.get("change_planned_at"))),
        "made": int(bool(story.get("change_made_at"))),
        "confirmed": int(story.get("change_verdict") == "yes"),
        "overdue": int(bool(story.get("overdue_at")) and not responded),
    }
    if responded:
        seconds = (parse(story["first_response_at"]) - parse(story["published_at"])).total_seconds()
        out["response_hours"] = max(0, math.ceil(seconds / 3600))
    return out


def delta(old: dict[str, Any], new: dict[str, Any]) -> dict[str, Any]:
    """The change to one counter when a story's facts go from old to new: {"counts": {name: n},
    "hours": {h: n}, "months": {month: n}}, zeros left out (an empty delta changes nothing)."""
    counts = {k: new.get(k, 0) - old.get(k, 0) for k in COUNTS}
    hours: dict[int, int] = {}
    months: dict[str, int] = {}
    for sign, f in ((-1, old), (1, new)):
        if "response_hours" in f:
            hours[f["response_hours"]] = hours.get(f["response_hours"], 0) + sign
        if f.get("published") and f.get("month"):
            months[f["month"]] = months.get(f["month"], 0) + sign
    return {
        "counts": {k: v for k, v in counts.items() if v},
        "hours": {k: v for k, v in hours.items() if v},
        "months": {k: v for k, v in months.items() if v},
    }


def is_empty(d: dict[str, Any]) -> bool:
    return not (d["counts"] or d["hours"] or d["months"])


def percentile(hours: dict[int, int], num: int, den: int) -> int | None:
    """The nearest-rank percentile (num/den) of a histogram of whole hours: the smallest h with
    at least ceil(n × num / den) values at or below it. Exact at hour resolution."""
    n = sum(c for c in hours.values() if c > 0)
    if not n:
        return None
    rank = max(1, -(-n * num // den))
    seen = 0
    for h in sorted(hours):
        if hours[h] > 0:
            seen += hours[h]
            if seen >= rank:
                return h
    return None  # pragma: no cover - unreachable: the ranks add up to n


def summary(counter: dict[str, Any] | None) -> dict[str, Any]:
    """A listing's figures from its counter item (store.figures)."""
    counter = counter or {}
    hours = {int(h): int(n) for h, n in (counter.get("hours") or {}).items() if int(n) > 0}
    published = int(counter.get("published", 0))
    responded = int(counter.get("responded", 0))
    return {
        "stories": published,
        "responded": responded,
        "response_rate": responded / published if published else None,
        "median_hours": percentile(hours, 1, 2),
        "p90_hours": percentile(hours, 9, 10),
        "overdue": int(counter.get("overdue", 0)),
        "planned": int(counter.get("planned", 0)),
        "made": int(counter.get("made", 0)),
        "confirmed": int(counter.get("confirmed", 0)),
        "months": {m: int(n) for m, n in sorted((counter.get("months") or {}).items()) if int(n) > 0},
    }


def duration_words(hours: int | None) -> str:
    """A response time in plain words: "under an hour", "5 hours", "2 days"."""
    if hours is None:
        return ""
    if hours < 1:
        return gettext("under an hour")
    if hours < 48:
        return ngettext("%(num)d hour", "%(num)d hours", hours) % {"num": hours}
    days = round(hours / 24)
    return ngettext("%(num)d day", "%(num)d days", days) % {"num": days}


def share_words(rate: float | None) -> str:
    """A share as a whole percentage: 0.666 → "67%"."""
    return "" if rate is None else f"{round(rate * 100)}%"


def add(a: dict[str, Any] | None, b: dict[str, Any]) -> dict[str, Any]:
    """Two deltas as one (bulk loading sums many stories' facts per listing)."""
    if not a:
        return b
    out: dict[str, Any] = {}
    for part in ("counts", "hours", "months"):
        merged = dict(a[part])
        for k, v in b[part].items():
            merged[k] = merged.get(k, 0) + v
        out[part] = {k: v for k, v in merged.items() if v}
    return out


def plan(applied: dict[str, Any], facts_now: dict[str, Any], listings: set[str]) -> dict[str, dict[str, Any]]:
    """Per listing, the delta that takes its counter from the facts applied before (`applied`, as
    store.story_facts gives it) to `facts_now` on `listings`. A listing the story left loses its
    old facts; one it joined gains the new; empty deltas are left out."""
    before, was_on = applied.get("facts") or {}, set(applied.get("listings") or [])
    out: dict[str, dict[str, Any]] = {}
    for listing in was_on | listings:
        d = delta(before if listing in was_on else {}, facts_now if listing in listings else {})
        if not is_empty(d):
            out[listing] = d
    return out
