"""A byline says each thing once (issue 20: "Read by Nora, Staff Nurse, Staff Nurse, Ward 12 (Respiratory)")."""

from __future__ import annotations

import pytest

from chalicelib.site.pages import not_yet_said


@pytest.mark.parametrize(
    "name, parts, shown",
    [
        ("Nora, Staff Nurse", ("Staff Nurse", "Ward 12 (Respiratory)"), ["Ward 12 (Respiratory)"]),
        ("Nora", ("Staff Nurse", "Ward 12 (Respiratory)"), ["Staff Nurse", "Ward 12 (Respiratory)"]),
        ("nora,  staff   NURSE", ("Staff Nurse",), []),
        ("Nora Nurseworth", ("Nurse", "Ward 12"), ["Nurse", "Ward 12"]),  # whole words only
        ("Sam", ("", "Ward 7", "Ward 7"), ["Ward 7"]),  # empty left out, a repeat said once
        ("Sam", ("Lead", "Riverside Trust", "Riverside Trust"), ["Lead", "Riverside Trust"]),
    ],
)
def test_a_byline_says_each_part_once(name, parts, shown):
    assert not_yet_said(name, *parts) == shown
