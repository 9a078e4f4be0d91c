"""The automatic check for identifying details in staff responses (chalicelib/core/identifying.py)."""

from __future__ import annotations

import pytest

from chalicelib.core.identifying import KINDS, Finding, describe, find, first_names, highlights, kinds, nhs_number_valid


def found(text: str) -> list[tuple[str, str]]:
    return [(f.kind, f.text) for f in find(text)]


# ---- each kind: what it finds ------------------------------------------------------------------------------

POSITIVE = [
    # email
    ("Write to jane.smith@example.co.uk today", "email", "jane.smith@example.co.uk"),
    ("ward7+feedback@nhs.net.", "email", "ward7+feedback@nhs.net"),
    ("(A.N.Other@Trust-Name.nhs.uk)", "email", "A.N.Other@Trust-Name.nhs.uk"),
    # phone: mobiles, landlines, +44 and 0044, brackets, spaces and hyphens
    ("Call 07700 900123 any time", "phone", "07700 900123"),
    ("Call 07700900123.", "phone", "07700900123"),
    ("Call 07700-900-123", "phone", "07700-900-123"),
    ("Call +44 7700 900123", "phone", "+44 7700 900123"),
    ("Call +447700900123", "phone", "+447700900123"),
    ("Call +44 (0)20 7946 0018", "phone", "+44 (0)20 7946 0018"),
    ("Call 0044 20 7946 0018", "phone", "0044 20 7946 0018"),
    ("Call (020) 7946 0018", "phone", "(020) 7946 0018"),
    ("Call 020 7946 0018", "phone", "020 7946 0018"),
    ("Call 0161 496 0000", "phone", "0161 496 0000"),
    ("Call 01632 960001", "phone", "01632 960001"),
    ("Call 0300 123 4567", "phone", "0300 123 4567"),
    ("Call 0800 111 222", "phone", "0800 111 222"),
    # NHS numbers with a valid check digit, spaced 3-3-4 or not
    ("NHS number 943 476 5919", "nhs_number", "943 476 5919"),
    ("NHS no. 9434765919", "nhs_number", "9434765919"),
    ("nhs 943-476-5919", "nhs_number", "943-476-5919"),
    ("number 450 557 7104 on the wristband", "nhs_number", "450 557 7104"),
    ("401 023 2137", "nhs_number", "401 023 2137"),
    # postcodes in all their shapes, capitals or small letters, with or without the space
    ("I live at SW1A 1AA.", "postcode", "SW1A 1AA"),
    ("near M1 1AE", "postcode", "M1 1AE"),
    ("B33 8TH", "postcode", "B33 8TH"),
    ("CR2 6XH", "postcode", "CR2 6XH"),
    ("DN55 1PT", "postcode", "DN55 1PT"),
    ("W1A 0AX", "postcode", "W1A 0AX"),
    ("EC1A 1BB", "postcode", "EC1A 1BB"),
    ("rg1 8dn", "postcode", "rg1 8dn"),
    ("ls18 4ab", "postcode", "ls18 4ab"),
    ("RG18DN", "postcode", "RG18DN"),
    ("M1 2ND", "postcode", "M1 2ND"),
    # dates of birth
    ("DOB 12/03/1950", "date_of_birth", "12/03/1950"),
    ("D.O.B.: 1.3.50", "date_of_birth", "1.3.50"),
    ("date of birth 3 March 1950", "date_of_birth", "3 March 1950"),
    ("she was born on 4th July 1976", "date_of_birth", "4th July 1976"),
    ("born March 3, 1950", "date_of_birth", "March 3, 1950"),
    # full names after a title, a relationship, "patient", or "called"/"named"
    ("I spoke to Mrs Jane Smith.", "name", "Jane Smith"),
    ("Mr J. Smith was there", "name", "J. Smith"),
    ("Dr Amir Khan Monday", "name", "Amir Khan"),
    ("Ms Mary-Jane O'Brien-Smith", "name", "Mary-Jane O'Brien-Smith"),
    ("Miss Zoë McDonald", "name", "Zoë McDonald"),
    ("my husband John Smith came in", "name", "John Smith"),
    ("My daughter, Amy Lee, was scared", "name", "Amy Lee"),
    ("the patient, Mary Jones, was moved", "name", "Mary Jones"),
    ("a nurse called Sarah Jones helped", "name", "Sarah Jones"),
    ("a man named Tom Brown", "name", "Tom Brown"),
    ("known as Billy Ray Cyrus", "name", "Billy Ray Cyrus"),
]


@pytest.mark.parametrize("text,kind,match", POSITIVE, ids=[f"{k}:{m}" for _t, k, m in POSITIVE])
def test_finds(text, kind, match):
    assert (kind, match) in found(text)


def test_a_finding_has_its_position():
    text = "Ring 07700 900123 now"
    [f] = find(text)
    assert f == Finding("phone", 5, 17, "07700 900123")
    assert text[f.start : f.end] == f.text


# ---- each kind: what it leaves alone ------------------------------------------------------------------------

NEGATIVE = [
    # not emails
    "Email the ward @ reception",
    "see example.com or @nhsengland",
    # not phones: short numbers, times, years, amounts, too many digits, no leading 0
    "Call 111 or 999 in an emergency",
    "between 0900 and 1700, from 10:30",
    "in 2023 and 2024",
    "it cost £1,234,567",
    "card 0770090012345678",
    "7700 900123",
    "room 0413",
    # invalid NHS numbers: bad check digit, check digit 10, all the same digit, too long or short
    "943 476 5918",
    "1234567890",
    "0000000000",
    "5555555555",
    "943 476 59190",
    "43 476 5919",
    # not postcodes: ordinals, outward codes alone, mixed case prose
    "on the 2nd floor, a1 2nd",
    "the 3rd and 4th of May",
    "SW1A",
    "Bed 2nd from the door",
    # not names: one name only, places and teams, lower-case words, no trigger
    "Dr Patel was kind",
    "Mrs Smith said so",
    "my husband John was there",
    "a place called Riverside General",
    "a ward called Ward Seven",
    "the patient Experience Team",
    "the Patient Safety Lead replied",
    "Sarah Jones was lovely",
    "my mother was called in",
    "Mr Men books",
    # and the ordinary words of a reply
    "Ward 7 on 3 December 2025: thank you. We are sorry about the wait and have changed the rota.",
    "Riverside General Hospital, Ward 7 (Acute Medicine), bed 4, room 12.",
    "https://feedforward.example/stories/1m8bwea3v44gmwjy9/",
]


@pytest.mark.parametrize("text", NEGATIVE)
def test_leaves_alone(text):
    assert found(text) == []


def test_ordinary_dates_are_not_dates_of_birth():
    assert kinds("We met on 12/03/2025 and again on 3 March 2025.") == []


# ---- the NHS number check digit ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "number,valid",
    [
        ("9434765919", True),  # 9x10+4x9+3x8+4x7+7x6+6x5+5x4+9x3+1x2 = 299; 299 % 11 = 2; 11-2 = 9
        ("4505577104", True),
        ("4010232137", True),
        ("9434765918", False),  # one off
        ("9434765910", False),
        ("1234567890", False),
        ("0000000000", False),  # passes the arithmetic, but no one has it
        ("943476591", False),
        ("94347659199", False),
        ("943476591x", False),
        ("", False),
    ],
)
def test_nhs_number_check_digit(number, valid):
    assert nhs_number_valid(number) is valid


def test_a_check_digit_of_ten_is_never_valid():
    # 100000001x: 1x10 + 1x2 = 12; 12 % 11 = 1; 11 - 1 = 10, so no last digit can make it valid.
    assert not any(nhs_number_valid(f"100000001{d}") for d in range(10))


def test_a_check_digit_of_eleven_means_zero():
    # 200000001x: 2x10 + 1x2 = 22; 22 % 11 = 0; 11 - 0 = 11, which means a check digit of 0.
    assert nhs_number_valid("2000000010")
    assert not nhs_number_valid("2000000011")


def test_every_single_digit_change_breaks_a_valid_number():
    good = "9434765919"
    for i in range(10):
        for d in "0123456789":
            if d != good[i]:
                assert not nhs_number_valid(good[:i] + d + good[i + 1 :]), (i, d)


# ---- together -----------------------------------------------------------------------------------------------


def test_many_kinds_in_one_text_in_order_and_never_overlapping():
    text = "Mrs Jane Smith (DOB 12/03/1950, NHS 943 476 5919) of RG1 8DN rang from 07700 900123 and wrote from jane.smith@example.org."
    assert [f.kind for f in find(text)] == ["name", "date_of_birth", "nhs_number", "postcode", "phone", "email"]
    assert kinds(text) == list(KINDS)
    spans = [(f.start, f.end) for f in find(text)]
    assert all(a[1] <= b[0] for a, b in zip(spans, spans[1:]))


def test_an_email_is_one_finding_not_a_postcode_or_name_inside_it():
    assert found("write to sw1a1aa@example.org") == [("email", "sw1a1aa@example.org")]


def test_a_number_that_is_both_a_phone_and_an_nhs_number_is_reported_once():
    assert [f.kind for f in find("0123456789")] == ["phone"]


def test_describe():
    assert describe(["phone"]) == "a phone number"
    assert describe(["email", "phone", "name"]) == "an email address, a phone number and a person’s full name"
    assert describe([]) == ""


def test_empty_and_long_text():
    assert find("") == []
    text = ("Thank you for your story. " * 400) + "Call 07700 900123."
    assert kinds(text) == ["phone"]


# ---- the moderation screen's highlights (issue 20) ----------------------------------------------------------


def marked(text: str) -> list[tuple[str, str]]:
    return [(f.kind, f.text) for f in highlights(text)]


@pytest.mark.parametrize(
    "text,name",
    [
        ("Nurse Sarah Jenkins was lovely.", "Sarah Jenkins"),  # at the start of a sentence
        ("We were so grateful to Nurse Sarah Jenkins.", "Sarah Jenkins"),  # and at the end
        ("Thanks to Sister Jones, who stayed late.", "Jones"),
        ("Later Matron Val came round.", "Val"),
        ("the student midwife Kayleigh was brilliant", "Kayleigh"),
        ("It was Porter Des who found us.", "Des"),
        ("I saw Consultant Mr Obi twice.", "Obi"),
        ("Dr. Lindqvist rang me.", "Lindqvist"),
        ("Then Staff Nurse Bola Adeyemi checked the drip.", "Bola Adeyemi"),
        ("The physio, Gemma, got me walking.", "Gemma"),
    ],
)
def test_a_name_after_a_title_or_job_title_is_marked_wherever_it_stands(text, name):
    assert ("name", name) in marked(text)


@pytest.mark.parametrize(
    "text,name",
    [
        ("Kirsty on reception remembered me.", "Kirsty"),
        ("Thank you Dionne and Ruth.", "Dionne"),
        ("Thank you Dionne and Ruth.", "Ruth"),
        ("Please thank Fergus Doyle for me.", "Fergus Doyle"),
        ("A nurse called Imogen held my hand.", "Imogen"),
        ("Our little girl, Maisie, loved the play room.", "Maisie"),
    ],
)
def test_a_first_name_from_the_gazetteer_is_marked_alone_or_with_a_surname(text, name):
    assert ("name", name) in marked(text)


@pytest.mark.parametrize(
    "text",
    [
        "Will someone answer the phone?",
        "May I say thank you.",
        "I lost all hope.",
        "Hope and Grace are what we needed.",
        "The Royal Victoria Infirmary was busy.",
        "Queen Elizabeth Hospital, Ward 4.",
        "The Nurse was kind.",
        "A Dr saw me at midnight.",
        "The Sister on the ward sorted it.",
        "Sister came at 6.",
        "I was seen in March and in June.",
        "We met in March 2025.",
        "My pain was 8/10 and my blood pressure 150/95.",
        "Version 2.3.1 of the leaflet, £4.50 to park, 9.30am.",
        "on the 2nd floor, the 3rd time",
    ],
)
def test_words_that_look_like_names_or_dates_are_left_alone(text):
    assert marked(text) == []


@pytest.mark.parametrize(
    "text,date",
    [
        ("I was admitted on 3rd March.", "3rd March"),
        ("My appointment on Tuesday 4 March 2025 was cancelled.", "Tuesday 4 March 2025"),
        ("The letter was dated 04/03/2025.", "04/03/2025"),
        ("We went in on 4.3.25 and came home.", "4.3.25"),
        ("On March 3rd we were told.", "March 3rd"),
        ("It was the 14th of February.", "14th of February"),
        ("Seen on Wed, 5th Feb 2025 at 10.", "Wed, 5th Feb 2025"),
        ("The scan on 21 Jan showed nothing.", "21 Jan"),
        ("Surgery on June 14, 2025 went well.", "June 14, 2025"),
        ("Discharged 17-06-25.", "17-06-25"),
        ("On Friday the 13th of December it all went wrong.", "Friday the 13th of December"),
    ],
)
def test_dates_in_every_common_british_form_are_marked(text, date):
    assert ("date", date) in marked(text)


def test_impossible_numeric_dates_are_not_marked():
    assert marked("ratio 45/13/2024 and 0.0.25") == []


def test_a_bare_date_never_holds_a_response_only_a_date_of_birth_does():
    assert kinds("We are sorry. We will call you on Tuesday 4 March, and saw you on 03/03/2025.") == []
    assert kinds("DOB 04/03/1950") == ["date_of_birth"]


def test_a_full_name_after_a_job_title_holds_a_response_but_a_surname_alone_does_not():
    assert found("Nurse Sarah Jenkins will ring you.") == [("name", "Sarah Jenkins")]
    assert found("Sister Jones will ring you.") == []


def test_the_gazetteer_is_read_once_into_a_frozenset_without_common_words():
    names = first_names()
    assert isinstance(names, frozenset) and first_names() is names
    assert len(names) > 5000
    assert {"kirsty", "siobhan", "priya", "oliver", "aisha"} <= names
    assert not {"will", "may", "hope", "grace"} & names
