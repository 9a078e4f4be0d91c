"""Me too: a reader says "this happened to me too" (no account, rate-limited), counted once by the stream."""

from __future__ import annotations

import json
import logging
from urllib.parse import urlencode

import pytest

from chalicelib import wiring
from tests.support import mailbox, moto_state
from tests.support.factories import story_body
from tests.support.stories import publish, submit

JSON_H = {"Content-Type": "application/json"}
FORM_H = {"Content-Type": "application/x-www-form-urlencoded"}
READER = "reader.private@example.net"


def page(aws, story_id: str) -> str:
    obj = aws.client("s3").get_object(Bucket=aws.resources.bucket, Key=f"stories/{story_id}/index.html")
    return obj["Body"].read().decode("utf-8")


def table(aws) -> list[dict]:
    return aws.client("dynamodb").scan(TableName=aws.resources.table)["Items"]


@moto_state.remembered
def published(client, pump, **overrides) -> str:
    story_id = submit(client, **overrides)
    pump.drain()
    publish(story_id)
    pump.drain()
    return story_id


def me_too_json(client, story_id, body=None):
    return client.http.post(f"/api/stories/{story_id}/me-too", body=json.dumps(body or {}), headers=JSON_H)


def me_too_form(client, story_id, fields):
    return client.http.post(f"/api/stories/{story_id}/me-too", body=urlencode(fields), headers=FORM_H)


def count(story_id: str) -> int:
    return int(wiring.store().get_story(story_id, consistent=True).get("me_too_count") or 0)


def test_a_me_too_is_counted_once_and_shown_on_the_story_page(aws, client, directory, pump):
    story_id = published(client, pump)
    assert "No one has said this happened to them too yet." in page(aws, story_id)
    first = me_too_json(client, story_id)
    assert first.status_code == 201 and json.loads(first.body)["created"] is True
    # The same connection again the same day: harmless, and counts nothing.
    again = me_too_json(client, story_id)
    assert again.status_code == 200 and json.loads(again.body)["created"] is False
    pump.drain()
    assert count(story_id) == 1
    html = page(aws, story_id)
    assert "1 person has said this happened to them too." in html
    assert f'action="https://api.test/api/stories/{story_id}/me-too"' in html
    assert f'href="/tell-your-story/?related={story_id}"' in html


def test_the_count_is_exact_however_often_the_stream_delivers_a_record(aws, client, directory, pump):
    story_id = published(client, pump)
    metoo = wiring.metoo()
    for n in range(5):
        assert metoo.say(story_id, {}, f"client-{n}")["created"]
    pump.drain()
    assert count(story_id) == 5
    # Every me-too INSERT delivered again, three times over: nothing changes.
    items = [i for i in table(aws) if i["PK"]["S"] == f"METOO#{story_id}"]
    assert len(items) == 5
    handler = wiring.changes()
    for item in items:
        fresh = {k: v for k, v in item.items() if k != "counted"}
        record = {"eventName": "INSERT", "dynamodb": {"Keys": {"PK": item["PK"], "SK": item["SK"]}, "NewImage": fresh}}
        for _ in range(3):
            handler.handle(record)
    pump.drain()
    assert count(story_id) == 5


def test_a_me_too_record_seen_twice_before_it_is_marked_counts_once(aws, client, directory, pump):
    story_id = published(client, pump)
    wiring.metoo().say(story_id, {}, "someone")
    item = next(i for i in table(aws) if i["PK"]["S"] == f"METOO#{story_id}")
    record = {"eventName": "INSERT", "dynamodb": {"Keys": {"PK": item["PK"], "SK": item["SK"]}, "NewImage": item}}
    # Two workers on the same record before the pump: the transaction lets one through.
    wiring.changes().handle(record)
    wiring.changes().handle(record)
    pump.drain()
    assert count(story_id) == 1


def test_the_readers_email_stays_private(aws, client, directory, pump, caplog, capsys):
    caplog.set_level(logging.INFO)  # our log lines (botocore DEBUG would print request bodies)
    story_id = published(client, pump)
    resp = me_too_form(client, story_id, {"email": READER, "consent": "yes", "website": ""})
    assert resp.status_code == 200
    body = resp.body.decode()
    assert "Thank you" in body and "we will email you once" in body
    assert READER not in body
    pump.drain()
    assert count(story_id) == 1
    # Kept in a PRIVATE# item only.
    holders = [i for i in table(aws) if READER in json.dumps(i)]
    assert [(i["PK"]["S"].split("#")[0], i["SK"]["S"].split("#")[0]) for i in holders] == [("PRIVATE", "METOO")]
    assert READER not in page(aws, story_id)
    assert READER not in json.dumps(wiring.store().get_story(story_id))
    assert READER not in json.dumps(wiring.store().story_thread(story_id))
    public = client.http.get(f"/api/public/stories/{story_id}")
    assert READER not in public.body.decode()
    out = capsys.readouterr()
    assert READER not in out.out + out.err  # logs and metrics (printed when metrics are disabled)
    assert READER not in caplog.text
    # And the queues carry ids, never the address.
    assert all(READER not in m.get("Body", "") for m in _peek(aws))


def _peek(aws) -> list[dict]:
    sqs = aws.client("sqs")
    out = []
    for url in (aws.resources.render_queue_url, aws.resources.mail_queue_url):
        out += sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, VisibilityTimeout=0).get("Messages", [])
    return out


def test_with_javascript_off_the_form_shows_its_errors_and_keeps_what_was_typed(aws, client, directory, pump):
    story_id = published(client, pump)
    resp = me_too_form(client, story_id, {"email": "someone@example.org", "website": ""})
    assert resp.status_code == 422
    html = resp.body.decode()
    assert 'href="#consent"' in html and "Tick the box" in html
    assert 'value="someone@example.org"' in html
    bad = me_too_form(client, story_id, {"email": "not-an-address", "consent": "yes"})
    assert bad.status_code == 422 and 'href="#email"' in bad.body.decode()
    pump.drain()
    assert count(story_id) == 0
    assert not [i for i in table(aws) if i["PK"]["S"] == f"METOO#{story_id}"]


@pytest.mark.parametrize(
    "body, field",
    [
        ({"email": "nope"}, "email"),
        ({"email": "a@example.org"}, "consent"),
        ({"website": "http://spam.example"}, "website"),
        ({"surprise": 1}, "surprise"),
    ],
)
def test_bad_input_is_a_422_naming_the_field_and_writes_nothing(aws, client, directory, pump, body, field):
    story_id = published(client, pump)
    resp = me_too_json(client, story_id, body)
    assert resp.status_code == 422
    assert [f["field"] for f in json.loads(resp.body)["error"]["fields"]] == [field]
    assert not [i for i in table(aws) if i["PK"]["S"].startswith("METOO#")]


def test_an_unknown_or_unpublished_story_is_a_404_naming_the_story(aws, client, directory, pump):
    pending = submit(client)
    pump.drain()
    for story_id in ("0000000000000000z", pending, "not-an-id"):
        resp = me_too_json(client, story_id)
        assert resp.status_code == 404, story_id
        assert json.loads(resp.body)["error"]["fields"][0]["field"] == "story_id"
    html = me_too_form(client, pending, {})
    assert html.status_code == 404 and "text/html" in html.headers["Content-Type"]
    assert not [i for i in table(aws) if i["PK"]["S"].startswith("METOO#")]


def test_tell_your_own_story_links_it_to_a_published_one(aws, client, directory, pump):
    first = published(client, pump, title="The first story")
    second = published(client, pump, title="Mine too, a week later", related_story=first)
    assert wiring.store().get_story(second)["related_story"] == first
    html = page(aws, second)
    assert f'Linked to <a href="/stories/{first}/">The first story</a>' in html


@pytest.mark.parametrize("related", ["0000000000000000z", "bad id", "pending"])
def test_a_story_can_only_be_linked_to_a_published_one(aws, client, directory, pump, related):
    if related == "pending":
        related = submit(client)
    resp = client.http.post("/api/stories", body=json.dumps(story_body(related_story=related)), headers=JSON_H)
    assert resp.status_code == 422
    assert [f["field"] for f in json.loads(resp.body)["error"]["fields"]] == ["related_story"]


def test_a_blank_related_story_is_no_link(aws, client, directory, pump):
    story_id = submit(client, related_story="")
    assert "related_story" not in wiring.store().get_story(story_id)


def test_erasure_removes_the_me_toos_and_their_addresses(aws, client, directory, pump):
    story_id = published(client, pump)
    other = published(client, pump)
    wiring.metoo().say(story_id, {"email": READER, "consent": True}, "c1")
    wiring.metoo().say(story_id, {}, "c2")
    wiring.metoo().say(other, {"email": "other.reader@example.net", "consent": True}, "c3")
    pump.drain()
    token = wiring.links().issue("author", story_id, "author", 30)
    resp = client.http.post(f"/api/my/{token}/erase", body=json.dumps({"confirm": "ERASE"}), headers=JSON_H)
    assert resp.status_code == 202
    pump.drain()
    left = json.dumps(table(aws))
    assert READER not in left and f"METOO#{story_id}" not in left
    # The other story's me-too and its reader's address are untouched.
    assert "other.reader@example.net" in left and count(other) == 1


def test_staff_alerts_show_the_me_too_count(aws):
    from chalicelib.mail.sender import render

    story = {
        "title": "T",
        "service_names": "Ward 7",
        "services": [],
        "criticality": 2,
        "criticality_words": "mildly critical",
        "excerpt": "E",
        "pseudonym": "P",
        "role": "",
        "respond_url": "u",
        "url": "u",
        "subscription_service": "Ward 7",
    }
    context = {
        "name": "Sam",
        "unsubscribe_url": "u",
        "manage_url": "u",
        "site_url": "https://site.test",
        "respond_link_days": 60,
    }
    _, text, html = render("staff_alert", context | {"story": story | {"me_too_count": 3}})
    assert "3 readers have said this happened to them too." in text and "3 readers have said" in html
    _, text, html = render("staff_alert", context | {"story": story | {"me_too_count": 0}})
    assert "happened to them too" not in text + html
    _, text, _ = render(
        "staff_digest",
        context | {"stories": [story | {"me_too_count": 1}], "day": "2026-11-26", "day_label": "Thursday"},
    )
    assert "1 reader has said this happened to them too." in text
    assert not mailbox.sent()


def test_one_client_says_me_too_about_one_story_at_most_three_times_an_hour(aws, client, directory, pump):
    """Issue 18, finding 3: the per-client limit alone let one client post 10 me-toos an hour about
    one story; now a fourth about the same story is a 429, while another story still takes one."""
    story_id = published(client, pump)
    other = published(client, pump, title="Another night on the ward")
    answers = [me_too_json(client, story_id).status_code for _ in range(4)]
    assert answers == [201, 200, 200, 429]
    refused = me_too_json(client, story_id)
    assert refused.headers.get("Retry-After") and "about this story" in json.loads(refused.body)["error"]["message"]
    assert me_too_json(client, other).status_code == 201
