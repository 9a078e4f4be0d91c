"""A lead registers their organisation's sources themselves (issue 21), on the in-memory store: only a lead
of that organisation, fields refused by name, only public http(s) addresses (unless the local setting
allows this machine), a licence recorded with who said so and when, and an import run now."""

from __future__ import annotations

import json
import socket
from types import SimpleNamespace

import pytest

from chalicelib.core import addresses, clock
from chalicelib.core.addresses import NOT_PUBLIC, address_problem, guarded_fetch
from chalicelib.core.errors import NotFound, ValidationFailed
from chalicelib.core.sources import SourceUnreadable
from chalicelib.importer import Importer
from chalicelib.lead_sources import LeadSources
from chalicelib.links import Links
from chalicelib.organisations import Organisations
from tests.support.feed_server import FeedServer
from tests.support.memory_store import MemoryStore

SETTINGS = SimpleNamespace(site_url="https://site.test", api_url="https://api.test")
SERVICES = [
    {"slug": "riverside-trust", "name": "Riverside NHS Foundation Trust", "kind": "trust", "path": ["riverside-trust"]},
    {"slug": "riverside-ward-7", "name": "Ward 7", "kind": "ward", "path": ["riverside-trust", "riverside-ward-7"]},
    {"slug": "hillside-trust", "name": "Hillside Community Health", "kind": "trust", "path": ["hillside-trust"]},
]
FEED = {
    "version": "https://jsonfeed.org/version/1.1",
    "title": "Reviews",
    "items": [
        {
            "id": "urn:r:1",
            "url": "https://reviews.example.org/1",
            "title": "Kind nurses",
            "content_text": "The staff on the ward were kind and explained every step of the treatment.",
            "date_published": "2026-11-02T10:00:00Z",
        }
    ],
}


def public_dns(host, port, type=0):  # noqa: A002 (socket.getaddrinfo's name)
    """Every name resolves to a public address, as on the internet (no test leaves this machine)."""
    return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("93.184.216.34", port))]


@pytest.fixture
def world(monkeypatch):
    store = MemoryStore()
    for s in SERVICES:
        store.put_service(dict(s))
    links = Links(store)
    organisations = Organisations(store, links, SETTINGS, None, None)  # type: ignore[arg-type]

    def make(allow_local: bool) -> LeadSources:
        return LeadSources(store, Importer(store, guarded_fetch(allow_local)), organisations, allow_local)

    return SimpleNamespace(store=store, links=links, sources=make(False), local=make(True), make=make)


def lead(world, org="riverside-trust", access="lead", email="lena@nhs.example") -> str:
    sid = f"sub-{email}"
    world.store.create_subscriber(
        {
            "id": sid,
            "email": email,
            "name": "Lena Lead",
            "organisation": org,
            "status": "active",
            "access": access,
            "links_valid_after": "",
        }
    )
    return world.links.issue("organisation", "", sid, 30, subscriber_id=sid, organisation=org)


def fields(exc: pytest.ExceptionInfo) -> list[str]:
    return [f["field"] for f in exc.value.fields]


BODY = {"slug": "nhs-reviews", "name": "NHS website reviews", "kind": "json_feed", "service": "riverside-ward-7"}


def test_a_lead_adds_edits_runs_and_removes_a_source_of_their_own_organisation(world, monkeypatch):
    token = lead(world)
    with FeedServer() as server:
        url = server.serve("/reviews.json", json.dumps(FEED))
        added = world.local.add(token, BODY | {"location": url})
        assert (added["slug"], added["licensed"], added["licensed_by"], added["moderated"]) == (
            "nhs-reviews",
            False,
            "",
            False,
        )
        assert world.store.get_source("nhs-reviews")["organisation"] == "riverside-trust"
        assert [s["slug"] for s in world.local.sources(token)["sources"]] == ["nhs-reviews"]

        ran = world.local.run(token, "nhs-reviews")
        assert ran["summary"] == "1 imported, 0 updated, 0 unchanged, 0 refused"
        assert world.local.run(token, "nhs-reviews")["summary"] == "0 imported, 0 updated, 1 unchanged, 0 refused"

    monkeypatch.setattr(clock, "iso", lambda *a: "2026-12-08T00:00:00.000Z")
    changed = world.local.edit(token, "nhs-reviews", {"licensed": True, "mapping": {"story": "content"}})
    kept = world.store.get_source("nhs-reviews")
    assert kept["licensed"] is True and kept["mapping"] == {"story": "content"}
    assert (
        kept["licensed_by"] == "Lena Lead (sub-lena@nhs.example)" and kept["licensed_at"] == "2026-12-08T00:00:00.000Z"
    )
    assert changed["licensed_by"] == kept["licensed_by"]
    world.local.edit(token, "nhs-reviews", {"name": "Reviews from the NHS website"})  # the licence stays as said
    assert world.store.get_source("nhs-reviews")["licensed_at"] == "2026-12-08T00:00:00.000Z"
    world.local.edit(token, "nhs-reviews", {"licensed": False})
    assert world.store.get_source("nhs-reviews")["licensed_by"] == ""

    world.local.remove(token, "nhs-reviews")
    assert world.local.sources(token)["sources"] == []
    for act in (
        lambda: world.local.remove(token, "nhs-reviews"),
        lambda: world.local.run(token, "nhs-reviews"),
        lambda: world.local.edit(token, "nhs-reviews", {"name": "Back again"}),
    ):
        with pytest.raises(NotFound):
            act()
    # Its slug is never another's: their items would be matched to this organisation's stories.
    other = lead(world, org="hillside-trust", email="harry@hillside.example")
    with pytest.raises(ValidationFailed) as e:
        world.local.add(other, BODY | {"location": "http://127.0.0.1:9/", "service": "hillside-trust"})
    assert fields(e) == ["slug"]


def test_only_a_lead_of_that_organisation_and_never_another_s_source(world):
    ours = lead(world)
    world.store.create_source(BODY | {"slug": "theirs", "organisation": "hillside-trust", "location": "https://x.org/"})
    for token in (lead(world, access="responder", email="r@nhs.example"), "x" * 43):
        with pytest.raises(NotFound):
            world.sources.sources(token)
        with pytest.raises(NotFound):
            world.sources.add(token, BODY | {"location": "https://reviews.example.org/feed.json"})
    for act in (
        lambda: world.sources.edit(ours, "theirs", {"name": "Mine now"}),
        lambda: world.sources.remove(ours, "theirs"),
        lambda: world.sources.run(ours, "theirs"),
    ):
        with pytest.raises(NotFound):
            act()
    assert world.store.get_source("theirs")["name"] == BODY["name"]
    assert world.sources.sources(ours)["sources"] == []


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"location": "ftp://reviews.example.org/feed"}, "location"),
        ({"location": "file:///etc/passwd"}, "location"),
        ({"location": "https://user:pw@reviews.example.org/"}, "location"),
        ({"location": "https://reviews.example.org/", "mapping": {"password": "x"}}, "mapping"),
        ({"location": "https://reviews.example.org/", "kind": "gopher"}, "kind"),
        ({"location": "https://reviews.example.org/", "service": "hillside-trust"}, "service"),
        ({"location": "https://reviews.example.org/", "organisation": "hillside-trust"}, "organisation"),
        ({"location": "https://reviews.example.org/", "moderated": True}, "moderated"),
    ],
)
def test_a_bad_field_is_refused_by_its_name_and_nothing_is_written(world, monkeypatch, body, field):
    monkeypatch.setattr(addresses.socket, "getaddrinfo", public_dns)
    with pytest.raises(ValidationFailed) as e:
        world.sources.add(lead(world), BODY | body)
    assert field in fields(e)
    assert world.store.get_source("nhs-reviews") is None


@pytest.mark.parametrize(
    "address",
    ["127.0.0.1", "10.0.0.5", "192.168.1.1", "172.16.0.1", "169.254.169.254", "::1", "fe80::1", "::ffff:127.0.0.1"],
)
def test_an_address_that_resolves_to_this_machine_or_a_private_network_is_refused(world, monkeypatch, address):
    def resolves_inside(host, port, type=0):  # noqa: A002
        family = socket.AF_INET6 if ":" in address else socket.AF_INET
        return [(family, socket.SOCK_STREAM, 6, "", (address, port))]

    monkeypatch.setattr(addresses.socket, "getaddrinfo", resolves_inside)
    url = "https://reviews.example.org/feed.json"
    assert address_problem(url, resolve=resolves_inside) == NOT_PUBLIC
    assert address_problem(url, allow_local=True, resolve=resolves_inside) == ""
    assert address_problem(url, resolve=public_dns) == ""  # the same name, public: the check can pass
    with pytest.raises(ValidationFailed) as e:
        world.sources.add(lead(world), BODY | {"location": url})
    assert fields(e) == ["location"]
    with pytest.raises(SourceUnreadable):  # and a saved one is checked again when fetched
        guarded_fetch(False)(url)


def test_a_source_that_redirects_inside_is_not_followed(monkeypatch):
    """The first address passes (as a public one would); where it redirects to is checked apart."""
    checked: list[str] = []

    def first_only(location: str, allow_local: bool = False) -> str:
        checked.append(location)
        return "" if len(checked) == 1 else NOT_PUBLIC

    with FeedServer() as server:
        inside = server.serve("/inside.json", json.dumps(FEED))
        start = server.redirect("/go", inside)
        monkeypatch.setattr(addresses, "address_problem", first_only)
        with pytest.raises(SourceUnreadable, match="redirects"):
            guarded_fetch(False)(start)
        assert server.requests == ["/go"] and checked == [start, inside]
        monkeypatch.setattr(addresses, "address_problem", lambda location, allow_local=False: "")
        assert json.loads(guarded_fetch(False)(start)) == FEED  # followed when allowed: the check can fail


# ---- over HTTP, on the local stack's table (moto) ---------------------------------------------------------


def test_over_http_a_lead_adds_runs_and_removes_a_source_and_a_private_address_is_refused_by_name(
    aws, client, directory, monkeypatch
):
    from chalicelib import wiring
    from chalicelib.core.settings import get_settings, reset_settings

    wiring.membership().name_lead(
        {"slug": "riverside-trust", "name": "Riverside NHS Foundation Trust"}, "lena@nhs.example", by="t", name="Lena"
    )
    holder = wiring.store().find_subscriber("lena@nhs.example")
    days = get_settings().organisation_link_days
    token = wiring.links().issue(
        "organisation", "", holder["id"], days, subscriber_id=holder["id"], organisation="riverside-trust"
    )
    base, json_h = (
        f"/api/organisation/{token}/sources",
        {"Content-Type": "application/json", "Accept": "application/json"},
    )
    with FeedServer() as server:
        url = server.serve("/reviews.json", json.dumps(FEED))
        made = client.http.post(
            base, headers=json_h, body=json.dumps(BODY | {"location": url})
        )  # the local stack allows it
        assert made.status_code == 201, made.body
        assert made.headers["Cache-Control"] == "no-store"
        ran = client.http.post(f"{base}/nhs-reviews", headers=json_h, body=json.dumps({"action": "run"}))
        assert json.loads(ran.body)["summary"]["summary"] == "1 imported, 0 updated, 0 unchanged, 0 refused"
        monkeypatch.setenv("FF_SOURCES_ALLOW_LOCAL", "0")  # as on AWS
        reset_settings()
        try:
            again = client.http.post(base, headers=json_h, body=json.dumps(BODY | {"slug": "other", "location": url}))
            stale = client.http.post(f"{base}/nhs-reviews", headers=json_h, body=json.dumps({"action": "run"}))
        finally:
            monkeypatch.delenv("FF_SOURCES_ALLOW_LOCAL")
            reset_settings()
    assert again.status_code == 422 and [f["field"] for f in json.loads(again.body)["error"]["fields"]] == ["location"]
    assert "private network" in json.loads(stale.body)["summary"]["refused"][0]  # saved before: checked when fetched
    listed = json.loads(client.http.get(base, headers=json_h).body)["sources"]
    assert [s["slug"] for s in listed] == ["nhs-reviews"]
    gone = client.http.post(f"{base}/nhs-reviews", headers=json_h, body=json.dumps({"action": "remove"}))
    assert gone.status_code == 200 and json.loads(client.http.get(base, headers=json_h).body)["sources"] == []
    bad = client.http.post(f"{base}/nhs-reviews", headers=json_h, body=json.dumps({"action": "explode"}))
    assert bad.status_code == 422 and json.loads(bad.body)["error"]["fields"][0]["field"] == "action"
