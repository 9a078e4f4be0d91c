"""Concerns about what is published (issue 16): the reasons, the risk rules, the decisions, and the
fixed words the public sees of a hidden, restricted or edited item.

Pure rules and models, so that the flow (chalicelib/concerns.py), the store, the views and the
stream all read one definition.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

from .models import BLANK_IS_NONE, LIMITS, LINE, TEXT, MailAddress, PlainText
from .status import Status


class Reason(StrEnum):
    identifies = "identifies-someone"
    untrue = "untrue-or-defamatory"
    offensive = "offensive"
    safeguarding = "safeguarding"
    other = "other"


REASON_LABELS = {
    Reason.identifies: "It identifies someone",
    Reason.untrue: "It is untrue or defamatory",
    Reason.offensive: "It is offensive",
    Reason.safeguarding: "I have a safeguarding worry",
    Reason.other: "Something else",
}
# "Restricted at the request of … because …": the few fixed words of each reason.
REASON_WORDS = {
    Reason.identifies: "it identifies someone",
    Reason.untrue: "it may be untrue or defamatory",
    Reason.offensive: "it is offensive",
    Reason.safeguarding: "of a safeguarding concern",
    Reason.other: "of a concern about it",
}
# Reasons that hide the item at once, until a moderator decides.
RISKY = frozenset({Reason.identifies, Reason.safeguarding})
HIDE_AT = 3  # the third report of any kind, since the last decision, hides it too


class AskedBy(StrEnum):
    author = "author"
    service = "service"
    moderator = "moderator"


ASKED_BY_WORDS = {AskedBy.author: "the author", AskedBy.service: "the service", AskedBy.moderator: "a moderator"}


class Action(StrEnum):
    dismiss = "dismiss"
    edit = "edit"
    restrict = "restrict"
    remove = "remove"
    hold = "hold"


# What a reported thing is: the story itself, or one response or reply on it.
KINDS = ("story", "response", "reply")
URL_KINDS = {"story": "story", "responses": "response", "replies": "reply"}
# The statuses a reported item may be decided from: still public, or hidden by the risk rules.
DECIDABLE = (Status.PUBLISHED, Status.HIDDEN)
# Statuses whose public page shows a placeholder instead of the item.
PLACEHOLDER = frozenset({Status.HIDDEN, Status.RESTRICTED})
# Statuses a report or a decision moved the item to, or from: the page must be built again.
AFTER_PUBLICATION = frozenset({Status.HIDDEN, Status.RESTRICTED, Status.REMOVED})

CHECKING = "This {} is being checked by a moderator."
RESTRICTED = "Restricted at the request of {} because {}."


def placeholder(kind: str, item: dict[str, Any]) -> str:
    """The fixed words the public reads in place of a hidden or restricted story, response or reply."""
    status = item.get("status")
    if status == Status.HIDDEN:
        return CHECKING.format("story" if kind == "story" else kind)
    if status == Status.RESTRICTED:
        by = ASKED_BY_WORDS.get(item.get("restricted_by", ""), ASKED_BY_WORDS[AskedBy.moderator])
        why = REASON_WORDS.get(item.get("restricted_reason", ""), REASON_WORDS[Reason.other])
        return RESTRICTED.format(by, why)
    return ""


def target(kind: str, item_id: str = "") -> str:
    """A case's name within its story: "story", "response#<id>" or "reply#<id>"."""
    return "story" if kind == "story" else f"{kind}#{item_id}"


def risk_rank(case: dict[str, Any]) -> int:
    """Where a case sits in the queue, riskiest first: hidden, then asked for by a service, then the rest."""
    if case.get("hidden"):
        return 0
    return 1 if case.get("from_service") else 2


def should_hide(case: dict[str, Any], reason: str) -> bool:
    """The risk rules: a risky reason, or the third report of any kind since the last decision."""
    return reason in RISKY or int(case.get("open_reports", 0)) >= HIDE_AT


class ConcernReport(BaseModel):
    """A report of a concern, from the public form (or a service's alert link)."""

    model_config = ConfigDict(extra="forbid")

    reason: Reason
    explanation: PlainText = Field(default="", max_length=2000)
    email: Annotated[MailAddress | None, BLANK_IS_NONE] = None
    website: str = Field(default="", max_length=0)  # honeypot
    # When the form was shown, in epoch milliseconds (the timing check, as the story form's).
    started: Annotated[int | None, BLANK_IS_NONE] = Field(default=None, ge=0, le=2**53 - 1)


class CorrectionRequest(BaseModel):
    """The author asks, from their private link, for a correction of their published story: new words
    for a moderator to check and publish as an edit."""

    model_config = ConfigDict(extra="forbid")

    title: Annotated[str | None, LINE] = Field(
        default=None, min_length=LIMITS["title"][0], max_length=LIMITS["title"][1]
    )
    story: Annotated[str, TEXT] = Field(min_length=LIMITS["story"][0], max_length=LIMITS["story"][1])
    explanation: PlainText = Field(default="", max_length=2000)


class ConcernDecision(BaseModel):
    """A moderator's decision on a reported item, on one version of its case."""

    model_config = ConfigDict(extra="forbid")

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
