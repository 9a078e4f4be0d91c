"""The response promise: working days in England and Wales, and each service's promise down the tree."""

from __future__ import annotations

import json
import re
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from chalicelib import wiring
from chalicelib.core.calendar import add_working_days, bank_holidays, is_working_day, working_days_between
from chalicelib.directory import flatten
from chalicelib.promise import ladder_steps, story_target
from chalicelib.views import story_promise
from tests.support.directories import promised_directory

ROOT = Path(__file__).resolve().parents[2]


def utc(*args) -> datetime:
    return datetime(*args, tzinfo=UTC)


# ---- working days -------------------------------------------------------------------------------


def test_weekends_are_not_working_days():
    # Thursday 26 November 2026, 10:00: one working day is Friday, two is Monday.
    start = utc(2026, 11, 26, 10)
    assert add_working_days(start, 1) == utc(2026, 11, 27, 10)
    assert add_working_days(start, 2) == utc(2026, 11, 30, 10)
    assert add_working_days(start, 5) == utc(2026, 12, 3, 10)


def test_a_story_told_at_the_weekend_counts_from_the_start_of_monday():
    # Saturday: one working day runs out at the end of Monday (00:00 Tuesday).
    assert add_working_days(utc(2026, 11, 28, 15, 30), 1) == utc(2026, 12, 1, 0)
    assert add_working_days(utc(2026, 11, 29, 23, 59), 1) == utc(2026, 12, 1, 0)


def test_christmas_and_boxing_day_and_their_substitutes_are_skipped():
    # 2026: Christmas is a Friday, Boxing Day a Saturday (its substitute is Monday 28), New Year a Friday.
    assert {date(2026, 12, 25), date(2026, 12, 28), date(2027, 1, 1)} <= bank_holidays(2026) | bank_holidays(2027)
    assert not is_working_day(date(2026, 12, 28))
    assert is_working_day(date(2026, 12, 29))
    # Thursday 24 December 2026: working days are 29, 30, 31 December, then 4 and 5 January.
    assert add_working_days(utc(2026, 12, 24, 10), 5) == utc(2027, 1, 5, 10)
    # 2027: both fall at the weekend, so Monday 27 and Tuesday 28 are the substitutes.
    assert not is_working_day(date(2027, 12, 27)) and not is_working_day(date(2027, 12, 28))
    assert add_working_days(utc(2027, 12, 24, 9), 1) == utc(2027, 12, 29, 9)


def test_easter_is_skipped_and_the_promise_keeps_uk_time_across_the_clock_change():
    # Good Friday 26 March 2027 and Easter Monday 29 March; the clocks go forward on Sunday 28 March.
    assert not is_working_day(date(2027, 3, 26)) and not is_working_day(date(2027, 3, 29))
    # Thursday 25 March, 09:00 GMT: two working days later is Wednesday 31 March, 09:00 BST (08:00 UTC).
    assert add_working_days(utc(2027, 3, 25, 9), 2) == utc(2027, 3, 31, 8)


def test_the_early_may_bank_holiday_is_skipped():
    # Friday 1 May 2026, 13:00 BST: Monday 4 May is a bank holiday, so one working day is Tuesday.
    assert not is_working_day(date(2026, 5, 4))
    assert add_working_days(utc(2026, 5, 1, 12), 1) == utc(2026, 5, 5, 12)
    # In 2020 the early May bank holiday moved to Friday 8 May (VE Day); Monday 4 May was a working day.
    assert is_working_day(date(2020, 5, 4)) and not is_working_day(date(2020, 5, 8))
    # One-off bank holidays count too: the Coronation (8 May 2023), the late Queen's funeral (19 September 2022).
    assert not is_working_day(date(2023, 5, 8)) and not is_working_day(date(2022, 9, 19))


def test_half_a_working_day_is_twelve_hours_moved_past_a_weekend():
    assert add_working_days(utc(2026, 11, 23, 10), 2.5) == utc(2026, 11, 25, 22)
    # Friday 27 November 14:00 + half a day lands on Saturday: it moves to Monday at the same time.
    assert add_working_days(utc(2026, 11, 27, 14), 0.5) == utc(2026, 11, 30, 2)


def test_the_ladder_steps_are_half_the_promise_the_promise_and_twice_it():
    assert ladder_steps("2026-11-23T10:00:00.000Z", 5) == {
        "reminder": "2026-11-25T22:00:00.000Z",
        "overdue": "2026-11-30T10:00:00.000Z",
        "organisation": "2026-12-07T10:00:00.000Z",
    }


def test_working_days_between_counts_whole_working_days():
    start = utc(2026, 11, 26, 10)
    assert working_days_between(start, utc(2026, 11, 26, 17)) == 0
    assert working_days_between(start, utc(2026, 11, 27, 10)) == 1
    assert working_days_between(start, utc(2026, 11, 30, 9, 59)) == 1
    assert working_days_between(start, utc(2026, 11, 30, 11)) == 2
    assert working_days_between(utc(2026, 12, 24, 10), utc(2027, 1, 5, 10)) == 5


# ---- the promise of each service -----------------------------------------------------------------


def test_a_node_inherits_its_nearest_ancestors_promise_and_can_override_it():
    services = {s["slug"]: s for s in flatten(promised_directory())}
    assert services["riverside-trust"]["response_days"] == 5
    assert services["riverside-general"]["response_days"] == 5
    assert services["riverside-ward-7"]["response_days"] == 5
    assert services["riverside-maternity"]["response_days"] == 3
    assert "response_days" not in services["hillside-district-nursing"]


def test_the_demo_directory_sets_a_promise_for_every_service():
    services = flatten(json.loads((ROOT / "data" / "directory.json").read_text(encoding="utf-8")))
    assert all(1 <= s["response_days"] <= 60 for s in services)
    by_slug = {s["slug"]: s["response_days"] for s in services}
    assert (
        by_slug["castle-street-surgery"] == 7 and by_slug["oakhurst-surgery"] == 10
    )  # an override, and the ICB's default


@pytest.mark.parametrize("bad", [0, -1, 61, 2.5, "5", True, None])
def test_a_bad_promise_is_refused_naming_the_service(bad):
    tree = promised_directory()
    tree[1]["response_days"] = bad
    if bad is None:  # null means "no promise": allowed
        assert "response_days" not in {s["slug"]: s for s in flatten(tree)}["hillside-trust"]
        return
    with pytest.raises(ValueError, match="hillside-trust.*response_days"):
        flatten(tree)


def test_loading_the_directory_keeps_the_promise_and_a_change_updates_the_nodes(aws):
    directory = wiring.directory()
    tree = promised_directory()
    assert directory.load(tree)["created"] == 6
    assert directory.load(tree) == {"created": 0, "updated": 0, "unchanged": 6}
    store = wiring.store()
    assert store.get_service("riverside-ward-7")["response_days"] == 5
    tree[0]["response_days"] = 10
    counts = directory.load(tree)
    # The trust, its hospital and ward 7 change; the maternity unit keeps its own 3; Hillside has none.
    assert counts == {"created": 0, "updated": 3, "unchanged": 3}
    assert store.get_service("riverside-ward-7")["response_days"] == 10
    assert store.get_service("riverside-maternity")["response_days"] == 3


def test_a_story_about_several_services_takes_the_strictest_promise(aws):
    wiring.directory().load(promised_directory())
    store = wiring.store()
    assert story_target(store, {"services": ["riverside-ward-7"]}) == 5
    assert story_target(store, {"services": ["riverside-ward-7", "riverside-maternity"]}) == 3
    assert story_target(store, {"services": ["riverside-ward-7", "hillside-district-nursing"]}) == 5
    assert story_target(store, {"services": ["hillside-district-nursing"]}) is None
    assert story_target(store, {"services": ["no-such-service"]}) is None


def test_a_service_item_without_the_field_takes_it_from_its_ancestors(aws):
    """An item written before promises existed (or edited in the console) still gets one."""
    wiring.directory().load(promised_directory())
    store = wiring.store()
    ward = store.get_service("riverside-ward-7")
    ward.pop("response_days")
    store.put_service(ward)
    assert "response_days" not in store.get_service("riverside-ward-7")
    assert story_target(store, {"services": ["riverside-ward-7"]}) == 5


def test_what_the_story_page_is_told():
    story = {"services": ["a"], "published_at": "2026-11-26T10:00:00.000Z"}
    services = {"a": {"slug": "a", "name": "Ward 7", "response_days": 5}}
    assert story_promise(story, services) == {}
    story |= {"response_days": 5, "response_due_at": "2026-12-03T10:00:00.000Z"}
    assert story_promise(story, services) == {
        "days": 5,
        "due_at": "2026-12-03T10:00:00.000Z",
        "since": "2026-11-26T10:00:00.000Z",
        "service_name": "Ward 7",
        "state": "awaiting",
        "holidays": "bank holidays in England and Wales",
    }
    assert story_promise(story | {"overdue_at": "2026-12-03T10:00:00.000Z"}, services)["state"] == "overdue"
    answered = story_promise(
        story | {"overdue_at": "2026-12-03T10:00:00.000Z", "first_response_at": "2026-12-07T12:00:00.000Z"}
    )
    assert answered["state"] == "responded" and answered["response_working_days"] == 7


# ---- Scotland and Northern Ireland ------------------------------------------------------------------


@pytest.mark.parametrize(
    "calendar, holiday, ordinary",
    [
        # St Andrew's Day 2026 is a Monday; England works. Scotland works Easter Monday 2027 (29 March).
        ("scotland", date(2026, 11, 30), date(2027, 3, 29)),
        # 2 January 2026 (a Friday) is a Scottish bank holiday only.
        ("scotland", date(2026, 1, 2), date(2026, 8, 31)),
        # St Patrick's Day and the Twelfth (Monday 13 July 2026, the Twelfth being a Sunday).
        ("northern-ireland", date(2026, 3, 17), date(2026, 11, 30)),
        ("northern-ireland", date(2026, 7, 13), date(2026, 1, 2)),
    ],
)
def test_each_nation_skips_its_own_bank_holidays(calendar, holiday, ordinary):
    assert not is_working_day(holiday, calendar) and is_working_day(holiday)
    assert is_working_day(ordinary, calendar)
    day_before = datetime.combine(holiday, datetime.min.time(), tzinfo=UTC).replace(hour=10) - timedelta(days=1)
    if is_working_day(day_before.date()) and is_working_day(day_before.date(), calendar):
        # One working day from the day before the holiday lands after it, in that nation only.
        assert add_working_days(day_before, 1, calendar).date() > holiday
        assert add_working_days(day_before, 1).date() == holiday


def test_a_scottish_services_promise_counts_scottish_days_from_the_directory_to_the_page(aws):
    tree = promised_directory()
    tree[0]["holidays"] = "scotland"  # the whole trust, inherited down its tree
    items = {i["slug"]: i for i in flatten(tree)}
    assert items["riverside-ward-7"]["holidays"] == "scotland" and "holidays" not in items.get("hillside-trust", {})
    wiring.directory().load(tree)
    store = wiring.store()
    from chalicelib.promise import _target, due_at

    assert _target(store, {"services": ["riverside-ward-7"]}) == (5, "scotland")
    # Told on Wednesday 25 November 2026: 5 working days is 2 December in England, 3 December in Scotland.
    assert due_at("2026-11-25T10:00:00.000Z", 5) == "2026-12-02T10:00:00.000Z"
    assert due_at("2026-11-25T10:00:00.000Z", 5, "scotland") == "2026-12-03T10:00:00.000Z"
    view = story_promise(
        {
            "services": ["riverside-ward-7"],
            "published_at": "2026-11-25T10:00:00.000Z",
            "response_days": 5,
            "response_due_at": "2026-12-03T10:00:00.000Z",
            "response_holidays": "scotland",
            "first_response_at": "2026-12-01T11:00:00.000Z",
        }
    )
    assert view["holidays"] == "Scottish bank holidays"
    assert view["response_working_days"] == 3  # 26, 27 November and 1 December; not St Andrew's Day
    assert "weekends and Scottish bank holidays not counted" in _partial(story={"promise": view})


def test_an_unknown_holiday_calendar_is_refused_by_name():
    tree = promised_directory()
    tree[0]["holidays"] = "wales"
    with pytest.raises(ValueError, match="holidays must be one of england-and-wales, scotland, northern-ireland"):
        flatten(tree)


# ---- the partial every page includes ---------------------------------------------------------------


def _partial(**context) -> str:
    from chalicelib.site.pages import environment

    return " ".join(environment().get_template("pages/_promise.html").render(**context).split())


def test_the_service_page_states_the_services_promise():
    ward = {"slug": "riverside-ward-7", "name": "Ward 7"}
    assert "Ward 7 aims to reply within 5 working days" in _partial(service=ward, promise={"response_days": 5})
    assert "Ward 7 aims to reply within 1 working day " in _partial(service=ward, promise=1)
    assert _partial(service=ward, promise=None) == ""
    assert _partial() == ""


def test_the_story_page_states_dates_and_the_overdue_state():
    story = {
        "promise": {
            "days": 5,
            "due_at": "2026-12-03T10:00:00.000Z",
            "since": "2026-11-26T10:00:00.000Z",
            "service_name": "Ward 7",
            "state": "awaiting",
        }
    }
    html = _partial(story=story)
    assert 'datetime="2026-12-03"' in html
    text = re.sub(r"<[^>]+>", "", html)
    assert "Awaiting a response since 26 November 2026; a reply is due by 3 December 2026." in text
    assert "Ward 7 aims to reply within 5 working days" in text
    story["promise"] |= {"state": "overdue", "overdue_at": "2026-12-03T10:00:00.000Z"}
    assert "Overdue: no reply within 5 working days." in _partial(story=story)
    story["promise"] |= {"state": "responded", "responded_at": "2026-11-26T15:00:00.000Z", "response_working_days": 0}
    assert "First reply within a working day" in _partial(story=story)
    assert _partial(story={"promise": {}}) == ""
