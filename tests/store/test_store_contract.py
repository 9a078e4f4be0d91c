"""One contract for the Store's methods that the me-too, limits and links flows use, run against the real
Store on moto and against tests/support/memory_store.py, so that the memory one cannot drift."""

from __future__ import annotations

import pytest

from chalicelib import wiring
from tests.support.memory_store import MemoryStore

STORY = {
    "id": "s0000000000000001",
    "status": "published",
    "submitted_at": "2026-01-01T00:00:00.000Z",
    "title": "A title",
    "me_too_count": 0,
}
PROFILE = {"id": "sub1", "email": "Sam@Example.org", "name": "Sam", "status": "active"}


@pytest.fixture(params=["moto", "memory"])
def store(request):
    if request.param == "memory":
        return MemoryStore()
    request.getfixturevalue("aws")
    return wiring.store()


def test_a_token_is_kept_once_and_read_back_without_its_keys(store):
    store.put_token("h1", {"purpose": "author", "story_id": "s1", "subject": "author"}, 2_000_000_000)
    assert store.get_token("h1") == {
        "purpose": "author",
        "story_id": "s1",
        "subject": "author",
        "expires_at": 2_000_000_000,
    }
    with pytest.raises(Exception):  # noqa: B017 (each store refuses in its own way; the contract is that it refuses)
        store.put_token("h1", {"purpose": "other"}, 1)
    assert store.get_token("h1")["purpose"] == "author"
    assert store.get_token("unknown") is None


def test_hits_count_per_key_and_window(store):
    assert [store.count_hit("ip:1", 7, 99) for _ in range(3)] == [1, 2, 3]
    assert store.count_hit("ip:1", 8, 99) == 1
    assert store.count_hit("ip:2", 7, 99) == 1
    assert (store.hits("ip:1", 7), store.hits("ip:1", 8), store.hits("ip:1", 9), store.hits("ip:3", 7)) == (3, 1, 0, 0)


def test_a_me_too_is_added_once_and_its_address_kept_apart(store):
    store.create_story(dict(STORY), None)
    sid = STORY["id"]
    first = {"id": "m1", "created_at": "2026-01-02T00:00:00.000Z"}
    assert store.add_me_too(sid, first, "reader@example.net") is True
    assert store.add_me_too(sid, first, "other@example.net") is False
    assert store.add_me_too(sid, {"id": "m2", "created_at": "2026-01-02T00:00:01.000Z"}, None) is True
    assert store.me_too_contacts(sid) == ["m1"]
    assert store.me_too_contact(sid, "m1") == {"email": "reader@example.net", "created_at": first["created_at"]}
    assert store.me_too_contact(sid, "m2") is None


def test_a_me_too_is_counted_once_and_only_on_a_story_that_exists(store):
    store.create_story(dict(STORY), None)
    sid = STORY["id"]
    store.add_me_too(sid, {"id": "m1", "created_at": "2026-01-02T00:00:00.000Z"}, None)
    assert store.count_me_too(sid, "m1") is True
    assert store.count_me_too(sid, "m1") is False
    assert store.count_me_too(sid, "never-added") is False
    assert store.get_story(sid)["me_too_count"] == 1
    store.add_me_too("s-missing", {"id": "m9", "created_at": "2026-01-02T00:00:00.000Z"}, None)
    assert store.count_me_too("s-missing", "m9") is False
    assert store.get_story("s-missing") is None


def test_a_story_reads_back_as_written_without_its_keys(store):
    store.create_story(dict(STORY), {"email": "author@example.org"})
    assert store.get_story(STORY["id"], consistent=True) == STORY


def test_a_subscriber_is_created_once_per_address_and_found_by_it(store):
    assert store.create_subscriber(dict(PROFILE)) is True
    assert store.create_subscriber(dict(PROFILE, id="sub2", email="sam@example.org ")) is False
    assert store.get_subscriber("sub1") == PROFILE
    assert store.get_subscriber("sub2") is None
    assert store.find_subscriber(" SAM@example.org") == PROFILE
    sub = {"id": "x1", "subscriber_id": "sub1", "service": "riverside-ward-7", "status": "paused", "tags": ["a"]}
    store.put_subscription(dict(sub))
    assert store.get_subscription("sub1", "x1") == sub
    assert store.get_subscription("sub1", "x2") is None


def new_member(i: int, email: str, org: str = "org1") -> dict:
    return {
        "profile": {"id": f"p{i}", "email": email, "name": f"P{i}", "status": "active", "organisation": org},
        "subscription": {"id": f"s{i}", "subscriber_id": f"p{i}", "service": "ward-7", "status": "active"},
        "grant": {"org": org, "at": f"2026-01-0{i}T00:00:00.000Z", "ref": f"r{i}", "member_id": f"p{i}", "by": "t"},
    }


def test_new_members_are_written_all_or_none_and_their_addresses_become_known(store):
    assert store.known_addresses(["a@x.org"]) == set()
    assert store.create_members([new_member(1, "a@x.org"), new_member(2, "b@x.org")]) is True
    assert store.known_addresses(["A@x.org", "b@x.org", "c@x.org"]) == {"A@x.org", "b@x.org"}
    assert store.find_subscriber("a@x.org")["id"] == "p1"
    assert [s["id"] for s in store.subscriptions_of("p2")] == ["s2"]
    assert [(g["member_id"], g["at"]) for g in store.grants("org1")] == [
        ("p2", "2026-01-02T00:00:00.000Z"),
        ("p1", "2026-01-01T00:00:00.000Z"),
    ]
    # One address in the batch is taken (in another case): nothing of the batch is written.
    assert store.create_members([new_member(3, "c@x.org"), new_member(4, "B@X.org")]) is False
    assert store.find_subscriber("c@x.org") is None and store.subscriptions_of("p3") == []
    assert len(store.grants("org1")) == 2 and store.find_subscriber("b@x.org")["id"] == "p2"


def test_a_service_is_read_back_by_slug_without_its_keys(store):
    ward = {"slug": "ward-7", "name": "Ward 7", "kind": "ward", "path": ["trust", "ward-7"], "parent": "trust"}
    assert store.put_service(dict(ward)) == "created"
    assert store.put_service(dict(ward)) == "unchanged"
    assert store.get_services(["ward-7", "nowhere"]) == {"ward-7": ward}


def test_the_first_decision_about_an_occasion_is_kept(store):
    assert store.first_decision("mail#x#job1", None, 99) is None  # only read: nothing kept
    assert store.first_decision("mail#x#job1", False, 99) is False
    assert store.first_decision("mail#x#job1", True, 99) is False  # a later answer changes nothing
    assert store.first_decision("mail#x#job2", True, 99) is True


PARTNER = {
    "id": "p0000000000000001",
    "name": "Healthwatch",
    "url": "https://hooks.example.org/ff",
    "service": "riverside-trust",
    "organisation": "riverside-trust",
    "secret_sealed": "local:abc",
    "created_at": "2026-01-01T00:00:00.000Z",
}


def test_a_partner_is_kept_once_found_by_the_service_it_watches_and_counts_its_failures(store):
    assert store.create_partner(dict(PARTNER)) is True
    assert store.create_partner(dict(PARTNER, name="Again")) is False
    assert store.get_partner(PARTNER["id"]) == PARTNER | {"failures": 0, "paused_at": ""}
    assert store.get_partner("nobody") is None
    assert [p["id"] for p in store.partners_watching(["riverside-ward-7", "riverside-trust"])] == [PARTNER["id"]]
    assert store.partners_watching(["hillside-trust"]) == []
    assert [store.count_failure(PARTNER["id"]) for _ in range(3)] == [1, 2, 3]
    with pytest.raises(Exception):  # noqa: B017 (each store refuses in its own way: no partner, no count)
        store.count_failure("nobody")
    store.clear_failures(PARTNER["id"])
    assert store.get_partner(PARTNER["id"])["failures"] == 0


def test_a_partner_is_paused_once_and_its_kept_deliveries_wait_for_its_resumption(store):
    store.create_partner(dict(PARTNER))
    pid = PARTNER["id"]
    assert store.pause_partner(pid, "2026-01-02T00:00:00.000Z") is True
    assert store.pause_partner(pid, "2026-01-03T00:00:00.000Z") is False  # told once
    assert store.pause_partner("nobody", "2026-01-03T00:00:00.000Z") is False
    one, two = {"id": "evt_1", "type": "story.published"}, {"id": "evt_2", "type": "change.marked"}
    store.hold_delivery(pid, one)
    store.hold_delivery(pid, two)
    store.hold_delivery(pid, one)  # kept twice: one item
    assert store.held_deliveries(pid) == [one, two]
    assert store.held_deliveries(pid, limit=1) == [one]
    store.count_failure(pid)
    assert store.resume_partner(pid) is True
    assert store.get_partner(pid)["paused_at"] == "" and store.get_partner(pid)["failures"] == 0
    assert store.resume_partner("nobody") is False
    store.release_delivery(pid, "evt_1")
    assert store.held_deliveries(pid) == [two]
