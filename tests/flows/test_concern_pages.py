"""Report a concern over HTTP (issue 16): the link on the story page, the form page (JavaScript off),
the "what happens next" page, 404 like nothing, 429 for a flood, the reporter's address confirmed
before they are told the decision, and the moderators' routes (401 without a token, 409 on a race)."""

from __future__ import annotations

import json
import re
from urllib.parse import urlencode

import pytest

from chalicelib import wiring
from chalicelib.core import clock
from tests.support import mailbox
from tests.support.conversation import publish_story
from tests.support.env import API_URL
from tests.support.stories import submit
from tests.support.vnu import needs_vnu, vnu_errors

JSON_H = {"Content-Type": "application/json"}
FORM_H = {"Content-Type": "application/x-www-form-urlencoded"}
BROWSER = {"Accept": "text/html"}
REPORTER = "reporter.private@example.net"


def story_page(aws, sid: str) -> str:
    obj = aws.client("s3").get_object(Bucket=aws.resources.bucket, Key=f"stories/{sid}/index.html")
    return obj["Body"].read().decode()


def old_enough() -> str:
    return str(int(clock.now().timestamp() * 1000) - 60_000)


def test_the_story_page_links_to_a_form_that_works_without_javascript(aws, client, directory, pump):
    sid = publish_story(client, pump, title="Ward seven at night")
    link = f"{API_URL}/api/stories/{sid}/concerns/story"
    assert f'href="{link}"' in story_page(aws, sid)
    form = client.http.get(f"/api/stories/{sid}/concerns/story", headers=BROWSER)
    assert form.status_code == 200 and form.headers["X-Robots-Tag"] == "noindex, nofollow"
    page = form.body.decode()
    assert 'name="reason"' in page and 'name="website"' in page and "Ward seven at night" in page
    assert re.search(r'name="started" value="\d{13}"', page)  # the timing check, with no script
    sent = client.http.post(
        f"/api/stories/{sid}/concerns/story",
        body=urlencode({"reason": "offensive", "explanation": "Rude words", "started": old_enough()}),
        headers=FORM_H,
    )
    assert sent.status_code == 200, sent.body
    assert "what happens next" in sent.body.decode().lower()
    assert wiring.concerns().queue()[0]["reasons"] == {"offensive": 1}


def test_a_mistake_comes_back_with_the_field_named_and_the_words_kept(client, directory, pump):
    sid = publish_story(client, pump)
    sent = client.http.post(
        f"/api/stories/{sid}/concerns/story",
        body=urlencode({"explanation": "Please look", "started": old_enough()}),
        headers=FORM_H,
    )
    assert sent.status_code == 422
    page = sent.body.decode()
    assert 'href="#reason"' in page and "Please look" in page
    assert wiring.concerns().queue() == []


def test_a_report_sent_at_once_after_the_page_was_shown_is_refused(client, directory, pump):
    sid = publish_story(client, pump)
    sent = client.http.post(
        f"/api/stories/{sid}/concerns/story",
        body=json.dumps({"reason": "other", "started": int(clock.now().timestamp() * 1000)}),
        headers=JSON_H,
    )
    assert sent.status_code == 422 and json.loads(sent.body)["error"]["fields"][0]["field"] == "started"


@pytest.mark.parametrize("where", ["story", "responses/nope", "replies/x1", "checks/x"])
def test_a_report_on_nothing_answers_as_nothing(client, directory, pump, where):
    sid = publish_story(client, pump)
    pending = submit(client, email="")  # told, not yet published
    first = f"{sid}/concerns/{where}" if where != "story" else "0000000000000000z/concerns/story"
    answers = set()
    for target in (first, f"{pending}/concerns/story"):
        for method in ("get", "post"):
            call = getattr(client.http, method)
            kwargs = {"body": json.dumps({"reason": "other"}), "headers": JSON_H} if method == "post" else {}
            resp = call(f"/api/stories/{target}", **kwargs)
            answers.add((resp.status_code, json.loads(resp.body)["error"]["message"]))
    assert answers == {(404, "There is nothing published here to report.")}
    assert wiring.concerns().queue() == []


def test_a_flood_from_one_client_is_429_and_hides_nothing(client, directory, pump, monkeypatch):
    monkeypatch.setenv("FF_CONCERN_LIMIT", "4")
    wiring.reset()
    sid = publish_story(client, pump)
    codes = [
        client.http.post(
            f"/api/stories/{sid}/concerns/story", body=json.dumps({"reason": "other"}), headers=JSON_H
        ).status_code
        for _ in range(6)
    ]
    assert codes == [201, 200, 200, 200, 429, 429]
    refused = client.http.post(
        f"/api/stories/{sid}/concerns/story", body=json.dumps({"reason": "other"}), headers=JSON_H
    )
    assert refused.headers.get("Retry-After")
    assert wiring.store().get_story(sid)["status"] == "published"


def test_the_reporter_is_told_the_decision_only_after_confirming_the_address(aws, client, directory, pump):
    sid = publish_story(client, pump)
    body = {"reason": "identifies-someone", "email": REPORTER, "started": old_enough()}
    sent = client.http.post(f"/api/stories/{sid}/concerns/story", body=urlencode(body), headers=FORM_H)
    assert sent.status_code == 200 and "confirm your address" in sent.body.decode()
    pump.drain()
    [ask] = mailbox.to(REPORTER)
    text = mailbox.text_of(ask)
    assert "Is this your email address?" in ask["Subject"] and sid not in text
    token = re.search(r"/api/concerns/confirm/([A-Za-z0-9_-]{43})", text).group(1)
    assert client.http.get(f"/api/concerns/confirm/{token}").status_code == 200
    assert client.http.post(f"/api/concerns/confirm/{token}", body="", headers=FORM_H).status_code == 200
    # The story page shows the placeholder; the reporter's address is nowhere public.
    assert "being checked by a moderator" in story_page(aws, sid) and REPORTER not in story_page(aws, sid)
    from chalicelib.moderation import Moderator

    version = wiring.concerns().case(sid, "story")["case"]["version"]
    wiring.concerns().decide(sid, "story", "", {"action": "dismiss", "version": version}, Moderator("m", "M"))
    pump.drain()
    told = [m for m in mailbox.to(REPORTER) if "decided" in m["Subject"]]
    assert len(told) == 1 and "left it as it was" in mailbox.text_of(told[0])


def test_an_unconfirmed_reporter_hears_nothing_of_the_decision(client, directory, pump):
    sid = publish_story(client, pump)
    client.http.post(
        f"/api/stories/{sid}/concerns/story",
        body=json.dumps({"reason": "identifies-someone", "email": REPORTER}),
        headers=JSON_H,
    )
    pump.drain()
    from chalicelib.moderation import Moderator

    version = wiring.concerns().case(sid, "story")["case"]["version"]
    wiring.concerns().decide(sid, "story", "", {"action": "dismiss", "version": version}, Moderator("m", "M"))
    pump.drain()
    assert [m["Subject"] for m in mailbox.to(REPORTER)] == ["Is this your email address?"]


def test_the_moderation_routes_need_a_moderator(client, directory, pump):
    sid = publish_story(client, pump)
    assert client.http.get("/api/moderation/concerns").status_code == 401
    assert client.http.get(f"/api/moderation/concerns/{sid}/story/story").status_code == 401
    resp = client.http.post(
        f"/api/moderation/concerns/{sid}/story/story/decision",
        body=json.dumps({"action": "dismiss", "version": 1}),
        headers=JSON_H,
    )
    assert resp.status_code == 401


def test_the_moderation_screen_has_a_reports_queue_built_with_no_inline_script(client, aws):
    html = client.http.get("/api/moderate").body.decode()
    assert 'href="#concerns"' in html and 'id="concern-form"' in html and 'id="concern-counts"' in html
    assert "<script>" not in html and " on" + "click=" not in html and "style=" not in html
    js = client.http.get("/api/moderate/app.js").body.decode()
    assert "innerHTML" not in js and '"moderation/concerns"' in js
    # Every decision is a plain radio with a label: usable from the keyboard.
    for action in ("dismiss", "edit", "restrict", "remove", "hold"):
        assert f'name="c-action" value="{action}"' in html


@needs_vnu
def test_the_new_pages_are_valid_html(aws, client, directory, pump, tmp_path):
    sid = publish_story(client, pump, title="Valid pages")
    pages = {
        "story.html": story_page(aws, sid),
        "form.html": client.http.get(f"/api/stories/{sid}/concerns/story").body.decode(),
        "again.html": client.http.post(
            f"/api/stories/{sid}/concerns/story", body=urlencode({"explanation": "x"}), headers=FORM_H
        ).body.decode(),
    }
    done = client.http.post(
        f"/api/stories/{sid}/concerns/story",
        body=urlencode({"reason": "identifies-someone", "email": REPORTER, "started": old_enough()}),
        headers=FORM_H,
    )
    pages["done.html"] = done.body.decode()
    pump.drain()
    pages["placeholder.html"] = story_page(aws, sid)
    token = re.search(r"/api/concerns/confirm/([A-Za-z0-9_-]{43})", mailbox.text_of(mailbox.to(REPORTER)[0])).group(1)
    pages["address.html"] = client.http.get(f"/api/concerns/confirm/{token}").body.decode()
    pages["screen.html"] = client.http.get("/api/moderate").body.decode()
    assert "being checked by a moderator" in pages["placeholder.html"]
    assert vnu_errors(pages, tmp_path) == ""


def test_a_member_of_staff_asks_for_a_review_as_the_service_from_the_alerts_link(aws, client, directory, pump):
    from tests.support.conversation import make_staff, respond_link

    public = publish_story(client, pump, title="Reported by the public")
    sid = publish_story(client, pump, title="Reported by the service")
    token = respond_link(sid, make_staff())
    page = client.http.get(f"/api/respond/{token}", headers=BROWSER).body.decode()
    assert f"/api/respond/{token}/concern" in page
    form = client.http.get(f"/api/respond/{token}/concern").body.decode()
    assert "as the service" in form and 'name="email"' not in form
    client.http.post(f"/api/stories/{public}/concerns/story", body=json.dumps({"reason": "other"}), headers=JSON_H)
    sent = client.http.post(
        f"/api/respond/{token}/concern",
        body=urlencode({"reason": "untrue-or-defamatory", "explanation": "Wrong ward", "started": old_enough()}),
        headers=FORM_H,
    )
    assert sent.status_code == 200 and "what happens next" in sent.body.decode().lower()
    queue = wiring.concerns().queue()
    # The service's report weighs more: first, though it came later.
    assert [(c["story_id"], c["from_service"]) for c in queue] == [(sid, True), (public, False)]
    [report] = wiring.concerns().case(sid, "story")["reports"]
    assert report["from"] == "service" and report["has_email"] is False
    assert client.http.get("/api/respond/not-a-real-token-at-all-not-a-real-token-at/concern").status_code == 404


def test_the_author_asks_for_a_correction_and_a_moderator_publishes_it_as_an_edit(aws, client, directory, pump):
    from chalicelib.moderation import Moderator
    from tests.support.conversation import AUTHOR

    sid = publish_story(client, pump, title="My night on the ward", story="The nurse, Jo Bloggs, was so kind to me.")
    token = wiring.links().issue("author", sid, "author", 30)
    page = client.http.get(f"/api/my/{token}").body.decode()
    assert f"/api/my/{token}/correction" in page and "Ask for a correction" in page
    empty = client.http.post(f"/api/my/{token}/correction", body=urlencode({"story": ""}), headers=FORM_H)
    assert empty.status_code == 422 and 'href="#correction-story"' in empty.body.decode()
    fixed = "The nurse on the night shift was so kind to me."
    sent = client.http.post(f"/api/my/{token}/correction", body=urlencode({"story": fixed}), headers=FORM_H)
    assert sent.status_code == 303 and sent.headers["Location"].endswith("?done=correction")
    case = wiring.concerns().case(sid, "story")
    assert case["reports"][0]["correction"]["story"] == fixed and case["reports"][0]["from"] == "author"
    assert wiring.store().get_story(sid)["status"] == "published"  # a correction hides nothing
    data = {"action": "edit", "version": case["case"]["version"], "text": fixed}
    wiring.concerns().decide(sid, "story", "", data, Moderator("m", "M"))
    pump.drain()
    public = story_page(aws, sid)
    assert fixed in public and "Jo Bloggs" not in public and "Edited by a moderator on" in public
    assert AUTHOR not in public


def test_a_moderators_edit_of_a_response_keeps_its_words_privately(aws, client, directory, pump):
    from chalicelib.core.ids import new_story_id
    from chalicelib.moderation import Moderator
    from tests.support.conversation import make_staff, respond_link

    sid = publish_story(client, pump)
    token, rid = respond_link(sid, make_staff()), new_story_id()
    words = "Thank you. Ask for Sam Jones on ward 7 next time."
    body = urlencode({"response_id": rid, "text": words})
    assert client.http.post(f"/api/respond/{token}", body=body, headers=FORM_H).status_code == 303
    pump.drain()
    wiring.concerns().report(sid, "responses", rid, {"reason": "identifies-someone"}, "c1")
    version = wiring.concerns().case(sid, "responses", rid)["case"]["version"]
    data = {"action": "edit", "version": version, "text": "Thank you. Ask for the ward manager next time."}
    wiring.concerns().decide(sid, "responses", rid, data, Moderator("m", "M"))
    pump.drain()
    kept = aws.client("dynamodb").query(
        TableName=aws.resources.table,
        KeyConditionExpression="PK = :pk AND begins_with(SK, :sk)",
        ExpressionAttributeValues={":pk": {"S": f"PRIVATE#{sid}"}, ":sk": {"S": f"RESPONSE#{rid}#"}},
    )["Items"]
    assert [i["text"]["S"] for i in kept] == [words]
    assert "Sam Jones" not in story_page(aws, sid)
