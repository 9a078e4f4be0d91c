"""Browsing: service, home and tag pages with their figures and chart, and the month archives
whose pages never shift when a story is published."""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from html.parser import HTMLParser

import pytest

from chalicelib import wiring
from chalicelib.changes import listing_entry
from chalicelib.core import aws as chalice_aws
from chalicelib.core import clock
from chalicelib.core.jobs import RenderJob
from chalicelib.moderation import Moderator
from chalicelib.site import charts
from chalicelib.store import EVERYTHING, month_list, tag_list
from tests.support import moto_state
from tests.support.factories import story_body

SVG = "{http://www.w3.org/2000/svg}"
WARD_PATH = ["riverside-trust", "riverside-general", "riverside-ward-7"]


# ---- helpers ----------------------------------------------------------------------------------


@moto_state.remembered
def tell_and_publish(client, pump, title: str = "A story", tags=("nursing",)) -> str:
    body = story_body(services=["riverside-ward-7"], title=title)
    resp = client.http.post("/api/stories", body=json.dumps(body), headers={"Content-Type": "application/json"})
    assert resp.status_code == 201, resp.body
    sid = json.loads(resp.body)["id"]
    pump.drain()
    wiring.moderation().decide(
        sid, {"action": "publish", "version": 1, "criticality": 1, "tags": list(tags)}, Moderator("mod", "Mod")
    )
    pump.drain()
    return sid


def body(aws, key: str) -> str:
    return aws.client("s3").get_object(Bucket=aws.resources.bucket, Key=key)["Body"].read().decode("utf-8")


def keys(aws) -> set[str]:
    resp = aws.client("s3").list_objects_v2(Bucket=aws.resources.bucket)
    return {o["Key"] for o in resp.get("Contents", [])}


class Figures(HTMLParser):
    """The <dt>/<dd> pairs of a page, and the story titles of its lists."""

    def __init__(self):
        super().__init__()
        self.pairs: dict[str, str] = {}
        self.titles: list[str] = []
        self._tag, self._dt, self._in_title = None, None, False

    def handle_starttag(self, tag, attrs):
        if tag in ("dt", "dd"):
            self._tag = tag
            if tag == "dd":
                self.pairs[self._dt] = ""
        cls = dict(attrs).get("class") or ""
        if "story-card__title" in cls:
            self._in_title = True
            self.titles.append("")

    def handle_endtag(self, tag):
        if tag in ("dt", "dd"):
            self._tag = None
        if tag.startswith("h") and self._in_title:
            self._in_title = False

    def handle_data(self, data):
        if self._tag == "dt":
            self._dt = data.strip()
        elif self._tag == "dd":
            self.pairs[self._dt] += data.strip()
        if self._in_title:
            self.titles[-1] += data.strip()


def parse(html: str) -> Figures:
    p = Figures()
    p.feed(html)
    return p


@pytest.fixture
def s3_writes(aws):
    written: list[str] = []

    def record(params, **_):
        written.append(params.get("Key", "?"))

    s3 = chalice_aws.client("s3")
    s3.meta.events.register("provide-client-params.s3.PutObject", record)
    s3.meta.events.register("provide-client-params.s3.DeleteObject", record)
    return written


# ---- figures on pages ---------------------------------------------------------------------------


def test_service_and_home_pages_show_the_figures(aws, client, pump, directory):
    first = tell_and_publish(client, pump, "First")
    tell_and_publish(client, pump, "Second")
    store = wiring.store()
    at = store.get_story(first)["published_at"]
    moment = clock.parse(at)
    store.mark_progress(
        first, "first_response_at", clock.iso(moment.replace(microsecond=0) + __import__("datetime").timedelta(hours=5))
    )
    pump.drain()
    for key in ("services/riverside-trust/index.html", "services/riverside-ward-7/index.html", "index.html"):
        f = parse(body(aws, key)).pairs
        assert f["Stories published"] == "2", key
        assert f["Responded to"] == "50% (1 of 2)", key
        assert f["Typical time to a first response"] in ("5 hours", "6 hours"), key
        assert f["Waiting past the promised time now"] == "0"
        assert f["Changes planned"] == "0" and f["Changes made"] == "0"
    # Another organisation's page has no figures to show.
    wiring.site().render(RenderJob(page="service", ref="hillside-trust"))
    html = body(aws, "services/hillside-trust/index.html")
    assert "Stories published" not in parse(html).pairs and "no figures to show" in html


def test_the_chart_is_well_formed_svg_with_one_bar_a_month(aws, client, pump, directory):
    tell_and_publish(client, pump)
    html = body(aws, "services/riverside-trust/index.html")
    svgs = re.findall(r"<svg.*?</svg>", html, re.S)
    assert len(svgs) == 1
    svg = ET.fromstring(svgs[0])
    assert svg.get("role") == "img" and svg.find(f"{SVG}title") is not None and svg.find(f"{SVG}desc") is not None
    assert set(svg.get("aria-labelledby").split()) == {
        svg.find(f"{SVG}title").get("id"),
        svg.find(f"{SVG}desc").get("id"),
    }
    bars = [r for r in svg.iter(f"{SVG}rect") if r.get("class") == "chart__bar"]
    months = charts.last_months(clock.now())
    assert [b.get("data-month") for b in bars] == months
    this_month = [b for b in bars if b.get("data-month") == months[-1]][0]
    assert float(this_month.get("height")) > 0 and all(float(b.get("height")) == 0 for b in bars[:-1])
    assert "style=" not in svgs[0]
    # The same figures as a table, for screen readers.
    assert re.search(r"<caption>Stories published each month", html)
    assert f'<th scope="row">{charts.months_view(months, {})[-1]["label"]}</th><td>1</td>' in html


def test_bar_chart_scales_to_the_highest_month():
    rows = charts.months_view(["2026-01", "2026-02", "2026-03"], {"2026-01": 3, "2026-02": 0, "2026-03": 12})
    svg = ET.fromstring(str(charts.bar_chart(rows, "c", "T <&>", "D")))
    heights = [float(r.get("height")) for r in svg.iter(f"{SVG}rect")]
    assert heights[1] == 0 and heights[0] < heights[2] and svg.find(f"{SVG}title").text == "T <&>"


# ---- stable pagination --------------------------------------------------------------------------


@pytest.fixture
def small_pages(aws, monkeypatch):
    monkeypatch.setenv("FF_STORIES_PER_PAGE", "2")
    wiring.reset()


def seed_old_month(n: int, month: str = "2025-01") -> list[str]:
    """n published stories about Ward 7 in an old month, loaded as bench does (with their counters)."""
    rows = []
    for i in range(n):
        story = {
            "id": f"OLD{i:03d}",
            "status": "published",
            "version": 2,
            "title": f"Old story {i}",
            "story": "Long ago.",
            "pseudonym": "P",
            "role": "patient",
            "published_at": f"{month}-{10 + i:02d}T09:00:00.000Z",
            "services": ["riverside-ward-7"],
            "tags": ["nursing"],
        }
        rows.append((story, listing_entry(story), [*WARD_PATH, EVERYTHING, tag_list("nursing"), month_list(month)]))
    wiring.store().put_published(rows)
    wiring.store().register_names("months", [month])
    return [r[0]["id"] for r in rows]


def test_publishing_renders_a_bounded_set_of_pages_and_older_pages_never_change(
    aws, client, pump, directory, small_pages, s3_writes
):
    seed_old_month(5)
    pump.drain()  # the stream sees the loaded stories too (their facts are already counted: a no-op)
    site = wiring.site()
    for listing in (*WARD_PATH, EVERYTHING, "tag:nursing"):
        site.render(RenderJob(page="archive", ref=f"{listing}/2025-01"))
    old_keys = sorted(k for k in keys(aws) if "/2025-01/" in k or k.startswith("archive/2025-01/"))
    # Five listings, three pages each, in English and in Welsh (issue 19).
    assert "services/riverside-trust/2025-01/3/index.html" in old_keys and len(old_keys) == 5 * 3 * 2
    before = {k: body(aws, k) for k in old_keys}
    page1 = parse(before["services/riverside-trust/2025-01/index.html"]).titles
    assert page1 == ["Old story 0", "Old story 1"]  # the oldest two, oldest first (issue 20: it said "Newest first")
    lead = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", "", before["services/riverside-trust/2025-01/index.html"]))
    assert "in the order they were published: oldest first." in lead and "Newest first" not in lead

    month = clock.now().strftime("%Y-%m")
    archive_writes = []
    for i in range(6):  # 3 × the page size
        s3_writes.clear()
        tell_and_publish(client, pump, f"New story {i}")
        # Month archives (the month's search shard, pagefind/<month>/, is test_search.py's).
        both = [k for k in s3_writes if re.search(r"/\d{4}-\d{2}/", "/" + k) and not k.startswith("pagefind/")]
        written = [k for k in both if not k.startswith("cy/")]
        assert sorted(k for k in both if k.startswith("cy/")) == sorted(f"cy/{k}" for k in written)  # each in Welsh too
        archive_writes.append(sorted(written))
        assert not any("2025-01" in k for k in written), written
        # One or two pages of this month per listing (five listings), however many exist.
        assert 5 <= len(written) <= 10, written
    # The second story of a page touches only its page; the first of a new page also the one before.
    assert len(archive_writes[1]) == 5 and len(archive_writes[2]) == 10
    assert "services/riverside-trust/" + month + "/3/index.html" in archive_writes[4]

    trust = f"services/riverside-trust/{month}/"
    assert [parse(body(aws, f"{trust}{p}index.html")).titles for p in ("", "2/", "3/")] == [
        ["New story 0", "New story 1"],
        ["New story 2", "New story 3"],
        ["New story 4", "New story 5"],
    ]
    assert 'rel="next"' in body(aws, f"{trust}index.html") and 'rel="next"' not in body(aws, f"{trust}3/index.html")
    assert {k: body(aws, k) for k in old_keys} == before
    # And a full rebuild of the old month writes the same bytes.
    for out in site.build(RenderJob(page="archive", ref="riverside-trust/2025-01")):
        if hasattr(out, "body"):
            assert out.body.decode() == before[out.key]

    # The service page: the latest two, then the months with their counts.
    service = body(aws, "services/riverside-trust/index.html")
    assert parse(service).titles == ["New story 5", "New story 4"]
    assert 'href="/services/riverside-trust/2025-01/">January 2025</a> (5 stories)' in service
    assert f'href="/{trust}">' in service
    assert 'href="/tags/nursing/2025-01/">' in body(aws, "tags/nursing/index.html")
    assert 'href="/archive/2025-01/">' in body(aws, "index.html")


@pytest.mark.parametrize("behind", [4, 7])
def test_archive_pages_are_whole_when_rendering_falls_behind_publishing(
    aws, client, pump, directory, small_pages, behind
):
    """Stories published while the render jobs wait (a burst of decisions, a slow render queue) can
    cross page boundaries before any archive job runs: every page they touched is built, not just the
    newest. 4 behind: the newest two pages are read and enough; 7: further back, the month is built."""
    tell_and_publish(client, pump, "Story 0")
    month = clock.now().strftime("%Y-%m")
    ids = []
    for i in range(1, behind + 1):
        resp = client.http.post(
            "/api/stories",
            body=json.dumps(story_body(services=["riverside-ward-7"], title=f"Story {i}")),
            headers={"Content-Type": "application/json"},
        )
        ids.append(json.loads(resp.body)["id"])
    pump.drain()
    for sid in ids:
        wiring.moderation().decide(
            sid, {"action": "publish", "version": 1, "criticality": 1, "tags": ["nursing"]}, Moderator("mod", "Mod")
        )
        while pump.stream_once():  # the stream keeps up; the render queue waits
            pass
    pump.drain()
    titles = [f"Story {i}" for i in range(behind + 1)]
    expected = [titles[p : p + 2] for p in range(0, len(titles), 2)]
    for prefix in ("services/riverside-trust/", "services/riverside-ward-7/", "archive/", "tags/nursing/"):
        pages = [
            body(aws, f"{prefix}{month}/{'' if p == 1 else f'{p}/'}index.html") for p in range(1, len(expected) + 1)
        ]
        assert [parse(html).titles for html in pages] == expected, prefix
        assert ['rel="next"' in html for html in pages] == [True] * (len(pages) - 1) + [False], prefix
        assert ['rel="prev"' in html for html in pages] == [False] + [True] * (len(pages) - 1), prefix


def test_the_months_sitemap_lists_every_archive_page_there_is(aws, client, pump, directory, small_pages):
    for i in range(3):
        tell_and_publish(client, pump, f"Story {i}")
    month = clock.now().strftime("%Y-%m")
    pages = {k for k in keys(aws) if re.search(rf"(^|/){month}/(\d+/)?index\.html$", k)}
    # Three services up the tree, everything and the tag; two pages each, in English and in Welsh (issue 19).
    assert len(pages) == 5 * 2 * 2
    sitemap = ET.fromstring(body(aws, f"sitemaps/stories-{month}.xml").encode())
    listed = {u.text for u in sitemap.iter("{http://www.sitemaps.org/schemas/sitemap/0.9}loc")}
    site = wiring.get_settings().site_url.rstrip("/")
    assert {u for u in listed if f"/{month}/" in u} == {f"{site}/{k.removesuffix('index.html')}" for k in pages}


def test_withdrawing_a_story_rebuilds_its_month_and_drops_an_emptied_page(
    aws, client, pump, directory, small_pages, s3_writes
):
    ids = [tell_and_publish(client, pump, f"Story {i}") for i in range(3)]
    month = clock.now().strftime("%Y-%m")
    trust = f"services/riverside-trust/{month}/"
    assert f"{trust}2/index.html" in keys(aws)
    s3_writes.clear()
    wiring.store().change_status(ids[0], ["published"], {"status": "withdrawn", "withdrawn_at": clock.iso()})
    pump.drain()
    assert f"{trust}index.html" in s3_writes and f"{trust}2/index.html" in s3_writes
    assert f"{trust}2/index.html" not in keys(aws)
    assert parse(body(aws, f"{trust}index.html")).titles == ["Story 1", "Story 2"]
    assert 'rel="next"' not in body(aws, f"{trust}index.html")
    assert wiring.store().figures("riverside-trust", consistent=True)["months"] == {month: 2}


def test_a_response_rerenders_no_archive_page(aws, client, pump, directory, small_pages, s3_writes):
    sid = tell_and_publish(client, pump)
    s3_writes.clear()
    wiring.store().mark_progress(sid, "first_response_at", clock.iso())
    pump.drain()
    assert "services/riverside-trust/index.html" in s3_writes and "index.html" in s3_writes
    assert not [k for k in s3_writes if re.search(r"/\d{4}-\d{2}/", "/" + k)]


def test_rebuild_builds_the_archives_then_uploads_nothing_and_deletes_stale_pages(
    aws, client, pump, directory, small_pages
):
    seed_old_month(3)
    s3 = aws.client("s3")
    s3.put_object(Bucket=aws.resources.bucket, Key="services/riverside-trust/2024-02/index.html", Body=b"stale")
    s3.put_object(Bucket=aws.resources.bucket, Key="services/riverside-trust/2025-01/7/index.html", Body=b"stale")
    site = wiring.site()
    first = site.rebuild_all()
    now = keys(aws)
    assert {
        "services/riverside-trust/2025-01/index.html",
        "services/riverside-trust/2025-01/2/index.html",
        "archive/2025-01/2/index.html",
        "tags/nursing/2025-01/index.html",
    } <= now
    assert (
        "services/riverside-trust/2024-02/index.html" not in now
        and "services/riverside-trust/2025-01/7/index.html" not in now
    )
    assert first["deleted"] >= 2
    second = site.rebuild_all()
    assert second["uploaded"] == 0 and second["deleted"] == 0
