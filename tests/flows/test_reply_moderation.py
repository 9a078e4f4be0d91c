"""Moderating the conversation: held staff responses and pending author replies wait in the
"replies" queue; a moderator publishes (perhaps with edited words) or rejects (with a reason)
each one once. Through the moderation API with a real Cognito token, the stream and SES."""

from __future__ import annotations

import json

import pytest

from chalicelib import wiring
from chalicelib.core.jobs import MailJob
from tests.support import mailbox
from tests.support.auth import bearer
from tests.support.author import (
    AUTHOR,
    JSON_H,
    STAFF,
    author_link,
    body_of,
    error_fields,
    post_json,
    read_by,
    respond,
    s3_page,
    staff_member,
    told_and_published,
)
from tests.support.screen import sign_in_on_screen


@pytest.fixture
def auth(token):  # noqa: F811
    return {**bearer(token), **JSON_H}


@pytest.fixture
def story(client, aws, directory, pump):
    """A published story. Made once per worker (author.told_and_published)."""
    return told_and_published(client, pump)


@pytest.fixture
def queued_jobs(monkeypatch):
    """Every job the stream handler sends, as well as sending it."""
    sent: list = []
    queues = wiring.queues()
    real = queues.send

    def spy(jobs):
        jobs = list(jobs)
        sent.extend(jobs)
        return real(jobs)

    monkeypatch.setattr(queues, "send", spy)
    return sent


def replies_queue(client, auth) -> list[dict]:
    resp = client.http.get("/api/moderation/queue?status=replies", headers=auth)
    assert resp.status_code == 200, resp.body
    return json.loads(resp.body)["items"]


def decide(client, auth, story_id, kind, item_id, **decision):
    return client.http.post(
        f"/api/moderation/stories/{story_id}/{kind}/{item_id}/decision", body=json.dumps(decision), headers=auth
    )


def author_replies(client, story_id, reply_id, text):
    resp = post_json(client, f"/api/my/{author_link(story_id)}/replies", {"reply_id": reply_id, "text": text})
    assert resp.status_code == 202, resp.body


def story_page(aws, story_id) -> str:
    return s3_page(aws, f"stories/{story_id}/index.html") or ""


# ---- the queue -----------------------------------------------------------------------------------


def test_the_queue_lists_held_responses_and_pending_replies_oldest_first_with_flags(client, aws, story, auth):
    staff = staff_member()
    held = respond(story, staff, "Ring me on 07700 900123", status="held", flags=["phone"])
    respond(story, staff, "A published response")  # not waiting for anyone
    author_replies(client, story, "reply-0000000001", "Thank you, that helps.")
    items = replies_queue(client, auth)
    assert [(i["item"], i["id"]) for i in items] == [("response", held), ("reply", "reply-0000000001")]
    response, reply = items
    assert response["flags"] == ["phone"] and response["text"] == "Ring me on 07700 900123"
    assert response["name"] == "Sam Carter" and response["role"] == "Ward Manager"
    assert response["story"] == {"id": story, "title": "Kind nurses on a busy night", "status": "published"}
    assert reply["text"] == "Thank you, that helps." and reply["story"]["id"] == story and reply["status"] == "pending"
    assert STAFF not in json.dumps(items) and AUTHOR not in json.dumps(items)
    # Moderators only.
    assert client.http.get("/api/moderation/queue?status=replies").status_code == 401
    assert client.http.get("/api/moderation/queue?status=nonsense", headers=auth).status_code == 404


# ---- author replies ------------------------------------------------------------------------------


def test_a_published_reply_appears_on_the_story_page_and_the_staff_who_responded_are_told(
    client, aws, story, auth, pump, queued_jobs
):
    staff = staff_member()
    respond(story, staff, "We are sorry about the wait.")
    pump.drain()
    author_replies(client, story, "reply-0000000001", "Thank you for answering.\nIt helps.")
    pump.drain()
    assert "Thank you for answering." not in story_page(aws, story)

    resp = decide(client, auth, story, "replies", "reply-0000000001", action="publish")
    assert resp.status_code == 200, resp.body
    item = json.loads(resp.body)["item"]
    assert item["status"] == "published" and item["decided_by"] and item["published_at"] and item["decided_at"]
    pump.drain()

    assert "Thank you for answering.\nIt helps." in story_page(aws, story)
    assert MailJob(kind="staff_author_replied", story_id=story, ref=f"reply-0000000001:{staff}") in queued_jobs
    if "staff_author_replied" in wiring.notifications()._composers:  # the staff side's letter
        letters = mailbox.to(STAFF)
        assert len(letters) == 1 and "Thank you for answering." in mailbox.text_of(letters[0])
        assert AUTHOR not in mailbox.text_of(letters[0])
    assert replies_queue(client, auth) == []
    page = body_of(client.http.get(f"/api/my/{author_link(story)}"))
    assert "Thank you for answering." in page and "Waiting for a moderator" not in page


def test_a_moderator_can_edit_a_reply_before_publishing_it(client, aws, story, auth, pump):
    author_replies(client, story, "reply-0000000001", "Thank you Nurse Jane Smith on bed 4.")
    resp = decide(client, auth, story, "replies", "reply-0000000001", action="publish", text="Thank you to the nurse.")
    assert resp.status_code == 200
    pump.drain()
    page = story_page(aws, story)
    assert "Thank you to the nurse." in page and "Jane Smith" not in page


def test_a_rejected_reply_is_not_shown_and_the_author_sees_why(client, aws, story, auth, pump):
    author_replies(client, story, "reply-0000000001", "REJECT-ME Jane Smith was rude")
    resp = decide(client, auth, story, "replies", "reply-0000000001", action="reject")
    assert resp.status_code == 422 and error_fields(resp) == ["note"]
    resp = decide(
        client, auth, story, "replies", "reply-0000000001", action="reject", note="It names a member of staff."
    )
    assert resp.status_code == 200 and json.loads(resp.body)["item"]["status"] == "rejected"
    pump.drain()
    assert "REJECT-ME" not in story_page(aws, story)
    page = body_of(client.http.get(f"/api/my/{author_link(story)}"))
    rejected = page.split("Replies that were not published")[1]
    assert "REJECT-ME" in rejected and "It names a member of staff." in rejected
    assert replies_queue(client, auth) == []


def test_two_decisions_on_one_item_give_one_409(client, aws, story, auth, pump):
    author_replies(client, story, "reply-0000000001", "Thank you so much.")
    first = decide(client, auth, story, "replies", "reply-0000000001", action="publish")
    second = decide(client, auth, story, "replies", "reply-0000000001", action="reject", note="Too late")
    third = decide(client, auth, story, "replies", "reply-0000000001", action="publish")
    assert [first.status_code, second.status_code, third.status_code] == [200, 409, 409]
    assert json.loads(second.body)["error"]["code"] == "Conflict"
    reply = wiring.store().get_thread_item(story, "reply", "reply-0000000001")
    assert reply["status"] == "published" and not reply.get("decision_note")


@pytest.mark.parametrize(
    "body, field",
    [
        ({}, "action"),
        ({"action": "hold"}, "action"),
        ({"action": "publish", "text": "x"}, "text"),
        ({"action": "publish", "status": "published"}, "status"),
        ({"action": "reject", "note": "   "}, "note"),
    ],
)
def test_bad_decisions_name_the_field_and_change_nothing(client, aws, story, auth, body, field):
    author_replies(client, story, "reply-0000000001", "Thank you so much.")
    resp = decide(client, auth, story, "replies", "reply-0000000001", **body)
    assert resp.status_code == 422 and field in error_fields(resp), resp.body
    assert wiring.store().get_thread_item(story, "reply", "reply-0000000001")["status"] == "pending"


def test_unknown_kinds_and_items_are_404_and_decisions_need_a_moderator(client, aws, story, auth):
    author_replies(client, story, "reply-0000000001", "Thank you so much.")
    assert decide(client, auth, story, "stories", "reply-0000000001", action="publish").status_code == 404
    assert decide(client, auth, story, "replies", "reply-0000000009", action="publish").status_code == 404
    assert decide(client, auth, "nosuchstory000000", "replies", "reply-0000000001", action="publish").status_code == 404
    # A response id asked for as a reply (and the other way round) is not found either.
    assert decide(client, auth, story, "responses", "reply-0000000001", action="publish").status_code == 404
    resp = client.http.post(
        f"/api/moderation/stories/{story}/replies/reply-0000000001/decision",
        body=json.dumps({"action": "publish"}),
        headers=JSON_H,
    )
    assert resp.status_code == 401
    assert wiring.store().get_thread_item(story, "reply", "reply-0000000001")["status"] == "pending"


# ---- held staff responses ------------------------------------------------------------------------


def test_a_held_response_published_by_a_moderator_appears_and_the_author_is_told(
    client, aws, story, auth, pump, queued_jobs
):
    staff = staff_member()
    read_by(story, staff)
    held = respond(story, staff, "Please ring me on 07700 900123 about your care.", status="held", flags=["phone"])
    pump.drain()
    assert "07700" not in story_page(aws, story)
    assert not [m for m in mailbox.to(AUTHOR) if "A reply to your story" in m["Subject"]]
    author_page = body_of(client.http.get(f"/api/my/{author_link(story)}"))
    assert "07700" not in author_page

    resp = decide(
        client,
        auth,
        story,
        "responses",
        held,
        action="publish",
        text="Please contact the ward manager about your care.",
    )
    assert resp.status_code == 200, resp.body
    item = json.loads(resp.body)["item"]
    assert item["status"] == "published" and item["edited"] is True and item["flags"] == ["phone"]
    pump.drain()

    page = story_page(aws, story)
    assert "Please contact the ward manager about your care." in page and "07700" not in page
    letters = [m for m in mailbox.to(AUTHOR) if "A reply to your story" in m["Subject"]]
    assert len(letters) == 1
    text = mailbox.text_of(letters[0])
    assert "Please contact the ward manager about your care." in text and "07700" not in text
    assert STAFF not in text + mailbox.html_of(letters[0])
    assert MailJob(kind="staff_response_decided", story_id=story, ref=held) in queued_jobs
    assert wiring.store().get_story(story)["first_response_at"]
    # A second decision on it is a conflict; a held response cannot be decided as a reply.
    assert decide(client, auth, story, "responses", held, action="reject", note="No").status_code == 409


def test_a_rejected_held_response_stays_hidden_and_the_responder_is_told_the_reason(
    client, aws, story, auth, pump, queued_jobs
):
    staff = staff_member()
    held = respond(story, staff, "HIDDEN-RESPONSE with a phone number 07700 900123", status="held", flags=["phone"])
    resp = decide(client, auth, story, "responses", held, action="reject", note="Please leave out phone numbers.")
    assert resp.status_code == 200
    pump.drain()
    assert "HIDDEN-RESPONSE" not in story_page(aws, story)
    assert "HIDDEN-RESPONSE" not in body_of(client.http.get(f"/api/my/{author_link(story)}"))
    assert MailJob(kind="staff_response_decided", story_id=story, ref=held) in queued_jobs
    assert not [m for m in mailbox.to(AUTHOR) if "A reply to your story" in m["Subject"]]
    stored = wiring.store().get_thread_item(story, "response", held)
    assert stored["decision_note"] == "Please leave out phone numbers." and stored["status"] == "rejected"


# ---- the screen -----------------------------------------------------------------------------------


def test_the_moderation_screen_has_a_replies_view_with_no_inline_script(client, aws):
    resp = client.http.get("/api/moderate")
    html = body_of(resp)
    assert 'href="#queue/replies"' in html and 'id="items-list"' in html
    assert "<script>" not in html and " on" + "click=" not in html and "style=" not in html
    js = body_of(client.http.get("/api/moderate/app.js"))
    assert "innerHTML" not in js and '"replies"' in js and '/decision"' in js


# ---- end to end, in a real browser against `make run` (e2e; about a minute) ---------------------------


@pytest.mark.e2e
@pytest.mark.skipif(not __import__("os").path.exists("/usr/bin/chromium"), reason="Debian's chromium is not installed")
def test_in_a_browser_the_author_replies_with_javascript_off_a_moderator_publishes_it_then_the_author_erases(
    live_stack,
):
    import re
    import uuid
    from datetime import date

    import requests
    from axe_playwright_python.sync_playwright import Axe
    from playwright.sync_api import expect, sync_playwright

    from local.resources import DEMO_MODERATOR
    from local.totp import sign_in
    from tests.support.live import CHROMIUM, CHROMIUM_ARGS, a_service_slug, wait_for

    def violations(page) -> list[str]:
        return [f"{v['id']}: {v['help']}" for v in Axe().run(page).response["violations"]]

    phone = {"viewport": {"width": 390, "height": 844}, "is_mobile": True, "has_touch": True, "device_scale_factor": 3}
    stack = live_stack
    api, site, mail = stack.api, stack.site, stack.mail
    author = f"e2e.replier.{uuid.uuid4().hex[:8]}@example.org"
    today = date.today()
    body = {
        "submission_id": uuid.uuid4().hex,
        "title": "Kind nurses on a busy night",
        "story": "I came in at night with chest pain.\nThe nurses explained everything.",
        "role": "patient",
        "pseudonym": "Night owl",
        "experience_month": today.month,
        "experience_year": today.year,
        "services": [a_service_slug()],
        "email": author,
        "consent": True,
    }
    resp = requests.post(f"{api}stories", json=body, timeout=30)
    assert resp.status_code == 201, resp.text
    story_id = resp.json()["id"]
    auth = {
        "Authorization": "Bearer " + sign_in(api, DEMO_MODERATOR["username"], DEMO_MODERATOR["password"])["id_token"]
    }
    decision = {"action": "publish", "version": 1, "criticality": 1}
    assert requests.post(f"{api}moderation/stories/{story_id}/decision", json=decision, headers=auth, timeout=30).ok

    def link_to(kind: str, subject: str = ""):
        """The link of `kind` in the newest email to the author (with `subject`): only the two
        newest author links work (issue 18), so take the newest."""

        def find():
            listing = requests.get(mail, timeout=10).text
            for href in re.findall(r'href="(/message/[^"]+)"', listing):
                message = requests.get(mail.rstrip("/") + href, timeout=10).text
                found = re.search(rf'(http://[^"\s<]+/api/{kind}/[A-Za-z0-9_-]{{43}})', message)
                if found and author in message and subject in message:
                    return found.group(1)
            return None

        return find

    # The first email asks the author to confirm the address (issue 18); the private link follows.
    assert requests.post(wait_for(link_to("confirm"), 60), timeout=30).status_code == 200
    # Confirming sends both letters; whichever was composed last holds the one link that works.
    wait_for(link_to("my", "We have your story"), 60)
    wait_for(link_to("my", "Your story is published"), 60)
    link = link_to("my")()
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        # The private page passes axe, then takes a reply with JavaScript off.
        ctx = browser.new_context(**phone)
        page = ctx.new_page()
        wait_for(lambda: page.goto(link) and "Reply to the staff" in page.content(), 60)
        assert violations(page) == []
        ctx.close()
        ctx = browser.new_context(java_script_enabled=False, **phone)
        page = ctx.new_page()
        page.goto(link)
        page.click("button:has-text('Send your reply')")  # empty: the page again, with a summary
        assert page.locator(".error-summary").is_visible() and "Enter your reply" in page.content()
        page.fill("#reply-text", "Thank you for reading this.")
        page.click("button:has-text('Send your reply')")
        assert "Your reply will appear once a moderator has checked it" in page.content()
        assert "Waiting for a moderator" in page.content()
        ctx.close()

        # The moderator publishes it from the screen's replies view.
        ctx = browser.new_context(viewport={"width": 1280, "height": 900})
        page = ctx.new_page()
        sign_in_on_screen(page, api)
        page.click("#tab-replies")
        card = page.locator("#items-list li").first
        card.wait_for()
        assert "Thank you for reading this." in card.locator("textarea[name=text]").input_value()
        assert violations(page) == []
        card.locator("button[value=reject]").click()  # no reason: the error is next to the field
        page.wait_for_selector("#item-0-note-error:not([hidden])")
        card.locator("button[value=publish]").click()
        page.wait_for_selector("#items-list li", state="detached")
        expect(page.locator("#notice")).to_contain_text("Published: author’s reply on “Kind nurses on a busy night”")
        ctx.close()

        wait_for(
            lambda: "Thank you for reading this." in requests.get(f"{site}stories/{story_id}/", timeout=10).text, 60
        )

        # Erasure, with JavaScript off: the word, then everything goes and the link stops working.
        ctx = browser.new_context(java_script_enabled=False, **phone)
        page = ctx.new_page()
        page.goto(link)
        page.fill("#erase-confirm", "ERASE")
        page.click("button:has-text('Erase everything')")
        assert "Your story is being erased" in page.content()
        ctx.close()
        browser.close()
    wait_for(lambda: requests.get(link, timeout=10).status_code == 404, 60)
    wait_for(lambda: requests.get(f"{site}stories/{story_id}/", timeout=10).status_code == 404, 60)
