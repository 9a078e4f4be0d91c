"""Issue 22: a write that DynamoDB applied but whose answer was lost (a timeout, a dropped connection),
then retried by the SDK. The retry must be answered as the write it repeats, not refused by its own
condition (a 500, a 409, or "already done" for something this very call did).

Each test applies the call, loses its answer and lets the retry go ahead, as botocore does."""

from __future__ import annotations

from typing import Any

import pytest

from chalicelib import wiring
from chalicelib.core.errors import Conflict

STORY = {
    "id": "s0000000000000001",
    "status": "pending",
    "version": 1,
    "submitted_at": "2026-01-01T00:00:00.000Z",
    "title": "A title",
}


class LoseAnswers:
    """Wraps the store's client: the first call of each named operation is applied, then its answer is
    lost and the same request sent again. Records every TransactWriteItems' ClientRequestToken."""

    def __init__(self, db: Any, monkeypatch, *operations: str):
        self.lost: list[str] = []
        self.tokens: list[str | None] = []
        for op in operations:
            real = getattr(db, op)

            def applied_then_lost(_real=real, _op=op, **kwargs):
                if _op == "transact_write_items":
                    self.tokens.append(kwargs.get("ClientRequestToken"))
                if _op not in self.lost:
                    _real(**kwargs)  # the write commits ...
                    self.lost.append(_op)  # ... its answer never arrives; the SDK sends it again
                return _real(**kwargs)

            monkeypatch.setattr(db, op, applied_then_lost)


@pytest.fixture
def store(aws):
    return wiring.store()


def lose(store, monkeypatch, *ops: str) -> LoseAnswers:
    return LoseAnswers(store._db, monkeypatch, *ops)


def published(store, story_id: str = STORY["id"]) -> None:
    store.create_story(STORY | {"id": story_id}, None)
    store.update_story(story_id, 1, ["pending"], {"status": "published", "published_at": "2026-01-02T00:00:00.000Z"})


def test_an_author_reply_whose_answer_was_lost_is_one_reply_not_an_error(store, monkeypatch):
    published(store)
    lost = lose(store, monkeypatch, "put_item")
    store.put_reply(STORY["id"], {"id": "r1", "text": "Thanks", "status": "pending", "created_at": "2026-01-03"})
    assert lost.lost == ["put_item"]
    replies = [i for i in store.story_thread(STORY["id"], consistent=True) if i["item"] == "reply"]
    assert len(replies) == 1 and "write_id" not in replies[0]


def test_a_response_whose_answer_was_lost_counts_as_added(store, monkeypatch):
    published(store)
    lost = lose(store, monkeypatch, "put_item")
    response = {"id": "p1", "text": "We hear you", "status": "published", "created_at": "2026-01-03"}
    assert store.add_response(STORY["id"], response) is True
    assert lost.lost == ["put_item"]
    assert store.add_response(STORY["id"], response) is False  # a real second sending is still refused


def test_a_link_whose_answer_was_lost_is_kept_once_and_a_real_repeat_still_refused(store, monkeypatch):
    lost = lose(store, monkeypatch, "put_item")
    store.put_token("h1", {"purpose": "author", "story_id": "s1", "subject": "author"}, 2_000_000_000)
    assert lost.lost == ["put_item"] and store.get_token("h1")["purpose"] == "author"
    with pytest.raises(Exception):  # noqa: B017 (a different write of the same token is refused)
        store.put_token("h1", {"purpose": "other"}, 1)


def test_a_moderators_decision_whose_answer_was_lost_is_the_decision_not_a_conflict(store, monkeypatch):
    store.create_story(STORY, None)
    lost = lose(store, monkeypatch, "update_item")
    story = store.update_story(STORY["id"], 1, ["pending"], {"status": "rejected", "reason": "r"})
    assert lost.lost == ["update_item"]
    assert story["status"] == "rejected" and story["version"] == 2 and "write_id" not in story
    with pytest.raises(Conflict):  # another moderator on the old version still meets a conflict
        store.update_story(STORY["id"], 1, ["pending"], {"status": "published"})


def test_a_withdrawal_whose_answer_was_lost_is_the_withdrawal_not_a_conflict(store, monkeypatch):
    published(store)
    lose(store, monkeypatch, "update_item")
    story = store.change_status(STORY["id"], ["published"], {"status": "withdrawn"})
    assert story["status"] == "withdrawn" and story["version"] == 3
    with pytest.raises(Conflict):
        store.change_status(STORY["id"], ["published"], {"status": "withdrawn"})


def test_progress_whose_answer_was_lost_is_reported_as_set(store, monkeypatch):
    published(store)
    lose(store, monkeypatch, "update_item")
    assert store.mark_progress(STORY["id"], "first_read_at", "2026-01-04T00:00:00.000Z") is True
    assert store.mark_progress(STORY["id"], "first_read_at", "2026-01-05T00:00:00.000Z") is False
    assert store.get_story(STORY["id"])["first_read_at"] == "2026-01-04T00:00:00.000Z"


def test_every_transaction_carries_a_token_its_retry_repeats(store, monkeypatch):
    """On AWS the token makes the retry of a committed transaction a no-op; here (moto ignores it)
    the read-back answers instead. Either way the caller hears "done"."""
    lost = lose(store, monkeypatch, "transact_write_items")
    store.create_story(STORY, {"email": "a@example.org"})
    published(store, "s0000000000000002")
    profile = {"id": "sub1", "email": "sam@example.org", "name": "Sam", "status": "active"}
    assert store.create_subscriber(profile) is True
    promise = {"response_days": 10, "response_due_at": "2026-01-20T00:00:00.000Z", "response_holidays": "x"}
    steps = {"reminder": "2026-01-10T00:00:00.000Z"}
    lost.lost.clear()
    assert store.start_promise("s0000000000000002", promise, steps) is True
    assert store.get_ladder("s0000000000000002")["next_step"] == "reminder"
    facts = {"published": 1, "month": "2026-01"}
    applied = store.story_facts("s0000000000000002")
    lost.lost.clear()
    from chalicelib.core import figures

    store.apply_facts("s0000000000000002", applied, facts, {"_all"}, figures.plan(applied, facts, {"_all"}))
    assert store.figures("_all", consistent=True)["published"] == 1
    # Every transaction carried a token (the retry sends the same request), one per operation.
    assert len(lost.tokens) == 5 and all(t and len(t) <= 36 for t in lost.tokens)
    assert len(set(lost.tokens)) == 5


def test_a_submission_whose_transaction_answer_was_lost_is_a_201_for_one_story(client, aws, directory, monkeypatch):
    """POST /api/stories writes the story, its contact and the submission's idempotency record in one
    transaction (issue 17). Lost, its retry meets its own record, and answers with the story it made."""
    import json

    from tests.support.factories import story_body

    body = story_body()
    lost = lose(wiring.store(), monkeypatch, "transact_write_items")
    resp = client.http.post("/api/stories", body=json.dumps(body), headers={"Content-Type": "application/json"})
    assert resp.status_code == 201, resp.body
    assert lost.lost == ["transact_write_items"]
    story_id = json.loads(resp.body)["id"]
    assert wiring.store().get_story(story_id, consistent=True)["status"] == "pending"
    again = client.http.post("/api/stories", body=json.dumps(body), headers={"Content-Type": "application/json"})
    assert again.status_code == 201 and json.loads(again.body)["id"] == story_id  # the same submission: one story


def test_a_publication_with_its_promise_whose_answer_was_lost_is_the_publication(store, monkeypatch):
    """A first publication writes the story and its ladder in one transaction (issue 17): its retry
    meets its own write and answers with it, not a conflict."""
    store.create_story(STORY, None)
    lost = lose(store, monkeypatch, "transact_write_items")
    promise = {"response_days": 5, "response_due_at": "2026-01-08T00:00:00.000Z", "response_holidays": "england"}
    steps = {"reminder": "2026-01-05T00:00:00.000Z", "overdue": promise["response_due_at"], "organisation": "x"}
    changes = {"status": "published", "published_at": "2026-01-01T00:00:00.000Z", **promise}
    story = store.update_story(STORY["id"], 1, ["pending"], changes, (dict(STORY), promise, steps))
    assert lost.lost == ["transact_write_items"]
    assert story["status"] == "published" and story["version"] == 2 and story["response_days"] == 5
    assert store.get_ladder(STORY["id"])["next_step"] == "reminder"
    with pytest.raises(Conflict):
        store.update_story(STORY["id"], 1, ["pending"], {"status": "rejected"})


def test_a_partner_whose_answer_was_lost_is_registered_once_with_its_service_watched(store, monkeypatch):
    partner = {"id": "p1", "name": "Healthwatch", "url": "https://a.example/h", "service": "riverside-trust"}
    lost = lose(store, monkeypatch, "transact_write_items")
    assert store.create_partner(partner) is True
    assert lost.lost == ["transact_write_items"] and lost.tokens[0]
    assert store.watched_services() == {"riverside-trust"} and "write_id" not in store.get_partner("p1")
    assert store.create_partner(partner | {"name": "Again"}) is False  # a real second registration is refused
