"""How long a link lasts, as the emails say it (issue 20: "It works for 730 days")."""

from __future__ import annotations

import pytest

from chalicelib.core.calendar import lifetime


@pytest.mark.parametrize(
    "days, words",
    [
        (1, "a day"),
        (7, "7 days"),
        (30, "30 days"),
        (364, "364 days"),
        (365, "a year"),
        (730, "two years"),
        (1825, "5 years"),
    ],
)
def test_a_link_s_lifetime_is_said_as_a_person_would(days, words):
    assert lifetime(days) == words
