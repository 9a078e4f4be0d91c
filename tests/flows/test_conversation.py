"""Reading and responding: the staff side of the conversation, from the emailed read-and-respond link,
through the stream to the public story page and the emails that follow."""

from __future__ import annotations

import html as html_lib
import json
import re
from datetime import timedelta
from urllib.parse import urlencode

import pytest

from chalicelib import wiring
from chalicelib.core import clock
from chalicelib.core.ids import new_id
from chalicelib.links import NOT_VALID
from chalicelib.moderation import Moderator
from tests.support import mailbox, moto_state
from tests.support.conversation import AUTHOR, STAFF, make_staff, publish_story, respond_link
from tests.support.env import API_URL
from tests.support.factories import story_body
from tests.support.vnu import needs_vnu, vnu_files

JSON_H = {"Content-Type": "application/json"}
FORM_H = {"Content-Type": "application/x-www-form-urlencoded", "Accept": "text/html,application/xhtml+xml,*/*;q=0.8"}
BROWSER = {"Accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"}
MOD = Moderator("mod@example.org", "Mo Derator")


# ---- helpers ------------------------------------------------------------------------------------


def scan(aws) -> list:
    items = aws.client("dynamodb").scan(TableName=aws.resources.table, ConsistentRead=True)["Items"]
    return sorted(json.dumps(i, sort_keys=True) for i in items)


def scan_but_limits(aws) -> list:
    """The table without the per-client counts of bad links: a refused link writes only that count (limits.py)."""
    return [i for i in scan(aws) if not json.loads(i)["PK"]["S"].startswith("LIMIT#")]


def limit_counts(aws) -> int:
    return len(scan(aws)) - len(scan_but_limits(aws))


def thread(story_id: str, kind: str) -> list[dict]:
    return [i for i in wiring.store().story_thread(story_id, consistent=True) if i["item"] == kind]


def story_page(aws, story_id: str) -> str:
    obj = aws.client("s3").get_object(Bucket=aws.resources.bucket, Key=f"stories/{story_id}/index.html")
    return obj["Body"].read().decode("utf-8")


def post_form(client, path: str, fields: dict):
    return client.http.post(path, body=urlencode(fields), headers=FORM_H)


def page_response_id(body: str) -> str:
    m = re.search(r'name="response_id" value="([0-9a-z]{17})"', body)
    assert m, "the page carries a response id"
    return m.group(1)


def text_of(html: str) -> str:
    """The page's words, without tags, with entities decoded and spaces collapsed."""
    inline = re.sub(r"</?(?:strong|span|time|a|b|em)\b[^>]*>", "", html)
    return re.sub(r"\s+", " ", html_lib.unescape(re.sub(r"<[^>]+>", " ", inline)))


@pytest.fixture
def setup(aws, client, pump, directory):
    """A published story, its pages rendered and its emails sent, and a member of staff with a link to it.
    Made once per worker (moto_state.kept)."""

    def build():
        story_id = publish_story(client, pump)
        staff = make_staff()
        token = respond_link(story_id, staff)
        return {"story_id": story_id, "staff": staff, "token": token}

    return moto_state.kept("conversation-setup", build, pump)


@pytest.fixture
def quick(aws, client, directory):
    """The same, without running the stream (for tests that look at no page or email): much faster."""
    resp = client.http.post("/api/stories", body=json.dumps(story_body(email=AUTHOR)), headers=JSON_H)
    story_id = json.loads(resp.body)["id"]
    wiring.moderation().decide(story_id, {"action": "publish", "version": 1, "criticality": 3}, MOD)
    staff = make_staff()
    return {"story_id": story_id, "staff": staff, "token": respond_link(story_id, staff)}


# ---- the page: a GET changes nothing --------------------------------------------------------------


def test_the_page_shows_the_story_and_who_is_answering_and_changes_nothing(aws, client, quick):
    before = scan(aws)
    resp = client.http.get(f"/api/respond/{quick['token']}", headers=BROWSER)
    resp2 = client.http.get(f"/api/respond/{quick['token']}", headers=BROWSER)
    assert scan(aws) == before
    assert quick["token"] not in "".join(before)  # stored only as its hash
    assert resp.status_code == 200 and resp2.status_code == 200
    h = resp.headers
    assert h["Content-Type"].startswith("text/html")
    assert h["Cache-Control"] == "no-store"
    assert h["Referrer-Policy"] == "no-referrer"
    assert "noindex" in h["X-Robots-Tag"]
    assert "default-src 'none'" in h["Content-Security-Policy"]
    body = resp.body.decode()
    words = text_of(body)
    assert '<meta name="robots" content="noindex, nofollow">' in body
    assert "Kind nurses on a busy night" in words
    assert "You are answering as Alex Morgan, Ward Manager, Riverside NHS Foundation Trust" in words
    assert "Ward 7 (Acute Medicine)" in words
    assert "3 – moderately critical" in words  # criticality: staff may see it
    assert "I have read this story" in words
    assert f'action="{API_URL}/api/respond/{quick["token"]}/read"' in body
    assert f'action="{API_URL}/api/respond/{quick["token"]}"' in body
    assert "No one has responded yet." in words
    # Each rendering carries its own idempotency key for the response form.
    assert page_response_id(body) != page_response_id(resp2.body.decode())
    assert AUTHOR not in body and STAFF["email"] not in body
    assert "<script" not in body  # fully usable without JavaScript


def test_the_page_labels_every_field_with_a_hint(client, quick):
    body = client.http.get(f"/api/respond/{quick['token']}", headers=BROWSER).body.decode()
    for field in ("text", "change_description"):
        assert f'<label class="label" for="{field}">' in body
        assert f'id="{field}-hint"' in body
        assert f'aria-describedby="{field}-hint"' in body
    assert '<legend class="fieldset__legend">Does this response mark a change?</legend>' in body
    for value in ("none", "planned", "made"):
        assert f'name="change" type="radio" value="{value}"' in body
    assert 'value="none" checked' in body
    assert "NHS number" in text_of(body)  # the hint says what not to include


# ---- "I have read this" ------------------------------------------------------------------------------


def test_reading_records_one_receipt_and_the_story_page_shows_it(aws, client, pump, setup):
    sid, token = setup["story_id"], setup["token"]
    first = post_form(client, f"/api/respond/{token}/read", {})
    assert first.status_code == 303
    assert first.headers["Location"] == f"{API_URL}/api/respond/{token}#read"
    again = post_form(client, f"/api/respond/{token}/read", {})
    assert again.status_code == 303
    as_json = client.http.post(f"/api/respond/{token}/read", body="{}", headers=JSON_H)
    assert as_json.status_code == 200
    receipts = thread(sid, "read")
    assert len(receipts) == 1
    receipt = receipts[0]
    assert json.loads(as_json.body) == {"read_at": receipt["read_at"]}
    assert {k: receipt[k] for k in ("name", "role", "service", "service_name", "organisation_name")} == {
        "name": "Alex Morgan",
        "role": "Ward Manager",
        "service": "riverside-ward-7",
        "service_name": "Ward 7 (Acute Medicine)",
        "organisation_name": "Riverside NHS Foundation Trust",
    }

    page = client.http.get(f"/api/respond/{token}", headers=BROWSER).body.decode()
    assert "You read this story on" in text_of(page)
    assert "I have read this story</button>" not in page

    pump.drain()
    public = story_page(aws, sid)
    words = text_of(public)
    assert "Read by Alex Morgan, Ward Manager, Ward 7 (Acute Medicine) —" in words
    assert re.search(
        r'<li class="progress__step progress__step--done" aria-current="step">\s*<span class="progress__label">Read by staff</span>',
        public,
    )
    assert wiring.store().get_story(sid)["first_read_at"] == receipt["read_at"]
    assert (
        "Alexandra" not in public and STAFF["email"] not in public
    )  # the display name, never the full name or address


# ---- a response ------------------------------------------------------------------------------------------


def test_a_response_is_published_at_once_and_appears_on_the_story_page(aws, client, pump, setup):
    sid, token = setup["story_id"], setup["token"]
    rid = page_response_id(client.http.get(f"/api/respond/{token}", headers=BROWSER).body.decode())
    resp = post_form(
        client,
        f"/api/respond/{token}",
        {
            "response_id": rid,
            "text": "Thank you for telling us.\nWe have talked about your night as a team.",
            "change": "planned",
            "change_description": "A nurse will check on every new admission within the hour.",
        },
    )
    assert resp.status_code == 303, resp.body
    assert resp.headers["Location"] == f"{API_URL}/api/respond/{token}?sent={rid}#sent"
    after = client.http.get(f"/api/respond/{token}?sent={rid}", headers=BROWSER).body.decode()
    assert "Your response is published" in after

    [response] = thread(sid, "response")
    assert response["id"] == rid and response["status"] == "published" and response["flags"] == []
    assert response["published_at"] == response["created_at"]
    assert len(thread(sid, "read")) == 1  # answering implies reading

    pump.drain()
    public = story_page(aws, sid)
    words = text_of(public)
    assert "Alex Morgan, Ward Manager, Ward 7 (Acute Medicine), Riverside NHS Foundation Trust" in words
    assert "Thank you for telling us.\nWe have talked about your night as a team." in html_lib.unescape(public)
    assert "Change planned: A nurse will check on every new admission within the hour." in words
    assert re.search(r'aria-current="step">\s*<span class="progress__label">Change planned</span>', public)
    assert "No one has responded yet" not in words
    story = wiring.store().get_story(sid)
    assert story["first_response_at"] == story["change_planned_at"] == response["published_at"]
    # The author is told, once.
    told = [m for m in mailbox.to(AUTHOR) if "reply to your story" in m["Subject"]]
    assert len(told) == 1
    assert "We have talked about your night as a team." in mailbox.text_of(told[0])


def test_a_change_made_waits_for_a_moderator_then_shows_as_made(aws, client, pump, setup):
    resp = client.http.post(
        f"/api/respond/{setup['token']}",
        headers=JSON_H,
        body=json.dumps(
            {
                "text": "We listened, and changed the night rota.",
                "change": "made",
                "change_description": "Two nurses on every night shift.",
            }
        ),
    )
    # Saying a change was made is checked first (it shows in public as progress).
    assert resp.status_code == 202, resp.body
    answer = json.loads(resp.body)
    assert answer["status"] == "held" and answer["checks"] == ["change-made"] and answer["flags"] == []
    assert "change has been made" in answer["message"]
    pump.drain()
    assert "Two nurses on every night shift" not in text_of(story_page(aws, setup["story_id"]))
    wiring.moderation().decide_item(setup["story_id"], "responses", answer["id"], {"action": "publish"}, MOD)
    pump.drain()
    words = text_of(story_page(aws, setup["story_id"]))
    assert "Change made: Two nurses on every night shift." in words
    # Listings carry the progress too.
    home = aws.client("s3").get_object(Bucket=aws.resources.bucket, Key="index.html")["Body"].read().decode()
    assert "Change made" in text_of(home)


HELD = [
    ("Please call me on 07700 900123 to talk.", ["phone"], "a phone number", "07700 900123"),
    ("Write to me at sister.ward7@nhs.example so we can talk.", ["email"], "an email address", "sister.ward7"),
    ("I found the notes for NHS number 943 476 5919 and read them.", ["nhs_number"], "an NHS number", "943 476 5919"),
    ("Come to the office at RG1 8DN any morning.", ["postcode"], "a postcode", "RG1 8DN"),
    ("I spoke to Mrs Jane Smith about the night she had.", ["name"], "a person’s full name", "Jane Smith"),
]


def test_a_response_with_identifying_details_is_held_and_says_why(aws, client, pump, setup):
    sid, token = setup["story_id"], setup["token"]
    ids = []
    for text, kinds, words, _detail in HELD:
        resp = client.http.post(f"/api/respond/{token}", headers=JSON_H, body=json.dumps({"text": text}))
        assert resp.status_code == 202, resp.body
        answer = json.loads(resp.body)
        assert answer["status"] == "held" and answer["flags"] == kinds, text
        assert words in answer["message"] and "moderator" in answer["message"]
        response = wiring.store().get_thread_item(sid, "response", answer["id"])
        assert response["status"] == "held" and response["flags"] == kinds and "published_at" not in response
        ids.append(answer["id"])
    assert [q["id"] for q in wiring.store().replies_queue(10)] == ids
    pump.drain()
    public = story_page(aws, sid)
    for _text, _kinds, _words, detail in HELD:
        assert detail not in public
    assert "No one has responded yet." in text_of(public)
    assert wiring.store().get_story(sid).get("first_response_at") is None


def test_a_held_form_post_is_answered_with_a_page_naming_what_was_found(client, quick):
    resp = post_form(
        client,
        f"/api/respond/{quick['token']}",
        {
            "response_id": new_id(),
            "text": "Ring 020 7946 0018 or email ward7@nhs.example",
            "change": "none",
        },
    )
    assert resp.status_code == 202
    words = text_of(resp.body.decode())
    assert "Your response is waiting for a moderator" in words
    assert "an email address and a phone number" in words
    assert "You have a response waiting for a moderator" in words


def test_an_nhs_number_with_a_wrong_check_digit_is_not_flagged(client, quick):
    resp = client.http.post(
        f"/api/respond/{quick['token']}",
        headers=JSON_H,
        body=json.dumps({"text": "Our reference for this is 943 476 5918, if you write in."}),
    )
    assert resp.status_code == 201
    assert json.loads(resp.body)["status"] == "published"


def test_a_form_sent_twice_makes_one_response(client, quick):
    token = quick["token"]
    rid = page_response_id(client.http.get(f"/api/respond/{token}", headers=BROWSER).body.decode())
    fields = {"response_id": rid, "text": "Thank you, we are sorry about the wait.", "change": "none"}
    first = post_form(client, f"/api/respond/{token}", fields)
    second = post_form(client, f"/api/respond/{token}", fields)
    assert first.status_code == second.status_code == 303
    assert first.headers["Location"] == second.headers["Location"]
    as_json = client.http.post(f"/api/respond/{token}", headers=JSON_H, body=json.dumps(fields))
    assert as_json.status_code == 201 and json.loads(as_json.body)["id"] == rid
    assert [r["id"] for r in thread(quick["story_id"], "response")] == [rid]


def test_a_used_response_id_with_other_words_is_refused_and_the_words_kept(client, quick):
    token = quick["token"]
    rid = new_id()
    assert post_form(client, f"/api/respond/{token}", {"response_id": rid, "text": "First words."}).status_code == 303
    again = post_form(client, f"/api/respond/{token}", {"response_id": rid, "text": "Second, different words."})
    assert again.status_code == 409
    body = again.body.decode()
    assert "You already sent a response from this page" in text_of(body)
    assert "Second, different words." in body
    assert page_response_id(body) != rid
    [response] = thread(quick["story_id"], "response")
    assert response["text"] == "First words."
    as_json = client.http.post(
        f"/api/respond/{token}", headers=JSON_H, body=json.dumps({"response_id": rid, "text": "Third words."})
    )
    assert as_json.status_code == 409
    assert json.loads(as_json.body)["error"]["fields"][0]["field"] == "response_id"


def test_someone_elses_response_id_is_refused(client, quick):
    other = make_staff(email="someone.else@nhs.example", display_name="Sam Other")
    other_token = respond_link(quick["story_id"], other)
    rid = new_id()
    assert (
        post_form(client, f"/api/respond/{other_token}", {"response_id": rid, "text": "Sam's words."}).status_code
        == 303
    )
    mine = post_form(client, f"/api/respond/{quick['token']}", {"response_id": rid, "text": "Sam's words."})
    assert mine.status_code == 409
    [response] = thread(quick["story_id"], "response")
    assert response["name"] == "Sam Other"


# ---- bad input: 4xx naming the field, nothing written -------------------------------------------------------


BAD_BODIES = [
    ({"text": "x"}, "text"),
    ({"text": ""}, "text"),
    ({"text": "y" * 5001}, "text"),
    ({"text": "A good response.", "change": "maybe"}, "change"),
    ({"text": "A good response.", "change": "planned"}, "change_description"),
    ({"text": "A good response.", "change": "made", "change_description": "z" * 501}, "change_description"),
    ({"text": "A good response.", "response_id": "../../etc"}, "response_id"),
    ({"text": "A good response.", "response_id": 12345}, "response_id"),
    ({"text": "A good response.", "status": "published"}, "status"),
    ({"text": ["a list"]}, "text"),
]


def test_json_validation_errors_name_the_field_and_write_nothing(aws, client, quick):
    before = scan(aws)
    for body, field in BAD_BODIES:
        resp = client.http.post(f"/api/respond/{quick['token']}", headers=JSON_H, body=json.dumps(body))
        assert resp.status_code == 422, (body, resp.body)
        assert field in [f["field"] for f in json.loads(resp.body)["error"]["fields"]], body
    assert scan(aws) == before


def test_form_validation_errors_come_back_as_the_page_with_a_summary_and_the_values(aws, client, quick):
    before = scan(aws)
    resp = post_form(
        client,
        f"/api/respond/{quick['token']}",
        {
            "response_id": new_id(),
            "text": "Keep these <words> & this.",
            "change": "planned",
            "change_description": "",
        },
    )
    assert resp.status_code == 422
    assert scan(aws) == before
    body = resp.body.decode()
    assert body.count('class="error-summary"') == 1
    assert '<a href="#change_description">' in body
    assert 'id="change_description-error"' in body
    assert 'aria-describedby="change_description-hint change_description-error"' in body
    assert "Keep these &lt;words&gt; &amp; this." in body
    assert 'value="planned" checked' in body
    assert "<title>Error:" in body


def test_bad_bodies_are_4xx(client, quick):
    path = f"/api/respond/{quick['token']}"
    assert client.http.post(path, headers=JSON_H, body="{not json").status_code == 400
    assert client.http.post(path, headers=JSON_H, body="[1, 2]").status_code == 400
    assert client.http.post(path, headers=JSON_H, body=b"\xff\xfe").status_code == 400
    big = json.dumps({"text": "a" * (70 * 1024)})
    assert client.http.post(path, headers=JSON_H, body=big).status_code == 413


# ---- links that do not work ---------------------------------------------------------------------------------


def _refused(client, token: str) -> list[int]:
    return [
        client.http.get(f"/api/respond/{token}", headers=BROWSER).status_code,
        client.http.post(f"/api/respond/{token}/read", headers=JSON_H, body="{}").status_code,
        client.http.post(
            f"/api/respond/{token}", headers=JSON_H, body=json.dumps({"text": "Hello there."})
        ).status_code,
    ]


def _flip(token: str, i: int) -> str:
    c = token[i]
    return token[:i] + ("B" if c == "A" else "A") + token[i + 1 :]


def test_every_changed_byte_of_the_token_is_refused_alike(aws, client, quick, monkeypatch):
    # Over 100 guesses from one client: lift the guessing limit, which test_limits covers.
    monkeypatch.setenv("FF_BAD_LINK_LIMIT", "0")
    wiring.reset()
    token = quick["token"]
    before = scan_but_limits(aws)
    bodies = set()
    for i in range(len(token)):
        resp = client.http.get(f"/api/respond/{_flip(token, i)}", headers=JSON_H)
        assert resp.status_code == 404, i
        bodies.add(resp.body)
    for i in (0, 21, len(token) - 1):
        assert _refused(client, _flip(token, i)) == [404, 404, 404]
    for bad in (token[:-1], token[:20], token + "A", token.upper() if token.upper() != token else token.lower()):
        assert _refused(client, bad) == [404, 404, 404]
    assert len(bodies) == 1 and NOT_VALID in bodies.pop().decode()
    assert scan_but_limits(aws) == before


def test_an_expired_link_is_refused(aws, client, quick, monkeypatch):
    later = clock.now() + timedelta(days=61)
    monkeypatch.setattr(clock, "now", lambda: later)
    before = scan_but_limits(aws)
    assert _refused(client, quick["token"]) == [404, 404, 404]
    assert scan_but_limits(aws) == before and limit_counts(aws) >= 1


def test_a_link_still_works_on_its_last_day(client, quick, monkeypatch):
    later = clock.now() + timedelta(days=59)
    monkeypatch.setattr(clock, "now", lambda: later)
    assert client.http.get(f"/api/respond/{quick['token']}", headers=BROWSER).status_code == 200


def test_unsubscribing_revokes_the_link(aws, client, quick):
    wiring.store().update_subscriber(
        quick["staff"]["profile"]["id"], {"status": "unsubscribed", "links_valid_after": clock.iso()}
    )
    before = scan_but_limits(aws)
    assert _refused(client, quick["token"]) == [404, 404, 404]
    assert scan_but_limits(aws) == before and limit_counts(aws) >= 1
    # Subscribing again later does not bring the old link back.
    wiring.store().update_subscriber(quick["staff"]["profile"]["id"], {"status": "active"})
    assert _refused(client, quick["token"]) == [404, 404, 404]


def test_a_link_for_another_purpose_is_refused(client, quick):
    author = wiring.links().issue("author", quick["story_id"], "author", 30)
    assert _refused(client, author) == [404, 404, 404]


def test_a_story_no_longer_published_cannot_be_answered(aws, client, quick):
    wiring.store().change_status(quick["story_id"], ["published"], {"status": "withdrawn"})
    before = scan(aws)
    resp = client.http.get(f"/api/respond/{quick['token']}", headers=BROWSER)
    assert resp.status_code == 404
    assert "no longer published" in resp.body.decode()
    assert _refused(client, quick["token"]) == [404, 404, 404]
    assert scan(aws) == before


def test_refusals_are_a_page_for_browsers_and_json_for_programs(client, quick):
    bad = _flip(quick["token"], 5)
    page = client.http.get(f"/api/respond/{bad}", headers=BROWSER)
    assert page.status_code == 404
    assert page.headers["Content-Type"].startswith("text/html")
    assert "default-src 'none'" in page.headers["Content-Security-Policy"]
    assert page.headers["Cache-Control"] == "no-store"
    body = page.body.decode()
    assert "<h1>This page cannot be found</h1>" in body and NOT_VALID in body
    assert 'href="https://site.test/"' in body
    form = post_form(client, f"/api/respond/{bad}", {"text": "Hello there."})
    assert form.status_code == 404 and form.headers["Content-Type"].startswith("text/html")
    api = client.http.get(f"/api/respond/{bad}", headers={"Accept": "application/json"})
    assert api.status_code == 404 and json.loads(api.body)["error"] == {"code": "NotFound", "message": NOT_VALID}
    bare = client.http.get(f"/api/respond/{bad}")
    assert json.loads(bare.body)["error"]["code"] == "NotFound"


# ---- what the public page shows, and never shows -----------------------------------------------------------


def test_response_text_is_escaped_on_the_story_page(aws, client, pump, setup):
    evil = 'Thanks <script>alert(1)</script> and "><img src=x onerror=alert(2)> too'
    resp = client.http.post(
        f"/api/respond/{setup['token']}",
        headers=JSON_H,
        body=json.dumps({"text": evil, "change": "planned", "change_description": "<b>bold</b> change"}),
    )
    assert resp.status_code == 201
    pump.drain()
    public = story_page(aws, setup["story_id"])
    assert "<script>alert(1)" not in public and "<img src=x" not in public and "<b>bold" not in public
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in public
    assert "&lt;b&gt;bold&lt;/b&gt; change" in public
    page = client.http.get(f"/api/respond/{setup['token']}", headers=BROWSER).body.decode()
    assert "<script>alert(1)" not in page and "&lt;script&gt;alert(1)" in page


def test_the_story_page_never_shows_held_responses_flags_criticality_or_staff_ids(aws, client, pump, setup):
    sid = setup["story_id"]
    client.http.post(
        f"/api/respond/{setup['token']}", headers=JSON_H, body=json.dumps({"text": "Held: call 07700 900123."})
    )
    client.http.post(f"/api/respond/{setup['token']}", headers=JSON_H, body=json.dumps({"text": "A published answer."}))
    pump.drain()
    public = story_page(aws, sid)
    assert "A published answer." in public
    assert "07700" not in public and "Held:" not in public
    assert "phone" not in public.lower()
    assert "criticality" not in public.lower() and "moderately critical" not in public
    assert setup["staff"]["profile"]["id"] not in public and setup["staff"]["subscription"]["id"] not in public
    assert STAFF["email"] not in public and AUTHOR not in public


def test_a_story_nobody_has_answered_says_so(aws, client, pump, directory):
    sid = publish_story(client, pump)
    words = text_of(story_page(aws, sid))
    assert "No one has responded yet." in words
    # Said once (issue 20: the progress and the receipts said it twice, one above the other).
    assert words.count("Not yet read by staff.") == 1 and "No member of staff has said" not in words


# ---- emails to staff -------------------------------------------------------------------------------------------


def test_an_author_reply_emails_each_responder_once_and_not_staff_who_only_read(aws, client, pump, setup):
    sid = setup["story_id"]
    reader = make_staff(email="reader.only@nhs.example", display_name="Rita Reader")
    assert post_form(client, f"/api/respond/{respond_link(sid, reader)}/read", {}).status_code == 303
    for text in ("First answer from Alex.", "Second answer from Alex."):
        resp = client.http.post(f"/api/respond/{setup['token']}", headers=JSON_H, body=json.dumps({"text": text}))
        assert resp.status_code == 201
    pump.drain()
    store = wiring.store()
    reply_id = new_id()
    store.put_reply(
        sid,
        {"id": reply_id, "text": "Thank you both.\nIt means a lot.", "status": "pending", "created_at": clock.iso()},
    )
    pump.drain()
    assert [m for m in mailbox.to(STAFF["email"]) if "author replied" in m["Subject"]] == []
    store.decide_thread_item(
        sid,
        "reply",
        reply_id,
        ["pending"],
        {
            "status": "published",
            "published_at": clock.iso(),
            "decided_by": "mod@example.org",
            "decided_at": clock.iso(),
        },
    )
    pump.drain()
    pump.drain()
    told = [m for m in mailbox.to(STAFF["email"]) if "author replied" in m["Subject"]]
    assert len(told) == 1
    assert "reader.only@nhs.example" not in [str(m["To"]) for m in mailbox.sent() if "author replied" in m["Subject"]]
    text = mailbox.text_of(told[0])
    assert "Thank you both.\nIt means a lot." in text
    assert told[0]["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    link = re.search(r"https://api\.test/api/respond/([A-Za-z0-9_-]{43})", text)
    assert link and link.group(1) != setup["token"]
    page = client.http.get(f"/api/respond/{link.group(1)}", headers=BROWSER)
    assert page.status_code == 200 and "Thank you both." in page.body.decode()
    # The public page shows the reply, labelled as the author's.
    words = text_of(story_page(aws, sid))
    assert "Night owl, who told this story" in words


def test_a_held_response_published_by_a_moderator_tells_its_author(aws, client, pump, setup):
    sid = setup["story_id"]
    resp = client.http.post(
        f"/api/respond/{setup['token']}", headers=JSON_H, body=json.dumps({"text": "Ask for Dr Amir Khan at the desk."})
    )
    rid = json.loads(resp.body)["id"]
    pump.drain()
    assert [m for m in mailbox.to(STAFF["email"]) if "response" in m["Subject"]] == []
    wiring.store().decide_thread_item(
        sid,
        "response",
        rid,
        ["held"],
        {
            "status": "published",
            "published_at": clock.iso(),
            "decided_by": "mod@example.org",
            "decided_at": clock.iso(),
        },
    )
    pump.drain()
    told = [m for m in mailbox.to(STAFF["email"]) if "Your response is published" in m["Subject"]]
    assert len(told) == 1
    assert "Ask for Dr Amir Khan at the desk." in mailbox.text_of(told[0])
    assert "Ask for Dr Amir Khan at the desk." in html_lib.unescape(story_page(aws, sid))


def test_a_held_response_rejected_by_a_moderator_tells_its_author_why(aws, client, pump, setup):
    sid = setup["story_id"]
    resp = client.http.post(
        f"/api/respond/{setup['token']}", headers=JSON_H, body=json.dumps({"text": "Mrs Jane Smith was the patient."})
    )
    rid = json.loads(resp.body)["id"]
    pump.drain()
    wiring.store().decide_thread_item(
        sid,
        "response",
        rid,
        ["held"],
        {
            "status": "rejected",
            "decision_note": "It names the patient.",
            "decided_by": "mod@example.org",
            "decided_at": clock.iso(),
        },
    )
    pump.drain()
    told = [m for m in mailbox.to(STAFF["email"]) if "was not published" in m["Subject"]]
    assert len(told) == 1
    text = mailbox.text_of(told[0])
    assert "It names the patient." in text
    assert re.search(r"https://api\.test/api/respond/[A-Za-z0-9_-]{43}", text)
    assert "Mrs Jane Smith" not in story_page(aws, sid)


def test_staff_letters_go_to_no_one_who_has_unsubscribed(aws, client, quick):
    from chalicelib.core.jobs import MailJob
    from chalicelib.core.settings import get_settings
    from chalicelib.mail.letters import ConversationLetters

    sid = quick["story_id"]
    rid = json.loads(
        client.http.post(
            f"/api/respond/{quick['token']}", headers=JSON_H, body=json.dumps({"text": "Call 07700 900123."})
        ).body
    )["id"]
    wiring.store().decide_thread_item(
        sid, "response", rid, ["held"], {"status": "published", "published_at": clock.iso()}
    )
    letters = ConversationLetters(wiring.store(), wiring.links(), get_settings())
    job = MailJob(kind="staff_response_decided", story_id=sid, ref=rid)
    assert letters.response_decided(job).to == STAFF["email"]
    wiring.store().update_subscriber(
        quick["staff"]["profile"]["id"], {"status": "unsubscribed", "links_valid_after": clock.iso()}
    )
    assert letters.response_decided(job) is None
    assert (
        letters.author_replied(
            MailJob(kind="staff_author_replied", story_id=sid, ref=f"nosuchreply:{quick['staff']['profile']['id']}")
        )
        is None
    )


# ---- wants_html ---------------------------------------------------------------------------------------------------


class _Request:
    def __init__(self, headers):
        self.headers = {k.lower(): v for k, v in headers.items()}  # chalice's headers are case-insensitive


@pytest.mark.parametrize(
    "headers,expected",
    [
        ({"Content-Type": "application/x-www-form-urlencoded"}, True),
        ({"Content-Type": "application/json", "Accept": "text/html"}, False),
        ({"Accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"}, True),
        ({"Accept": "application/json"}, False),
        ({"Accept": "*/*"}, False),
        ({}, False),
        ({"Accept": "application/json;q=0.5, text/html;q=0.4"}, False),
        ({"Accept": "text/html;q=0"}, False),
        ({"Accept": "text/html;q=nonsense"}, True),
    ],
)
def test_wants_html(headers, expected):
    from chalicelib.edge.http import wants_html

    assert wants_html(_Request(headers)) is expected


# ---- valid HTML (vnu; skipped without java) ------------------------------------------------------------------


@needs_vnu
def test_every_conversation_page_is_valid_html(aws, client, pump, setup, tmp_path):
    sid, token = setup["story_id"], setup["token"]
    pages = {"respond.html": client.http.get(f"/api/respond/{token}", headers=BROWSER).body}
    pages["respond-errors.html"] = post_form(client, f"/api/respond/{token}", {"text": "x", "change": "made"}).body
    pages["respond-held.html"] = post_form(client, f"/api/respond/{token}", {"text": "Ring 07700 900123."}).body
    client.http.post(
        f"/api/respond/{token}",
        headers=JSON_H,
        body=json.dumps(
            {
                "text": "We are sorry.\n\nWe have changed the rota.",
                "change": "made",
                "change_description": "Two nurses at night.",
            }
        ),
    )
    wiring.store().put_reply(
        sid,
        {
            "id": new_id(),
            "text": "Thank you.",
            "status": "published",
            "created_at": clock.iso(),
            "published_at": clock.iso(),
        },
    )
    pump.drain()
    pages["respond-after.html"] = client.http.get(f"/api/respond/{token}", headers=BROWSER).body
    pages["story.html"] = story_page(aws, sid).encode()
    pages["error.html"] = client.http.get(f"/api/respond/{_flip(token, 3)}", headers=BROWSER).body
    for name, body in pages.items():
        (tmp_path / name).write_bytes(body)
    errors = vnu_files(*sorted(tmp_path.iterdir()))
    assert errors == "", errors


def test_a_name_that_holds_the_job_title_is_not_doubled_on_the_page(aws, client, pump, directory):
    """Issue 20: "Read by Nora, Staff Nurse, Staff Nurse, Ward 7 (Acute Medicine)" (the display name held the role)."""
    sid = publish_story(client, pump)
    nora = make_staff(email="nora.nurse@riverside.nhs.example", display_name="Nora, Staff Nurse", role="Staff Nurse")
    token = respond_link(sid, nora)
    assert client.http.post(f"/api/respond/{token}/read", body="{}", headers=JSON_H).status_code in (200, 201)
    resp = client.http.post(f"/api/respond/{token}", body=json.dumps({"text": "Thank you, Nora here."}), headers=JSON_H)
    assert resp.status_code == 201, resp.body
    pump.drain()
    words = text_of(story_page(aws, sid))
    assert "Read by Nora, Staff Nurse, Ward 7 (Acute Medicine) —" in words
    assert "Staff Nurse, Staff Nurse" not in words and "Nora, Staff Nurse, Ward 7 (Acute Medicine)" in words
