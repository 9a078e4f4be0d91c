"""The moderation screen's API as people need it (issue 20): urgent stories first with why, names not
slugs, services a moderator can correct, the tags in use, a live identifying-details check on edited
text, and messages to the author of a held or pending story (kept privately, emailed by the stream)."""

from __future__ import annotations

import json
from urllib.parse import urlencode

import pytest

from chalicelib import wiring
from chalicelib.core.urgency import flags
from tests.support import mailbox
from tests.support.auth import bearer, error_of
from tests.support.author import AUTHOR, author_link, body_of, link_in
from tests.support.stories import publish, submit
from tests.support.vnu import needs_vnu, vnu_errors

JSON_HEADERS = {"Content-Type": "application/json"}
FORM_H = {"Content-Type": "application/x-www-form-urlencoded", "Accept": "text/html"}
LABELLED = json.loads(open("tests/data/urgency_labelled.json", encoding="utf-8").read())


@pytest.fixture
def auth(token):  # noqa: F811
    return {**bearer(token), **JSON_HEADERS}


def post(client, auth, path, body):
    return client.http.post(f"/api/moderation/{path}", body=json.dumps(body), headers=auth)


# ---- urgency -----------------------------------------------------------------------------------


@pytest.mark.parametrize("row", LABELLED, ids=[r["text"][:40] for r in LABELLED])
def test_urgency_flags_on_labelled_sentences(row):
    assert sorted(f["kind"] for f in flags({"story": row["text"]})) == sorted(row["kinds"])


def test_the_labelled_set_has_both_kinds_of_sentence():
    urgent = [r for r in LABELLED if r["kinds"]]
    assert len(urgent) >= 25 and len(LABELLED) - len(urgent) >= 20
    assert {k for r in urgent for k in r["kinds"]} == {"self_harm", "abuse", "danger"}


def test_urgent_stories_come_first_with_why_and_names_not_slugs(client, directory, auth):
    calm = submit(client, title="A calm night")
    urgent = submit(
        client, title="Please read this", story="After the news I wanted to end my life.\nThe nurse helped."
    )
    later = submit(client, title="Another calm one", services=["riverside-ward-7", "hillside-district-nursing"])
    stories = json.loads(client.http.get("/api/moderation/queue?status=pending", headers=auth).body)["stories"]
    assert [s["id"] for s in stories] == [urgent, calm, later]
    assert stories[0]["urgent"] == [{"kind": "self_harm", "words": "self-harm or suicide", "found": "end my life"}]
    assert stories[1]["urgent"] == []
    assert stories[2]["service_names"] == ["Ward 7 (Acute Medicine)", "District Nursing"]
    # Opened on its own, the story says why it is urgent too (the screen's panel above the words).
    one = json.loads(client.http.get(f"/api/moderation/stories/{urgent}", headers=auth).body)
    assert one["urgent"] == stories[0]["urgent"]


def test_an_urgent_story_behind_a_full_page_of_calm_ones_still_comes_first(client, directory):
    calm = [submit(client, title=f"Calm {n}") for n in range(3)]
    urgent = submit(client, title="Urgent", story="My partner hits me and I am scared to go home.")
    shown = wiring.moderation().queue("pending", limit=2)
    assert [s["id"] for s in shown] == [urgent, calm[0]]
    assert shown[0]["urgent"][0]["kind"] == "abuse"


# ---- one story: tags in use, services corrected, the live check ---------------------------------


def test_a_moderator_corrects_the_services_and_sees_the_tags_in_use(client, directory, auth, pump):
    first = submit(client, title="Tagged earlier")
    publish(first, tags=["welsh-language", "food"])
    pump.drain()
    sid = submit(client, title="Wrong ward")
    got = json.loads(client.http.get(f"/api/moderation/stories/{sid}", headers=auth).body)
    assert {"welsh-language", "food"} <= set(got["tags_in_use"])

    wrong = post(
        client,
        auth,
        f"stories/{sid}/decision",
        {"action": "publish", "version": 1, "criticality": 1, "services": ["no-such-ward"]},
    )
    assert wrong.status_code == 422 and error_of(wrong)["fields"][0]["field"] == "services"
    resp = post(
        client,
        auth,
        f"stories/{sid}/decision",
        {"action": "publish", "version": 1, "criticality": 1, "services": ["riverside-maternity"]},
    )
    assert resp.status_code == 200, resp.body
    story = wiring.store().get_story(sid)
    assert story["services"] == ["riverside-maternity"] and "services" in story["edited_fields"]


def test_the_live_check_marks_the_edited_text_not_the_saved_one(client, directory, auth):
    resp = post(client, auth, "highlights", {"story": "Call me on 07700 900123.", "title": "Fine"})
    assert resp.status_code == 200
    got = json.loads(resp.body)["highlights"]
    assert list(got) == ["story"] and got["story"]["kinds"] == ["a phone number"]
    # The number removed: nothing is marked any more.
    assert json.loads(post(client, auth, "highlights", {"story": "Call the ward."}).body)["highlights"] == {}
    assert post(client, auth, "highlights", {"story": 5}).status_code == 422
    assert client.http.post("/api/moderation/highlights", body="{}", headers=JSON_HEADERS).status_code == 401


# ---- messages to the author ------------------------------------------------------------------------


def test_a_moderator_messages_the_author_who_answers_privately(client, directory, auth, pump):
    sid = submit(client, title="A worrying story", email=AUTHOR)
    pump.drain()
    resp = post(client, auth, f"stories/{sid}/messages", {"text": "Are you safe now? Is there anything we can do?"})
    assert resp.status_code == 201, resp.body
    assert AUTHOR not in body_of(resp)  # the moderator never sees the address
    asked = lambda: [m for m in mailbox.to(AUTHOR) if "question about your story" in str(m["Subject"])]  # noqa: E731
    assert asked() == []  # never sent from the request: the stream queues it
    pump.drain()
    [letter] = asked()
    text = mailbox.text_of(letter)
    assert "Are you safe now?" in text
    token = link_in(text)

    page = client.http.get(f"/api/my/{token}")
    html = body_of(page)
    assert "Messages from the moderators" in html and "Are you safe now?" in html and "mod@" not in html
    answer = client.http.post(
        f"/api/my/{token}/messages",
        body=urlencode({"text": "Yes, thank you. I am safe.", "answer_id": "a" * 20}),
        headers=FORM_H,
    )
    assert answer.status_code == 303 and answer.headers["Location"].endswith("?done=answer")
    again = client.http.post(
        f"/api/my/{token}/messages",
        body=urlencode({"text": "Yes, thank you. I am safe.", "answer_id": "a" * 20}),
        headers=FORM_H,
    )
    assert again.status_code == 303  # a double submit is one answer
    pump.drain()

    seen = json.loads(client.http.get(f"/api/moderation/stories/{sid}", headers=auth).body)["messages"]
    assert [(m["sender"], m["text"]) for m in seen] == [
        ("moderator", "Are you safe now? Is there anything we can do?"),
        ("author", "Yes, thank you. I am safe."),
    ]
    assert (
        len([m for m in mailbox.sent() if "question about your story" in str(m["Subject"])]) == 1
    )  # the answer sends nothing

    # Never public: publishing renders pages without either message.
    publish(sid)
    pump.drain()
    public = json.loads(client.http.get(f"/api/public/stories/{sid}").body)
    assert "Are you safe" not in json.dumps(public) and "I am safe" not in json.dumps(public)


def test_messages_only_for_held_or_pending_stories_with_a_confirmed_address(client, directory, auth, pump):
    unconfirmed = submit(client, confirmed=False, email=AUTHOR)
    resp = post(client, auth, f"stories/{unconfirmed}/messages", {"text": "Hello there"})
    assert resp.status_code == 409 and "confirmed" in error_of(resp)["message"]
    published = submit(client, email=AUTHOR)
    publish(published)
    assert post(client, auth, f"stories/{published}/messages", {"text": "Hello there"}).status_code == 409
    pending = submit(client, email=AUTHOR)
    assert post(client, auth, f"stories/{pending}/messages", {"text": ""}).status_code == 422
    assert post(client, auth, f"stories/{pending}/messages", {"text": "x" * 2001}).status_code == 422
    assert post(client, auth, "stories/nosuchstory/messages", {"text": "Hello there"}).status_code == 404
    assert (
        client.http.post(f"/api/moderation/stories/{pending}/messages", body="{}", headers=JSON_HEADERS).status_code
        == 401
    )
    # Nothing asked yet: the author has nothing to answer.
    token = author_link(pending)
    resp = client.http.post(
        f"/api/my/{token}/messages", body=json.dumps({"text": "Unasked", "answer_id": "b" * 20}), headers=JSON_HEADERS
    )
    assert resp.status_code == 409


@needs_vnu
def test_the_private_page_with_messages_and_the_letter_are_valid_html(client, directory, auth, pump, tmp_path):
    sid = submit(client, title="A worrying story", email=AUTHOR)
    pump.drain()
    assert post(client, auth, f"stories/{sid}/messages", {"text": "Are you safe now?"}).status_code == 201
    pump.drain()
    [letter] = [m for m in mailbox.to(AUTHOR) if "question about your story" in str(m["Subject"])]
    token = link_in(mailbox.text_of(letter))
    pages = {"letter.html": mailbox.html_of(letter), "private.html": body_of(client.http.get(f"/api/my/{token}"))}
    mistake = client.http.post(
        f"/api/my/{token}/messages", body=urlencode({"text": "", "answer_id": "c" * 20}), headers=FORM_H
    )
    assert mistake.status_code == 422 and 'href="#answer-text"' in body_of(mistake)
    pages["private-error.html"] = body_of(mistake)
    assert vnu_errors(pages, tmp_path) == ""
