"""Pydantic models: what a story, a service and a moderation decision are.

Each model's validator is built when the model is first used, not at import (`defer_build`, issue 17):
a cold request builds only its own model, not the fifteen.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import date
from enum import Enum
from typing import Annotated, Any

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    EmailStr,
    Field,
    StringConstraints,
    field_validator,
    model_validator,
)

from . import places
from .concerns import Action, AskedBy, Reason
from .labels import (  # noqa: F401 (named here too)
    CRITICALITY_WORDS,
    FEELING_LABELS,
    LIMITS,
    MAX_SERVICES,
    MAX_YEARS_AGO,
    ROLE_LABELS,
    ROUTE_LABELS,
    TAKEN_ROUTES,
    Feeling,
    Role,
    clean_line,
    clean_text,
    sendable,
)
from .status import ItemStatus, Status, SubscriberStatus  # noqa: F401 (the model layer names them too)

Line = Annotated[str, StringConstraints(strip_whitespace=True)]


def _strings(clean: Callable[[str], Any]) -> BeforeValidator:
    """Run `clean` on a string before validation; anything else goes on to pydantic's type check as it is."""
    return BeforeValidator(lambda v: clean(v) if isinstance(v, str) else v)


# What each kind of text field does with what people type (see clean_text and clean_line). An
# optional one is Annotated[str | None, TEXT]: the cleaning goes outside the None, so the length
# limits stay those of a string (and so do their error messages).
TEXT, LINE = _strings(clean_text), _strings(clean_line)
PlainText = Annotated[str, TEXT]
OneLine = Annotated[str, LINE]
# An optional field sent by a form as "" (or spaces) when left empty: that is None.
BLANK_IS_NONE = _strings(lambda v: v.strip() or None)


def _sendable(address: str) -> str:
    if not sendable(address):
        raise ValueError("We cannot send email to this address. Check it, or use another one.")
    return address


# An email address that we will write into a To: header.
MailAddress = Annotated[EmailStr, AfterValidator(_sendable)]

SUBMISSION_ID = r"^[A-Za-z0-9_-]{8,64}$"
SLUG = r"^[a-z0-9][a-z0-9-]{0,79}$"


def experience_bounds(today: date) -> tuple[tuple[int, int], tuple[int, int]]:
    """The earliest and latest (year, month) a story may be about."""
    return (today.year - MAX_YEARS_AGO, today.month), (today.year, today.month)


def experience_problem(year: int, month: int, today: date) -> dict[str, str] | None:
    """What is wrong with a month of experience, on the box to change: the year when the year alone is
    out of range, else the month (a month later this year marks Month, not Year)."""
    (first_year, first_month), (last_year, last_month) = experience_bounds(today)
    if (year, month) > (last_year, last_month):
        if year > last_year:
            return {"field": "experience_year", "message": "The year must be this year or earlier"}
        return {"field": "experience_month", "message": "The month must be this month or earlier"}
    if (year, month) < (first_year, first_month):
        field = "experience_year" if year < first_year else "experience_month"
        return {"field": field, "message": f"We can only publish stories from the last {MAX_YEARS_AGO} years"}
    return None


# How a story came in (issue 19): shown to staff and moderators, in the public API and in exports.
class Route(str, Enum):
    web = "web"
    invitation = "invitation"
    widget = "widget"
    phone = "phone"
    paper = "paper"
    staff_assisted = "staff-assisted"
    imported = "import"  # pulled in from another channel (issue 21, importer.py)


INVITATION_CODE = r"^[2-9a-hjkmnp-z]{12}$"  # invitations.new_code(): 12 letters and digits that read unambiguously


class StorySubmission(BaseModel):
    """A story as its author sends it, from the form or as JSON."""

    model_config = ConfigDict(extra="forbid", defer_build=True)

    submission_id: str = Field(pattern=SUBMISSION_ID)
    title: OneLine = Field(min_length=LIMITS["title"][0], max_length=LIMITS["title"][1])
    story: PlainText = Field(min_length=LIMITS["story"][0], max_length=LIMITS["story"][1])
    good: PlainText = Field(default="", max_length=LIMITS["good"][1])
    improve: PlainText = Field(default="", max_length=LIMITS["improve"][1])
    feelings: list[Feeling] = Field(default_factory=list, max_length=len(Feeling))
    role: Role
    pseudonym: OneLine = Field(min_length=LIMITS["pseudonym"][0], max_length=LIMITS["pseudonym"][1])
    experience_month: int = Field(ge=1, le=12)
    experience_year: int = Field(ge=1900, le=9999)
    services: list[Annotated[str, StringConstraints(pattern=SLUG)]] = Field(min_length=1, max_length=MAX_SERVICES)
    email: Annotated[MailAddress | None, BLANK_IS_NONE] = None
    consent: bool
    # Honeypot: hidden from people, filled by bots.
    website: str = Field(default="", max_length=0)
    # When the form was opened (ms since 1970, the browser's clock; form.js fills it). stories.py refuses a
    # story sent within seconds of it; none (JavaScript off) is fine. A hint against scripts, nothing more.
    started: Annotated[int | None, BLANK_IS_NONE] = Field(default=None, ge=0, le=2**53 - 1)
    # CHECK: "Tell your own story" from a published story's page links the two (stories.py checks it is published).
    related_story: Annotated[str | None, BLANK_IS_NONE] = Field(default=None, pattern=r"^[0-9a-hjkmnp-tv-z]{17}$")
    # Issue 19: the invitation the form was opened from (its short link), and "widget" when it was opened
    # from a service's widget. A code that is unknown or ended is not an error: the story comes in by the web.
    invitation: Annotated[str | None, BLANK_IS_NONE] = Field(default=None, max_length=40)
    via: Annotated[str | None, BLANK_IS_NONE] = Field(default=None, pattern=r"^widget$")
    # The language of the form it was sent from (issue 19): the story records it and its letters follow it.
    language: Annotated[str | None, BLANK_IS_NONE] = Field(default=None, pattern=r"^(en|cy)$")

    @field_validator("services", "feelings")
    @classmethod
    def _unique(cls, v):
        if len(set(v)) != len(v):
            raise ValueError("Choose each one only once")
        return v

    @field_validator("consent")
    @classmethod
    def _consented(cls, v):
        if v is not True:
            raise ValueError("Agree to the publishing terms to send your story")
        return v

    @model_validator(mode="after")
    def _experience_in_range(self):
        problem = experience_problem(self.experience_year, self.experience_month, date.today())
        if problem:
            raise ValueError(f"{problem['field']}: {problem['message']}")
        return self


class TakenStory(StorySubmission):
    """A story a member of staff or a moderator entered for someone who phoned, wrote or came in:
    the same fields, how it came in, and the tick that says the person agreed (issue 19)."""

    route: Annotated[str, StringConstraints(pattern=r"^(phone|paper|staff-assisted)$")]

    @field_validator("consent")
    @classmethod
    def _consented(cls, v):
        if v is not True:
            raise ValueError("Tick to confirm the person agreed that their story may be published here")
        return v


class Decision(str, Enum):
    publish = "publish"
    hold = "hold"
    reject = "reject"

    @property
    def status(self) -> Status:
        """The status a story has once this decision is taken."""
        return _DECIDED[self]


_DECIDED = {Decision.publish: Status.PUBLISHED, Decision.hold: Status.HELD, Decision.reject: Status.REJECTED}


class ModerationDecision(BaseModel):
    """What a moderator decides about one version of a story."""

    model_config = ConfigDict(extra="forbid", defer_build=True)

    action: Decision
    version: int = Field(ge=1, le=2**53 - 1)  # the largest integer a JSON body may carry (web.MAX_NUMBER)
    title: Annotated[str | None, LINE] = Field(
        default=None, min_length=LIMITS["title"][0], max_length=LIMITS["title"][1]
    )
    story: Annotated[str | None, TEXT] = Field(default=None, min_length=1, max_length=LIMITS["story"][1])
    good: Annotated[str | None, TEXT] = Field(default=None, max_length=LIMITS["good"][1])
    improve: Annotated[str | None, TEXT] = Field(default=None, max_length=LIMITS["improve"][1])
    pseudonym: Annotated[str | None, LINE] = Field(
        default=None, min_length=LIMITS["pseudonym"][0], max_length=LIMITS["pseudonym"][1]
    )
    criticality: int | None = Field(default=None, ge=0, le=5)
    tags: list[Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9-]{0,39}$")]] = Field(
        default_factory=list, max_length=20
    )
    note: PlainText = Field(default="", max_length=2000)
    # The moderator may correct which services the story is about (issue 20); None keeps them.
    services: list[Annotated[str, StringConstraints(pattern=SLUG)]] | None = Field(
        default=None, min_length=1, max_length=MAX_SERVICES
    )

    @model_validator(mode="after")
    def _what_each_action_needs(self):
        if self.action is Decision.publish and self.criticality is None:
            raise ValueError("criticality: Choose a criticality from 0 to 5 before publishing")
        if self.action in (Decision.hold, Decision.reject) and not self.note:
            what = "why it is held" if self.action is Decision.hold else "the reason, which the author will be told"
            raise ValueError(f"note: Write {what}")
        return self


class Service(BaseModel):
    """A node of the service directory."""

    model_config = ConfigDict(extra="forbid", defer_build=True)

    slug: str = Field(pattern=SLUG)
    name: str = Field(min_length=2, max_length=120)
    kind: str = Field(min_length=2, max_length=40)
    parent: str | None = Field(default=None, pattern=SLUG)
    path: list[str] = Field(min_length=1, max_length=5)
    # Where it is (issue 20): its town, and its postcode district (an outward code such as "NB1"), which
    # the site's place pages and "find stories near" use. A service with neither (a trust, the 111 line)
    # is found by its name only.
    town: Annotated[str | None, LINE] = Field(default=None, min_length=2, max_length=60)
    town_cy: Annotated[str | None, LINE] = Field(default=None, min_length=2, max_length=60)  # its Welsh name
    postcode_district: str | None = Field(default=None, max_length=8)

    @field_validator("town", "town_cy")
    @classmethod
    def _a_town(cls, value: str | None) -> str | None:
        if value is not None and not re.search(r"[^\W\d_]", value):
            raise ValueError("town must be a town's name, such as Northbridge")
        return value

    @field_validator("postcode_district")
    @classmethod
    def _an_outward_code(cls, value: str | None) -> str | None:
        if value is None:
            return None
        code = places.district(value)
        if code is None:
            raise ValueError("postcode_district must be a postcode district (an outward code), such as NB1 or SW1A")
        return code

    @property
    def ancestors(self) -> list[str]:
        return self.path[:-1]


EDITABLE_FIELDS: tuple[str, ...] = ("title", "story", "good", "improve", "pseudonym")


# ---- the conversation: subscriptions, responses, replies ------------------------------------


class Frequency(str, Enum):
    immediate = "immediate"
    digest = "digest"


class ChangeMark(str, Enum):
    none = "none"
    planned = "planned"
    made = "made"


TAG = r"^[a-z0-9][a-z0-9-]{0,39}$"
CONVERSATION_LIMITS = {"response": (2, 5000), "reply": (2, 5000), "change_description": (0, 500)}


class SubscriptionRequest(BaseModel):
    """A member of staff asking for alerts about a subtree of the directory (self-service)."""

    model_config = ConfigDict(extra="forbid", defer_build=True)

    name: OneLine = Field(min_length=2, max_length=80)
    # The name shown in public on read receipts and responses; the full name if left blank.
    display_name: OneLine = Field(default="", max_length=80)
    role: OneLine = Field(min_length=2, max_length=80)  # job title, e.g. "Ward Manager"
    organisation: str = Field(pattern=SLUG)  # a top-level node of the directory
    email: Annotated[MailAddress, _strings(str.strip)]
    service: str = Field(pattern=SLUG)  # the root of the subtree to hear about
    tags: list[Annotated[str, StringConstraints(pattern=TAG)]] = Field(default_factory=list, max_length=10)
    min_criticality: int = Field(default=0, ge=0, le=5)
    frequency: Frequency = Frequency.immediate
    website: str = Field(default="", max_length=0)  # honeypot


class ResponseSubmission(BaseModel):
    """A public reply from a member of staff, sent from their emailed link."""

    model_config = ConfigDict(extra="forbid", defer_build=True)

    text: PlainText = Field(
        min_length=CONVERSATION_LIMITS["response"][0], max_length=CONVERSATION_LIMITS["response"][1]
    )
    change: ChangeMark = ChangeMark.none
    change_description: PlainText = Field(default="", max_length=CONVERSATION_LIMITS["change_description"][1])
    # A lead may respond for a colleague or a team ("the Ward 7 team"): shown beside their own name.
    on_behalf_of: OneLine = Field(default="", max_length=80)

    @model_validator(mode="after")
    def _describe_the_change(self):
        if self.change is not ChangeMark.none and len(self.change_description) < 5:
            raise ValueError("change_description: Describe the change in a few words, so readers know what it is")
        return self


class AuthorReply(BaseModel):
    """The author answering, from their private page. Moderated before it is published."""

    model_config = ConfigDict(extra="forbid", defer_build=True)

    text: PlainText = Field(min_length=CONVERSATION_LIMITS["reply"][0], max_length=CONVERSATION_LIMITS["reply"][1])


class ItemDecision(BaseModel):
    """A moderator's decision on a held response or a pending author reply."""

    model_config = ConfigDict(extra="forbid", defer_build=True)

    action: Annotated[str, StringConstraints(pattern=r"^(publish|reject)$")]
    note: PlainText = Field(default="", max_length=2000)
    text: Annotated[str | None, TEXT] = Field(
        default=None, min_length=2, max_length=5000
    )  # an edited text, to remove details


# ---- CHECK: me too, and the author checks the change ------------------------------------------


class Verdict(str, Enum):
    yes = "yes"
    partly = "partly"
    no = "no"


STORY_ID = r"^[0-9a-hjkmnp-tv-z]{17}$"  # ids.new_story_id(): Crockford base32, lower case
CHECK_COMMENT_MAX = 2000


class MeToo(BaseModel):
    """A reader saying "this happened to me too": no account; an address only to be asked later."""

    model_config = ConfigDict(extra="forbid", defer_build=True)

    email: Annotated[MailAddress | None, BLANK_IS_NONE] = None
    consent: bool = False
    website: str = Field(default="", max_length=0)  # honeypot

    @model_validator(mode="after")
    def _consent_with_email(self):
        if self.email is not None and not self.consent:
            raise ValueError("consent: Tick the box to agree that we may email you once about this change")
        return self


class CheckAnswer(BaseModel):
    """An answer to "did the change make a difference?", from an emailed check link."""

    model_config = ConfigDict(extra="forbid", defer_build=True)

    answer: Verdict
    comment: PlainText = Field(default="", max_length=CHECK_COMMENT_MAX)


# ---- concerns about what is published (issue 16): the words and rules are in core/concerns.py ----


class ConcernReport(BaseModel):
    """A report of a concern, from the public form (or a service's alert link)."""

    model_config = ConfigDict(extra="forbid", defer_build=True)

    reason: Reason
    explanation: PlainText = Field(default="", max_length=2000)
    email: Annotated[MailAddress | None, BLANK_IS_NONE] = None
    website: str = Field(default="", max_length=0)  # honeypot
    # When the form was shown, in epoch milliseconds (the timing check, as the story form's).
    started: Annotated[int | None, BLANK_IS_NONE] = Field(default=None, ge=0, le=2**53 - 1)


class CorrectionRequest(BaseModel):
    """The author asks, from their private link, for a correction of their published story: new words
    for a moderator to check and publish as an edit."""

    model_config = ConfigDict(extra="forbid", defer_build=True)

    title: Annotated[str | None, LINE] = Field(
        default=None, min_length=LIMITS["title"][0], max_length=LIMITS["title"][1]
    )
    story: Annotated[str, TEXT] = Field(min_length=LIMITS["story"][0], max_length=LIMITS["story"][1])
    explanation: PlainText = Field(default="", max_length=2000)


class ConcernDecision(BaseModel):
    """A moderator's decision on a reported item, on one version of its case."""

    model_config = ConfigDict(extra="forbid", defer_build=True)

    action: Action
    version: int = Field(ge=1, le=2**53 - 1)
    note: PlainText = Field(default="", max_length=2000)
    title: Annotated[str | None, LINE] = Field(
        default=None, min_length=LIMITS["title"][0], max_length=LIMITS["title"][1]
    )
    text: Annotated[str | None, TEXT] = Field(default=None, min_length=2, max_length=LIMITS["story"][1])
    asked_by: AskedBy | None = None
    reason: Reason | None = None

    @model_validator(mode="after")
    def _what_each_action_needs(self):
        if self.action is Action.edit and self.title is None and self.text is None:
            raise ValueError("text: Write the new text")
        if self.action is Action.restrict and (self.asked_by is None or self.reason is None):
            field = "asked_by" if self.asked_by is None else "reason"
            raise ValueError(f"{field}: Choose who asked and why, which the placeholder says")
        if self.action in (Action.restrict, Action.remove, Action.hold) and not self.note:
            raise ValueError("note: Write why, which is kept with the decision")
        return self
