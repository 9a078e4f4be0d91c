"""Finding details that could identify a person in text a member of staff is about to publish.

`find(text)` returns every email address, UK phone number, valid NHS number, UK postcode,
date of birth and full name it sees, as Findings (kind, start, end, text). A response with
any finding is held for a moderator instead of being published at once, so a miss costs more
than a false alarm; still, each rule is narrow enough that ordinary replies ("Ward 7", "on
3 December", "call 111", "Dr Patel", "the 2nd floor") pass.

Rules, one per kind:
- email:         name@domain.tld
- phone:         a UK number: 0 or +44 / 0044 (optionally "(0)"), then 9 or 10 digits with spaces,
                 hyphens or brackets between them, starting 1, 2, 3, 5, 7 or 8 (9-digit ones: 1 or 8)
- nhs_number:    10 digits, together or spaced 3-3-4, whose last digit is the modulus 11 check digit
- postcode:      a full UK postcode (outward and inward parts), in capitals or small letters
- date_of_birth: a date written after "DOB", "D.O.B.", "date of birth" or "born (on)"
- name:          two or three capitalised words after a title (Mr, Mrs, Ms, Miss, Mx, Dr, Prof, ...),
                 a title and an initial and a surname, or two or three capitalised words after
                 "patient", "my husband/wife/son/daughter/mother/father/..." or "called/named/known as".
                 The span is the name alone, without the title or the words before it.
                 Job titles count as titles here too ("Nurse Sarah Jenkins", "Staff Nurse Dan Osei").
When two findings overlap, the more certain kind wins (the order of KINDS).

`highlights(text)`, for the moderation screen only, adds what a moderator must see but a staff reply may
say: a name after a title or job title wherever it stands, even one word ("Nurse Sarah", "Sister Jones",
"Dr Patel"); a first name from the gazetteer (first_names.txt beside this module, made by
tools/first_names.py), alone ("Kirsty on reception") or with a surname; and dates in every common
British form ("3rd March", "Tuesday 4 March 2025", "04/03/2025", "4.3.25", "March 3rd", "the 14th of
February"). A bare date never holds a response: "on 3 December" is how staff answer a story, and a date
says little about a person without a name beside it, which is itself found; only a date of birth holds.
This module reads its gazetteer once, lazily (its only I/O); tests/unit/test_identifying_recall.py
measures recall and precision on a tuning set and on an evaluation set that was never tuned on.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

# Most certain first: an overlap keeps the earlier kind.
KINDS = ("email", "phone", "nhs_number", "postcode", "date_of_birth", "name")

# How each kind is named to the person whose response is held ("It seems to contain …").
KIND_WORDS = {
    "email": "an email address",
    "phone": "a phone number",
    "nhs_number": "an NHS number",
    "postcode": "a postcode",
    "date_of_birth": "a date of birth",
    "name": "a person’s full name",
}


@dataclass(frozen=True)
class Finding:
    kind: str
    start: int
    end: int
    text: str


# ---- email ----------------------------------------------------------------------------------

_EMAIL = re.compile(
    r"(?<![\w.%+-])[A-Za-z0-9][A-Za-z0-9._%+-]*@[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}(?![\w-])"
)


# ---- phone numbers ----------------------------------------------------------------------------

# A prefix (+44, 0044, +44 (0), or a leading 0, maybe bracketed), then the national number's
# digits, each separated by at most two of: space, hyphen, closing bracket.
_PHONE = re.compile(
    r"(?<![\w+])"
    r"(?P<prefix>(?:\+|00)\s?44\s?(?:\(0\)\s?)?|\(?0)"
    r"(?P<number>\d(?:[ \-)]{0,2}\d){8,9})"
    r"(?![\d])"
)


def _phone_ok(number: str) -> bool:
    digits = re.sub(r"\D", "", number)
    if len(digits) == 10:
        return digits[0] in "123578"
    return len(digits) == 9 and digits[0] in "18"


# ---- NHS numbers ------------------------------------------------------------------------------

_NHS = re.compile(r"(?<![\w+])(\d{3})([ \-]?)(\d{3})\2(\d{4})(?![\w])")


def nhs_number_valid(digits: str) -> bool:
    """The modulus 11 check: weights 10 to 2 on the first nine digits; the check digit is
    11 minus the remainder (11 means 0, 10 means the number cannot exist)."""
    if len(digits) != 10 or not digits.isdigit() or len(set(digits)) == 1:
        return False
    total = sum(int(d) * w for d, w in zip(digits[:9], range(10, 1, -1)))
    check = 11 - total % 11
    if check == 11:
        check = 0
    return check != 10 and check == int(digits[9])


# ---- postcodes --------------------------------------------------------------------------------

# The outward code's shapes (A9, A99, AA9, AA99, A9A, AA9A) with the letters each position allows,
# then the inward code (9AA, without C, I, K, M, O, V).
_POSTCODE = re.compile(
    r"(?<![\w])"
    r"(?P<out>GIR|[A-PR-UWYZ](?:\d{1,2}|[A-HK-Y]\d{1,2}|\d[A-HJKPSTUW]|[A-HK-Y]\d[ABEHMNPRVWXY]))"
    r"\s?(?P<in>\d[ABD-HJLNP-UW-Z]{2})"
    r"(?![\w])",
    re.IGNORECASE,
)
_ORDINAL = re.compile(r"^\d(?:st|nd|rd|th)$", re.IGNORECASE)


def _postcode_ok(m: re.Match) -> bool:
    whole = m.group(0)
    if whole.upper() == whole:
        return True
    if whole.lower() != whole:
        return False  # Mixed case ("Bed 2nd") is prose, not a postcode.
    # Small letters: "sw1a 1aa" is a postcode, but "a1 2nd" is an ordinal.
    return not _ORDINAL.match(m.group("in"))


# ---- dates of birth ---------------------------------------------------------------------------

_MONTH = r"(?:jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?|sep(?:t(?:ember)?)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)"
# Every run of spaces is bounded ({1,3}, {0,3}): unbounded runs on both sides of an optional word
# backtrack quadratically on a long run of spaces (2 s for 5,000 spaces; tests/unit/test_redos.py).
_DATE = (
    r"(?:\d{1,2}[/.\-]\d{1,2}[/.\-](?:\d{4}|\d{2})"
    rf"|\d{{1,2}}(?:st|nd|rd|th)?\s{{1,3}}(?:of\s{{1,3}})?{_MONTH}\.?,?\s{{1,3}}\d{{4}}"
    rf"|{_MONTH}\.?\s{{1,3}}\d{{1,2}}(?:st|nd|rd|th)?,?\s{{1,3}}\d{{4}})"
)
_DOB = re.compile(
    r"(?i:\b(?:d\.?o\.?b\.?|date\s{1,3}of\s{1,3}birth|born(?:\s{1,3}on)?)\s{0,3}(?:is|was|[:\-])?\s{0,3})"
    rf"(?P<date>(?i:{_DATE}))(?![\w])"
)


# ---- names ------------------------------------------------------------------------------------

_UPPER = "A-ZÀ-ÖØ-Þ"
_LOWER = "a-zß-öø-ÿ"
# A capitalised word: Smith, O'Brien, Smith-Jones, McDonald, Zoë.
_WORD = rf"(?:(?:Mc|Mac|O['’]|D['’])?[{_UPPER}][{_LOWER}]+(?:-[{_UPPER}][{_LOWER}]+)?)"
_FULL = rf"{_WORD}(?:[ \t]{{1,3}}{_WORD}){{1,2}}"
_TITLES = r"(?:Mrs|Mr|Ms|Miss|Mx|Dr|Prof|Professor|Sir|Dame|Rev|Revd)"
# Job titles that stand before a name as a title does ("Nurse Sarah", "Sister Jones", "Porter Dave").
_JOBS = (
    r"(?:(?:staff|charge|student|specialist|practice|district|senior)\s(?:nurse|midwife)|nurse|sister|matron|midwife|"
    r"doctor|consultant|registrar|surgeon|anaesthetist|porter|paramedic|physio(?:therapist)?|receptionist|hca|"
    r"healthcare\s(?:assistant|support\sworker)|health\s(?:care\sassistant|visitor)|sonographer|radiographer|"
    r"pharmacist|chaplain|carer|dietitian|therapist|ward\sclerk|housekeeper|cleaner|volunteer|gp)"
)
_RELATIVE = (
    r"(?:husband|wife|partner|son|daughter|mother|father|mum|mom|dad|brother|sister|grandmother|grandfather|"
    r"grandma|grandad|granddad|nan|nana|grandson|granddaughter|aunt|auntie|uncle|niece|nephew|friend|"
    r"neighbour|child|baby|fiancée?|stepson|stepdaughter|stepmother|stepfather)"
)
_NAME_AFTER = [
    # A title, then a full name or an initial and a surname: "Mrs Jane Smith", "Mr J. Smith".
    re.compile(rf"\b{_TITLES}\.?[ \t]+(?P<name>{_FULL}|[{_UPPER}]\.?[ \t]+{_WORD})(?![\w'’-])"),
    # A job title written as a title, then a full name: "Nurse Sarah Jenkins", "Staff Nurse Dan Osei".
    re.compile(rf"\b(?=[A-Z])(?i:{_JOBS})[ \t]{{1,3}}(?P<name>{_FULL})(?![\w'’-])"),
    # "patient John Smith", "the patient, John Smith", "my wife Jane Smith", "our son, Tom Jones".
    re.compile(rf"(?i:\b(?:patients?|(?:my|our|her|his|their)\s+{_RELATIVE}))[,:]?[ \t]+(?P<name>{_FULL})(?![\w'’-])"),
    # "a nurse called Sarah Jones", "named Tom Brown", "known as Billy Smith".
    re.compile(rf"(?i:\b(?:called|named|known\s+as))[ \t]+(?P<name>{_FULL})(?![\w'’-])"),
]
# Capitalised words that make a phrase a place, a team or a thing rather than a person.
_NOT_NAMES = frozenset(
    """
    the a an and or of in on at to for with from by this that these those it its our your my his her their
    ward wards hospital hospitals unit units trust trusts clinic clinics centre center surgery practice team teams
    department service services house road street lane avenue close way nhs general infirmary medical health
    care community royal university foundation district nursing maternity emergency accident outpatients
    theatre theatres icu ae a&e intensive acute medicine mental support line group board council school
    monday tuesday wednesday thursday friday saturday sunday january february march april june july
    august september october november december today tomorrow yesterday christmas easter
    i we you he she they thank thanks sorry please dear hello hi yes no
    lead manager nurse nurses matron sister doctor doctors consultant consultants director officer staff
    advice liaison pals experience safety panel forum transport partners feedback governance quality
    midwife midwives porter porters physio physiotherapist registrar surgeon paramedic receptionist hca gp
    practitioner specialist assistant visitor worker clerk student charge senior led station desk reception
    mr mrs ms miss mx dr prof professor sir dame rev revd
    """.split()
)
_INITIAL = re.compile(rf"^[{_UPPER}]\.?$")


def _name_words(name: str) -> int:
    """How many of the name's words to keep: up to the first word that is not part of a name.
    0 when what is left is not a full name (two words, or an initial and a surname)."""
    words = re.split(r"[ \t]+", name.strip())
    keep = 0
    for w in words:
        if w.lower() in _NOT_NAMES:
            break
        keep += 1
    if keep < 2 or (_INITIAL.match(words[0]) and keep != 2):
        return 0
    return keep


# ---- find ---------------------------------------------------------------------------------------


def _candidates(text: str) -> list[Finding]:
    out: list[Finding] = []
    for m in _EMAIL.finditer(text):
        out.append(Finding("email", m.start(), m.end(), m.group(0)))
    for m in _PHONE.finditer(text):
        if _phone_ok(m.group("number")):
            out.append(Finding("phone", m.start(), m.end(), m.group(0)))
    for m in _NHS.finditer(text):
        if nhs_number_valid(m.group(1) + m.group(3) + m.group(4)):
            out.append(Finding("nhs_number", m.start(), m.end(), m.group(0)))
    for m in _POSTCODE.finditer(text):
        if _postcode_ok(m):
            out.append(Finding("postcode", m.start(), m.end(), m.group(0)))
    for m in _DOB.finditer(text):
        out.append(Finding("date_of_birth", m.start("date"), m.end("date"), m.group("date")))
    for pattern in _NAME_AFTER:
        for m in pattern.finditer(text):
            keep = _name_words(m.group("name"))
            if keep:
                start = m.start("name")
                words = list(re.finditer(r"\S+", m.group("name")))
                end = start + words[keep - 1].end()
                out.append(Finding("name", start, end, text[start:end]))
    return out


# The most text one call scans: more than any field holds (a story is at most 10,000 characters), so a
# hostile body can cost no more than this, whatever the patterns.
MAX_SCAN = 64 * 1024


def find(text: str) -> list[Finding]:
    """Every identifying detail found in `text`, in the order they appear, never overlapping."""
    if not text:
        return []
    text = text[:MAX_SCAN]
    rank = {k: i for i, k in enumerate(KINDS)}
    kept: list[Finding] = []
    for f in sorted(_candidates(text), key=lambda f: (rank[f.kind], f.start, -f.end)):
        if all(f.end <= k.start or f.start >= k.end for k in kept):
            kept.append(f)
    return sorted(kept, key=lambda f: (f.start, f.end))


# ---- for moderators: dates in every common British form ----------------------------------------

_WEEKDAY = r"(?:mon|tues?|wed(?:nes)?|thu(?:rs?)?|fri|sat(?:ur)?|sun)(?:day)?\.?"
_ORD = r"\d{1,2}(?:st|nd|rd|th)?"
# Month first only when capitalised ("March 3rd", not "may 5"); case-sensitive literals also let the
# engine drop a position at its first letter, which keeps this fast on 64 KB of hostile text.
_MONTH_CAP = r"(?:Jan(?:uary)?|Feb(?:ruary)?|Mar(?:ch)?|Apr(?:il)?|May|June?|July?|Aug(?:ust)?|Sep(?:t(?:ember)?)?|Oct(?:ober)?|Nov(?:ember)?|Dec(?:ember)?)"
# A day and a month, the year if written: "3rd March", "4 March 2025", "14th of February", "March 3rd",
# "June 14, 2025"; or numbers: "04/03/2025", "4.3.25". Each starts with a digit or a capital, so most
# positions fail at once. A weekday written before it ("Tuesday 4 March", "Friday the 13th of
# December") is joined to it after (_WEEKDAY_BEFORE). Every run of spaces is bounded, as in _DATE.
_ANY_DATE = re.compile(
    r"(?<![\w/.\-£$])(?P<date>"
    r"(?P<d>\d{1,2})[/.\-](?P<m>\d{1,2})[/.\-](?:\d{4}|\d{2})"
    rf"|{_ORD}\s{{1,3}}(?:of\s{{1,3}})?(?i:{_MONTH})(?:\.?,?\s{{1,3}}\d{{4}})?"
    rf"|{_MONTH_CAP}\.?\s{{1,3}}{_ORD}(?:,?\s{{1,3}}\d{{4}})?"
    r")(?![\w/]|[.\-]\d)"
)
_WEEKDAY_BEFORE = re.compile(rf"(?i:(?<![\w])(?:{_WEEKDAY}),?\s{{1,3}}(?:the\s{{1,3}})?)$")


def _dates(text: str) -> list[Finding]:
    out = []
    for m in _ANY_DATE.finditer(text):
        if _date_ok(m):
            start = m.start("date")
            before = _WEEKDAY_BEFORE.search(text[max(0, start - 24) : start])
            if before:
                start -= len(before.group(0))
            out.append(Finding("date", start, m.end("date"), text[start : m.end("date")]))
    return out


def _date_ok(m: re.Match) -> bool:
    if m.group("d"):
        return 1 <= int(m.group("d")) <= 31 and 1 <= int(m.group("m")) <= 12
    day = re.search(r"\d{1,2}", m.group("date"))
    return day is not None and 1 <= int(day.group(0)) <= 31


# ---- for moderators: names wherever they stand -----------------------------------------------------

GAZETTEER = Path(__file__).with_name("first_names.txt")


@lru_cache(maxsize=1)
def first_names() -> frozenset[str]:
    """The gazetteer's first names, lower case: read once, on the first story a moderator opens."""
    lines = GAZETTEER.read_text(encoding="utf-8").splitlines()
    return frozenset(w for w in lines if w and not w.startswith("#")) - _COMMON_WORDS


# First names that are as often ordinary words ("Will someone…", "May I say…", "Hope", "Grace"):
# never a name on their own, only after a title, a relative or "called".
_COMMON_WORDS = frozenset(
    """
    will may june july april august grace faith hope joy amber summer autumn winter spring mark bill rose sue
    christian patience honor honour iris ivy holly daisy poppy lily heather ruby pearl crystal dawn eve sky
    river rain storm sunny brook cliff dale glen lane drew guy rich frank pat sandy rusty chase hunter art ray
    gene don king prince duke major sterling royal miles cash page carol carter bishop mason dean chance early
    justice liberty harmony melody star misty destiny trinity unique precious angel love lovely happy sunday
    easter christmas noel general sister ward queen young long short small white black brown green gray grey
    golden little english french north south west east wood field hall hill ford bank bay reed price rush
    """.split()
)
# Words that make a run of capitalised words a place, a building, a team or a charity, never a person:
# "Royal Victoria Infirmary", "Queen Elizabeth", "Northbridge Teaching Hospitals", "Diana Princess of Wales".
_PLACE_WORDS = frozenset(
    """
    ward wards hospital hospitals unit units trust trusts clinic clinics centre center surgery practice team teams
    department service services house road street lane avenue close way nhs general infirmary medical health
    community royal university foundation district maternity emergency outpatients theatre theatres icu suite
    lounge wing block building school college church charity hospice queen king prince princess saint st lady
    court park square place gardens memorial teaching
    """.split()
)
_TITLED_NAME = re.compile(
    # The first letter of a title or a job, checked first: most positions fail there, not in 40 branches.
    rf"(?<![\w'’-])(?=[ACDGHMNPRSTVWacdghmnprstvw])(?:(?:{_TITLES}\.?|(?i:{_JOBS}))[ \t]{{1,3}}){{1,3}}"
    rf"(?P<name>{_WORD}(?:[ \t]{{1,3}}{_WORD}){{0,2}})(?![\w'’-])"
)
# A job after "the", "a", "our" and a comma: "The receptionist, Kirsty, …", "the student nurse, Ellie".
_JOB_THEN_NAME = re.compile(
    rf"(?i:\b(?:the|a|an|our|my|her|his|their)\s{{1,3}}(?:\w+\s{{1,3}})?{_JOBS}),[ \t]{{1,3}}"
    rf"(?P<name>{_WORD}(?:[ \t]{{1,3}}{_WORD}){{0,2}})(?![\w'’-])"
)
_CALLED_ONE = re.compile(rf"(?i:\b(?:called|named|known\s+as))[ \t]+(?P<name>{_WORD})(?![\w'’-])")
_CAPITAL_RUN = re.compile(rf"(?<![\w'’-]){_WORD}(?:[ \t]{{1,3}}{_WORD}){{0,4}}(?![\w'’-])")
_TITLE_WORDS = frozenset("mrs mr ms miss mx dr prof professor sir dame rev revd".split())
_RELATIVE_FIRST_NAME = re.compile(
    rf"(?i:\b(?:my|our|her|his|their)\s+(?:little\s+|baby\s+)?(?:{_RELATIVE}|boy|girl|carer))[,:]?[ \t]+(?P<name>{_WORD})(?![\w'’-])"
)
_SPELT_EMAIL = re.compile(
    r"(?i)(?<![a-z0-9._-])[a-z0-9._-]{1,64}(?:\s{1,3}dot\s{1,3}[a-z0-9_-]{1,64}){0,4}\s{1,3}at\s{1,3}[a-z0-9-]{1,63}"
    r"(?:\s{1,3}dot\s{1,3}[a-z]{2,24}){1,4}\b"
)


def _is_first_name(word: str) -> bool:
    return word.lower() in first_names() or word.split("-")[0].lower() in first_names()


def _name_at(text: str, start: int, name: str, *, alone: bool) -> Finding | None:
    """The name's words up to the first that is not part of a name; one word only when `alone`."""
    words = list(re.finditer(r"\S+", name))
    keep = 0
    for w in words:
        if w.group(0).lower() in _NOT_NAMES or w.group(0).lower() in _TITLE_WORDS:
            break
        keep += 1
    if keep == 0 or (keep == 1 and not alone):
        return None
    end = start + words[keep - 1].end()
    return Finding("name", start, end, text[start:end])


def _runs(text: str) -> list[Finding]:
    """Runs of capitalised words that start with a first name: "Sarah Jones", "Kirsty"."""
    out = []
    for m in _CAPITAL_RUN.finditer(text):
        words = list(re.finditer(r"\S+", m.group(0)))
        if any(w.group(0).lower() in _PLACE_WORDS for w in words):
            continue  # "Royal Victoria Infirmary", "Queen Elizabeth"
        # Leading words that are no name ("Thank", "Dear", "Big", "Dr") are passed over.
        i = 0
        while i < len(words) and not _is_first_name(words[i].group(0)):
            if words[i].group(0).lower() in _TITLE_WORDS:
                i = len(words)  # a title's name is _TITLED_NAME's
            i += 1
        if i < len(words):
            start = m.start() + words[i].start()
            found = _name_at(text, start, m.group(0)[words[i].start() :], alone=True)
            if found:
                out.append(found)
    return out


def _loose(text: str) -> list[Finding]:
    out = _runs(text)
    for pattern in (_TITLED_NAME, _JOB_THEN_NAME):
        for m in pattern.finditer(text):
            found = _name_at(text, m.start("name"), m.group("name"), alone=True)
            if found:
                out.append(found)
    for pattern in (_RELATIVE_FIRST_NAME, _CALLED_ONE):
        for m in pattern.finditer(text):
            name = m.group("name")
            if name.lower() not in _NOT_NAMES and (pattern is _RELATIVE_FIRST_NAME or _is_first_name(name)):
                out.append(Finding("name", m.start("name"), m.end("name"), name))
    out += [Finding("email", m.start(), m.end(), m.group(0)) for m in _SPELT_EMAIL.finditer(text)]
    return out + _dates(text)


HIGHLIGHT_KINDS = KINDS + ("date",)
HIGHLIGHT_WORDS = KIND_WORDS | {"date": "an exact date"}


def highlights(text: str) -> list[Finding]:
    """What the moderation screen marks in a pending story: every finding, then what the looser
    rules see where nothing was found (a date of birth stays a date of birth)."""
    found = find(text)
    for f in sorted(_loose((text or "")[:MAX_SCAN]), key=lambda f: (f.start, -f.end)):
        if all(f.end <= k.start or f.start >= k.end for k in found):
            found.append(f)
    return sorted(found, key=lambda f: (f.start, f.end))


def kinds(text: str) -> list[str]:
    """The kinds of detail found, each once, in the order of KINDS."""
    found = {f.kind for f in find(text)}
    return [k for k in KINDS if k in found]


def describe(found_kinds: list[str]) -> str:
    """["phone", "email"] as "a phone number and an email address"."""
    words = [KIND_WORDS.get(k, k.replace("_", " ")) for k in found_kinds]
    if len(words) <= 1:
        return "".join(words)
    return ", ".join(words[:-1]) + " and " + words[-1]
