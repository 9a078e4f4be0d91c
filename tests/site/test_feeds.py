"""Feeds, tag pages and sitemaps, published through the real pipeline and read back from the bucket."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET

import feedparser
import pytest

from chalicelib import wiring
from chalicelib.core import aws as chalice_aws
from chalicelib.core.jobs import RenderJob
from chalicelib.store import tag_list
from tests.support import moto_state
from tests.support.env import SITE_URL
from tests.support.stories import publish, submit

EMAIL = "secret.author@example.org"
NASTY = "<script>alert(1)</script> Fish & chips ]]> at night"
SM = "{http://www.sitemaps.org/schemas/sitemap/0.9}"
TRUST_FEEDS = ("atom.xml", "feed.json", "services/riverside-trust/atom.xml", "services/riverside-trust/feed.json")


def body(aws, key: str) -> str:
    return aws.client("s3").get_object(Bucket=aws.resources.bucket, Key=key)["Body"].read().decode("utf-8")


def head(aws, key: str) -> dict:
    return aws.client("s3").head_object(Bucket=aws.resources.bucket, Key=key)


def keys(aws) -> set[str]:
    return {o["Key"] for o in aws.client("s3").list_objects_v2(Bucket=aws.resources.bucket).get("Contents", [])}


@moto_state.remembered
def tell_and_publish(client, pump, tags, criticality=5, **overrides) -> str:
    sid = submit(client, email=EMAIL, **overrides)
    pump.drain()
    publish(sid, tags=tags, criticality=criticality, note="MOD-ONLY-NOTE")
    pump.drain()
    return sid


def atom_ids(aws, key: str) -> list[str]:
    parsed = feedparser.parse(body(aws, key))
    assert not parsed.bozo, (key, parsed.get("bozo_exception"))
    assert parsed.version == "atom10", key
    return [e.id.rstrip("/").rsplit("/", 1)[-1] for e in parsed.entries]


def json_items(aws, key: str) -> list[dict]:
    """A JSON Feed 1.1, checked for the shape the spec requires; returns its items."""
    assert head(aws, key)["ContentType"] == "application/feed+json; charset=utf-8"
    feed = json.loads(body(aws, key))
    assert feed["version"] == "https://jsonfeed.org/version/1.1"
    assert isinstance(feed["title"], str) and feed["title"]
    assert feed["feed_url"] == f"{SITE_URL}/{key}" and feed["home_page_url"].startswith(SITE_URL)
    assert isinstance(feed["items"], list)
    for item in feed["items"]:
        assert isinstance(item["id"], str) and item["id"]
        assert item["url"].startswith(f"{SITE_URL}/stories/")
        assert isinstance(item["title"], str)
        assert isinstance(item.get("content_text") or item.get("summary"), str)
        assert item["date_published"].endswith("Z")
        assert all(isinstance(a["name"], str) for a in item["authors"])
        assert all(isinstance(t, str) for t in item["tags"])
    return feed["items"]


def json_ids(aws, key: str) -> list[str]:
    return [i["url"].rstrip("/").rsplit("/", 1)[-1] for i in json_items(aws, key)]


@pytest.fixture
def three(aws, client, pump, directory):
    """Three published stories, oldest first: two about Riverside's Ward 7, one about Hillside.
    Made once per worker (moto_state.kept)."""

    def build():
        first = tell_and_publish(client, pump, ["nursing", "night-care"], title="First: kind nurses")
        second = tell_and_publish(client, pump, ["food"], title=NASTY, services=["hillside-district-nursing"])
        third = tell_and_publish(
            client, pump, ["nursing"], title="Third: a long wait", role="carer", pseudonym="Carer C"
        )
        return first, second, third

    return moto_state.kept("feeds-three", build, pump)


@pytest.fixture
def s3_writes(aws):
    """The keys chalicelib's own S3 client puts and deletes (botocore's provide-client-params event
    sees each call's parameters; before-call, which the bench counts on, sees the HTTP request)."""
    written: list[str] = []

    def record(params, **_):
        written.append(params.get("Key", "?"))

    s3 = chalice_aws.client("s3")
    s3.meta.events.register("provide-client-params.s3.PutObject", record)
    s3.meta.events.register("provide-client-params.s3.DeleteObject", record)
    return written


# ---- feeds --------------------------------------------------------------------------------------


def test_every_feed_parses_and_lists_newest_first(aws, three):
    first, second, third = three
    assert atom_ids(aws, "atom.xml") == json_ids(aws, "feed.json") == [third, second, first]
    for slug in ("riverside-ward-7", "riverside-general", "riverside-trust"):  # a service's feed holds its subtree
        assert (
            atom_ids(aws, f"services/{slug}/atom.xml") == json_ids(aws, f"services/{slug}/feed.json") == [third, first]
        )
    assert atom_ids(aws, "services/hillside-trust/atom.xml") == [second]
    assert atom_ids(aws, "tags/nursing/atom.xml") == json_ids(aws, "tags/nursing/feed.json") == [third, first]
    assert atom_ids(aws, "tags/food/atom.xml") == [second]
    assert head(aws, "atom.xml")["ContentType"] == "application/atom+xml; charset=utf-8"


def test_an_entry_carries_title_link_dates_author_and_tags(aws, three):
    first, _second, third = three
    parsed = feedparser.parse(body(aws, "services/riverside-ward-7/atom.xml"))
    assert parsed.feed.link == f"{SITE_URL}/services/riverside-ward-7/"
    newest = parsed.entries[0]
    assert newest.title == "Third: a long wait"
    assert newest.link == newest.id == f"{SITE_URL}/stories/{third}/"
    assert newest.author == "Carer C, a carer"
    assert newest.published == newest.updated and newest.published_parsed
    assert "I was admitted at night with chest pain." in newest.summary
    assert [t.term for t in newest.tags] == ["nursing"]
    assert sorted(t.term for t in parsed.entries[1].tags) == ["night-care", "nursing"]
    assert parsed.feed.updated == newest.updated  # the feed is as new as its newest entry
    item = json_items(aws, "feed.json")[0]
    assert item["authors"] == [{"name": "Carer C, a carer"}] and item["tags"] == ["nursing"]
    assert item["date_published"] == newest.published


def test_a_title_with_markup_is_escaped_in_both_formats(aws, three):
    _first, second, _third = three
    raw = body(aws, "atom.xml")
    assert "<script>" not in raw and "&lt;script&gt;" in raw and "Fish &amp; chips ]]&gt;" in raw
    entry = next(e for e in feedparser.parse(raw).entries if e.id.endswith(f"/{second}/"))
    assert entry.title == NASTY and entry.title_detail.type == "text/plain"
    item = next(i for i in json_items(aws, "feed.json") if i["url"].endswith(f"/{second}/"))
    assert item["title"] == NASTY
    ET.fromstring(raw.encode())  # well-formed


def test_no_feed_or_sitemap_carries_anything_private(aws, three):
    for key in keys(aws):
        if key.endswith((".xml", ".json")):
            text = body(aws, key)
            for secret in (EMAIL, "MOD-ONLY-NOTE", "criticality", "mod@example.org", "has_contact"):
                assert secret not in text, (key, secret)


# ---- tag pages ---------------------------------------------------------------------------------


def test_tag_page_lists_its_stories_newest_first_and_links_its_feeds(aws, three):
    first, second, third = three
    html = body(aws, "tags/nursing/index.html")
    assert head(aws, "tags/nursing/index.html")["ContentType"] == "text/html; charset=utf-8"
    assert "<h1>Stories about nursing</h1>" in html
    assert html.index(f'href="/stories/{third}/"') < html.index(f'href="/stories/{first}/"')
    assert f"/stories/{second}/" not in html
    assert '<link rel="alternate" type="application/atom+xml" href="/tags/nursing/atom.xml"' in html
    assert '<link rel="alternate" type="application/feed+json" href="/tags/nursing/feed.json"' in html
    assert "night care" in body(aws, "tags/night-care/index.html")
    story = body(aws, f"stories/{first}/index.html")
    assert 'href="/tags/nursing/">nursing</a>' in story and 'href="/tags/night-care/">night care</a>' in story


def test_home_and_service_pages_link_their_feeds_in_the_head(aws, three):
    home = body(aws, "index.html")
    assert '<link rel="alternate" type="application/atom+xml" href="/atom.xml"' in home
    assert '<link rel="alternate" type="application/feed+json" href="/feed.json"' in home
    ward = body(aws, "services/riverside-ward-7/index.html")
    head_html = ward.split("</head>")[0]
    assert (
        'href="/services/riverside-ward-7/atom.xml"' in head_html
        and 'href="/services/riverside-ward-7/feed.json"' in head_html
    )


def test_a_withdrawn_story_leaves_the_feeds_tag_pages_and_sitemap(aws, pump, three):
    first, second, third = three
    aws.client("dynamodb").update_item(
        TableName=aws.resources.table,
        Key={"PK": {"S": f"STORY#{third}"}, "SK": {"S": "STORY"}},
        UpdateExpression="SET #s = :w",
        ExpressionAttributeNames={"#s": "status"},
        ExpressionAttributeValues={":w": {"S": "withdrawn"}},
    )
    pump.drain()
    assert atom_ids(aws, "atom.xml") == json_ids(aws, "feed.json") == [second, first]
    assert atom_ids(aws, "services/riverside-trust/atom.xml") == [first]
    assert atom_ids(aws, "tags/nursing/atom.xml") == json_ids(aws, "tags/nursing/feed.json") == [first]
    assert third not in body(aws, "tags/nursing/index.html")
    assert f"{SITE_URL}/stories/{third}/" not in sitemap_urls(aws)
    assert f"{SITE_URL}/stories/{first}/" in sitemap_urls(aws)


def test_a_tag_whose_stories_all_went_keeps_a_valid_empty_page_and_feeds(aws, client, pump, directory):
    sid = tell_and_publish(client, pump, ["parking"])
    # An admin takes the tag off in the console: the story leaves the tag's listing.
    aws.client("dynamodb").update_item(
        TableName=aws.resources.table,
        Key={"PK": {"S": f"STORY#{sid}"}, "SK": {"S": "STORY"}},
        UpdateExpression="SET tags = :none",
        ExpressionAttributeValues={":none": {"L": []}},
    )
    pump.drain()
    assert wiring.store().listing(tag_list("parking"), 10) == []
    assert atom_ids(aws, "tags/parking/atom.xml") == [] and json_items(aws, "tags/parking/feed.json") == []
    assert "No stories about parking are published at the moment." in body(aws, "tags/parking/index.html")
    assert 'href="/tags/parking/"' not in body(aws, f"stories/{sid}/index.html")


# ---- incremental publishing ----------------------------------------------------------------------


def test_publishing_one_more_story_writes_a_bounded_known_set_of_objects(aws, client, pump, three, s3_writes):
    sid = submit(client, email=EMAIL)
    pump.drain()
    s3_writes.clear()
    publish(sid, tags=["nursing"])
    pump.drain()
    month = wiring.store().get_story(sid)["published_at"][:7]
    feeds = ("index.html", "atom.xml", "feed.json")
    expected = {
        f"stories/{sid}/index.html",
        "index.html",
        "atom.xml",
        "feed.json",
        "sitemap.xml",
        "sitemaps/tags.xml",
        f"sitemaps/stories-{month}.xml",
    }
    expected |= {
        f"services/{s}/{k}" for s in ("riverside-ward-7", "riverside-general", "riverside-trust") for k in feeds
    }
    expected |= {f"tags/nursing/{k}" for k in feeds}
    # The newest page of the month's archive of each listing the story is on (test_browse.py).
    expected |= {
        f"{p}{month}/index.html"
        for p in (
            "archive/",
            "tags/nursing/",
            "services/riverside-ward-7/",
            "services/riverside-general/",
            "services/riverside-trust/",
        )
    }
    expected |= {f"cy/{k}" for k in expected if k.endswith("index.html")}  # every page in Welsh too (issue 19)
    assert (
        set(s3_writes) - {k for k in s3_writes if "/widget/" in k or k.startswith("pagefind/")}
        == expected | {f"search/shards/{month}.json"}  # the month's search shard's file manifest
    )  # the widget: test_widget.py
    # The search index (test_search.py): in the month's shard only, the new story's fragment, the
    # index chunks its words are in, and the entry and meta files (the old meta is deleted); and
    # the manifest's count. Only files whose content changed are written.
    index = {k for k in s3_writes if k.startswith("pagefind/")}
    hot = f"pagefind/{month}/"
    assert len([k for k in index if k.startswith(hot + "fragment/")]) == 1
    assert f"{hot}pagefind-entry.json" in index and all(
        k.startswith((hot + "index/", hot + "fragment/", hot + "pagefind")) or k == "pagefind/shards.json"
        for k in index
    ), index
    assert not any(k.endswith((".js", ".css", ".pagefind")) for k in index)  # the loader and the wasm stay as they were
    # Nothing about another tag, another organisation or another story is touched.
    assert not any(k.startswith(("tags/food/", "tags/night-care/", "services/hillside")) for k in s3_writes)


def test_a_job_run_twice_writes_the_same_bytes(aws, three):
    site = wiring.site()
    for job in (
        RenderJob(page="home"),
        RenderJob(page="tag", ref="nursing"),
        RenderJob(page="service", ref="riverside-trust"),
        RenderJob(page="sitemap", ref=sitemap_months(aws)[0]),
    ):
        assert site.build(job) == site.build(job)
    first = site.rebuild_all()
    assert site.rebuild_all()["uploaded"] == 0 and first["jobs"] >= 2 + 6 + 3 + 3 + 1


# ---- sitemaps and robots.txt ----------------------------------------------------------------------


def sitemap_months(aws) -> list[str]:
    return sorted(
        k.removeprefix("sitemaps/stories-").removesuffix(".xml") for k in keys(aws) if k.startswith("sitemaps/stories-")
    )


def sitemap_urls(aws) -> set[str]:
    """Every URL in sitemap.xml's children. The pages' child comes from the static job (run at deploy)."""
    wiring.site().render(RenderJob(page="static"))
    index = ET.fromstring(body(aws, "sitemap.xml").encode())
    assert index.tag == f"{SM}sitemapindex"
    urls: set[str] = set()
    for loc in index.iter(f"{SM}loc"):
        assert loc.text.startswith(f"{SITE_URL}/sitemaps/")
        child = ET.fromstring(body(aws, loc.text.removeprefix(f"{SITE_URL}/")).encode())
        assert child.tag == f"{SM}urlset"
        urls |= {u.text for u in child.iter(f"{SM}loc")}
    return urls


def test_sitemap_lists_home_form_services_stories_and_tags(aws, three):
    urls = sitemap_urls(aws)
    assert {f"{SITE_URL}/stories/{s}/" for s in three} <= urls
    assert {
        f"{SITE_URL}/",
        f"{SITE_URL}/tell-your-story/",
        f"{SITE_URL}/services/riverside-ward-7/",
        f"{SITE_URL}/services/hillside-trust/",
    } <= urls
    assert {f"{SITE_URL}/tags/{t}/" for t in ("nursing", "night-care", "food")} <= urls
    assert head(aws, "sitemap.xml")["ContentType"] == "application/xml; charset=utf-8"


def test_robots_txt_names_the_sitemap(aws, directory):
    wiring.site().render(RenderJob(page="static"))
    robots = body(aws, "robots.txt")
    assert f"Sitemap: {SITE_URL}/sitemap.xml" in robots.splitlines()
    assert "User-agent: *" in robots
