"""Reporting a concern and deciding on it (issue 16), on the in-memory store: the risk rules, what
answers as nothing, the floods, and each decision with its private record and optimistic locking.
The site's following through the stream is tests/pipeline/test_takedown.py."""

from __future__ import annotations

import pytest

from chalicelib.concerns import Concerns
from chalicelib.core.errors import Conflict, NotFound, TooManyRequests, ValidationFailed
from chalicelib.core.settings import Settings
from chalicelib.limits import Limits
from chalicelib.moderation import Moderator
from tests.support.memory_store import MemoryStore

SID = "s0000000000000001"
STORY = {
    "id": SID,
    "status": "published",
    "version": 2,
    "submitted_at": "2026-01-01T00:00:00.000Z",
    "published_at": "2026-01-02T00:00:00.000Z",
    "title": "Night on ward 7",
    "story": "The nurses were kind all night.",
    "services": ["ward-7"],
}
RESPONSE = {"id": "r1", "status": "published", "text": "Thank you for telling us.", "created_at": STORY["published_at"]}
MOD = Moderator("mod1", "Mo")
OTHER = Moderator("mod2", "Mae")


@pytest.fixture
def store():
    s = MemoryStore()
    s.create_story(dict(STORY), None)
    s.put_response(SID, dict(RESPONSE))
    s.put_reply(SID, {"id": "p1", "status": "pending", "text": "Not yet checked", "created_at": STORY["published_at"]})
    return s


def flow(store, **settings):
    return Concerns(store, Limits(store), Settings(min_form_seconds=0, **settings))


def test_an_offensive_report_waits_with_the_story_still_public(store):
    out = flow(store).report(SID, "story", "", {"reason": "offensive", "explanation": "Rude"}, "c1")
    assert out["created"] and not out["hidden"]
    assert store.get_story(SID)["status"] == "published"
    [case] = flow(store).queue()
    assert (case["target"], case["reports"], case["hidden"], case["state"]) == ("story", 1, False, "open")


@pytest.mark.parametrize("reason", ["identifies-someone", "safeguarding"])
def test_a_risky_reason_hides_the_item_at_once(store, reason):
    assert flow(store).report(SID, "responses", "r1", {"reason": reason}, "c1")["hidden"]
    assert store.get_thread_item(SID, "response", "r1")["status"] == "hidden"
    assert store.get_story(SID)["status"] == "published"  # only the response is hidden
    assert store.concern_counts()["hidden"] == 1


def test_the_third_report_from_three_clients_hides_the_item(store):
    f = flow(store)
    assert not f.report(SID, "story", "", {"reason": "other"}, "c1")["hidden"]
    assert not f.report(SID, "story", "", {"reason": "untrue-or-defamatory"}, "c2")["hidden"]
    assert f.report(SID, "story", "", {"reason": "offensive"}, "c3")["hidden"]
    story = store.get_story(SID)
    assert (story["status"], story["version"]) == ("hidden", 3)
    assert flow(store).queue()[0]["reasons"] == {"other": 1, "untrue-or-defamatory": 1, "offensive": 1}


def test_an_author_s_correction_never_hides_their_story_even_as_the_third(store):
    from types import SimpleNamespace

    # The author's link as resolved (links are tested on their own, in test_links_abuse and test_author_side).
    links = SimpleNamespace(resolve=lambda token, purpose: {"story_id": SID} if purpose == "author" else {})
    token = "the-author-s-link"
    f = Concerns(store, Limits(store), Settings(min_form_seconds=0), links)
    f.report(SID, "story", "", {"reason": "other"}, "c1")
    f.report(SID, "story", "", {"reason": "offensive"}, "c2")
    assert f.request_correction(token, {"story": "The nurses were kind all night, and the next day."})["created"]
    assert store.get_story(SID)["status"] == "published"
    assert flow(store).queue()[0]["reports"] == 3


def test_a_flood_from_one_client_is_one_report_then_429_and_hides_nothing(store):
    f = flow(store, concern_limit=5)
    answers = [f.report(SID, "story", "", {"reason": "other"}, "flood")["created"] for _ in range(5)]
    assert answers == [True, False, False, False, False]
    with pytest.raises(TooManyRequests) as e:
        f.report(SID, "story", "", {"reason": "other"}, "flood")
    assert e.value.headers["Retry-After"]
    assert store.get_story(SID)["status"] == "published"
    assert flow(store).queue()[0]["reports"] == 1


@pytest.mark.parametrize(
    ("sid", "kind", "item"),
    [
        ("s0000000000000009", "story", ""),  # no such story
        ("not-an-id", "story", ""),
        (SID, "responses", "nope"),  # no such response
        (SID, "replies", "p1"),  # a reply not yet published
        (SID, "checks", "x"),  # not something one reports
    ],
)
def test_a_report_on_nothing_or_the_unpublished_answers_as_nothing(store, sid, kind, item):
    with pytest.raises(NotFound) as e:
        flow(store).report(sid, kind, item, {"reason": "offensive"}, "c1")
    assert str(e.value) == "There is nothing published here to report."
    assert flow(store).queue() == []


def test_an_unpublished_story_answers_as_nothing(store):
    store._items[(f"STORY#{SID}", "STORY")]["status"] = "pending"
    with pytest.raises(NotFound):
        flow(store).report(SID, "story", "", {"reason": "offensive"}, "c1")


def test_bad_reports_name_the_field_and_write_nothing(store):
    for data, field in (({"reason": "boring"}, "reason"), ({"reason": "other", "email": "nope"}, "email")):
        with pytest.raises(ValidationFailed) as e:
            flow(store).report(SID, "story", "", data, "c1")
        assert [f["field"] for f in e.value.fields] == [field]
    with pytest.raises(ValidationFailed):
        flow(store).report(SID, "story", "", {"reason": "other", "website": "spam"}, "c1")  # the honeypot
    assert flow(store).queue() == []


def test_a_report_sent_at_once_after_the_form_opened_is_refused(store):
    from chalicelib.core import clock

    now = int(clock.now().timestamp() * 1000)
    f = Concerns(store, Limits(store), Settings(min_form_seconds=3))
    with pytest.raises(ValidationFailed) as e:
        f.report(SID, "story", "", {"reason": "other", "started": str(now)}, "c1")
    assert e.value.fields[0]["field"] == "started"
    assert f.report(SID, "story", "", {"reason": "other", "started": str(now - 60_000)}, "c1")["created"]


def test_the_reporters_address_is_kept_apart_and_never_shown_to_moderators(store):
    flow(store).report(SID, "story", "", {"reason": "other", "email": "r@example.org"}, "c1")
    case = flow(store).case(SID, "story")
    assert "r@example.org" not in repr(case)
    [report] = case["reports"]
    assert report["has_email"] is True
    assert store.concern_contact(SID, report["id"])["email"] == "r@example.org"


def _open(store, kind="story", item="", reason="identifies-someone"):
    flow(store).report(SID, kind, item, {"reason": reason}, "c1")
    return flow(store).case(SID, kind, item)["case"]["version"]


def test_dismiss_restores_a_hidden_story_and_records_who_when_why(store):
    v = _open(store)
    out = flow(store).decide(SID, "story", "", {"action": "dismiss", "version": v, "note": "Nobody named"}, MOD)
    assert out["state"] == "decided"
    assert store.get_story(SID)["status"] == "published"
    [d] = flow(store).case(SID, "story")["case"]["decisions"]
    assert (d["action"], d["by"], d["note"], d["item_status"]) == ("dismiss", "mod1", "Nobody named", "hidden")
    assert d["at"]
    assert flow(store).queue() == []


def test_dismissing_a_visible_item_leaves_it_as_it_was(store):
    v = _open(store, reason="offensive")
    before = store.get_story(SID)
    flow(store).decide(SID, "story", "", {"action": "dismiss", "version": v}, MOD)
    assert store.get_story(SID) == before


def test_edit_changes_the_words_keeps_the_old_ones_privately_and_dates_the_edit(store):
    v = _open(store)
    data = {"action": "edit", "version": v, "title": "A night on a ward", "text": "The nurses were kind."}
    flow(store).decide(SID, "story", "", data, MOD)
    story = store.get_story(SID)
    assert (story["status"], story["title"], story["story"]) == ("published", data["title"], data["text"])
    assert story["moderator_edited_at"]
    [d] = flow(store).case(SID, "story")["case"]["decisions"]
    assert d["before"] == {"title": STORY["title"], "story": STORY["story"]}


def test_edit_of_a_response_changes_its_text_only(store):
    v = _open(store, "responses", "r1")
    flow(store).decide(SID, "responses", "r1", {"action": "edit", "version": v, "text": "Thank you."}, MOD)
    r = store.get_thread_item(SID, "response", "r1")
    assert (r["status"], r["text"], bool(r["moderator_edited_at"])) == ("published", "Thank you.", True)


def test_restrict_says_who_asked_and_why(store):
    from chalicelib.core.concerns import placeholder

    v = _open(store)
    data = {"action": "restrict", "version": v, "asked_by": "author", "reason": "identifies-someone", "note": "Asked"}
    flow(store).decide(SID, "story", "", data, MOD)
    story = store.get_story(SID)
    assert story["status"] == "restricted"
    assert placeholder("story", story) == "Restricted at the request of the author because it identifies someone."


def test_restrict_needs_who_and_why_and_a_note(store):
    v = _open(store)
    for data, field in (
        ({"action": "restrict", "version": v, "note": "x", "reason": "offensive"}, "asked_by"),
        ({"action": "remove", "version": v}, "note"),
        ({"action": "edit", "version": v}, "text"),
    ):
        with pytest.raises(ValidationFailed) as e:
            flow(store).decide(SID, "story", "", data, MOD)
        assert e.value.fields[0]["field"] == field
    assert store.get_story(SID)["status"] == "hidden"


def test_remove_and_hold(store):
    v = _open(store, "responses", "r1")
    flow(store).decide(SID, "responses", "r1", {"action": "remove", "version": v, "note": "Libel"}, MOD)
    assert store.get_thread_item(SID, "response", "r1")["status"] == "removed"
    v = _open(store)
    flow(store).decide(SID, "story", "", {"action": "hold", "version": v, "note": "Safeguarding"}, MOD)
    assert store.get_story(SID)["status"] == "held"
    assert store._items[(f"STORY#{SID}", "STORY")]["GSI1PK"] == "QUEUE#held"  # back in the held queue


def test_hold_is_for_stories_only(store):
    v = _open(store, "responses", "r1")
    with pytest.raises(Conflict):
        flow(store).decide(SID, "responses", "r1", {"action": "hold", "version": v, "note": "x"}, MOD)


def test_the_second_decision_on_the_same_version_is_a_409(store):
    v = _open(store)
    flow(store).decide(SID, "story", "", {"action": "dismiss", "version": v}, MOD)
    with pytest.raises(Conflict):
        flow(store).decide(SID, "story", "", {"action": "remove", "version": v, "note": "x"}, OTHER)
    assert store.get_story(SID)["status"] == "published"
    assert [d["by"] for d in flow(store).case(SID, "story")["case"]["decisions"]] == ["mod1"]


def test_a_new_report_after_a_decision_opens_the_case_again_and_counts_from_zero(store):
    v = _open(store, reason="offensive")
    flow(store).decide(SID, "story", "", {"action": "dismiss", "version": v}, MOD)
    out = flow(store).report(SID, "story", "", {"reason": "other"}, "c2")
    assert out["created"] and not out["hidden"]
    [case] = flow(store).queue()
    assert (case["reports"], case["open_reports"], case["state"]) == (2, 1, "open")


def test_the_queue_puts_the_riskiest_first_then_the_oldest(store):
    flow(store).report(SID, "story", "", {"reason": "offensive"}, "c1")
    flow(store).report(SID, "responses", "r1", {"reason": "safeguarding"}, "c1")
    assert [c["target"] for c in flow(store).queue()] == ["response#r1", "story"]


def test_the_counts_say_received_hidden_decided_and_time_to_decide(store):
    flow(store).report(SID, "responses", "r1", {"reason": "offensive"}, "c1")
    v = _open(store)  # a hidden story: its responses cannot be reported until it is back
    with pytest.raises(NotFound):
        flow(store).report(SID, "responses", "r1", {"reason": "offensive"}, "c2")
    flow(store).decide(SID, "story", "", {"action": "dismiss", "version": v}, MOD)
    c = flow(store).counts()
    assert (c["received"], c["hidden"], c["decided"], c["median_hours"], c["p90_hours"]) == (2, 1, 1, 0, 0)
