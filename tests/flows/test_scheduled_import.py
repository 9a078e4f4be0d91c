"""The scheduled import (issue 21), on the in-memory store with a real feed server: each feed source's new
items, bounded per source and resumed from its cursor next run, a source that cannot be read counted
refused while the rest go on, the one left out by the time budget first next run, exports left to people,
and metrics of counts only (never an item's words or an address)."""

from __future__ import annotations

import json

import pytest

from chalicelib.core import clock
from chalicelib.core.addresses import guarded_fetch
from chalicelib.core.observability import metrics
from chalicelib.importer import Importer
from chalicelib.scheduled_import import ScheduledImport
from tests.support.feed_server import FeedServer
from tests.support.memory_store import MemoryStore

SERVICES = [
    {"slug": "riverside-trust", "name": "Riverside", "kind": "trust", "path": ["riverside-trust"]},
    {"slug": "riverside-ward-7", "name": "Ward 7", "kind": "ward", "path": ["riverside-trust", "riverside-ward-7"]},
    {"slug": "hillside-trust", "name": "Hillside", "kind": "trust", "path": ["hillside-trust"]},
]
SECRET = "quagmirelantern"  # an item's own word: never in a metric or the log


def feed(n: int, word: str) -> str:
    items = [
        {
            "id": f"urn:{word}:{i}",
            "url": f"https://reviews.example.org/{word}/{i}",
            "title": f"Story {i} from {word}",
            "content_text": f"The staff on the ward were kind and explained every step. {SECRET} {i}.",
            "date_published": "2026-11-02T10:00:00Z",
        }
        for i in range(n)
    ]
    return json.dumps({"version": "https://jsonfeed.org/version/1.1", "title": word, "items": items})


def source(slug: str, location: str, org: str = "riverside-trust", kind: str = "json_feed") -> dict:
    service = "riverside-ward-7" if org == "riverside-trust" else org
    return {"slug": slug, "name": slug, "organisation": org, "kind": kind, "location": location, "service": service}


@pytest.fixture
def store():
    store = MemoryStore()
    for s in SERVICES:
        store.put_service(dict(s))
    # The directory's tops (the in-memory store keeps no index of them; the real one Queries its own).
    store.children = lambda slug: [s for s in SERVICES if len(s["path"]) == 1] if slug is None else []  # type: ignore[method-assign]
    return store


def test_each_feed_source_is_brought_in_bounded_and_resumed_and_a_bad_one_does_not_stop_the_rest(store, capsys):
    importer = Importer(store, guarded_fetch(True))  # the feed server is on 127.0.0.1, as on the local stack
    with FeedServer() as server:
        for s in (
            source("reviews", server.serve("/reviews.json", feed(5, "reviews"))),
            source("broken", server.base + "/missing.json"),
            source("hill", server.serve("/hill.json", feed(1, "hill")), org="hillside-trust"),
            source("export", server.serve("/export.csv", "id,story\n"), kind="csv"),  # left to people
        ):
            importer.add_source(s)
        job = ScheduledImport(store, importer, per_source=3)
        assert [s["slug"] for s in job.feeds()] == ["broken", "hill", "reviews"]  # never run: by slug

        first = job.run()
        assert first == {"sources": 3, "imported": 4, "updated": 0, "unchanged": 0, "refused": 1, "more": 1, "left": 0}
        second = job.run()  # "reviews" goes on from its cursor
        assert (second["imported"], second["more"], second["refused"]) == (2, 0, 1)
        third = job.run()  # and then from the start again, finding them brought in
        assert (third["imported"], third["unchanged"]) == (0, 4)
        assert "/export.csv" not in server.requests
    metrics_out = json.dumps(metrics.serialize_metric_set())
    assert "ScheduledImportItems" in metrics_out and "ScheduledImportRefused" in metrics_out
    assert SECRET not in capsys.readouterr().out + metrics_out and "127.0.0.1" not in metrics_out
    metrics.clear_metrics()


def test_a_run_out_of_time_starts_no_more_sources_and_the_one_left_out_is_first_next_time(store, monkeypatch):
    importer = Importer(store, guarded_fetch(True))
    ticks = iter([0, 0, 1000, 2000, 2000, 2000, 2000])  # the second source would start past the budget
    with FeedServer() as server:
        for slug in ("a-feed", "b-feed"):
            importer.add_source(source(slug, server.serve(f"/{slug}.json", feed(1, slug))))
        monkeypatch.setattr(clock, "iso", lambda *a: "2026-12-08T01:00:00.000Z")
        job = ScheduledImport(store, importer, budget_seconds=600, clock=lambda: next(ticks))
        assert job.run()["left"] == 1
        assert [s["slug"] for s in job.feeds()] == ["b-feed", "a-feed"]  # b never ran: first next hour
