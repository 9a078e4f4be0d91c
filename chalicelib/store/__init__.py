"""DynamoDB single-table access. The only package that knows keys, indexes and item shapes.

Every access pattern is listed in docs/data-model.md with its key and cost. Request paths
use GetItem, Query and conditional writes only: nothing here scans.

The store is in parts, one per family of items, each a mixin over `table.Table` (the client and
the generic helpers) that declares a Protocol of what the flows may ask of it: `StoryStore`,
`ListingStore`, `DirectoryStore`, `PeopleStore`, `LoopStore`. `Store` composes them, so one
object serves every flow; a flow names only the protocol it needs. The main reads return the
typed records of records.py (TypedDicts: the same plain dicts as before, with named keys).
"""

from __future__ import annotations

from .directory import MAX_PREFIX, MIN_PREFIX, DirectoryPart, DirectoryStore, words
from .listings import ListingsPart, ListingStore
from .loop import LoopPart, LoopStore
from .people import PeoplePart, PeopleStore, watch_keys
from .records import ListingEntry, Response, Story, Subscriber, Subscription, ThreadItem
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
    email_hash,
    from_item,
    mail_layer_name,
    month_list,
    submission_record_key,
    tag_list,
    to_item,
)

__all__ = [
    "EVERYTHING", "GSI1", "MAX_PREFIX", "MIN_PREFIX", "REPLIES_QUEUE", "ROOT", "TABLE_DEFINITION", "TTL_ATTRIBUTE",
    "Change", "DirectoryStore", "ListingEntry", "ListingStore", "LoopStore", "PeopleStore", "Response", "Store", "Story",
    "StoryStore", "Subscriber", "Subscription", "Table", "ThreadItem",
    "decode", "digest_day", "email_hash", "from_item", "mail_layer_name", "month_list", "submission_record_key",
    "tag_list", "to_item", "watch_keys", "words",
]


class Store(StoriesPart, ListingsPart, DirectoryPart, PeoplePart, LoopPart):
    """The whole table: every part over one client and table name."""

    # The stream's one decoder (store.stream.decode), under the name callers know.
    decode_change = staticmethod(decode)
