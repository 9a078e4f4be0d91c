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
