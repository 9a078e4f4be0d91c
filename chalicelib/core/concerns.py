"""Concerns about what is published (issue 16): the reasons, the risk rules, the decisions, and the
fixed words the public sees of a hidden, restricted or edited item.

Pure rules and words, with no pydantic (the views and the render worker read them on a cold start), so
that the flow (chalicelib/concerns.py), the store, the views and the stream all read one definition. The
forms' models are in core/models.py.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any

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
