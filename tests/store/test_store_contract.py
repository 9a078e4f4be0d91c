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
    store.put_tokens([("h2", {"purpose": "manage", "subject": "sub1"}, 5), ("h3", {"purpose": "unsubscribe"}, 6)])
    assert store.get_token("h2") == {"purpose": "manage", "subject": "sub1", "expires_at": 5}
    assert store.get_token("h3")["purpose"] == "unsubscribe"


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


def test_messages_are_kept_once_each_and_read_back_oldest_first(store):
    sid = STORY["id"]
    later = {"id": "a-answer", "sender": "author", "text": "Yes", "at": "2026-01-02T00:00:02.000Z"}
    first = {"id": "m1", "sender": "moderator", "text": "Are you safe?", "at": "2026-01-02T00:00:01.000Z", "by": "mod"}
    assert store.put_message(sid, later) is True
    assert store.put_message(sid, first) is True
    assert store.put_message(sid, {**first, "text": "Again"}) is False
    assert store.messages(sid) == [{**first, "story_id": sid}, {**later, "story_id": sid}]
    assert store.messages("other") == []


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
    assert store.get_holder("sub1", "x1") == (PROFILE, sub)
    assert store.get_holder("sub1", "x2") == (PROFILE, None)
    assert store.get_holder("sub2", "x1") == (None, None)


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


# ---- concerns about what is published (issue 16) ---------------------------------------------------


def _case(version: int, **more) -> dict:
    return {
        "story_id": STORY["id"],
        "target": "story",
        "kind": "story",
        "item_id": "",
        "state": "open",
        "version": version,
        "first_at": "2026-01-03T00:00:00.000Z",
        "GSI1PK": "QUEUE#concerns",
        "GSI1SK": f"2#2026-01-03T00:00:00.000Z#{STORY['id']}#story",
    } | more


def test_a_report_writes_its_case_hides_the_item_and_counts_all_or_nothing(store):
    store.create_story(dict(STORY, version=1), None)
    sid = STORY["id"]
    report = {"id": "c1", "target": "story", "reason": "safeguarding", "created_at": "2026-01-03T00:00:00.000Z"}
    hide = {"status": "hidden", "hidden_at": report["created_at"]}
    assert store.file_concern(_case(1), 0, report, "r@example.org", hide, {"received": 1, "hidden": 1}) is True
    assert store.get_story(sid)["status"] == "hidden" and store.get_story(sid)["version"] == 2
    assert store.get_case(sid, "story")["version"] == 1
    assert store.get_concern(sid, "story", "c1")["reason"] == "safeguarding"
    assert [c["id"] for c in store.concerns_on(sid, "story")] == ["c1"]
    assert store.concern_contact(sid, "c1")["email"] == "r@example.org"
    assert store.confirm_concern_contact(sid, "c1", "2026-01-03T01:00:00.000Z") is True
    assert store.confirm_concern_contact(sid, "c1", "2026-01-03T02:00:00.000Z") is False
    # A stale case version, or hiding an item no longer published: nothing is written.
    again = dict(report, id="c2")
    assert store.file_concern(_case(2), 0, again, None, None, {"received": 1}) is False
    assert store.file_concern(_case(2), 1, again, None, hide, {"received": 1}) is False
    assert store.get_concern(sid, "story", "c2") is None
    assert store.concern_counts() == {"received": 1, "hidden": 1, "decided": 0, "hours": {}}
    assert [c["target"] for c in store.cases_queue(10)] == ["story"]


def test_a_decision_is_taken_once_per_case_version(store):
    from chalicelib.core.errors import Conflict

    store.create_story(dict(STORY, version=1), None)
    sid = STORY["id"]
    report = {"id": "c1", "target": "story", "reason": "offensive", "created_at": "2026-01-03T00:00:00.000Z"}
    store.file_concern(_case(1), 0, report, None, None, {"received": 1})
    decided = {k: v for k, v in _case(2, state="decided").items() if not k.startswith("GSI1")}
    store.decide_case(decided, 1, {"status": "restricted"}, ("published", "hidden"), {"decided": 1, "h:3": 1})
    assert store.get_story(sid)["status"] == "restricted"
    with pytest.raises(Conflict):
        store.decide_case(decided | {"note": "other"}, 1, {"status": "removed"}, ("published", "hidden"), {})
    assert store.get_story(sid)["status"] == "restricted"
    assert store.cases_queue(10) == []
    assert store.concern_counts() == {"received": 1, "hidden": 0, "decided": 1, "hours": {3: 1}}


INVITATION = {
    "code": "abcdefghjkmn",
    "organisation": "riverside-trust",
    "service": "riverside-ward-7",
    "service_name": "Ward 7",
    "campaign": "",
    "tags": ["discharge"],
    "expires_on": "",
    "created_at": "2026-01-02T00:00:00.000Z",
    "created_by": "sub1",
    "created_by_name": "Sam",
}


def test_an_invitation_is_kept_once_listed_by_organisation_and_ended_once(store):
    assert store.create_invitation(dict(INVITATION)) is True
    assert store.create_invitation(dict(INVITATION, service="other")) is False
    later = dict(INVITATION, code="pqrstuvwxyz2", created_at="2026-01-03T00:00:00.000Z")
    assert store.create_invitation(later) is True
    store.create_invitation(dict(INVITATION, code="zzzzzzzzzzzz", organisation="hillside-trust"))
    assert store.get_invitation("abcdefghjkmn") == INVITATION | {"stories": 0}
    assert store.get_invitation("nothere23456") is None
    assert [i["code"] for i in store.invitations_of("riverside-trust")] == ["pqrstuvwxyz2", "abcdefghjkmn"]
    assert store.end_invitation("abcdefghjkmn", "2026-01-04T00:00:00.000Z", "sub1") is True
    assert store.end_invitation("abcdefghjkmn", "2026-01-05T00:00:00.000Z", "sub2") is False
    assert store.end_invitation("nothere23456", "2026-01-05T00:00:00.000Z", "sub2") is False
    ended = store.get_invitation("abcdefghjkmn")
    assert (ended["ended_at"], ended["ended_by"]) == ("2026-01-04T00:00:00.000Z", "sub1")


def test_a_story_is_counted_on_its_invitation_once(store):
    store.create_invitation(dict(INVITATION))
    assert store.count_invitation_story("abcdefghjkmn", "s1") is True
    assert store.count_invitation_story("abcdefghjkmn", "s1") is False
    assert store.count_invitation_story("abcdefghjkmn", "s2") is True
    assert store.count_invitation_story("nothere23456", "s3") is False
    assert store.get_invitation("abcdefghjkmn")["stories"] == 2


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
    assert store.watched_services() == frozenset()
    assert store.create_partner(dict(PARTNER)) is True
    assert store.create_partner(dict(PARTNER, name="Again")) is False
    assert store.get_partner(PARTNER["id"]) == PARTNER | {"failures": 0, "paused_at": ""}
    assert store.get_partner("nobody") is None
    assert [p["id"] for p in store.partners_watching(["riverside-ward-7", "riverside-trust"])] == [PARTNER["id"]]
    assert store.partners_watching(["hillside-trust"]) == []
    assert store.watched_services() == {"riverside-trust"}
    assert store.create_partner(dict(PARTNER, id="p0000000000000002", service="riverside-ward-7")) is True
    assert store.watched_services() == {"riverside-trust", "riverside-ward-7"}  # this process sees its own at once
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


SOURCE = {
    "slug": "nhs-reviews",
    "name": "NHS website reviews",
    "organisation": "riverside-trust",
    "kind": "json_feed",
    "location": "https://reviews.example.org/feed.json",
    "service": "riverside-ward-7",
    "mapping": {},
    "licensed": False,
    "moderated": False,
    "role": "other",
}


def _imported(story_id: str, source_id: str = "r1", digest: str = "d1") -> tuple[dict, dict]:
    story = {
        "id": story_id,
        "status": "pending",
        "version": 1,
        "submitted_at": "2026-01-01T00:00:00.000Z",
        "title": "A review",
        "route": "import",
        "source": {"slug": SOURCE["slug"], "name": SOURCE["name"], "id": source_id, "url": "", "date": "2026-01-01"},
    }
    pointer = {"slug": SOURCE["slug"], "source_id": source_id, "story_id": story_id, "digest": digest}
    return story, pointer


def test_a_source_is_kept_once_found_by_its_organisation_and_keeps_its_cursor(store):
    assert store.create_source(dict(SOURCE)) is True
    assert store.create_source(dict(SOURCE, name="Again")) is False
    assert store.get_source(SOURCE["slug"]) == SOURCE | {"cursor": ""}
    assert store.get_source("nobody") is None
    assert [s["slug"] for s in store.sources_of("riverside-trust")] == [SOURCE["slug"]]
    assert store.sources_of("hillside-trust") == []
    store.set_source_cursor(SOURCE["slug"], "item r7", "2026-01-02T00:00:00.000Z")
    assert store.get_source(SOURCE["slug"])["cursor"] == "item r7"
    assert store.get_source(SOURCE["slug"])["last_run_at"] == "2026-01-02T00:00:00.000Z"
    with pytest.raises(Exception):  # noqa: B017 (each store refuses in its own way: no source, no cursor)
        store.set_source_cursor("nobody", "", "2026-01-02T00:00:00.000Z")


def test_only_its_own_organisation_changes_or_removes_a_source(store):
    assert store.create_source(dict(SOURCE))
    slug = SOURCE["slug"]
    assert store.update_source(slug, "hillside-trust", {"name": "Theirs"}) is False
    assert store.delete_source(slug, "hillside-trust", "2026-01-03T00:00:00.000Z") is False
    assert store.update_source("nobody", "riverside-trust", {"name": "X"}) is False
    assert store.get_source(slug)["name"] == SOURCE["name"]
    assert store.update_source(slug, "riverside-trust", {"name": "Ours", "licensed": True}) is True
    assert store.get_source(slug)["name"] == "Ours" and store.get_source(slug)["licensed"] is True
    assert store.delete_source(slug, "riverside-trust", "2026-01-03T00:00:00.000Z") is True
    # A tombstone: off the organisation's list, and its slug taken for good (its items' pointers stay).
    assert store.get_source(slug)["removed_at"] == "2026-01-03T00:00:00.000Z"
    assert store.sources_of("riverside-trust") == []
    assert store.create_source(dict(SOURCE, organisation="hillside-trust")) is False
    assert store.delete_source(slug, "riverside-trust", "2026-01-04T00:00:00.000Z") is False


def test_an_imported_story_and_its_pointer_are_written_together_once(store):
    story, pointer = _imported("s0000000000000011")
    assert store.import_story(story, pointer) is True
    again, _ = _imported("s0000000000000012")
    assert store.import_story(again, pointer | {"story_id": again["id"]}) is False  # the item has a story already
    assert store.get_story(again["id"]) is None  # nothing half written
    assert store.imported_items(SOURCE["slug"], ["r1", "r2"]) == {"r1": pointer}
    assert store.get_story(story["id"]) == story


def test_a_reimport_takes_the_new_words_only_over_the_digest_it_read_and_from_a_status_that_allows_it(store):
    story, pointer = _imported("s0000000000000021")
    store.import_story(story, pointer)
    changes = {"title": "An edited review", "status": "pending", "reimported_at": "2026-01-03T00:00:00.000Z"}
    assert store.reimport_story(story["id"], changes, pointer | {"digest": "d2"}, "stale") is False
    assert store.get_story(story["id"])["title"] == "A review"
    assert store.reimport_story(story["id"], changes, pointer | {"digest": "d2"}, "d1") is True
    now = store.get_story(story["id"])
    assert (now["title"], now["version"], now["status"]) == ("An edited review", 2, "pending")
    assert store.imported_items(SOURCE["slug"], ["r1"])["r1"]["digest"] == "d2"
    gone, gone_pointer = _imported("s0000000000000022", "r2")
    store.import_story(gone | {"status": "withdrawn"}, gone_pointer)  # its author took it back here
    assert store.reimport_story(gone["id"], changes, gone_pointer | {"digest": "d2"}, "d1") is False
    assert store.get_story(gone["id"])["status"] == "withdrawn"
    assert store.imported_items(SOURCE["slug"], ["r2"])["r2"]["digest"] == "d1"
