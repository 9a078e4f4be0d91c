"""DynamoDB single-table access. The only package that knows keys, indexes and item shapes.

Every access pattern is listed in docs/data-model.md with its key and cost. Request paths
use GetItem, Query and conditional writes only: nothing here scans.

The store is in parts, one per family of items, each a mixin over `table.Table` (the client and
the generic helpers) that declares a Protocol of what the flows may ask of it: `StoryStore`,
`ListingStore`, `DirectoryStore`, `PeopleStore`, `OrganisationStore`, `LoopStore`. `Store` composes them, so one
object serves every flow; a flow names only the protocol it needs (one of the parts', or one of
the combinations below where it asks of several). The main reads return the
typed records of records.py (TypedDicts: the same plain dicts as before, with named keys).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

from .concerns import ConcernsPart, ConcernStore
from .directory import MAX_PREFIX, MIN_PREFIX, DirectoryPart, DirectoryStore, words
from .invitations import InvitationsPart, InvitationStore
from .listings import ListingsPart, ListingStore
from .loop import LoopPart, LoopStore
from .organisations import OrganisationsPart, OrganisationStore
from .partners import PartnersPart, PartnerStore
from .people import MEMBERS_PER_TRANSACTION, NewMember, PeoplePart, PeopleStore, member_keys, watch_keys
from .records import ListingEntry, Response, Story, Subscriber, Subscription, ThreadItem
from .sources import SourcesPart, SourceStore
from .stories import StoriesPart, StoryStore
from .stream import Change, decode
from .table import (
    EVERYTHING,
    GSI1,
    REPLIES_QUEUE,
    ROOT,
    TABLE_DEFINITION,
    TTL_ATTRIBUTE,
    Table,
    digest_day,
    digest_day_for,
    digest_days,
    email_hash,
    from_item,
    mail_layer_name,
    month_list,
    place_list,
    staff_list,
    submission_record_key,
    tag_list,
    to_item,
)
from .teamwork import VISIBILITIES, TeamworkPart, TeamworkStore

__all__ = [
    "MEMBERS_PER_TRANSACTION",
    "NewMember",
    "EVERYTHING",
    "GSI1",
    "InvitationStore",
    "MAX_PREFIX",
    "MIN_PREFIX",
    "REPLIES_QUEUE",
    "ROOT",
    "TABLE_DEFINITION",
    "TTL_ATTRIBUTE",
    "AlertStore",
    "Change",
    "ConcernFlowStore",
    "ConcernStore",
    "ConversationStore",
    "DirectoryFileStore",
    "DirectoryStore",
    "LadderStore",
    "ListingEntry",
    "ListingStore",
    "LoopStore",
    "MailStore",
    "MembershipStore",
    "OrganisationStore",
    "MeTooStore",
    "PartnerStore",
    "PeopleStore",
    "WebhookStore",
    "ImportStore",
    "SourceStore",
    "PromiseStore",
    "PublicStore",
    "ReportStore",
    "Response",
    "Store",
    "StoriesAndServices",
    "ModerationStore",
    "Story",
    "StoryStore",
    "Subscriber",
    "Subscription",
    "SubscriptionStore",
    "Table",
    "TeamworkStore",
    "TellingStore",
    "InvitingStore",
    "VISIBILITIES",
    "ThreadItem",
    "decode",
    "digest_day",
    "digest_day_for",
    "digest_days",
    "email_hash",
    "from_item",
    "mail_layer_name",
    "month_list",
    "place_list",
    "staff_list",
    "submission_record_key",
    "tag_list",
    "to_item",
    "member_keys",
    "watch_keys",
    "words",
]


# ---- what a flow asks of several parts ------------------------------------------------------
# Python has no intersection of protocols, so each combination a flow needs is named here once.


class StoriesAndServices(StoryStore, DirectoryStore, Protocol):
    """Telling, moderating, the conversation: stories and their threads, and the services they name."""


class ModerationStore(StoryStore, DirectoryStore, ListingStore, TeamworkStore, Protocol):
    """Moderating: stories and their threads, the services they name, the tags in use, and the
    messages with the author (kept beside a story's private items)."""


class TellingStore(StoryStore, DirectoryStore, InvitationStore, Protocol):
    """Telling a story: the story, its services, and the invitation it came through (issue 19)."""


class InvitingStore(InvitationStore, DirectoryStore, PeopleStore, Protocol):
    """Invitations (issue 19): the organisation's, the services they are for, and who made them."""


class DirectoryFileStore(DirectoryStore, OrganisationStore, Protocol):
    """Loading the directory file: its services, and each organisation's private settings."""


class ConversationStore(StoryStore, DirectoryStore, PeopleStore, TeamworkStore, Protocol):
    """Reading and responding: the story and its thread, its services, who is answering, and the
    team's passes and tags."""


class SubscriptionStore(PeopleStore, DirectoryStore, OrganisationStore, Protocol):
    """Signing up and managing alerts: subscribers, their subscriptions, the services watched, and
    the organisation's rules for who may join it."""


class MembershipStore(PeopleStore, DirectoryStore, OrganisationStore, LoopStore, Protocol):
    """An organisation's leads at work: its members, their grants and subscriptions."""


class AlertStore(StoryStore, PeopleStore, DirectoryStore, OrganisationStore, Protocol):
    """Alerts and the mail worker: a story, its services, and the people who watch them."""


class MeTooStore(StoryStore, LoopStore, Protocol):
    """Me-too and change checks: a story and the loop's items about it."""


class PromiseStore(DirectoryStore, LoopStore, Protocol):
    """The response promise: set from a story's services, carried by its ladder."""


class LadderStore(StoryStore, DirectoryStore, PeopleStore, LoopStore, Protocol):
    """The ladder and the letters: a story, its services, their watchers, and the loop's items."""


class MailStore(
    StoryStore,
    DirectoryStore,
    PeopleStore,
    LoopStore,
    OrganisationStore,
    TeamworkStore,
    ConcernStore,
    PartnerStore,
    Protocol,
):
    """The letters: everything the ladder reads, an organisation's leads, a reporter's address, and a paused
    partner."""


class PublicStore(StoryStore, ListingStore, DirectoryStore, Protocol):
    """What is public: the public API, the renderer and the stream's listings and figures."""


class WebhookStore(PartnerStore, StoryStore, DirectoryStore, OrganisationStore, Protocol):
    """Webhooks: partners, a story and the services they watch, and an organisation's leads (told of a pause)."""


class ImportStore(SourceStore, StoryStore, DirectoryStore, Protocol):
    """Pulling stories in (issue 21): sources, the items they brought in, their stories, and the services
    items name."""


# ---- Reports (issue 15) ----------------------------------------------------------------------


class ReportStore(StoryStore, ListingStore, DirectoryStore, PeopleStore, OrganisationStore, Protocol):
    """Reports and the board report: a listing's stories by date, their threads, the services they
    name, and an organisation's leads (and a lead's own choice to get the monthly email)."""


# ---- Concerns about what is published (issue 16) ------------------------------------------------


class ConcernFlowStore(StoryStore, ConcernStore, Protocol):
    """Reporting a concern and deciding on it: the story and its thread, and the reports' cases."""


class Store(
    StoriesPart,
    ListingsPart,
    DirectoryPart,
    PeoplePart,
    OrganisationsPart,
    TeamworkPart,
    LoopPart,
    ConcernsPart,
    InvitationsPart,
    PartnersPart,
    SourcesPart,
):
    """The whole table: every part over one client and table name."""

    # The stream's one decoder (store.stream.decode), under the name callers know.
    decode_change = staticmethod(decode)


if TYPE_CHECKING:

    def _serves(
        store: Store,
    ) -> tuple[
        StoriesAndServices,
        DirectoryFileStore,
        ConversationStore,
        SubscriptionStore,
        MembershipStore,
        AlertStore,
        MeTooStore,
        PromiseStore,
        LadderStore,
        MailStore,
        PublicStore,
        ReportStore,
        ConcernFlowStore,
        ModerationStore,
        TellingStore,
        InvitingStore,
        WebhookStore,
        ImportStore,
    ]:
        """Nothing runs this: it is the type checker's proof that one Store serves every combination."""
        return (
            store,
            store,
            store,
            store,
            store,
            store,
            store,
            store,
            store,
            store,
            store,
            store,
            store,
            store,
            store,
            store,
            store,
            store,
        )
