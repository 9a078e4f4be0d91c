"""The story form's errors (issue 20): every error at once, in plain words, in the form's order, each on
the box to change. On the in-memory store and the renderer: no moto, no browser."""

from __future__ import annotations

import re
from datetime import date
from types import SimpleNamespace

import pytest

from chalicelib.core.errors import ValidationFailed
from chalicelib.core.models import experience_problem
from chalicelib.site.forms import form_context
from chalicelib.site.pages import render_page
from chalicelib.stories import Stories
from tests.support.factories import story_body
from tests.support.memory_store import MemoryStore

SETTINGS = SimpleNamespace(api_url="https://api.test", site_url="https://site.test")
GROUPS = [{"label": "Riverside", "options": [{"value": "riverside-ward-7", "label": "Riverside › Ward 7"}]}]
# What a validator says in its own words, never shown to a person.
VALIDATOR_WORDS = re.compile(r"Input should|Choose at least 1|greater than|less than|is not valid|Value error")


@pytest.fixture
def stories():
    store = MemoryStore()
    store.put_service({"slug": "riverside-ward-7", "name": "Ward 7", "trail": []})
    return Stories(store, None, 60)


def problems(stories, **overrides) -> list[dict[str, str]]:
    with pytest.raises(ValidationFailed) as e:
        stories.validate(story_body(**overrides))
    return e.value.fields


def next_month() -> tuple[int, int]:
    today = date.today()
    return (today.year + 1, 1) if today.month == 12 else (today.year, today.month + 1)


def test_an_empty_title_and_a_month_to_come_are_both_reported_at_once(stories):
    year, month = next_month()
    found = problems(stories, title="", experience_month=month, experience_year=year)
    by_field = {f["field"]: f["message"] for f in found}
    assert by_field["title"] == "Enter a title"
    # The month is what is wrong (this year is fine), so Month is marked, not Year.
    if year == date.today().year:
        assert by_field == {"title": "Enter a title", "experience_month": "The month must be this month or earlier"}
    else:
        assert by_field["experience_year"] == "The year must be this year or earlier"


def test_a_month_later_this_year_marks_the_month_alone(stories):
    today = date.today()
    if today.month == 12:
        pytest.skip("no later month this year in December")
    found = problems(stories, experience_month=today.month + 1, experience_year=today.year)
    assert found == [{"field": "experience_month", "message": "The month must be this month or earlier"}]


def test_unknown_services_are_reported_with_the_other_errors(stories):
    found = problems(stories, pseudonym="", services=["no-such-service"])
    assert {f["field"] for f in found} == {"pseudonym", "services"}


@pytest.mark.parametrize(
    "overrides, field, words",
    [
        ({"experience_month": 13}, "experience_month", "The month must be a number from 1 to 12"),
        ({"experience_month": 0}, "experience_month", "The month must be a number from 1 to 12"),
        ({"experience_month": "June"}, "experience_month", "The month must be a number from 1 to 12"),
        ({"experience_month": ""}, "experience_month", "Enter the month it happened"),
        ({"experience_year": 99}, "experience_year", "Enter the year as 4 numbers"),
        ({"experience_year": ""}, "experience_year", "Enter the year it happened"),
        (
            {"experience_year": date.today().year - 4},
            "experience_year",
            "We can only publish stories from the last 3 years",
        ),
        ({"services": []}, "services", "Choose a service"),
        ({"services": ["a", "b", "c", "d"]}, "services", "Choose no more than 3 services"),
        ({"role": ""}, "role", "Choose who you are"),
        ({"feelings": ["delighted"]}, "feelings", "Choose how you felt from the list"),
        ({"email": "not-an-email"}, "email", "Enter an email address in the correct format, like name@example.com"),
        ({"story": "x" * 30001}, "story", "What happened must be 30,000 characters or fewer. It has 30,001 now"),
    ],
)
def test_each_error_is_in_plain_words(stories, overrides, field, words):
    found = problems(stories, **overrides)
    assert found == [{"field": field, "message": words}]
    assert not VALIDATOR_WORDS.search(words)


def test_everything_missing_is_said_in_plain_words(stories):
    found = problems(
        stories, title="", story="", role="", pseudonym="", experience_month="", experience_year="", services=[]
    )
    assert not [f for f in found if VALIDATOR_WORDS.search(f["message"])], found
    assert len(found) == 7


def test_the_summary_follows_the_form_and_marks_the_month(stories):
    year, month = next_month()
    data = story_body(title="", role="", pseudonym="", services=[], experience_month=month, experience_year=year)
    with pytest.raises(ValidationFailed) as e:
        stories.validate(data)
    context = form_context(data, e.value.fields, GROUPS, SETTINGS, script=False)
    html = render_page("form.html", site_base="https://site.test", **context)
    summary = re.search(r'<div class="error-summary".*?</div>', html, re.S).group(0)
    linked = re.findall(r'<a href="#([a-z_]+)">', summary)
    # The same fields, in the order their boxes come on the page.
    form = html[html.index('<form id="story-form"') :]
    on_page = sorted(linked, key=lambda f: form.index(f'id="{f}"'))
    assert linked == on_page and len(linked) == 5, linked
    marked = "experience_month" if year == date.today().year else "experience_year"
    other = "experience_year" if marked == "experience_month" else "experience_month"
    box = re.search(rf'<input [^>]*id="{marked}"', html).group(0)
    assert "input--error" in box
    assert "input--error" not in re.search(rf'<input [^>]*id="{other}"', html).group(0)


@pytest.mark.parametrize(
    "year, month, field",
    [
        (2026, 7, "experience_month"),  # later this year: the month is wrong
        (2027, 1, "experience_year"),
        (2023, 5, "experience_month"),  # the right year, a month too early
        (2022, 12, "experience_year"),
        (2026, 6, None),
        (2023, 6, None),
    ],
)
def test_a_month_out_of_range_marks_the_box_to_change(year, month, field):
    problem = experience_problem(year, month, date(2026, 6, 15))
    assert (problem or {}).get("field") == field
