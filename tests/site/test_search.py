"""Static search with Pagefind, in shards: a hot shard for the current month and frozen shards of
closed months, merged in the browser. Each rebuild uploads only what changed, a story that leaves
the site leaves search at once, and only an indexed field's change queues a search job."""

from __future__ import annotations

import gzip
import html
import json
import re
from datetime import UTC, datetime

import pytest

from chalicelib import wiring
from chalicelib.core import clock
from chalicelib.core.jobs import RenderJob, SearchJob
from chalicelib.core.shards import plan
from tests.support.published import seed

pytest.importorskip("pagefind_bin")

MARCH, MAY = datetime(2026, 3, 1, 9, tzinfo=UTC), datetime(2026, 5, 1, 9, tzinfo=UTC)


def objects(aws, prefix: str = "") -> dict[str, bytes]:
    s3 = aws.client("s3")
    listed = s3.list_objects_v2(Bucket=aws.resources.bucket, Prefix=prefix).get("Contents", [])
    return {o["Key"]: s3.get_object(Bucket=aws.resources.bucket, Key=o["Key"])["Body"].read() for o in listed}


def manifest(aws) -> dict:
    return json.loads(objects(aws, "pagefind/shards.json")["pagefind/shards.json"])


def bundles(aws) -> dict[str, str]:
    return {s["id"]: s["bundle"] for s in manifest(aws)["shards"] if s["bundle"]}


def page_count(aws, shard: str) -> int:
    key = f"pagefind/{shard}/pagefind-entry.json"
    entry = json.loads(objects(aws, key)[key])
    return sum(lang["page_count"] for lang in entry["languages"].values())


def readable(body: bytes) -> bytes:
    """A file as a reader of the bucket would see it: Pagefind's data files are gzip'd."""
    try:
        return gzip.decompress(body)
    except OSError:
        return body


def fragments(aws, shard: str = "") -> list[str]:
    """The text of every indexed page (Pagefind's fragments), in one shard or all."""
    out = []
    for key, body in objects(aws, "pagefind/").items():
        if "/fragment/" in key and (not shard or key.startswith(f"pagefind/{shard}/")):
            data = readable(body)
            out.append(data[data.index(b"{") :].decode())
    return out


def this_month() -> str:
    return clock.iso()[:7]


@pytest.fixture
def small_shards(monkeypatch):
    """Frozen shards of at most three stories, so a few stories make several shards."""
    monkeypatch.setenv("FF_SEARCH_SHARD_STORIES", "3")
    wiring.reset()


# ---- the layout --------------------------------------------------------------------------------


def test_closed_months_join_the_newest_frozen_shard_while_it_stays_within_the_bound():
    counts = {"2026-01": 2, "2026-02": 1, "2026-03": 2, "2026-04": 5, "2026-05": 1}
    layout = plan([], counts, "2026-05", limit=3)
    assert [(s["id"], s["months"], s["stories"]) for s in layout] == [
        ("2026-05", ["2026-05"], 1),  # the hot shard
        ("from-2026-04", ["2026-04"], 5),  # a month over the bound alone
        ("from-2026-03", ["2026-03"], 2),
        ("from-2026-01", ["2026-01", "2026-02"], 3),
    ]
    # A month later: May closes and joins no shard that would go over the bound; no shard moves.
    later = plan(layout, counts | {"2026-06": 4}, "2026-06", limit=3)
    assert [s["id"] for s in later] == ["2026-06", "from-2026-05", "from-2026-04", "from-2026-03", "from-2026-01"]
    assert later[4]["months"] == ["2026-01", "2026-02"]


def test_changes_within_one_debounce_window_become_one_rebuild_and_a_story_that_left_keeps_its_own(aws):
    """The search queue is FIFO: messages of one month in one window share a deduplication id."""
    from chalicelib.core.jobs import Queues

    sqs = aws.client("sqs")
    queues = Queues(sqs, "", "", aws.resources.search_queue_url, search_debounce_seconds=300)
    queues.send([SearchJob(month="2026-12")])
    queues.send([SearchJob(month="2026-12")])  # another change, a moment later: the same rebuild
    queues.send([SearchJob(month="2026-11")])
    queues.send([SearchJob(month="2026-12", gone="s1")])
    got = []
    while msgs := sqs.receive_message(QueueUrl=aws.resources.search_queue_url, MaxNumberOfMessages=10).get("Messages"):
        got += [json.loads(m["Body"]) for m in msgs]
        sqs.delete_message_batch(
            QueueUrl=aws.resources.search_queue_url,
            Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(msgs)],
        )
    assert sorted((j["month"], j["gone"]) for j in got) == [("2026-11", ""), ("2026-12", ""), ("2026-12", "s1")]


def test_a_binary_that_lost_its_execute_bit_runs_from_a_copy_in_tmp(tmp_path, monkeypatch):
    import os
    import stat

    import pagefind.service

    from chalicelib.site import search

    real = pagefind.service.get_executable()
    copy = tmp_path / "pagefind"
    copy.write_bytes(real.read_bytes())
    copy.chmod(0o644)  # as chalice's extractall leaves it
    monkeypatch.setattr(pagefind.service, "get_executable", lambda: copy)
    monkeypatch.setattr(search.tempfile, "gettempdir", lambda: str(tmp_path / "writable"))
    (tmp_path / "writable").mkdir()
    runnable = search.executable()
    assert runnable != str(copy) and os.stat(runnable).st_mode & stat.S_IXUSR
    assert search.build_index([search.record({"id": "s1", "title": "Heron ward"}, {})])


def test_a_result_shows_the_story_s_words_and_its_services_as_meta_never_index_text():
    """Issue 20: results showed "services:Ward 12" (two metas in one attribute) and excerpts ending in
    "…Ward 12 (Respiratory). communication discharge inhaler technique medicines." (names and tags as text)."""
    story = {
        "id": "s1",
        "title": "Kind nurses",
        "story": "The night staff were kind.",
        "services": ["w12", "nb"],
        "tags": ["inhaler-technique", "medicines"],
        "published_at": "2026-12-01T10:00:00Z",
    }
    from chalicelib.site import search

    names = {"w12": {"name": "Ward 12 (Respiratory)"}, "nb": {"name": "Northbridge, General"}}
    files = search.build_index([search.record(story, names)])
    (fragment,) = [readable(body) for name, body in files.items() if name.startswith("fragment/")]
    page = json.loads(fragment[fragment.index(b"{") :])
    assert page["content"] == "Kind nurses. The night staff were kind."
    assert page["meta"] == {
        "title": "Kind nurses",
        "date": "1 December 2026",
        "services": "Ward 12 (Respiratory) · Northbridge General",
        "tags": "inhaler technique · medicines",
    }


# ---- building shards ---------------------------------------------------------------------------


def test_each_shard_holds_its_months_stories_and_a_second_run_uploads_nothing(aws, directory):
    old = seed(4, start=MARCH, tags=["nursing"])
    new = seed(2, start=datetime.fromisoformat(this_month() + "-01T08:00:00+00:00"), step_hours=1)
    publisher = wiring.site()._publisher
    written = wiring.site().render(RenderJob(page="search"))
    assert "search/index.html" in written and "pagefind/shards.json" in written
    assert bundles(aws) == {this_month(): f"/pagefind/{this_month()}/", "from-2026-03": "/pagefind/from-2026-03/"}
    assert [s["id"] for s in manifest(aws)["shards"]] == [this_month(), "from-2026-03"]  # newest first
    assert page_count(aws, "from-2026-03") == 4 and page_count(aws, this_month()) == 2
    assert all(any(f"/stories/{i}/" in t for t in fragments(aws, "from-2026-03")) for i in old)
    assert all(any(f"/stories/{i}/" in t for t in fragments(aws, this_month())) for i in new)
    # Only what the JS API loads: no UI bundles, no wasm for other languages.
    names = {k.split("/", 2)[2] for k in objects(aws, "pagefind/") if k.count("/") >= 2}
    assert {"pagefind.js", "pagefind-worker.js", "wasm.en.pagefind", "pagefind-entry.json"} <= names
    assert not {n for n in names if "-ui" in n or "highlight" in n or n == "wasm.unknown.pagefind"}
    puts = publisher.puts
    assert wiring.site().render(RenderJob(page="search")) == []  # nothing changed, nothing written
    assert wiring.search_index().update([SearchJob(month=this_month())]) == {"uploaded": 0, "deleted": 0}
    assert publisher.puts == puts


def test_a_publication_rebuilds_its_own_shard_only_and_lists_no_bucket(aws, directory, monkeypatch):
    seed(4, start=MARCH)
    seed(1, start=datetime.fromisoformat(this_month() + "-01T08:00:00+00:00"))
    wiring.site().render(RenderJob(page="search"))
    seed(1, start=datetime.fromisoformat(this_month() + "-01T09:00:00+00:00"), tags=["parking"])
    index = wiring.search_index()
    monkeypatch.setattr(index._publisher, "etags", lambda *a: pytest.fail("the bucket was listed"))
    before = objects(aws)
    index.update([SearchJob(month=this_month())])
    after = objects(aws)
    changed = {k for k in before.keys() | after.keys() if before.get(k) != after.get(k)}
    assert page_count(aws, this_month()) == 2
    assert changed and all(
        k.startswith((f"pagefind/{this_month()}/", f"search/shards/{this_month()}.json", "pagefind/shards.json"))
        for k in changed
    ), changed
    assert len([k for k in changed if "/fragment/" in k]) == 1  # only the new story's fragment


# ---- the stream: what queues a search job -----------------------------------------------------


def test_a_read_receipt_and_a_response_queue_no_search_job(client, aws, pump, directory, monkeypatch):
    from tests.support.conversation import JSON_H, make_staff, publish_story, respond_link

    sid = publish_story(client, pump)
    token = respond_link(sid, make_staff())
    real = wiring.changes().handle
    queued: list = []

    def handle(record):
        jobs = real(record)
        queued.extend(jobs)
        return jobs

    monkeypatch.setattr(wiring.changes(), "handle", handle)
    assert client.http.post(f"/api/respond/{token}/read", body="{}", headers=JSON_H).status_code == 200
    pump.drain()
    text = "Thank you for telling us. We have talked with the night team about how we explain waits."
    assert client.http.post(f"/api/respond/{token}", body=json.dumps({"text": text}), headers=JSON_H).status_code < 300
    pump.drain()
    assert RenderJob(page="story", ref=sid) in queued  # both changed the story's page
    story = wiring.store().get_story(sid, consistent=True)
    assert story["first_read_at"] and story["first_response_at"]
    assert not [j for j in queued if isinstance(j, SearchJob) or getattr(j, "page", "") == "search"], queued


def test_an_edit_of_an_indexed_field_queues_its_months_shard(client, aws, pump, directory, monkeypatch):
    from tests.support.conversation import publish_story

    sid = publish_story(client, pump, title="A story about the porters")
    real = wiring.changes().handle
    queued: list = []

    def handle(record):
        jobs = real(record)
        queued.extend(jobs)
        return jobs

    monkeypatch.setattr(wiring.changes(), "handle", handle)
    wiring.store().change_status(sid, ["published"], {"title": "A story about the cleaners"})
    pump.drain()
    assert SearchJob(month=this_month()) in queued
    assert any("cleaners" in t for t in fragments(aws)) and not any("porters" in t for t in fragments(aws))


# ---- a story that leaves ------------------------------------------------------------------------


def test_a_withdrawn_story_loses_its_fragment_at_once_and_its_words_with_the_rebuild(client, aws, pump, directory):
    from tests.support.conversation import publish_story

    keep = publish_story(client, pump, title="Pelican crossing outside the clinic")
    gone = publish_story(client, pump, title="Zanzibar ward story", story="The zanzibar lounge was closed.")
    assert page_count(aws, this_month()) == 2  # the stream queued the search job on publication
    wiring.store().change_status(gone, ["published"], {"status": "withdrawn", "withdrawn_at": clock.iso()})
    # The stream and the render queue only: the search queue's rebuild has not run yet.
    pump.stream_once()
    pump.queue_once(aws.resources.render_queue_url, "render_worker")
    texts = fragments(aws)
    assert any(f"/stories/{keep}/" in t for t in texts) and not any(gone in t or "zanzibar" in t for t in texts)
    pump.drain()
    assert page_count(aws, this_month()) == 1
    everything = [readable(b).lower() for k, b in objects(aws).items() if k.startswith(("pagefind/", "search/"))]
    assert not [b for b in everything if b"zanzibar" in b or gone.encode() in b]
    assert any(keep.encode() in b for b in everything)


def test_a_story_back_on_the_site_gets_its_fragment_again(client, aws, pump, directory):
    from tests.support.conversation import publish_story

    sid = publish_story(client, pump, title="Quokka garden at the hospice")
    wiring.store().change_status(sid, ["published"], {"status": "withdrawn", "withdrawn_at": clock.iso()})
    pump.stream_once()
    pump.queue_once(aws.resources.render_queue_url, "render_worker")
    assert not fragments(aws)
    wiring.store().change_status(sid, ["withdrawn"], {"status": "published"})  # a console edit, say
    pump.drain()
    assert [t for t in fragments(aws) if f"/stories/{sid}/" in t]


def test_no_private_field_reaches_the_index(client, aws, pump, directory):
    from tests.support.conversation import AUTHOR, publish_story

    sid = publish_story(client, pump)
    everything = b"".join(readable(b) for b in objects(aws, "pagefind/").values())
    everything += b"".join(objects(aws, "search/shards/").values())
    assert AUTHOR.encode() not in everything and b"criticality" not in everything
    assert sid.encode() in everything


def test_the_search_page_works_without_javascript_and_has_the_usual_policy(aws, directory):
    wiring.site().render(RenderJob(page="search"))
    page = objects(aws, "search/index.html")["search/index.html"].decode()
    assert 'id="search-nojs"' in page and 'href="/atom.xml"' in page and 'href="/"' in page
    assert re.search(r'<form id="search-form"[^>]* hidden>', page)  # only script shows the form
    [src] = re.findall(r'<script type="module" src="(/search/search\.[0-9a-f]{12}\.js)"></script>', page)
    assert objects(aws, src[1:])[src[1:]].startswith(b"// The search page")
    csp = html.unescape(re.search(r'<meta http-equiv="Content-Security-Policy" content="([^"]*)">', page).group(1))
    # WebAssembly runs in Pagefind's worker, whose policy comes with its own response (CloudFront's
    # /pagefind/* headers): the page keeps the site's policy (test_the_search_page_in_chromium).
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp and "eval" not in csp


# ---- in a real browser: the merged shards find exactly the public stories -----------------------


def _serve(directory: str):
    import functools
    import threading
    from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer

    class Quiet(SimpleHTTPRequestHandler):
        extensions_map = {**SimpleHTTPRequestHandler.extensions_map, ".js": "text/javascript"}

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Quiet, directory=directory))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def _results(page) -> set[str]:
    return {a.get_attribute("href") for a in page.locator("#search-results li h2 a").all()}


def test_the_search_page_in_chromium_finds_exactly_the_public_stories(
    client, aws, pump, directory, small_shards, tmp_path
):
    import os

    from tests.support.conversation import publish_story
    from tests.support.live import CHROMIUM, CHROMIUM_ARGS

    if not os.path.exists(CHROMIUM):
        pytest.skip("Debian's chromium is not installed")
    from playwright.sync_api import sync_playwright

    march = seed(3, start=MARCH)  # the oldest frozen shard: searched on request
    may = seed(3, start=MAY)  # the newest frozen shard: searched with the hot one
    wiring.site().render(RenderJob(page="static"))
    wiring.site().render(RenderJob(page="search"))
    story = "We waited for marmalade toast at breakfast."
    kept = publish_story(client, pump, title="Kind porters", story=story)
    withdrawn = publish_story(client, pump, title="Tea trolley", story=story)
    erased = publish_story(client, pump, title="Night trolley", story=story)
    wiring.store().change_status(withdrawn, ["published"], {"status": "withdrawn", "withdrawn_at": clock.iso()})
    wiring.store().change_status(erased, ["published"], {"status": "erasing", "erase_requested_at": clock.iso()})
    pump.drain()
    assert [s["id"] for s in manifest(aws)["shards"]] == [this_month(), "from-2026-05", "from-2026-03"]
    for key, body in objects(aws).items():
        path = tmp_path / key
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(body)
    server = _serve(str(tmp_path))
    base = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            page = browser.new_page()
            errors = []
            page.on("console", lambda m: errors.append(m.text) if m.type == "error" and "404" not in m.text else None)
            missing = []
            page.on(
                "response",
                lambda r: missing.append(r.url) if r.status >= 400 and not r.url.endswith("/favicon.ico") else None,
            )
            requested = []
            page.on("request", lambda r: requested.append(r.url))
            page.goto(f"{base}/search/?q=marmalade")
            page.wait_for_selector("#search-results li", timeout=20000)
            # Under the page's own policy (no 'wasm-unsafe-eval'): the WebAssembly runs in the worker.
            assert f"{base}/pagefind/{this_month()}/pagefind-worker.js" in requested
            assert _results(page) == {f"/stories/{kept}/"}
            assert "1 story found" in page.locator("#search-status").inner_text()
            assert page.locator("#search-nojs").is_hidden() and page.locator("#search-form").is_visible()
            # Newest first: the hot shard and the newest frozen one; the oldest only on request.
            page.goto(f"{base}/search/?q=happened")
            page.wait_for_selector("#search-results li", timeout=20000)
            assert _results(page) == {f"/stories/{i}/" for i in may}
            assert not [u for u in requested if "/pagefind/from-2026-03/" in u]
            assert page.locator("#search-more").is_visible()
            page.click("#search-more button")
            page.wait_for_selector("#search-status:has-text('6 stories found')", timeout=20000)
            assert _results(page) == {f"/stories/{i}/" for i in may + march}
            assert page.locator("#search-more").is_hidden()
            page.goto(f"{base}/search/?q=zebra")
            page.wait_for_selector("#search-status:has-text('No stories found')", timeout=20000)
            assert errors == [] and missing == []
            nojs = browser.new_context(java_script_enabled=False).new_page()
            nojs.goto(f"{base}/search/?q=happened")
            assert nojs.locator("#search-nojs").is_visible() and nojs.locator("#search-form").is_hidden()
            browser.close()
    finally:
        server.shutdown()
