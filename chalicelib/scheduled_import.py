"""The scheduled import (issue 21): every hour on AWS, each feed source's new items, so that stories from the
NHS website's reviews or another FeedForward arrive without anyone running the command.

A feed source is one whose items are fetched from an address: a JSON Feed, an Atom feed, or another
FeedForward's public API (a CSV or JSON export is brought in by an admin or a lead when it is made). Each
is fetched through core/addresses.py (a lead typed the address: it must be public, and so must every
redirect). Bounded and resumable: each source takes at most PER_SOURCE items a run (its cursor keeps
the place: importer.py), and a run starts no source after BUDGET_SECONDS, taking those that waited
longest first, so one that was left out is first next hour. A source that cannot be read is counted
refused and the run goes on.

It writes stories only: moderation, alerts, pages and partners' webhooks follow from the stream as for any
story. Its metrics and log hold counts, never an item's words, an address or anyone's contact details.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from .core.errors import NotFound
from .core.observability import logger, metrics

if TYPE_CHECKING:
    from .importer import Importer
    from .store import ImportStore

FEED_KINDS = ("json_feed", "atom", "feedforward_api")
PER_SOURCE = 200  # items a source brings in one run: the rest next hour, from its cursor
BUDGET_SECONDS = 600  # no source is started after this (the function's timeout is 900)


class ScheduledImport:
    def __init__(
        self,
        store: ImportStore,
        importer: Importer,
        per_source: int = PER_SOURCE,
        budget_seconds: float = BUDGET_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ):
        self._store = store
        self._importer = importer
        self._per_source = per_source
        self._budget = budget_seconds
        self._clock = clock

    def feeds(self) -> list[dict[str, Any]]:
        """Every organisation's feed sources, those run longest ago (or never) first: one Query each, no Scan."""
        found = [
            s
            for org in self._store.children(None)
            for s in self._store.sources_of(org["slug"])
            if s.get("kind") in FEED_KINDS and str(s.get("location", "")).startswith(("http://", "https://"))
        ]
        return sorted(found, key=lambda s: (s.get("last_run_at") or "", s["slug"]))

    def run(self) -> dict[str, Any]:
        start = self._clock()
        feeds = self.feeds()
        counts = {"sources": 0, "imported": 0, "updated": 0, "unchanged": 0, "refused": 0, "more": 0}
        for source in feeds:
            if self._clock() - start >= self._budget:
                break
            try:
                summary = self._importer.run(source["slug"], max_items=self._per_source)
            except NotFound:
                continue  # removed by its lead since the list was read
            counts["sources"] += 1
            counts["imported"] += summary.imported
            counts["updated"] += summary.updated
            counts["unchanged"] += summary.unchanged
            counts["refused"] += len(summary.refused)
            counts["more"] += int(summary.more)
        counts["left"] = len(feeds) - counts["sources"]
        for name, key in (("ScheduledImportItems", "imported"), ("ScheduledImportUpdated", "updated")):
            metrics.add_metric(name=name, unit="Count", value=counts[key])
        metrics.add_metric(name="ScheduledImportRefused", unit="Count", value=counts["refused"])
        metrics.add_metric(name="ScheduledImportSources", unit="Count", value=counts["sources"])
        logger.info("scheduled import", extra=counts)
        return counts
