"""Erasure from the author's private link: every item about the story and its author goes, the
pages follow, and nothing that arrives afterwards (stream records, late jobs) brings any of it back."""

from __future__ import annotations

import json

from chalicelib import wiring
from chalicelib.core.jobs import MailJob, RenderJob
from chalicelib.store import submission_record_key
from tests.support import mailbox
from tests.support.author import (
    AUTHOR,
    MOD,
    STAFF,
    body_of,
    error_fields,
    link_in,
    post_form,
    post_json,
    publish,
    read_by,
    respond,
    s3_page,
    staff_member,
    table_items,
)
from tests.support.stories import submit

SUBMISSION = "erase-me-submission-0001"
STORY_TEXT = "I was admitted at night with chest pain. A very particular sentence to look for."
SERVICE_PAGES = (
    "services/riverside-ward-7/index.html",
    "services/riverside-general/index.html",
    "services/riverside-trust/index.html",
    "index.html",
)


def tell(client, **overrides) -> str:
    return submit(
        client, email=AUTHOR, submission_id=SUBMISSION, story=STORY_TEXT, title="A title to erase", **overrides
    )


def mentions(aws, *needles: str) -> list[tuple[str, str, str]]:
    """Every (PK, SK, needle) of an item whose JSON contains one of the needles."""
    out = []
    for item in table_items(aws):
        text = json.dumps(item)
        out += [(item["PK"]["S"], item["SK"]["S"], n) for n in needles if n in text]
    return out


def private_link() -> str:
    """The private link from the author's newest letter (only the two newest work, issue 18)."""
    letters = [m for m in mailbox.to(AUTHOR) if "/api/my/" in mailbox.text_of(m)]
    return link_in(mailbox.text_of(letters[-1]))


def test_erasure_removes_every_item_and_page_and_the_link_stops_working(client, aws, directory, pump):
    sid = tell(client)
    pump.drain()
    publish(sid)
    pump.drain()
    staff = staff_member()
    read_by(sid, staff)
    respond(sid, staff, "Thank you. We have talked to the night team.")
    pump.drain()
    token = private_link()
    # The author replies and a moderator publishes it: replies, receipts, responses, letters all exist.
    assert (
        post_json(
            client, f"/api/my/{token}/replies", {"reply_id": "reply-to-erase-0001", "text": "Thank you."}
        ).status_code
        == 202
    )
    wiring.moderation().decide_item(sid, "replies", "reply-to-erase-0001", {"action": "publish"}, MOD)
    pump.drain()
    assert mentions(aws, sid), "the story should be all over the table before erasure"
    assert any(pk == f"IDEMPOTENCY#mail#{sid}" for pk, _, _ in mentions(aws, sid))
    assert any(pk == "IDEMPOTENCY#stories" for pk, _, _ in mentions(aws, sid))
    assert s3_page(aws, f"stories/{sid}/index.html")

    resp = post_form(client, f"/api/my/{token}/erase", {"confirm": "ERASE"})
    assert resp.status_code == 200
    html = body_of(resp)
    assert "Your story is being erased" in html and "link will stop working" in html
    assert "A title to erase" not in html
    pump.drain()

    assert mentions(aws, sid, AUTHOR, SUBMISSION, STORY_TEXT, "A title to erase", "reply-to-erase-0001") == []
    layer_key = submission_record_key(SUBMISSION)
    assert not [i for i in table_items(aws) if i["SK"]["S"] == layer_key]
    assert s3_page(aws, f"stories/{sid}/index.html") is None
    for key in SERVICE_PAGES:
        page = s3_page(aws, key)
        assert page is not None and sid not in page and "A title to erase" not in page, key
    dead = client.http.get(f"/api/my/{token}", headers={"Accept": "text/html"})
    assert dead.status_code == 404
    # The dead link's page tells the erased author the truth: not to look for a newer email (issue 20).
    words = " ".join(body_of(dead).split())
    assert "look for a more recent email" not in words and "when you unsubscribe" not in words
    assert "a link to a story that was erased stops for good" in words
    for action, body in (
        ("erase", {"confirm": "ERASE"}),
        ("withdraw", {"confirm": True}),
        ("replies", {"reply_id": "another-reply-0001", "text": "Hello"}),
    ):
        assert post_json(client, f"/api/my/{token}/{action}", body).status_code == 404
    # The staff member's own items are theirs, not the story's: they stay.
    assert wiring.store().get_subscriber(staff)["email"] == STAFF


def test_erasure_needs_the_word_and_twice_before_the_stream_runs_is_harmless(client, aws, directory, pump):
    sid = tell(client)
    pump.drain()
    token = private_link()
    for body in ({}, {"confirm": "yes"}, {"confirm": True}, {"confirm": "ERASED"}):
        resp = post_json(client, f"/api/my/{token}/erase", body)
        assert resp.status_code == 422 and error_fields(resp) == ["confirm"], body
    resp = post_form(client, f"/api/my/{token}/erase", {"confirm": "please"})
    assert resp.status_code == 422
    assert 'href="#erase-confirm"' in body_of(resp) and 'id="erase-confirm-error"' in body_of(resp)
    assert wiring.store().get_story(sid, consistent=True)["status"] == "pending"

    first = post_json(client, f"/api/my/{token}/erase", {"confirm": " erase "})
    assert first.status_code == 202 and json.loads(first.body)["status"] == "erasing"
    second = post_form(client, f"/api/my/{token}/erase", {"confirm": "ERASE"})
    assert second.status_code == 200 and "being erased" in body_of(second)
    # Meanwhile the private page says so, and offers nothing more to do.
    page = body_of(client.http.get(f"/api/my/{token}"))
    assert "Being erased" in page and "Erase everything" not in page
    pump.drain()
    assert mentions(aws, sid, AUTHOR, SUBMISSION, STORY_TEXT) == []
    assert post_json(client, f"/api/my/{token}/erase", {"confirm": "ERASE"}).status_code == 404


def test_erasing_a_withdrawn_story_removes_its_gone_page_too(client, aws, directory, pump):
    sid = tell(client)
    pump.drain()
    publish(sid)
    pump.drain()
    token = private_link()
    assert post_json(client, f"/api/my/{token}/withdraw", {"confirm": True}).status_code == 200
    pump.drain()
    assert "no longer available" in s3_page(aws, f"stories/{sid}/index.html")
    assert post_json(client, f"/api/my/{token}/erase", {"confirm": "ERASE"}).status_code == 202
    pump.drain()
    assert s3_page(aws, f"stories/{sid}/index.html") is None
    assert mentions(aws, sid, AUTHOR, SUBMISSION, STORY_TEXT) == []


def test_nothing_arriving_after_the_erasure_brings_anything_back(client, aws, directory, pump):
    sid = tell(client)
    pump.drain()
    publish(sid)
    pump.drain()
    staff = staff_member()
    read_by(sid, staff)
    respond(sid, staff, "Thank you for this.")
    pump.drain()
    token = private_link()
    assert post_json(client, f"/api/my/{token}/erase", {"confirm": "ERASE"}).status_code == 202
    pump.drain()
    assert mentions(aws, sid) == []
    sent = len(mailbox.sent())

    # Late mail jobs: nothing is sent, and no idempotency record is left to name the story.
    for job in (
        MailJob(kind="author_published", story_id=sid, ref="2"),
        MailJob(kind="author_read", story_id=sid),
        MailJob(kind="author_response", story_id=sid, ref="whatever"),
        MailJob(kind="author_confirmation", story_id=sid),
    ):
        assert wiring.notifications().send(job) == {"sent": False, "why": "erased"}
    # A late render job deletes rather than recreates; progress cannot recreate the story item.
    wiring.site().render(RenderJob(page="story", ref=sid))
    assert wiring.store().mark_progress(sid, "first_read_at", "2026-01-01T00:00:00.000Z") is False
    # Stream records replayed from the start (at-least-once delivery) end with the erasure again.
    from local.pump import Pump

    replay = Pump(aws.session, aws.resources, lambda name, event: client.lambda_.invoke(name, event).payload)
    assert replay.drain() > 10  # the whole history, again
    assert replay.errors == []
    assert mentions(aws, sid) == []
    assert s3_page(aws, f"stories/{sid}/index.html") is None
    assert len(mailbox.sent()) == sent


def test_the_erasure_removes_the_audit_record_of_its_own_status_change(client, aws, directory, pump):
    sid = tell(client)
    pump.drain()
    token = private_link()
    # Stop the stream after the audit is written but before erasing: the audit is there, then gone.
    store = wiring.store()
    real = store.erase_story
    seen: list[list[dict]] = []

    def watching(story_id):
        seen.append(store.audit_trail(story_id))
        return real(story_id)

    store.erase_story = watching
    try:
        assert post_json(client, f"/api/my/{token}/erase", {"confirm": "ERASE"}).status_code == 202
        pump.drain()
    finally:
        del store.erase_story
    assert seen and [(a["to"], a["by"]) for a in seen[0]] == [("erasing", "author")]
    assert store.audit_trail(sid) == []
    assert mentions(aws, sid) == []
