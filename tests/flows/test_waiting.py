"""The stories waiting for a reply (issue 20): a member's list from their "manage your alerts" link,
oldest first with due dates, each with a read-and-respond link made by a POST; and the due date in
every alert."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta

import pytest

from chalicelib import wiring
from chalicelib.core import clock
from chalicelib.core.settings import get_settings
from tests.support import mailbox, moto_state
from tests.support.directories import promised_directory
from tests.support.staff import alerts_to, staff
from tests.support.stories import publish, submit
from tests.support.vnu import needs_vnu, vnu_errors

# Monday 23 November 2026: the trust promises a reply within 5 working days (by Monday 30th).
PUBLISHED = datetime(2026, 11, 23, 10, tzinfo=UTC)
JSON_H = {"Accept": "application/json"}
HTML_H = {"Accept": "text/html"}
FORM_H = {"Content-Type": "application/x-www-form-urlencoded", "Accept": "text/html"}
RESPOND = re.compile(r"^https://api\.test/api/respond/([A-Za-z0-9_-]{43})$")


class Clock:
    def __init__(self, monkeypatch):
        self.now = PUBLISHED
        monkeypatch.setattr(clock, "now", lambda: self.now)


@pytest.fixture
def held(monkeypatch):
    return Clock(monkeypatch)


def manage_link(person_id: str) -> str:
    return wiring.links().issue("manage", "", person_id, get_settings().subscriber_link_days, subscriber_id=person_id)


def published(client, pump, held, services=("riverside-ward-7",), title="Kind nurses on a busy night") -> str:
    story_id = submit(client, services=list(services), title=title)
    pump.drain()
    publish(story_id)
    pump.drain()
    held.now += timedelta(hours=1)
    return story_id


@pytest.fixture
def stories(aws, client, pump, held):
    """Five stories published an hour apart. Made once per worker (moto_state.kept), the held clock
    put where the making left it."""

    def build():
        wiring.directory().load(promised_directory())
        made = {
            "oldest": published(client, pump, held, title="The oldest one"),
            "maternity": published(client, pump, held, ("riverside-maternity",), title="A maternity story"),
            "elsewhere": published(client, pump, held, ("hillside-district-nursing",), title="Another trust"),
            "answered": published(client, pump, held, title="Already answered"),
            "newest": published(client, pump, held, title="The newest one"),
        }
        return made, held.now

    made, held.now = moto_state.kept("waiting-stories", build, pump)
    return made


def tokens(aws) -> int:
    items = aws.client("dynamodb").scan(TableName=aws.resources.table)["Items"]
    return len([i for i in items if i["PK"]["S"].startswith("TOKEN#")])


def answer(story_id: str) -> None:
    """A first response, as the conversation flow leaves it (the story gains first_response_at)."""
    someone = staff("responder@nhs.example", {"service": "riverside-trust"}, name="Rhys Jones")
    sub = wiring.store().subscriptions_of(someone)[0]
    token = wiring.links().issue(
        "respond", story_id, someone, 30, subscriber_id=someone, subscription_id=sub["id"], service=sub["service"]
    )
    wiring.conversation().respond(token, {"text": "Thank you for telling us. We have shared this with the ward."})


def test_a_member_sees_the_waiting_stories_of_their_services_oldest_first_with_due_dates(
    aws, client, pump, held, stories
):
    answer(stories["answered"])
    pump.drain()
    nurse = staff("nora@riverside.nhs.example", {"service": "riverside-general"})
    token = manage_link(nurse)

    got = json.loads(client.http.get(f"/api/subscriptions/manage/{token}/waiting", headers=JSON_H).body)
    assert [s["title"] for s in got["stories"]] == ["The oldest one", "A maternity story", "The newest one"]
    oldest, maternity = got["stories"][0], got["stories"][1]
    assert oldest["due_at"].startswith("2026-11-30")  # 5 working days after Monday 23rd
    assert maternity["due_at"].startswith("2026-11-26")  # the maternity unit promises 3
    assert oldest["services"] == ["Ward 7 (Acute Medicine)"] and not oldest["overdue"]
    assert got["complete"] is True

    page = client.http.get(f"/api/subscriptions/manage/{token}/waiting", headers=HTML_H)
    html = page.body.decode()
    assert page.status_code == 200 and page.headers["X-Robots-Tag"] == "noindex, nofollow"
    assert "Monday 30 November 2026" in html and "Thursday 26 November 2026" in html
    assert html.index("The oldest one") < html.index("A maternity story") < html.index("The newest one")
    assert "Another trust" not in html and "Already answered" not in html
    # Listing makes no link: a mail scanner's GET writes nothing.
    assert "/api/respond/" not in html

    # Past its due date a story says it is overdue.
    held.now = datetime(2026, 11, 27, 12, tzinfo=UTC)
    again = json.loads(client.http.get(f"/api/subscriptions/manage/{token}/waiting", headers=JSON_H).body)
    assert [s["overdue"] for s in again["stories"]] == [False, True, False]


def test_the_button_makes_a_read_and_respond_link_of_their_own(aws, client, pump, held, stories):
    nurse = staff("nora@riverside.nhs.example", {"service": "riverside-ward-7"})
    token = manage_link(nurse)
    resp = client.http.post(f"/api/subscriptions/manage/{token}/waiting/{stories['oldest']}", body="", headers=FORM_H)
    assert resp.status_code == 303
    raw = RESPOND.match(resp.headers["Location"]).group(1)
    link = wiring.links().resolve(raw, "respond")
    assert link["story_id"] == stories["oldest"] and link["subscriber_id"] == nurse
    assert link["service"] == "riverside-ward-7" and link["subscription_id"]
    page = client.http.get(f"/api/respond/{raw}", headers=HTML_H)
    assert page.status_code == 200 and "The oldest one" in page.body.decode()

    # A program gets the address; each press makes a new link.
    made = client.http.post(
        f"/api/subscriptions/manage/{token}/waiting/{stories['oldest']}",
        body="{}",
        headers={"Content-Type": "application/json"},
    )
    assert made.status_code == 201
    assert RESPOND.match(json.loads(made.body)["respond_url"]).group(1) != raw


def test_only_the_services_they_may_act_for(aws, client, pump, held, stories):
    ward = manage_link(staff("ward@riverside.nhs.example", {"service": "riverside-ward-7"}))
    listed = json.loads(client.http.get(f"/api/subscriptions/manage/{ward}/waiting", headers=JSON_H).body)
    assert {s["title"] for s in listed["stories"]} == {"The oldest one", "Already answered", "The newest one"}
    # Beside what they follow, or in another organisation: refused like a bad link, and no link is made.
    before = tokens(aws)
    for story in ("maternity", "elsewhere"):
        url = f"/api/subscriptions/manage/{ward}/waiting/{stories[story]}"
        assert client.http.post(url, body="", headers=FORM_H).status_code == 404, story
    assert (
        client.http.post(f"/api/subscriptions/manage/{ward}/waiting/nosuchstory", body="", headers=FORM_H).status_code
        == 404
    )
    assert tokens(aws) == before

    # No grant, an unsubscribed person, a subscription to another organisation's service, or a
    # spoilt link: no list at all.
    nobody = staff("nobody@riverside.nhs.example", {"service": "riverside-ward-7"})
    wiring.store().update_subscriber(nobody, {"access": "none"})
    gone = staff("gone@riverside.nhs.example", {"service": "riverside-ward-7"}, status="unsubscribed")
    outside = staff("outside@riverside.nhs.example", {"service": "hillside-trust"})
    for person in (nobody, gone, outside):
        token = manage_link(person)
        assert client.http.get(f"/api/subscriptions/manage/{token}/waiting", headers=JSON_H).status_code == 404
        url = f"/api/subscriptions/manage/{token}/waiting/{stories['oldest']}"
        assert client.http.post(url, body="", headers=FORM_H).status_code == 404
    assert client.http.get(f"/api/subscriptions/manage/{'x' * 43}/waiting", headers=JSON_H).status_code == 404
    # A read-and-respond link is not a manage link.
    respond = wiring.links().issue("respond", stories["oldest"], "x", 30, subscriber_id="x")
    assert client.http.get(f"/api/subscriptions/manage/{respond}/waiting", headers=JSON_H).status_code == 404


def test_every_alert_says_when_a_reply_is_due_and_links_to_the_waiting_stories(aws, client, pump, held):
    wiring.directory().load(promised_directory())
    staff("ward@riverside.nhs.example", {"service": "riverside-ward-7"})
    staff("digest@riverside.nhs.example", {"service": "riverside-ward-7", "frequency": "digest"})
    published(client, pump, held)
    [alert] = alerts_to("ward@riverside.nhs.example")
    for part in (mailbox.text_of(alert), mailbox.html_of(alert)):
        assert "A reply is due by" in part and "Monday 30 November 2026" in part
        assert re.search(r"https://api\.test/api/subscriptions/manage/[A-Za-z0-9_-]{43}/waiting", part)
    held.now += timedelta(days=1)
    event = client.events.generate_cw_event(source="aws.events", detail_type="Scheduled Event", detail={}, resources=[])
    client.lambda_.invoke("daily_digest", event)
    pump.drain()
    [digest] = alerts_to("digest@riverside.nhs.example")
    for part in (mailbox.text_of(digest), mailbox.html_of(digest)):
        assert "A reply is due by" in part and "Monday 30 November 2026" in part


@needs_vnu
def test_the_waiting_page_is_valid_html(aws, client, pump, held, stories, tmp_path):
    token = manage_link(staff("nora@riverside.nhs.example", {"service": "riverside-trust"}))
    empty = manage_link(staff("hilda@riverside.nhs.example", {"service": "riverside-trust"}))
    pages = {
        "waiting.html": client.http.get(f"/api/subscriptions/manage/{token}/waiting", headers=HTML_H).body.decode()
    }
    assert "The oldest one" in pages["waiting.html"]
    assert vnu_errors(pages, tmp_path) == "" and empty
