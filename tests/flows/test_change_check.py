"""The author checks the change: asked once, six weeks after a change is made; the answer shows on the story."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from urllib.parse import urlencode

import pytest

from chalicelib import wiring
from chalicelib.core import clock
from chalicelib.core.ids import new_id
from chalicelib.moderation import Moderator
from tests.support import mailbox, moto_state
from tests.support.stories import publish, submit

JSON_H = {"Content-Type": "application/json"}
FORM_H = {"Content-Type": "application/x-www-form-urlencoded"}
MOD = Moderator("mod@example.org", "Mo Derator")
T0 = datetime(2026, 11, 26, 14, 0, tzinfo=UTC)
AUTHOR = "author@example.org"
READER = "reader.one@example.net"
SUPPRESSED = "bounced.reader@example.net"
CHANGE = "Parents staying overnight are now offered a folding bed."
LINK = re.compile(r"https://api\.test/api/check/([A-Za-z0-9_-]{43})")


@pytest.fixture
def now(monkeypatch):
    class Clock:
        at = T0

    monkeypatch.setattr(clock, "now", lambda: Clock.at)
    return Clock


def table(aws) -> list[dict]:
    return aws.client("dynamodb").scan(TableName=aws.resources.table)["Items"]


def page(aws, story_id: str) -> str:
    obj = aws.client("s3").get_object(Bucket=aws.resources.bucket, Key=f"stories/{story_id}/index.html")
    return obj["Body"].read().decode("utf-8")


def checks_sent() -> list:
    return [m for m in mailbox.sent() if "Did the change make a difference?" in str(m["Subject"])]


def run_daily_job(client, at: datetime):
    event = {
        "version": "0",
        "id": "test",
        "detail-type": "Scheduled Event",
        "source": "aws.events",
        "account": "000000000000",
        "time": at.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "region": "eu-west-2",
        "resources": [],
        "detail": {},
    }
    return client.lambda_.invoke("change_checks", event).payload


def change_made(story_id: str, at: datetime, description: str = CHANGE) -> None:
    """A published staff response that marks a change as made (as conversation.respond writes it)."""
    wiring.store().put_response(
        story_id,
        {
            "id": new_id(),
            "subscriber_id": "s1",
            "subscription_id": "sub1",
            "service": "riverside-ward-7",
            "name": "Pat Lee",
            "role": "Ward Manager",
            "organisation_name": "Riverside NHS Foundation Trust",
            "service_name": "Ward 7",
            "text": "Thank you for telling us.",
            "change": "made",
            "change_description": description,
            "status": "published",
            "flags": [],
            "created_at": clock.iso(at),
            "published_at": clock.iso(at),
        },
    )


@pytest.fixture
def story(aws, client, directory, pump, now):
    """A published story with a change made at T0, two me-too readers with addresses (one suppressed)
    and one without. Made once per worker (moto_state.kept)."""
    return moto_state.kept("change-check-story", lambda: _story(client, pump), pump)


def _story(client, pump) -> str:
    story_id = submit(client)
    pump.drain()
    publish(story_id)
    pump.drain()
    metoo = wiring.metoo()
    metoo.say(story_id, {"email": READER, "consent": True}, "client-1")
    metoo.say(story_id, {"email": SUPPRESSED, "consent": True}, "client-2")
    metoo.say(story_id, {}, "client-3")
    wiring.store().suppress(SUPPRESSED, "bounce", clock.iso())
    change_made(story_id, T0)
    pump.drain()
    return story_id


def test_the_check_is_scheduled_six_weeks_after_the_change_and_sent_once_then(aws, client, pump, now, story):
    check = wiring.store().get_check(story)
    assert check["due_at"] == clock.iso(T0 + timedelta(days=42))
    before = len(mailbox.sent())
    now.at = T0 + timedelta(days=42) - timedelta(minutes=1)
    assert run_daily_job(client, now.at) == {"stories": 0, "emails": 0}
    pump.drain()
    assert checks_sent() == [] and len(mailbox.sent()) == before
    now.at = T0 + timedelta(days=42, hours=19)
    assert run_daily_job(client, now.at) == {"stories": 1, "emails": 3}
    pump.drain()
    sent = checks_sent()
    assert sorted(str(m["To"]) for m in sent) == [AUTHOR, READER]  # never the suppressed address
    author_mail = mailbox.text_of(next(m for m in sent if str(m["To"]) == AUTHOR))
    assert CHANGE in author_mail and "your story" in author_mail
    # The next day, and the job run twice: nothing more.
    now.at += timedelta(days=1)
    assert run_daily_job(client, now.at) == {"stories": 0, "emails": 0}
    from chalicelib.core.jobs import MailJob

    wiring.notifications().send(MailJob(kind="change_check", story_id=story, ref="author"))
    pump.drain()
    assert len(checks_sent()) == 2
    assert wiring.store().get_check(story)["sent_at"]


def test_a_second_change_schedules_no_second_check(aws, client, pump, now, story):
    due = wiring.store().get_check(story)["due_at"]
    now.at = T0 + timedelta(days=10)
    change_made(story, now.at, "Another change")
    pump.drain()
    assert wiring.store().get_check(story)["due_at"] == due


def _token_for(address: str) -> str:
    mail = next(m for m in checks_sent() if str(m["To"]) == address)
    return LINK.search(mailbox.text_of(mail)).group(1)


@pytest.fixture
def asked(aws, client, pump, now, story):
    now.at = T0 + timedelta(days=43)
    run_daily_job(client, now.at)
    pump.drain()
    return story


def test_the_link_page_changes_nothing_and_the_authors_answer_shows_on_the_story(aws, client, pump, now, asked):
    token = _token_for(AUTHOR)
    before = table(aws)
    for _ in range(2):
        resp = client.http.get(f"/api/check/{token}")
        assert resp.status_code == 200
        assert resp.headers["X-Robots-Tag"] == "noindex, nofollow"
    html = resp.body.decode()
    assert CHANGE in html and 'name="answer"' in html and 'id="answer-yes"' in html
    assert AUTHOR not in html
    assert table(aws) == before  # a GET wrote nothing (mail scanners fetch every link)

    posted = client.http.post(
        f"/api/check/{token}", body=urlencode({"answer": "yes", "comment": "The folding bed helped."}), headers=FORM_H
    )
    assert posted.status_code == 303
    assert posted.headers["Location"] == f"https://api.test/api/check/{token}?done=1"
    done = client.http.get(f"/api/check/{token}?done=1").body.decode()
    assert "Thank you for your answer" in done and "once a moderator has checked it" in done
    pump.drain()
    story = wiring.store().get_story(asked)
    assert story["change_verdict"] == "yes" and story["change_verdict_at"]
    html = page(aws, asked)
    assert "Change confirmed by the author." in html
    assert "The folding bed helped." not in html  # the comment waits for a moderator

    queued = wiring.moderation().replies_queue()
    assert [(i["item"], i["id"], i["answer"], i["text"]) for i in queued] == [
        ("check", "author", "yes", "The folding bed helped.")
    ]
    wiring.moderation().decide_item(asked, "checks", "author", {"action": "publish"}, MOD)
    pump.drain()
    assert "The folding bed helped." in page(aws, asked)
    assert wiring.moderation().replies_queue() == []

    # The first answer stands: the same again is harmless, another is refused.
    same = client.http.post(
        f"/api/check/{token}", body=json.dumps({"answer": "yes", "comment": "The folding bed helped."}), headers=JSON_H
    )
    assert same.status_code == 200 and json.loads(same.body)["created"] is False
    other = client.http.post(f"/api/check/{token}", body=json.dumps({"answer": "no"}), headers=JSON_H)
    assert other.status_code == 409
    again = client.http.post(f"/api/check/{token}", body=urlencode({"answer": "no"}), headers=FORM_H)
    assert again.status_code == 409 and "Your first answer stands" in again.body.decode()
    pump.drain()
    assert wiring.store().get_story(asked)["change_verdict"] == "yes"


def test_the_authors_partly_or_no_shows_as_their_view(aws, client, pump, now, asked):
    token = _token_for(AUTHOR)
    resp = client.http.post(f"/api/check/{token}", body=json.dumps({"answer": "no"}), headers=JSON_H)
    assert resp.status_code == 201 and json.loads(resp.body)["status"] == "recorded"
    pump.drain()
    html = page(aws, asked)
    assert "the change made no difference" in html and "Change confirmed" not in html
    assert wiring.moderation().replies_queue() == []  # no comment, nothing to moderate


def test_me_too_readers_answers_are_counted_apart_once(aws, client, pump, now, asked):
    token = _token_for(READER)
    page_html = client.http.get(f"/api/check/{token}").body.decode()
    assert "A story that happened to you too" in page_html and READER not in page_html
    resp = client.http.post(f"/api/check/{token}", body=json.dumps({"answer": "partly"}), headers=JSON_H)
    assert resp.status_code == 201
    pump.drain()
    story = wiring.store().get_story(asked)
    assert story.get("me_too_partly") == 1 and "change_verdict" not in story
    # The answer's INSERT delivered again: still one.
    item = next(i for i in table(aws) if i["PK"]["S"] == f"STORY#{asked}" and i["SK"]["S"].startswith("CHECK#"))
    fresh = {k: v for k, v in item.items() if k != "counted"}
    for _ in range(3):
        wiring.changes().handle(
            {"eventName": "INSERT", "dynamodb": {"Keys": {"PK": item["PK"], "SK": item["SK"]}, "NewImage": fresh}}
        )
    pump.drain()
    assert wiring.store().get_story(asked).get("me_too_partly") == 1
    html = page(aws, asked)
    assert (
        "Of 1 other person this happened to, 0 said the change made a difference, 1 said partly and 0 said it did not."
        in html
    )
    assert READER not in html


@pytest.mark.parametrize(
    "body, field",
    [
        ({"answer": "maybe"}, "answer"),
        ({}, "answer"),
        ({"answer": "yes", "comment": "x" * 2001}, "comment"),
        ({"answer": "yes", "extra": 1}, "extra"),
    ],
)
def test_bad_answers_are_a_422_naming_the_field_and_write_nothing(aws, client, pump, now, asked, body, field):
    token = _token_for(AUTHOR)
    before = table(aws)
    resp = client.http.post(f"/api/check/{token}", body=json.dumps(body), headers=JSON_H)
    assert resp.status_code == 422
    assert [f["field"] for f in json.loads(resp.body)["error"]["fields"]] == [field]
    after = [i for i in table(aws) if not i["PK"]["S"].startswith("LIMIT#")]
    assert after == [i for i in before if not i["PK"]["S"].startswith("LIMIT#")]


def test_with_javascript_off_a_missing_answer_shows_the_form_again(aws, client, pump, now, asked):
    token = _token_for(AUTHOR)
    resp = client.http.post(f"/api/check/{token}", body=urlencode({"comment": "Kept words"}), headers=FORM_H)
    assert resp.status_code == 422
    html = resp.body.decode()
    assert 'href="#answer-yes"' in html and "Kept words" in html


def test_an_unknown_link_or_a_story_no_longer_published_is_a_404(aws, client, pump, now, asked):
    assert client.http.get(f"/api/check/{'A' * 43}").status_code == 404
    assert (
        client.http.post(f"/api/check/{'A' * 43}", body=json.dumps({"answer": "yes"}), headers=JSON_H).status_code
        == 404
    )
    token = _token_for(AUTHOR)
    author_link = wiring.links().issue("author", asked, "author", 30)
    client.http.post(f"/api/my/{author_link}/withdraw", body=json.dumps({"confirm": True}), headers=JSON_H)
    pump.drain()
    assert client.http.get(f"/api/check/{token}").status_code == 404
    assert (
        client.http.post(f"/api/check/{token}", body=json.dumps({"answer": "yes"}), headers=JSON_H).status_code == 404
    )
    # Another purpose's link is no check link.
    assert client.http.get(f"/api/check/{author_link}").status_code == 404


def test_a_withdrawn_story_is_not_checked(aws, client, pump, now, story):
    author_link = wiring.links().issue("author", story, "author", 30)
    client.http.post(f"/api/my/{author_link}/withdraw", body=json.dumps({"confirm": True}), headers=JSON_H)
    pump.drain()
    now.at = T0 + timedelta(days=43)
    assert run_daily_job(client, now.at) == {"stories": 1, "emails": 0}
    pump.drain()
    assert checks_sent() == []


def test_erasure_removes_the_scheduled_check(aws, client, pump, now, story):
    author_link = wiring.links().issue("author", story, "author", 30)
    client.http.post(f"/api/my/{author_link}/erase", body=json.dumps({"confirm": "ERASE"}), headers=JSON_H)
    pump.drain()
    assert wiring.store().get_check(story) is None
    assert not [i for i in table(aws) if story in json.dumps(i)]
