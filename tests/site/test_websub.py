"""WebSub (issue 21): the feeds announce a hub and the render worker pings it once the feeds are written,
so a subscriber is told within the render cycle of a publication. The hub here is a real HTTP server on
127.0.0.1 that does what a hub does on a ping: fetches each feed named (from the bucket) and hands what it
found to its subscriber."""

from __future__ import annotations

import json
import threading
import xml.etree.ElementTree as ET
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs

import pytest

from chalicelib import wiring
from tests.support.conversation import publish_story

ATOM = "{http://www.w3.org/2005/Atom}"


class Hub:
    """Takes `hub.mode=publish` pings; for each feed named, fetches it there and then and delivers it."""

    def __init__(self, aws: Any, site_url: str, status: int = 204):
        self.delivered: list[tuple[str, bytes]] = []  # what the subscriber got: (feed url, feed as fetched)
        self.pings: list[dict[str, list[str]]] = []
        s3, bucket, hub = aws.client("s3"), aws.resources.bucket, self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802
                form = parse_qs(self.rfile.read(int(self.headers.get("Content-Length", "0"))).decode())
                hub.pings.append(form)
                for url in form.get("hub.url", []):
                    key = url.removeprefix(site_url.rstrip("/") + "/")
                    hub.delivered.append((url, s3.get_object(Bucket=bucket, Key=key)["Body"].read()))
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}/"
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()


@pytest.fixture
def hub(aws, monkeypatch):
    made = Hub(aws, wiring.get_settings().site_url)
    monkeypatch.setenv("FF_WEBSUB_HUB", made.url)
    wiring.reset()
    yield made
    made.close()


def test_a_subscriber_hears_of_a_publication_within_its_render_cycle(aws, client, pump, directory, hub):
    story_id = publish_story(client, pump, title="Kind night staff on Ward 7")
    site = wiring.get_settings().site_url.rstrip("/")
    got = {url: feed for url, feed in hub.delivered if story_id.encode() in feed}
    # Every feed the story is in: the site's, its ward's and the services above, each in Atom and JSON.
    for prefix in ("", "services/riverside-ward-7/", "services/riverside-trust/"):
        assert f"{site}/{prefix}atom.xml" in got and f"{site}/{prefix}feed.json" in got, sorted(got)
    # The ping came after the write: what the hub fetched already held the story.
    atom = ET.fromstring(got[f"{site}/atom.xml"])
    assert any(story_id in (e.findtext(f"{ATOM}id") or "") for e in atom.iter(f"{ATOM}entry"))
    assert [link.get("href") for link in atom.iter(f"{ATOM}link") if link.get("rel") == "hub"] == [hub.url]
    assert json.loads(got[f"{site}/feed.json"])["hubs"] == [{"type": "WebSub", "url": hub.url}]
    assert all(p["hub.mode"] == ["publish"] for p in hub.pings)
    # Nothing but feeds is announced.
    assert all(url.endswith(("atom.xml", "feed.json")) for url, _ in hub.delivered)


def test_a_hub_that_fails_costs_the_render_nothing(aws, client, pump, directory, monkeypatch):
    monkeypatch.setenv("FF_WEBSUB_HUB", "http://127.0.0.1:9/")  # nothing listens on the discard port
    wiring.reset()
    story_id = publish_story(client, pump)  # the pump fixture fails the test on any handler failure
    s3 = aws.client("s3")
    page = s3.get_object(Bucket=aws.resources.bucket, Key=f"stories/{story_id}/index.html")["Body"].read()
    assert b"<html" in page


def test_without_a_hub_no_feed_names_one(aws, client, pump, directory):
    publish_story(client, pump)
    s3 = aws.client("s3")
    atom = s3.get_object(Bucket=aws.resources.bucket, Key="atom.xml")["Body"].read()
    feed = json.loads(s3.get_object(Bucket=aws.resources.bucket, Key="feed.json")["Body"].read())
    assert b'rel="hub"' not in atom and "hubs" not in feed
