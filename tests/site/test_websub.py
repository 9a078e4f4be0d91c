"""WebSub (issue 21): the feeds announce a hub and the render worker pings it once the feeds are written,
so a subscriber is told within the render cycle of a publication. The hub here is a real HTTP server on
127.0.0.1 that does what a hub does on a ping: fetches each feed named (from the bucket) and hands what it
found to its subscriber."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from types import SimpleNamespace
from urllib.parse import parse_qs

import pytest

from chalicelib import wiring
from tests.support.conversation import publish_story
from tests.support.receiver import Receiver

ATOM = "{http://www.w3.org/2005/Atom}"


@pytest.fixture
def hub(aws, monkeypatch):
    """A hub on 127.0.0.1: on each `hub.mode=publish` ping it fetches every feed named, there and then,
    as a hub does before telling its subscribers; `hub.delivered` is what they got (feed url, feed)."""
    site_url = wiring.get_settings().site_url.rstrip("/")
    s3, bucket = aws.client("s3"), aws.resources.bucket
    delivered: list[tuple[str, bytes]] = []

    def fetch(body: bytes) -> None:
        for url in parse_qs(body.decode()).get("hub.url", []):
            key = url.removeprefix(site_url + "/")
            delivered.append((url, s3.get_object(Bucket=bucket, Key=key)["Body"].read()))

    with Receiver([204], on_post=fetch) as made:
        monkeypatch.setenv("FF_WEBSUB_HUB", made.url)
        wiring.reset()
        yield SimpleNamespace(
            url=made.url, delivered=delivered, pings=lambda: [parse_qs(g["body"].decode()) for g in made.got]
        )


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
    assert hub.pings() and all(p["hub.mode"] == ["publish"] for p in hub.pings())
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
