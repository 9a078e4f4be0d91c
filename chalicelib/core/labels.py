"""Words and bounds the models share with pages and letters (a story's role, feelings and criticality in
words, the form's bounds, what an email header can carry, how typed text is cleaned): plain enums, dicts
and functions, no pydantic.

Importing them from core/models.py would load pydantic's models and email_validator into every render,
mail and stream worker's cold start (issue 17); core/models.py imports them from here.
"""

from __future__ import annotations

import re
import unicodedata
from enum import Enum

from .i18n import N_


class Role(str, Enum):
    patient = "patient"
    carer = "carer"
    relative = "relative"
    staff = "staff"
    other = "other"


ROLE_LABELS = {
    "patient": N_("a patient"),
    "carer": N_("a carer"),
    "relative": N_("a relative"),
    "staff": N_("a member of staff"),
    "other": N_("someone else"),
}


class Feeling(str, Enum):
    listened_to = "listened-to"
    reassured = "reassured"
    safe = "safe"
    respected = "respected"
    grateful = "grateful"
    informed = "informed"
    anxious = "anxious"
    confused = "confused"
    ignored = "ignored"
    rushed = "rushed"
    frustrated = "frustrated"
    let_down = "let-down"


FEELING_LABELS = {
    "listened-to": N_("listened to"),
    "reassured": N_("reassured"),
    "safe": N_("safe"),
    "respected": N_("respected"),
    "grateful": N_("grateful"),
    "informed": N_("well informed"),
    "anxious": N_("anxious"),
    "confused": N_("confused"),
    "ignored": N_("ignored"),
    "rushed": N_("rushed"),
    "frustrated": N_("frustrated"),
    "let-down": N_("let down"),
}


# Criticality, set by a moderator and seen only by staff (design.md glossary).
CRITICALITY_WORDS = (
    "not critical",
    "minimally critical",
    "mildly critical",
    "moderately critical",
    "strongly critical",
    "severely critical",
)

# Bounds, shared with the form so its hints and maxlength agree with validation.
LIMITS = {
    "title": (3, 120),
    "story": (20, 30000),
    "good": (0, 3000),
    "improve": (0, 3000),
    "pseudonym": (2, 60),
}
MAX_SERVICES = 3
MAX_YEARS_AGO = 3


def sendable(address: str) -> bool:
    """Can an email header carry this address as it is? "=?" and "?=" would read as RFC 2047 encoded
    words (composing such a To: raised, and the message died in the queue), and SES takes only 7-bit
    local parts. Refused at sign-up, by name (MailAddress), rather than lost when mailing (issue 22)."""
    return "=?" not in address and "?=" not in address and address.rpartition("@")[0].isascii()


# How a story came in (issue 19): shown to staff and moderators, in the public API and in exports.
ROUTE_LABELS = {
    "web": N_("the website"),
    "invitation": N_("an invitation"),
    "widget": N_("a service's widget"),
    "phone": N_("a phone call"),
    "paper": N_("a letter or paper form"),
    "staff-assisted": N_("a member of staff, in person"),
    "import": N_("another website or service"),  # issue 21: pulled in by the importer
}
# The routes of a story someone else entered for its author (stories.Stories.take).
TAKEN_ROUTES = ("phone", "paper", "staff-assisted")


_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f\u200b-\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]")


def clean_text(value: str) -> str:
    """Plain text as we keep it: NFC, \\n line breaks, no control or bidi characters, trimmed."""
    value = unicodedata.normalize("NFC", value).replace("\r\n", "\n").replace("\r", "\n")
    value = _CONTROL.sub("", value)
    value = re.sub(r"\n{3,}", "\n\n", value)
    return value.strip()


def clean_line(value: str) -> str:
    """A single-line field: any line break or run of spaces becomes one space."""
    return re.sub(r"\s+", " ", clean_text(value))
