"""The states a story, a thread item and a subscriber can be in: one name for each, used everywhere.

Apart from models.py so that the store and the views can name a status without importing pydantic.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum
from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:
    from typing_extensions import TypeIs  # a type checker's name only: nothing loads it at run time

_Story = TypeVar("_Story", bound=Mapping[str, Any])


class Status(StrEnum):
    """Where a story is in its life, as stored in its `status`.

    A StrEnum, so `Status.PUBLISHED == "published"` and it is written (JSON, DynamoDB, pydantic's
    dump) as the plain string: the stored items and the API's answers are the same as with literals.
    """

    PENDING = "pending"  # sent, waiting for a moderator
    HELD = "held"  # a moderator held it (safeguarding, a question); not public
    PUBLISHED = "published"  # public on the site
    REJECTED = "rejected"  # refused; the author is told why
    WITHDRAWN = "withdrawn"  # taken down by its author; kept, not public
    ERASING = "erasing"  # the author asked for erasure; the stream deletes it and everything of it
    # After publication (issue 16, core/concerns.py): a report hid it until a moderator decides; a
    # moderator restricted it (a placeholder says who asked and why) or removed it (gone; the author
    # keeps their private page). None of the three is public: the site follows as for a withdrawal.
    HIDDEN = "hidden"
    RESTRICTED = "restricted"
    REMOVED = "removed"


def public(story: _Story | None) -> TypeIs[_Story]:
    """Whether the public may read a story: published, and not kept for staff only. A story pulled in from a
    source not licensed for republication (issue 21, importer.py) is `staff_only`: published, it reaches
    alerts and the staff page, never a page, feed, search index, sitemap, widget, the public API or a
    partner's webhook. Every public output asks this, not the status alone."""
    return story is not None and story.get("status") == Status.PUBLISHED and not story.get("staff_only")


class ItemStatus(StrEnum):
    """The status of an item in a story's thread: a staff response, an author's reply, an answer to a change check.

    A staff response is published at once unless flagged (then HELD); an author's reply, and an
    answer to a change check that carries a comment, wait as PENDING for a moderator. An answer with
    no comment has nothing to moderate: it is RECORDED, and only ever counted.
    """

    PENDING = "pending"
    HELD = "held"
    PUBLISHED = "published"
    REJECTED = "rejected"
    RECORDED = "recorded"
    DELETED = "deleted"  # a staff response its author took back within its edit window (kept privately)
    HIDDEN = "hidden"  # a report hid it until a moderator decides (issue 16)
    RESTRICTED = "restricted"  # a placeholder says who asked and why
    REMOVED = "removed"  # gone from the page, kept privately


class SubscriberStatus(StrEnum):
    """The status of a member of staff who signed up for alerts, and of each of their subscriptions.

    A person is PENDING until the emailed link is followed. Then they are ACTIVE (a member of their
    organisation, with an `access` grant) or, when nothing grants them access, REQUESTED until a
    lead approves (ACTIVE) or refuses (REFUSED). A lead can freeze a leaver (FROZEN: every link
    stops, their subscriptions are PAUSED) and restore them. UNSUBSCRIBED is the person's own
    choice; they are ACTIVE again only once they confirm a new sign-up.
    """

    PENDING = "pending"
    ACTIVE = "active"
    UNSUBSCRIBED = "unsubscribed"
    REQUESTED = "requested"  # the address is confirmed; the organisation's leads decide
    REFUSED = "refused"  # a lead said no
    FROZEN = "frozen"  # a lead froze a leaver: no link works, no alert is sent
    PAUSED = "paused"  # a subscription of a frozen person (back to ACTIVE if they are restored)


class Access(StrEnum):
    """What a member may do for their organisation (the profile's `access`; none until granted).

    A reader gets alerts and sends read receipts; a responder also responds in public; a lead also
    manages the organisation (members, roles, requests, reports). Each includes the ones before it.
    """

    READER = "reader"
    RESPONDER = "responder"
    LEAD = "lead"


# Who may respond in public for their organisation.
RESPONDING = frozenset({Access.RESPONDER, Access.LEAD})
# Each access as leads and members read it: its name, and what it allows.
ACCESS_NAMES: dict[str, str] = {Access.READER: "Reader", Access.RESPONDER: "Responder", Access.LEAD: "Lead"}
ACCESS_WORDS: dict[str, str] = {
    Access.READER: "gets alerts and says when they have read a story",
    Access.RESPONDER: "also responds in public",
    Access.LEAD: "also manages the organisation",
}
