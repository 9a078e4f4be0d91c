"""The pure parts of reports: periods, reading a query, the figures of a set of stories, and the
first working day of a month (core/reporting.py, reports.first_working_day)."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from chalicelib.core import reporting
from chalicelib.core.errors import ValidationFailed
from chalicelib.reports import first_working_day

NOW = datetime(2026, 11, 16, 10, tzinfo=UTC)


def bounds(p: reporting.Period) -> tuple[str, str]:
    return p.lo, p.hi


@pytest.mark.parametrize(
    "key, now, expected, before",
    [
        ("month", NOW, ("2026-10-01", "2026-11-01"), ("2026-09-01", "2026-10-01")),
        ("month", datetime(2027, 1, 4, tzinfo=UTC), ("2026-12-01", "2027-01-01"), ("2026-11-01", "2026-12-01")),
        ("quarter", NOW, ("2026-07-01", "2026-10-01"), ("2026-04-01", "2026-07-01")),
        ("quarter", datetime(2026, 2, 1, tzinfo=UTC), ("2025-10-01", "2026-01-01"), ("2025-07-01", "2025-10-01")),
        ("year", NOW, ("2025-11-01", "2026-11-01"), ("2024-11-01", "2025-11-01")),
        ("30-days", NOW, ("2026-10-18", "2026-11-17"), ("2026-09-18", "2026-10-18")),
    ],
)
def test_each_period_and_the_one_before_it(key, now, expected, before):
    p, b = reporting.periods(key, now)
    assert bounds(p) == tuple(f"{d}T00:00:00.000Z" for d in expected)
    assert bounds(b) == tuple(f"{d}T00:00:00.000Z" for d in before)
    assert b.end == p.start  # the period before ends where this one starts


def test_two_dates_are_compared_with_as_many_days_just_before():
    q = reporting.parse_query({"from": "2026-03-10", "to": "2026-03-19"}, NOW)
    assert q.period.key == "dates" and (q.period.end - q.period.start).days == 10
    assert q.before.first_day == date(2026, 2, 28) and q.before.last_day == date(2026, 3, 9)
    assert q.params() == {"period": "dates", "from": "2026-03-10", "to": "2026-03-19"}
    assert q.period.holds("2026-03-19T23:59:59.999Z") and not q.period.holds("2026-03-20T00:00:00.000Z")


@pytest.mark.parametrize(
    "params, fields",
    [
        ({"period": "week"}, ["period"]),
        ({"period": "dates"}, ["from", "to"]),
        ({"from": "2026-02-30", "to": "2026-03-01"}, ["from"]),
        ({"from": "2019-12-31", "to": "2026-03-01"}, ["from"]),
        ({"from": "2026-03-01", "to": "2026-11-17"}, ["to"]),
        ({"from": "2026-03-02", "to": "2026-03-01"}, ["to"]),
        (
            {"criticality": "9", "progress": "x", "overdue": "1", "tag": "A B", "service": "-x"},
            ["service", "tag", "criticality", "progress", "overdue"],
        ),  # fmt: skip
    ],
)
def test_every_bad_value_is_named(params, fields):
    with pytest.raises(ValidationFailed) as e:
        reporting.parse_query(params, NOW)
    assert [f["field"] for f in e.value.fields] == fields
    assert e.value.status == 422


def _story(**kw):
    return {"status": "published", "published_at": "2026-10-05T10:00:00.000Z", "services": ["a"], "tags": []} | kw


def test_tally_is_figures_summary_of_the_stories_facts():
    stories = [
        _story(first_response_at="2026-10-05T10:30:00.000Z"),  # 1 hour (rounded up)
        _story(first_response_at="2026-10-05T13:00:00.000Z", change_made_at="2026-10-09T00:00:00.000Z"),  # 3
        _story(first_response_at="2026-10-07T10:00:00.000Z", change_verdict="yes"),  # 48
        _story(overdue_at="2026-10-12T10:00:00.000Z"),
        _story(status="withdrawn", first_response_at="2026-10-05T11:00:00.000Z"),  # not counted
    ]
    t = reporting.tally(stories)
    assert (t["stories"], t["responded"], t["overdue"], t["made"], t["confirmed"]) == (4, 3, 1, 1, 1)
    assert t["response_rate"] == 0.75 and t["median_hours"] == 3 and t["p90_hours"] == 48
    assert reporting.tally([])["response_rate"] is None


def test_a_change_is_given_only_with_five_stories_in_both_periods():
    five, four = reporting.tally([_story()] * 5), reporting.tally([_story()] * 4)
    assert {r["key"]: r["change"] for r in reporting.compare(five, five)}["stories"] == 0
    assert all(r["change"] is None for r in reporting.compare(five, four))


def test_filters_and_progress():
    q = reporting.parse_query({"period": "month", "tag": "food", "criticality": "3", "progress": "awaiting"}, NOW)
    keep = _story(tags=["food"], criticality=4)
    assert reporting.matches(keep, q, q.period)
    assert not reporting.matches(keep | {"criticality": 2}, q, q.period)
    assert not reporting.matches(keep | {"tags": []}, q, q.period)
    assert not reporting.matches(keep | {"first_response_at": "2026-10-06T00:00:00.000Z"}, q, q.period)
    assert not reporting.matches(keep | {"published_at": "2026-11-01T00:00:00.000Z"}, q, q.period)
    assert reporting.progress_key(_story(change_planned_at="x", first_response_at="x")) == "planned"


@pytest.mark.parametrize(
    "day, first",
    [
        (date(2026, 11, 20), date(2026, 11, 2)),  # the 1st is a Sunday
        (date(2027, 1, 15), date(2027, 1, 4)),  # New Year's Day is a Friday, then a weekend
        (date(2026, 6, 1), date(2026, 6, 1)),
    ],
)
def test_the_first_working_day_of_a_month(day, first):
    assert first_working_day(day) == first


def test_a_named_month_and_the_twelve_months_of_its_chart():
    p, b = reporting.named_month("2026-01")
    assert (p.label, b.label) == ("January 2026", "December 2025")
    assert reporting.twelve_months("2026-01") == [f"2025-{m:02d}" for m in range(2, 13)] + ["2026-01"]
