"""Static search with Pagefind: the index is built from published stories, uploads only what
changed, and forgets a withdrawn story."""

from __future__ import annotations

import html
import json
import re

import pytest

from chalicelib import wiring
from chalicelib.core import clock
from chalicelib.core.jobs import RenderJob
from tests.support.published import seed

pytest.importorskip("pagefind_bin")


def objects(aws, prefix: str = "") -> dict[str, bytes]:
    s3 = aws.client("s3")
    listed = s3.list_objects_v2(Bucket=aws.resources.bucket, Prefix=prefix).get("Contents", [])
    return {o["Key"]: s3.get_object(Bucket=aws.resources.bucket, Key=o["Key"])["Body"].read() for o in listed}


def page_count(aws) -> int:
    entry = json.loads(objects(aws, "pagefind/pagefind-entry.json")["pagefind/pagefind-entry.json"])
    return sum(lang["page_count"] for lang in entry["languages"].values())


def fragments(aws) -> list[str]:
    """The text of every indexed page (Pagefind's fragments: gzip'd JSON after a signature)."""
    import gzip

    out = []
    for body in objects(aws, "pagefind/fragment/").values():
        data = gzip.decompress(body)
        out.append(data[data.index(b"{") :].decode())
    return out


def test_the_index_holds_every_published_story_and_a_second_run_uploads_nothing(aws, directory):
    ids = seed(12, tags=["nursing"])
    publisher = wiring.site()._publisher
    first = wiring.site().render(RenderJob(page="search"))
    assert "search/index.html" in first and "pagefind/pagefind-entry.json" in first and "pagefind/pagefind.js" in first
    assert page_count(aws) == 12
    texts = fragments(aws)
    assert len(texts) == 12
    assert all(any(f"/stories/{i}/" in t for t in texts) for i in ids)
    assert any("Ward 7 (Acute Medicine)" in t and "Story 3 about riverside-ward-7" in t for t in texts)
    puts = publisher.puts
    assert wiring.site().render(RenderJob(page="search")) == []  # nothing changed, nothing written
    assert publisher.puts == puts
    # The full rebuild runs the job too, and finds nothing to upload there either.
    counts = wiring.site().rebuild_all()
    assert counts["jobs"] > 3
    assert not any(
        k.startswith(("pagefind/", "search/")) for k in _uploaded_during(aws, lambda: wiring.site().rebuild_all())
    )


def _uploaded_during(aws, action) -> list[str]:
    before = {k: v for k, v in objects(aws).items()}
    action()
    after = objects(aws)
    return [k for k, v in after.items() if before.get(k) != v]


def test_one_more_story_changes_a_few_files_and_stale_ones_go(aws, directory):
    seed(5)
    wiring.site().render(RenderJob(page="search"))
    before = set(objects(aws, "pagefind/"))
    seed(1, tags=["parking"])
    written = wiring.site().render(RenderJob(page="search"))
    after = set(objects(aws, "pagefind/"))
    assert page_count(aws) == 6
    assert set(written) == (after - before) | (before - after) | {"pagefind/pagefind-entry.json"}
    assert before - after, "the old index and meta files are deleted"
    assert len([k for k in written if k.startswith("pagefind/fragment/")]) == 1  # only the new story's fragment
    assert all(k.startswith("pagefind/") for k in written)


def test_a_withdrawn_story_leaves_the_index(client, aws, pump, directory):
    from tests.support.conversation import publish_story

    keep = publish_story(client, pump)
    gone = publish_story(client, pump, title="A story that will be withdrawn")
    assert page_count(aws) == 2  # the stream queued the search job on publication
    wiring.store().change_status(gone, ["published"], {"status": "withdrawn", "withdrawn_at": clock.iso()})
    pump.drain()
    assert page_count(aws) == 1
    texts = fragments(aws)
    assert any(f"/stories/{keep}/" in t for t in texts) and not any(gone in t for t in texts)


def test_no_private_field_reaches_the_index(client, aws, pump, directory):
    from tests.support.conversation import AUTHOR, publish_story

    sid = publish_story(client, pump)
    everything = b"".join(objects(aws, "pagefind/").values()) + b"".join(t.encode() for t in fragments(aws))
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


# ---- in a real browser: the page finds stories with JavaScript, and says where to look without it ----


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


def test_the_search_page_in_chromium(aws, directory, tmp_path):
    import os

    from tests.support.live import CHROMIUM, CHROMIUM_ARGS

    if not os.path.exists(CHROMIUM):
        pytest.skip("Debian's chromium is not installed")
    from playwright.sync_api import sync_playwright

    seed(3, tags=["nursing"])
    wiring.site().render(RenderJob(page="static"))
    wiring.site().render(RenderJob(page="search"))
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
            page.goto(f"{base}/search/?q=happened")
            page.wait_for_selector("#search-results li", timeout=20000)
            # Under the page's own policy (no 'wasm-unsafe-eval'): the WebAssembly runs in the worker.
            assert f"{base}/pagefind/pagefind-worker.js" in requested
            assert page.locator("#search-results li").count() == 3
            assert "3 stories found" in page.locator("#search-status").inner_text()
            assert page.locator("#search-nojs").is_hidden() and page.locator("#search-form").is_visible()
            assert page.locator("#search-results li a").first.get_attribute("href").startswith("/stories/")
            page.goto(f"{base}/search/?q=zebra")
            page.wait_for_selector("#search-status:has-text('No stories found')", timeout=20000)
            assert errors == [] and missing == []
            nojs = browser.new_context(java_script_enabled=False).new_page()
            nojs.goto(f"{base}/search/?q=happened")
            assert nojs.locator("#search-nojs").is_visible() and nojs.locator("#search-form").is_hidden()
            browser.close()
    finally:
        server.shutdown()
