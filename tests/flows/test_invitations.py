"""Invitations (issue 19), on the in-memory store: who may make, see and end them (fail closed), what
the short link shows the public, and how the stories that come through them are counted."""

from __future__ import annotations

from datetime import timedelta
from types import SimpleNamespace

import pytest

from chalicelib import invitations as inv
from chalicelib.core import clock
from chalicelib.core.errors import Forbidden, NotFound, ValidationFailed
from chalicelib.invitations import Invitations
from chalicelib.links import Links
from chalicelib.organisations import Organisations
from chalicelib.reactions import invitation_reaction
from chalicelib.store.stream import Change
from tests.support.memory_store import MemoryStore

SETTINGS = SimpleNamespace(site_url="https://site.test", api_url="https://api.test")
SERVICES = [
    {"slug": "riverside-trust", "name": "Riverside NHS Foundation Trust", "kind": "trust", "path": ["riverside-trust"]},
    {
        "slug": "riverside-ward-7",
        "name": "Ward 7",
        "kind": "ward",
        "parent": "riverside-trust",
        "path": ["riverside-trust", "riverside-ward-7"],
    },
    {"slug": "hillside-trust", "name": "Hillside Community Health", "kind": "trust", "path": ["hillside-trust"]},
]


@pytest.fixture
def world():
    store = MemoryStore()
    for s in SERVICES:
        store.put_service(dict(s))
    links = Links(store)
    organisations = Organisations(store, links, SETTINGS, None, None)  # type: ignore[arg-type]
    return SimpleNamespace(store=store, links=links, invitations=Invitations(store, organisations, SETTINGS))


def member(world, access="responder", status="active", org="riverside-trust", email="sam@nhs.example") -> str:
    """A member with one active subscription; returns their manage link's token."""
    sid = f"sub-{email}"
    world.store.create_subscriber(
        {
            "id": sid,
            "email": email,
            "name": "Sam Carter",
            "display_name": "Sam",
            "role": "Ward Manager",
            "organisation": org,
            "organisation_name": "Riverside",
            "status": status,
            **({"access": access} if access else {}),
            "links_valid_after": "",
        }
    )
    world.store.put_subscription(
        {"id": f"s-{email}", "subscriber_id": sid, "service": org, "status": "active", "created_at": clock.iso()}
    )
    return world.links.issue("manage", "", sid, 30, subscriber_id=sid)


def test_a_responder_makes_an_invitation_with_a_short_unguessable_code(world):
    token = member(world)
    made = world.invitations.create(
        token, {"service": "riverside-ward-7", "campaign": "Discharge letters", "tags": "Discharge, night-shift"}
    )
    assert inv.is_code(made["code"]) and len(made["code"]) == 12
    assert made["url"] == f"https://site.test/i/{made['code']}"
    assert (made["service_name"], made["tags"], made["state"], made["stories"]) == (
        "Ward 7",
        ["discharge", "night-shift"],
        "active",
        0,
    )
    codes = {inv.new_code() for _ in range(2000)}
    assert len(codes) == 2000 and all(inv.is_code(c) for c in codes)
    listed = world.invitations.listing(token)
    assert [i["code"] for i in listed["invitations"]] == [made["code"]] and listed["lead"] is False


@pytest.mark.parametrize(
    ("access", "status"), [("reader", "active"), (None, "active"), ("responder", "frozen"), ("lead", "requested")]
)
def test_only_an_active_responder_or_lead_may_invite(world, access, status):
    token = member(world, access=access, status=status)
    with pytest.raises((Forbidden, NotFound)):
        world.invitations.create(token, {"service": "riverside-ward-7"})
    assert world.invitations.listing(token) is None
    assert world.store.invitations_of("riverside-trust") == []


def test_an_invitation_is_only_for_the_members_own_organisation_and_names_bad_fields(world):
    token = member(world)
    with pytest.raises(ValidationFailed) as e:
        world.invitations.create(token, {"service": "hillside-trust"})
    assert e.value.fields[0]["field"] == "service"
    yesterday = (clock.now().date() - timedelta(days=1)).isoformat()
    for data, field in (
        ({"service": "riverside-ward-7", "expires_on": yesterday}, "expires_on"),
        ({"service": "riverside-ward-7", "tags": "not/a/tag"}, "tags"),
        ({"service": "riverside-ward-7", "campaign": "x" * 81}, "campaign"),
        ({"service": "Not A Slug"}, "service"),
    ):
        with pytest.raises(ValidationFailed) as e:
            world.invitations.create(token, data)
        assert e.value.fields[0]["field"].startswith(field), (data, e.value.fields)


def test_the_short_link_shows_the_service_and_who_asked_never_who_made_it(world):
    token = member(world)
    made = world.invitations.create(token, {"service": "riverside-ward-7", "campaign": "Secret campaign"})
    opened = world.invitations.opened(made["code"])
    assert opened == {
        "state": "active",
        "code": made["code"],
        "service": "riverside-ward-7",
        "asked": "Ward 7 asked for your story",
    }
    assert "Sam" not in str(opened) and "Secret" not in str(opened)
    for code in ("nothere23456", "../../etc", "", "A" * 500):
        assert world.invitations.opened(code)["state"] == "unknown"
        assert "could not find" in world.invitations.opened(code)["note"]


def test_an_invitation_past_its_last_day_opens_the_ordinary_form(world, monkeypatch):
    token = member(world)
    today = clock.now().date()
    made = world.invitations.create(token, {"service": "riverside-ward-7", "expires_on": today.isoformat()})
    assert world.invitations.opened(made["code"])["state"] == "active"
    assert inv.for_story(world.store, made["code"])
    tomorrow = clock.now() + timedelta(days=1)
    monkeypatch.setattr(clock, "now", lambda: tomorrow)
    assert world.invitations.opened(made["code"])["state"] == "ended"
    assert "has ended" in world.invitations.opened(made["code"])["note"]
    assert inv.for_story(world.store, made["code"]) is None


def test_a_lead_ends_an_invitation_a_responder_cannot(world):
    responder = member(world)
    lead = member(world, access="lead", email="lena@nhs.example")
    other_lead = member(world, access="lead", org="hillside-trust", email="hal@hill.example")
    made = world.invitations.create(responder, {"service": "riverside-ward-7"})
    with pytest.raises(Forbidden):
        world.invitations.end(responder, made["code"])
    with pytest.raises(ValidationFailed):
        world.invitations.end(other_lead, made["code"])  # another organisation's
    assert world.invitations.end(lead, made["code"])["state"] == "ended"
    assert world.invitations.end(lead, made["code"])["state"] == "ended"  # twice is the same
    assert world.invitations.opened(made["code"])["state"] == "ended"
    assert world.invitations.listing(lead)["lead"] is True
    with pytest.raises(NotFound):
        world.invitations.get(other_lead, made["code"])


def test_each_story_through_an_invitation_is_counted_once(world):
    token = member(world)
    made = world.invitations.create(token, {"service": "riverside-ward-7"})
    react = invitation_reaction(world.store)
    story = {"id": "s1", "invitation": made["code"], "route": "invitation"}
    for _ in range(2):  # the stream delivers at least once
        react(Change("story", "s1", None, story, event="INSERT"))
    react(Change("story", "s2", None, {"id": "s2", "route": "web"}, event="INSERT"))
    react(Change("story", "s1", story, story | {"status": "published"}, event="MODIFY"))
    react(Change("story", "s3", None, story | {"id": "s3"}, event="INSERT"))
    assert world.invitations.listing(token)["invitations"][0]["stories"] == 2
