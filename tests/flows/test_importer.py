"""The importer (issue 21) at the flow level: sources served by a real HTTP server on 127.0.0.1 (or a file),
the in-memory store, and the summary a run returns. What reaches the public site is
tests/pipeline/test_import_licence.py's (it needs the stream and the renderer)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from chalicelib.core import sources
from chalicelib.core.errors import ValidationFailed
from chalicelib.importer import Importer
from chalicelib.moderation import highlights
from tests.support.factories import SMALL_DIRECTORY
from tests.support.feed_server import FeedServer
from tests.support.memory_store import MemoryStore

WORDS = "The nurses on the ward were kind and explained every step of my treatment to me."


def _services(store: MemoryStore, tree: list[dict[str, Any]], path: tuple[str, ...] = ()) -> None:
    for node in tree:
        here = (*path, node["slug"])
        store.put_service({"slug": node["slug"], "name": node["name"], "kind": node["kind"], "path": list(here)})
        _services(store, node.get("children") or [], here)


@pytest.fixture
def store() -> MemoryStore:
    s = MemoryStore()
    _services(s, SMALL_DIRECTORY)
    return s


@pytest.fixture
def server():
    with FeedServer() as s:
        yield s


def item(n: int, **over: Any) -> dict[str, Any]:
    return {
        "id": f"urn:review:{n}",
        "url": f"https://reviews.example.org/r/{n}",
        "title": f"Review number {n}",
        "content_text": f"{WORDS} ({n})",
        "date_published": f"2026-11-0{n % 9 + 1}T10:00:00Z",
    } | over


def feed(*items: dict[str, Any]) -> str:
    return json.dumps({"version": "https://jsonfeed.org/version/1.1", "title": "Reviews", "items": list(items)})


def source(importer: Importer, location: str, **over: Any) -> str:
    data = {
        "slug": "reviews",
        "name": "NHS website reviews",
        "organisation": "riverside-trust",
        "kind": "json_feed",
        "location": location,
        "service": "riverside-ward-7",
    } | over
    return importer.add_source(data)["slug"]


def stories(store: MemoryStore) -> list[dict[str, Any]]:
    return [s for (pk, sk), s in sorted(store._items.items()) if pk.startswith("STORY#") and sk == "STORY"]


def test_a_second_run_or_an_overlapping_window_adds_nothing(store, server):
    importer = Importer(store, sources.fetch_or_read)
    slug = source(importer, server.serve("/feed.json", feed(item(1), item(2), item(3))))
    first = importer.run(slug)
    assert first.line() == "3 imported, 0 updated, 0 unchanged, 0 refused"
    assert importer.run(slug).line() == "0 imported, 0 updated, 3 unchanged, 0 refused"
    server.serve("/feed.json", feed(item(2), item(3), item(4)))  # the next page overlaps the last
    assert importer.run(slug).line() == "1 imported, 0 updated, 2 unchanged, 0 refused"
    kept = stories(store)
    assert len(kept) == 4
    one = next(s for s in kept if s["source"]["id"] == "urn:review:1")
    assert one["route"] == "import" and one["status"] == "pending" and one["GSI1PK"] == "QUEUE#pending"
    assert one["source"] == {
        "slug": "reviews",
        "name": "NHS website reviews",
        "id": "urn:review:1",
        "url": "https://reviews.example.org/r/1",
        "date": "2026-11-02T10:00:00Z",
    }
    assert (one["experience"], one["services"], one["pseudonym"]) == (
        "2026-11",
        ["riverside-ward-7"],
        "NHS website reviews",
    )
    assert one["staff_only"] is True  # not licensed: never public (tests/pipeline/test_import_licence.py)


def test_an_item_edited_at_the_source_updates_its_story_and_sends_it_back_to_moderation(store, server):
    importer = Importer(store, sources.fetch_or_read)
    slug = source(importer, server.serve("/feed.json", feed(item(1), item(2))))
    importer.run(slug)
    sid = next(s["id"] for s in stories(store) if s["source"]["id"] == "urn:review:1")
    published = store._items[(f"STORY#{sid}", "STORY")]
    published.update(status="published", published_at="2026-11-03T00:00:00.000Z", criticality=2)  # a moderator's
    del published["GSI1PK"], published["GSI1SK"]
    edited = item(1, content_text=f"{WORDS} Call me on 07700 900123 if you want to know more.")
    server.serve("/feed.json", feed(edited, item(2)))
    summary = importer.run(slug)
    assert summary.line() == "0 imported, 1 updated, 1 unchanged, 0 refused"
    now = store.get_story(sid)
    assert now["status"] == "pending" and now["version"] == 2 and "07700 900123" in now["story"]
    assert store._items[(f"STORY#{sid}", "STORY")]["GSI1PK"] == "QUEUE#pending"  # back in the moderators' queue
    assert now["published_at"] == "2026-11-03T00:00:00.000Z"  # the first publication's date: no second alert
    assert highlights(now)["story"]["count"] == 1  # the moderation screen marks the phone number
    assert importer.run(slug).line() == "0 imported, 0 updated, 2 unchanged, 0 refused"


def test_a_story_a_moderator_holds_stays_held_whatever_its_source_says(store, server):
    importer = Importer(store, sources.fetch_or_read)
    slug = source(importer, server.serve("/feed.json", feed(item(1))), licensed=True, moderated=True)
    importer.run(slug)
    sid = stories(store)[0]["id"]
    store._items[(f"STORY#{sid}", "STORY")].update(status="held", GSI1PK="QUEUE#held")  # a moderator's hold
    server.serve("/feed.json", feed(item(1, title="Edited at the source")))
    assert importer.run(slug).line() == "0 imported, 1 updated, 0 unchanged, 0 refused"
    now = store._items[(f"STORY#{sid}", "STORY")]
    assert (now["status"], now["GSI1PK"], now["title"]) == ("held", "QUEUE#held", "Edited at the source")


def test_a_malformed_item_is_refused_by_name_and_the_rest_imported_with_nothing_half_written(store, server):
    importer = Importer(store, sources.fetch_or_read)
    bad = [
        item(2, title=""),
        item(3, date_published="last Tuesday"),
        {k: v for k, v in item(4).items() if k != "id"},
        item(5, content_text="Too short"),
        item(6, url="javascript:alert(1)"),
        item(7, date_published="2099-01-01T00:00:00Z"),
    ]
    slug = source(importer, server.serve("/feed.json", feed(item(1), *bad, item(8))))
    summary = importer.run(slug)
    assert summary.line() == "2 imported, 0 updated, 0 unchanged, 6 refused"
    assert summary.refused == [
        "item urn:review:2/title: missing",
        "item urn:review:3/date: 'last Tuesday' is not a date (2026-01-31, or 31/01/2026)",
        "item 4/id: missing: every item needs the source's own id",
        "item urn:review:5/story: must be 20 to 30000 characters, not 9",
        "item urn:review:6/url: must be an http(s) address",
        "item urn:review:7/date: is in the future",
    ]
    assert sorted(s["source"]["id"] for s in stories(store)) == ["urn:review:1", "urn:review:8"]
    assert set(store.imported_items(slug, [f"urn:review:{n}" for n in range(1, 9)])) == {"urn:review:1", "urn:review:8"}


def test_a_run_is_bounded_and_the_next_goes_on_from_where_it_stopped(store, server):
    importer = Importer(store, sources.fetch_or_read)
    slug = source(importer, server.serve("/feed.json", feed(*(item(n) for n in range(1, 6)))))
    runs = [importer.run(slug, max_items=2) for _ in range(3)]
    assert [r.line() for r in runs] == [
        "2 imported, 0 updated, 0 unchanged, 0 refused",
        "2 imported, 0 updated, 0 unchanged, 0 refused",
        "1 imported, 0 updated, 0 unchanged, 0 refused",
    ]
    assert [r.more for r in runs] == [True, True, False]
    assert store.get_source(slug)["cursor"] == ""  # the end was reached: the next run starts again
    assert importer.run(slug).line() == "0 imported, 0 updated, 5 unchanged, 0 refused"


def test_a_csv_export_is_read_through_its_mapping(store, tmp_path):
    export = tmp_path / "fft.csv"
    export.write_text(
        "Comment ID,Received,Ward,Headline,Free text\n"
        f"FFT-1,31/10/2026,riverside-ward-7,Clean and calm,{WORDS}\n"
        f"FFT-2,01/11/2026,hillside-district-nursing,Not ours,{WORDS}\n"
        f'FFT-3,02/11/2026,riverside-maternity,"Quick, kind",{WORDS}\n',
        encoding="utf-8",
    )
    importer = Importer(store, sources.fetch_or_read)
    mapping = {"id": "Comment ID", "date": "Received", "service": "Ward", "title": "Headline", "story": "Free text"}
    slug = source(importer, str(export), kind="csv", mapping=mapping, name="Friends and Family Test")
    summary = importer.run(slug)
    assert summary.line() == "2 imported, 0 updated, 0 unchanged, 1 refused"
    assert summary.refused == ["line 3/service: 'hillside-district-nursing' is not one of riverside-trust's services"]
    got = {s["source"]["id"]: s for s in stories(store)}
    assert got["FFT-3"]["title"] == "Quick, kind" and got["FFT-3"]["services"] == ["riverside-maternity"]
    assert got["FFT-1"]["source"]["date"] == "2026-10-31T00:00:00Z" and got["FFT-1"]["experience"] == "2026-10"


def test_a_mapping_that_names_a_column_the_file_lacks_refuses_the_run_by_name(store, tmp_path):
    export = tmp_path / "fft.csv"
    export.write_text("id,title\nx,y\n", encoding="utf-8")
    importer = Importer(store, sources.fetch_or_read)
    slug = source(importer, str(export), kind="csv", mapping={"story": "Free text"})
    summary = importer.run(slug)
    assert summary.line() == "0 imported, 0 updated, 0 unchanged, 1 refused"
    assert summary.refused == ["source: the CSV has no column 'Free text' (the mapping names it)"]


def test_an_atom_feed_is_read_as_plain_text_and_one_with_a_doctype_is_not_read(store, server):
    atom = f"""<?xml version="1.0" encoding="utf-8"?>
<feed xmlns="http://www.w3.org/2005/Atom"><title>Reviews</title>
<entry><id>tag:reviews.example.org,2026:1</id><title>Clean ward</title>
<link rel="alternate" href="https://reviews.example.org/1"/><published>2026-11-01T09:00:00Z</published>
<content type="html">&lt;p&gt;{WORDS}&lt;/p&gt;&lt;p&gt;&lt;script&gt;x()&lt;/script&gt;Thank you.&lt;/p&gt;</content></entry>
</feed>"""
    importer = Importer(store, sources.fetch_or_read)
    slug = source(importer, server.serve("/atom.xml", atom, "application/atom+xml"), kind="atom")
    assert importer.run(slug).line() == "1 imported, 0 updated, 0 unchanged, 0 refused"
    story = stories(store)[0]
    assert story["story"] == f"{WORDS}\n\nThank you."  # plain text: no markup, no script
    assert story["source"]["url"] == "https://reviews.example.org/1"
    laughs = '<?xml version="1.0"?><!DOCTYPE feed [<!ENTITY a "aaaa">]><feed xmlns="http://www.w3.org/2005/Atom"/>'
    server.serve("/atom.xml", laughs, "application/atom+xml")
    summary = importer.run(slug)
    assert summary.refused == ["source: an Atom feed with a DOCTYPE or entities is not read"]
    server.serve("/atom.xml", laughs.encode("utf-16"), "application/atom+xml")  # where a byte search misses it
    assert importer.run(slug).refused == ["source: an Atom feed must be UTF-8"]


def test_another_feedforwards_stories_are_read_each_from_its_own_address(store, server):
    page = {"stories": [{"id": "a0000000000000001"}, {"id": "a0000000000000002"}], "next": None}
    location = server.serve("/api/public/stories", json.dumps(page), "application/json")
    whole = {"id": "a0000000000000001", "title": "Seen quickly", "story": WORDS, "good": "Kind", "improve": ""}
    whole |= {"role": "carer", "published_at": "2026-11-01T08:00:00Z", "url": "https://cymru.example/stories/a1/"}
    server.serve("/api/public/stories/a0000000000000001", json.dumps(whole), "application/json")
    importer = Importer(store, sources.fetch_or_read)
    slug = source(importer, location, kind="feedforward_api", name="FeedForward Cymru", licensed=True)
    summary = importer.run(slug)
    assert summary.line() == "1 imported, 0 updated, 0 unchanged, 1 refused"
    assert summary.refused == [
        f"item a0000000000000002/story: {server.base}/api/public/stories/a0000000000000002 answered 404"
    ]
    story = stories(store)[0]
    assert (story["role"], story["good"], story["staff_only"]) == ("carer", "Kind", False)


def test_a_moderated_and_licensed_source_is_published_as_it_comes_and_any_other_waits(store, server):
    importer = Importer(store, sources.fetch_or_read)
    trusted = source(importer, server.serve("/a.json", feed(item(1))), slug="trusted", licensed=True, moderated=True)
    moderated_only = source(importer, server.serve("/b.json", feed(item(2))), slug="moderated-only", moderated=True)
    importer.run(trusted)
    importer.run(moderated_only)
    by_source = {s["source"]["slug"]: s for s in stories(store)}
    assert by_source["trusted"]["status"] == "published" and by_source["trusted"]["staff_only"] is False
    assert by_source["trusted"]["decided_by"] == "source:trusted" and "GSI1PK" not in by_source["trusted"]
    assert by_source["moderated-only"]["status"] == "pending" and by_source["moderated-only"]["staff_only"] is True


def test_a_source_is_registered_only_for_an_organisation_and_one_of_its_services(store):
    importer = Importer(store, sources.fetch_or_read)
    base = {"slug": "s", "name": "Reviews", "organisation": "riverside-trust", "kind": "json_feed", "location": "x"}
    for wrong, field in (
        ({"organisation": "riverside-ward-7", "service": "riverside-ward-7"}, "organisation"),
        ({"service": "hillside-district-nursing"}, "service"),
        ({"service": "riverside-ward-7", "kind": "rss"}, "kind"),
        ({"service": "riverside-ward-7", "mapping": {"email": "Email"}}, "mapping"),
    ):
        with pytest.raises(ValidationFailed) as e:
            importer.add_source(base | wrong)
        assert e.value.fields[0]["field"].startswith(field), (wrong, e.value.fields)
    importer.add_source(base | {"service": "riverside-ward-7"})
    with pytest.raises(ValidationFailed) as e:
        importer.add_source(base | {"service": "riverside-ward-7"})
    assert e.value.fields == [{"field": "slug", "message": "A source with this slug exists already"}]


def test_a_story_kept_for_staff_only_is_no_partners_event_and_a_licensed_one_is():
    from chalicelib.store.stream import Change
    from chalicelib.webhooks import events

    pending = {"id": "s1", "status": "pending", "version": 1, "staff_only": True}
    published = pending | {"status": "published", "version": 2, "published_at": "2026-11-03T00:00:00.000Z"}
    assert events(Change("story", "s1", pending, published, event="MODIFY")) == []
    assert events(Change("story", "s1", published, pending | {"version": 3}, event="MODIFY")) == []
    licensed = Change("story", "s1", pending | {"staff_only": False}, published | {"staff_only": False})
    assert [e[0] for e in events(licensed)] == ["story.published"]


def test_only_the_admin_command_reads_a_file_anything_else_fetches_addresses_alone(store, tmp_path):
    export = tmp_path / "fft.json"
    export.write_text(json.dumps([{"id": "x1", "title": "Clean", "story": WORDS, "date": "2026-11-01"}]))
    importer = Importer(store, sources.fetch)  # what wiring.importer() hands a scheduled job or a page
    slug = source(importer, str(export), kind="json")
    refused = importer.run(slug)
    assert refused.refused == ["source: its location must be an http(s) address here (a file only from the command)"]
    assert Importer(store, sources.fetch_or_read).run(slug).line() == "1 imported, 0 updated, 0 unchanged, 0 refused"
