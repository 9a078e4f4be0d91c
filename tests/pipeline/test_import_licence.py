"""An imported item from a source not licensed for republication never reaches the public (issue 21), even
once a moderator publishes it: through the real stream → render, search and mail path (moto, the pump),
every object in the site bucket (pages, Atom and JSON feeds, sitemaps, the widget, the Pagefind index,
gzip'd data unpacked), the public JSON API's answers, and after a full rebuild too. Staff still hear of
it (the alert). A licensed item, imported and published the same way, is found by the same scan: the
scan can fail."""

from __future__ import annotations

import gzip
import json

import pytest

from chalicelib import wiring
from chalicelib.moderation import Moderator
from tests.support import mailbox
from tests.support.conversation import STAFF, make_staff, respond_link
from tests.support.feed_server import FeedServer

pytest.importorskip("pagefind_bin")

MOD = Moderator("mod@example.org", "Mo Derator")
SECRET = "quagmirelantern"  # the unlicensed item's own word
KEEP = "pelicanharbour"  # the licensed item's
WORDS = "The staff on the ward were kind and explained every step of the treatment."


def feed(word: str) -> str:
    item = {
        "id": f"urn:{word}:1",
        "url": f"https://reviews.example.org/{word}",
        "title": f"The {word} ward",
        "content_text": f"{WORDS} The {word} room was calm.",
        "date_published": "2026-11-02T10:00:00Z",
    }
    return json.dumps({"version": "https://jsonfeed.org/version/1.1", "title": "Reviews", "items": [item]})


def everything_public(aws, client, story_ids: list[str]) -> dict[str, str]:
    """What the public can read: every object in the bucket (gzip'd search data unpacked), and the public
    API's answers about the stories and their service."""
    s3 = aws.client("s3")
    out: dict[str, str] = {}
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=aws.resources.bucket):
        for o in page.get("Contents", []):
            body = s3.get_object(Bucket=aws.resources.bucket, Key=o["Key"])["Body"].read()
            if body[:2] == b"\x1f\x8b":
                body = gzip.decompress(body)
            out[o["Key"]] = body.decode("utf-8", "replace").lower()
    paths = [
        "/api/public/stories",
        "/api/public/stories?service=riverside-ward-7",
        "/api/public/services/riverside-ward-7",
    ]
    for path in paths + [f"/api/public/stories/{sid}" for sid in story_ids]:
        resp = client.http.get(path)
        out[f"api:{path}"] = f"{resp.status_code} {resp.body.decode()}".lower()
    return out


def found(outputs: dict[str, str], word: str) -> list[str]:
    return sorted(k for k, v in outputs.items() if word in v)


def test_an_unlicensed_item_published_by_a_moderator_reaches_staff_and_no_public_output(aws, client, pump, directory):
    staff_member = make_staff()  # a responder of Ward 7, alerted at once
    importer = wiring.importer()
    with FeedServer() as server:
        for word, licensed in ((SECRET, False), (KEEP, True)):
            importer.add_source(
                {
                    "slug": word,
                    "name": "NHS website reviews",
                    "organisation": "riverside-trust",
                    "kind": "json_feed",
                    "location": server.serve(f"/{word}.json", feed(word)),
                    "service": "riverside-ward-7",
                    "licensed": licensed,
                }
            )
            assert importer.run(word).line() == "1 imported, 0 updated, 0 unchanged, 0 refused"
    pump.drain()
    queued = {s["title"]: s for s in wiring.moderation().queue()}
    ids = {word: queued[f"The {word} ward"]["id"] for word in (SECRET, KEEP)}
    assert all(queued[f"The {w} ward"]["route"] == "import" for w in (SECRET, KEEP))
    for sid in ids.values():
        version = wiring.store().get_story(sid, consistent=True)["version"]
        wiring.moderation().decide(sid, {"action": "publish", "version": version, "criticality": 2}, MOD)
    pump.drain()

    staff = wiring.store().get_story(ids[SECRET], consistent=True)
    assert staff["status"] == "published" and staff["staff_only"] is True  # published, for staff only
    alerts = [m for m in mailbox.to(STAFF["email"]) if SECRET in mailbox.text_of(m).lower()]
    assert alerts, "staff are alerted to an unlicensed story like any other"
    page = client.http.get(f"/api/respond/{respond_link(ids[SECRET], staff_member)}").body.decode().lower()
    assert SECRET in page and "for staff only: its source is not licensed for republication." in page
    assert f"/stories/{ids[SECRET]}/" not in page  # no link to a public page it does not have

    after = everything_public(aws, client, list(ids.values()))
    assert found(after, SECRET) == []
    assert after[f"api:/api/public/stories/{ids[SECRET]}"].startswith("404")
    kept = found(after, KEEP)  # the licensed one is everywhere the scan looks: the scan can fail
    assert f"stories/{ids[KEEP]}/index.html" in kept and f"api:/api/public/stories/{ids[KEEP]}" in kept
    assert any(k.startswith("pagefind/") for k in kept) and any(k.endswith(".xml") for k in kept)
    assert any("feed" in k and k.endswith(".json") for k in kept)
    assert (
        f'from nhs website reviews (<a href="https://reviews.example.org/{KEEP}"'
        in after[f"stories/{ids[KEEP]}/index.html"]
    )

    wiring.site().rebuild_all()  # a full rebuild takes what is public from the same test
    pump.drain()
    rebuilt = everything_public(aws, client, list(ids.values()))
    assert found(rebuilt, SECRET) == [] and found(rebuilt, KEEP)
