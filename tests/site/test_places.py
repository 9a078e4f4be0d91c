"""Browsing by place and filtering (issue 20): the directory's towns and postcode districts, the
place pages, "find stories near" (GET /api/places) and a service's filter page."""

from __future__ import annotations

import copy
import json

import pytest

from chalicelib import wiring
from chalicelib.core import clock, places
from chalicelib.core.jobs import RenderJob
from chalicelib.directory import flatten
from chalicelib.moderation import Moderator
from tests.support.factories import SMALL_DIRECTORY, story_body

HTML = {"Accept": "text/html"}


def town_directory() -> list[dict]:
    """The small test directory with places: Riverside General in Riverside (RV1, its wards with it),
    Hillside's district nurses in Hillside (HS2); the trusts have none."""
    tree = copy.deepcopy(SMALL_DIRECTORY)
    tree[0]["children"][0] |= {"town": "Riverside", "town_cy": "Glan-yr-afon", "postcode_district": "rv1"}
    tree[1]["children"][0] |= {"town": "Hillside", "postcode_district": "HS2"}
    return tree


def text(resp) -> str:
    return resp.body.decode("utf-8") if isinstance(resp.body, bytes) else resp.body


def page(aws, key: str) -> str:
    return aws.client("s3").get_object(Bucket=aws.resources.bucket, Key=key)["Body"].read().decode("utf-8")


# ---- the directory -------------------------------------------------------------------------------


def test_services_inherit_their_town_and_district_and_the_summary_names_each_town_once():
    items = {i["slug"]: i for i in flatten(town_directory())}
    assert items["riverside-ward-7"]["town"] == "Riverside"
    assert items["riverside-ward-7"]["postcode_district"] == "RV1"  # written as an outward code
    assert "town" not in items["riverside-trust"]
    summary = places.summary(items.values())
    assert summary["towns"]["riverside"] == {
        "name": "Riverside",
        "name_cy": "Glan-yr-afon",
        "districts": ["RV1"],
        "services": [  # not each of its wards
            {
                "slug": "riverside-general",
                "name": "Riverside General Hospital",
                "trail": [{"slug": "riverside-trust", "name": "Riverside NHS Foundation Trust"}],
            }
        ],
    }
    assert summary["districts"] == {"HS2": ["hillside"], "RV1": ["riverside"]}
    assert summary["aliases"] == {"glan-yr-afon": "riverside"}  # its Welsh name finds it too


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"town": "Riverside", "postcode_district": "RIVER"}, "postcode_district"),
        ({"town": "Riverside", "postcode_district": "1AB"}, "postcode_district"),
        ({"postcode_district": "RV1"}, "postcode_district"),  # a district with no town
        ({"town_cy": "Glan-yr-afon"}, "town_cy"),  # a Welsh name with no town
        ({"town": "12", "postcode_district": "RV1"}, "town"),
    ],
)
def test_a_bad_place_in_the_directory_is_refused_by_its_field(change, field):
    tree = copy.deepcopy(SMALL_DIRECTORY)
    tree[0]["children"][0] |= change
    with pytest.raises(ValueError, match=field):
        flatten(tree)


@pytest.mark.parametrize(
    ("typed", "towns", "suggested"),
    [
        ("Riverside", ["riverside"], []),
        ("  riverside ", ["riverside"], []),
        ("rv1", ["riverside"], []),
        ("RV1 4XY", ["riverside"], []),  # a whole postcode: its district
        ("Glan yr Afon", ["riverside"], []),  # its Welsh name
        ("rivreside", [], ["riverside"]),  # a typo
        ("RV9", [], ["riverside"]),  # a district we do not know, in an area we do
        ("Zanzibar", [], []),
    ],
)
def test_find_a_place_from_what_people_type(typed, towns, suggested):
    found = places.find(places.summary(flatten(town_directory())), typed)
    assert (found["towns"], found["suggestions"]) == (towns, suggested)


# ---- the pages, the form's answer and the filter ---------------------------------------------------


def publish(client, pump, service: str, tags: list[str], title: str) -> str:
    resp = client.http.post(
        "/api/stories",
        body=json.dumps(story_body(services=[service], title=title)),
        headers={"Content-Type": "application/json"},
    )
    assert resp.status_code == 201, resp.body
    sid = json.loads(resp.body)["id"]
    pump.drain()
    wiring.moderation().decide(
        sid, {"action": "publish", "version": 1, "criticality": 1, "tags": tags}, Moderator("mod", "Mod")
    )
    pump.drain()
    return sid


@pytest.fixture
def town_site(aws, client, pump):
    wiring.directory().load(town_directory())
    wiring.site().render(RenderJob(page="static"))
    return aws


def test_the_static_job_builds_the_places_and_a_town_page_in_both_languages(town_site):
    index = page(town_site, "places/index.html")
    assert 'href="/places/riverside/"' in index and "RV1" in index
    welsh = page(town_site, "cy/places/index.html")
    assert 'href="/cy/places/hillside/"' in welsh
    assert ">Glan-yr-afon</a>" in welsh and ">Riverside</a>" not in welsh  # the town's Welsh name
    assert "Glan-yr-afon" in page(town_site, "cy/places/riverside/index.html")
    sitemap = page(town_site, "sitemaps/places.xml")
    assert "<loc>https://site.test/places/riverside/</loc>" in sitemap
    assert "<loc>https://site.test/cy/places/hillside/</loc>" in sitemap
    town = page(town_site, "places/riverside/index.html")
    assert 'href="/services/riverside-general/"' in town
    assert "No stories about services in Riverside have been published yet." in town


def test_a_published_story_reaches_its_towns_page_and_only_that_town_is_rendered(town_site, client, pump):
    sent: list[RenderJob] = []
    real = wiring.site().render

    def render(job):
        sent.append(job)
        return real(job)

    pump_site = wiring.site()
    pump_site.render = render  # type: ignore[method-assign]
    try:
        publish(client, pump, "riverside-ward-7", ["nursing"], "Night shift on Ward 7")
    finally:
        pump_site.render = real  # type: ignore[method-assign]
    assert RenderJob(page="place", ref="riverside") in sent
    assert not [j for j in sent if j.page == "place" and j.ref != "riverside"]
    assert "Night shift on Ward 7" in page(town_site, "places/riverside/index.html")
    assert "Night shift on Ward 7" not in page(town_site, "places/hillside/index.html")


def test_find_stories_near_goes_to_the_town_or_suggests_and_never_errs_on_an_unknown_place(town_site, client):
    resp = client.http.get("/api/places?place=rv1", headers=HTML)
    assert resp.status_code == 303
    assert resp.headers["Location"] == "https://site.test/places/riverside/"
    welsh = client.http.get("/api/places?place=Riverside&lang=cy", headers=HTML)
    assert welsh.headers["Location"] == "https://site.test/cy/places/riverside/"
    unknown = client.http.get("/api/places?place=rivreside", headers=HTML)
    assert unknown.status_code == 200
    assert 'href="https://site.test/places/riverside/"' in text(unknown)
    nothing = client.http.get("/api/places?place=Zanzibar", headers=HTML)
    assert nothing.status_code == 200 and "We do not know a place called" in text(nothing)
    assert 'href="https://site.test/places/hillside/"' in text(nothing)  # nothing close: every town
    as_json = json.loads(text(client.http.get("/api/places?place=RV1")))
    assert as_json["towns"][0]["url"] == "https://site.test/places/riverside/"


@pytest.mark.parametrize("typed", ["", "   ", "x" * 61])
def test_find_stories_near_refuses_nothing_or_too_much_by_naming_the_field(town_site, client, typed):
    resp = client.http.get(f"/api/places?place={typed}")
    assert resp.status_code == 400
    assert [f["field"] for f in json.loads(text(resp))["error"]["fields"]] == ["place"]
    page_again = client.http.get(f"/api/places?place={typed}", headers=HTML)
    assert page_again.status_code == 400 and 'href="#place"' in text(page_again)


def test_a_services_stories_filtered_by_response_tag_and_month(town_site, client, pump):
    first = publish(client, pump, "riverside-ward-7", ["nursing"], "Kind nurses at night")
    publish(client, pump, "riverside-maternity", ["waiting-times"], "A long wait to be seen")
    wiring.store().mark_progress(first, "first_response_at", "2026-12-01T10:00:00Z")
    pump.drain()
    base = "/api/public/services/riverside-general/stories"

    def titles(query: str) -> str:
        resp = client.http.get(f"{base}?{query}", headers=HTML)
        assert resp.status_code == 200, resp.body
        return text(resp)

    assert "Kind nurses at night" in titles("responded=yes")
    assert "A long wait to be seen" not in titles("responded=yes")
    assert "A long wait to be seen" in titles("responded=no")
    assert "Kind nurses at night" not in titles("responded=no")
    assert 'href="https://api.test/api/public/services/riverside-general/stories?responded=yes&amp;lang=cy"' in titles(
        "responded=yes"
    )  # the same page in Welsh
    tagged = titles("tag=waiting-times")
    assert "A long wait to be seen" in tagged and "Kind nurses at night" not in tagged
    listed = json.loads(text(client.http.get("/api/public/stories?service=riverside-general&responded=no")))
    assert [s["title"] for s in listed["stories"]] == ["A long wait to be seen"]  # the JSON API has it too
    this_month = clock.now().strftime("%Y-%m")
    assert "Kind nurses at night" in titles(f"month={this_month}&responded=yes")
    assert "No published stories match" in titles("month=1999-01")
    # The service page's own links lead there, without JavaScript.
    service = page(town_site, "services/riverside-general/index.html")
    assert f'href="https://api.test{base}?responded=no"' in service
    assert f'href="https://api.test{base}?tag=nursing"' in service


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("responded=maybe", "responded"),
        ("month=2026-13", "month"),
        ("tag=Not%20a%20tag", "tag"),
        ("cursor=x", "cursor"),
    ],
)
def test_a_bad_filter_is_a_400_naming_it(town_site, client, query, field):
    resp = client.http.get(f"/api/public/services/riverside-general/stories?{query}")
    assert resp.status_code == 400
    assert [f["field"] for f in json.loads(text(resp))["error"]["fields"]] == [field]


def test_a_town_no_longer_in_the_directory_loses_its_page_at_the_full_rebuild(town_site):
    def keys() -> set[str]:
        listed = town_site.client("s3").list_objects_v2(Bucket=town_site.resources.bucket)["Contents"]
        return {o["Key"] for o in listed}

    assert {"places/hillside/index.html", "cy/places/hillside/index.html"} <= keys()
    tree = town_directory()
    del tree[1]["children"][0]["town"], tree[1]["children"][0]["postcode_district"]
    wiring.directory().load(tree)
    wiring.site().rebuild_all()
    assert not {"places/hillside/index.html", "cy/places/hillside/index.html"} & keys()
    assert "places/riverside/index.html" in keys()
    assert 'href="/places/hillside/"' not in page(town_site, "places/index.html")


def test_what_was_typed_comes_back_escaped(town_site, client):
    resp = client.http.get('/api/places?place=<script>alert("x")</script>', headers=HTML)
    assert resp.status_code == 200
    assert "<script>alert" not in text(resp)
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;" in text(resp)
