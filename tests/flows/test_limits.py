"""Rate limits: a fixed window per action and client (hashed source IP), answered with 429 and Retry-After."""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime, timedelta

import pytest
from chalice.local import LambdaEventConverter

from chalicelib import wiring
from chalicelib.core import clock
from chalicelib.core.errors import TooManyRequests
from chalicelib.edge.guards import client_of
from tests.support.factories import story_body
from tests.support.stories import publish, submit

JSON_H = {"Content-Type": "application/json"}
FORM_H = {"Content-Type": "application/x-www-form-urlencoded"}
# Ten seconds into a window of an hour (windows start at multiples of the window, in epoch time).
# Read at import: the `aws` fixture clears every FF_* variable before a test runs.
PROVE_ROUNDS = int(os.environ.get("FF_PROVE_ROUNDS", "0") or 0)
START = datetime(2026, 11, 26, 10, 0, 10, tzinfo=UTC)


@pytest.fixture
def now(monkeypatch):
    """The clock, moved by the test: now.at = <datetime>."""

    class Clock:
        at = START

    monkeypatch.setattr(clock, "now", lambda: Clock.at)
    return Clock


def test_the_eleventh_hit_in_a_window_of_ten_is_refused_with_retry_after(aws, now):
    limits = wiring.limits()
    for _ in range(10):
        limits.hit("me-too", "client-a", 10, 3600)
    with pytest.raises(TooManyRequests) as refused:
        limits.hit("me-too", "client-a", 10, 3600)
    assert refused.value.status == 429
    assert refused.value.headers["Retry-After"] == str(3600 - 10)
    assert refused.value.limit == {"action": "me-too", "limit": 10, "per_seconds": 3600}
    # The words say the wait as a person would (issue 20: "Try again in 3590 seconds" was no help).
    assert str(refused.value).endswith("at most 10 in an hour. Try again in 60 minutes.")
    # Another client, and another action, have budgets of their own.
    limits.hit("me-too", "client-b", 10, 3600)
    limits.hit("stories", "client-a", 10, 3600)


@pytest.mark.parametrize(
    "seconds, words",
    [
        (1, "a minute"),
        (59, "a minute"),
        (61, "2 minutes"),
        (3146, "53 minutes"),
        (7140, "119 minutes"),
        (9000, "about 2 hours"),
    ],
)
def test_a_wait_is_said_in_minutes_or_hours(seconds, words):
    from chalicelib.limits import _wait

    assert _wait(seconds) == words


def test_the_window_resets_with_the_clock(aws, now):
    limits = wiring.limits()
    for _ in range(3):
        limits.hit("me-too", "c", 3, 60)
    with pytest.raises(TooManyRequests):
        limits.hit("me-too", "c", 3, 60)
    now.at = START + timedelta(seconds=49)  # still the same minute: 10:00:59
    with pytest.raises(TooManyRequests) as refused:
        limits.hit("me-too", "c", 3, 60)
    assert refused.value.retry_after == 1
    now.at = START + timedelta(seconds=50)  # 10:01:00, a new window
    limits.hit("me-too", "c", 3, 60)


def test_a_limit_of_zero_is_no_limit_and_costs_nothing(aws, now):
    limits = wiring.limits()
    for _ in range(20):
        limits.hit("stories", "c", 0, 60)
    items = aws.client("dynamodb").scan(TableName=aws.resources.table)["Items"]
    assert not [i for i in items if i["PK"]["S"].startswith("LIMIT#")]


def test_the_client_is_a_hash_of_the_source_ip_and_a_missing_one_is_handled():
    class Req:
        def __init__(self, context):
            self.context = context

    a = client_of(Req({"identity": {"sourceIp": "203.0.113.9"}}))
    assert a == client_of(Req({"identity": {"sourceIp": "203.0.113.9"}}))
    assert "203.0.113.9" not in a and len(a) == 32
    assert a != client_of(Req({"identity": {"sourceIp": "203.0.113.10"}}))
    unknown = client_of(Req({}))
    assert (
        unknown
        == client_of(Req({"identity": {"sourceIp": None}}))
        == client_of(Req(None))
        == client_of(Req({"identity": "x"}))
    )
    assert unknown != a


def test_behind_cloudfront_the_client_is_the_viewer_cloudfront_vouches_for_and_never_a_forged_header(monkeypatch):
    """Issue 18: behind CloudFront, identity.sourceIp is a CloudFront server's address, so every viewer behind one
    edge shared one budget. CloudFront now sends the viewer's address with a key the API knows; a caller of the
    execute-api address directly can send the same header names but not the key, and is keyed by its own IP."""
    monkeypatch.setenv("FF_EDGE_KEY", "0b2f6c1e-9a7d-4e35-8c61-2f0d5b9e7a44")
    wiring.reset()

    class Req:
        def __init__(self, source, headers):
            self.context = {"identity": {"sourceIp": source}}
            self.headers = headers

    edge = "130.176.96.72"  # one CloudFront server, in front of many viewers
    key = {"x-ff-edge-key": "0b2f6c1e-9a7d-4e35-8c61-2f0d5b9e7a44"}
    alice = client_of(Req(edge, {**key, "x-ff-viewer-ip": "203.0.113.9"}))
    bob = client_of(Req(edge, {**key, "x-ff-viewer-ip": "198.51.100.20"}))
    assert alice != bob  # two viewers behind one edge: two budgets
    assert alice == client_of(Req("130.176.96.99", {**key, "x-ff-viewer-ip": "203.0.113.9"}))  # any edge
    # A direct caller forging the header, without the key or with a wrong one, is its own source IP.
    direct = client_of(Req("192.0.2.50", {}))
    assert client_of(Req("192.0.2.50", {"x-ff-viewer-ip": "203.0.113.9"})) == direct
    assert client_of(Req("192.0.2.50", {"x-ff-edge-key": "guess", "x-ff-viewer-ip": "203.0.113.9"})) == direct
    assert client_of(Req(edge, {**key, "x-ff-viewer-ip": "not an address"})) == client_of(Req(edge, {}))
    # With no key set (the local stack), no header is believed.
    monkeypatch.delenv("FF_EDGE_KEY")
    wiring.reset()
    assert client_of(Req(edge, {**key, "x-ff-viewer-ip": "203.0.113.9"})) == client_of(Req(edge, {}))


def test_the_counter_item_holds_no_raw_address_and_expires(aws, now, client, directory, monkeypatch):
    monkeypatch.setattr(LambdaEventConverter, "LOCAL_SOURCE_IP", "198.51.100.7")
    submit(client)
    items = aws.client("dynamodb").scan(TableName=aws.resources.table)["Items"]
    counters = [i for i in items if i["PK"]["S"].startswith("LIMIT#")]
    assert len(counters) == 1
    assert "198.51.100.7" not in json.dumps(items)
    assert int(counters[0]["ttl"]["N"]) > int(START.timestamp()) + 3600


def _me_too(client, story_id, headers=JSON_H, body=None):
    payload = json.dumps(body or {}) if headers is JSON_H else (body or "")
    return client.http.post(f"/api/stories/{story_id}/me-too", body=payload, headers=headers)


def test_me_too_over_http_gets_429_with_retry_after_and_another_client_does_not(
    aws, client, directory, pump, now, monkeypatch
):
    stories = [submit(client, title=f"Story {n}") for n in range(4)]
    pump.drain()
    for sid in stories:
        publish(sid)
    pump.drain()
    story_id = stories[-1]
    for n in range(10):  # spread over four stories: at most 3 about one (me_too_story_limit)
        assert _me_too(client, stories[n % 4]).status_code in (200, 201)
    refused = _me_too(client, story_id)
    assert refused.status_code == 429
    assert refused.headers["Retry-After"] == str(3600 - 10)
    error = json.loads(refused.body)["error"]
    assert error["code"] == "TooManyRequests" and error["limit"]["action"] == "me-too" and error["limit"]["limit"] == 10
    assert "at most 10 in an hour" in error["message"]
    # A person with JavaScript off gets a page, with the same status and header.
    page = _me_too(client, story_id, FORM_H, "email=")
    assert page.status_code == 429 and page.headers["Retry-After"]
    assert "Too many requests" in page.body.decode()
    monkeypatch.setattr(LambdaEventConverter, "LOCAL_SOURCE_IP", "10.0.0.2")
    assert _me_too(client, story_id).status_code == 201
    # With no source IP at all, requests share one budget of their own.
    monkeypatch.setattr(LambdaEventConverter, "LOCAL_SOURCE_IP", None)
    assert _me_too(client, story_id).status_code == 201
    # The next window, the first client is welcome again.
    monkeypatch.setattr(LambdaEventConverter, "LOCAL_SOURCE_IP", "127.0.0.1")
    now.at = START + timedelta(hours=1)
    assert _me_too(client, story_id).status_code == 200  # welcome, though it said "me too" once today already


def test_stories_and_sign_ups_have_their_own_generous_limits(aws, client, directory, now, monkeypatch):
    monkeypatch.setenv("FF_STORY_LIMIT", "2")
    monkeypatch.setenv("FF_SUBSCRIPTION_LIMIT", "1")
    wiring.reset()
    for _ in range(2):
        assert client.http.post("/api/stories", body=json.dumps(story_body()), headers=JSON_H).status_code == 201
    refused = client.http.post("/api/stories", body=json.dumps(story_body()), headers=JSON_H)
    assert refused.status_code == 429 and json.loads(refused.body)["error"]["limit"]["action"] == "stories"
    signup = {
        "name": "Sam Staff",
        "role": "Ward Manager",
        "organisation": "riverside-trust",
        "email": "sam@nhs.example",
        "service": "riverside-general",
    }
    first = client.http.post("/api/subscriptions", body=json.dumps(signup), headers=JSON_H)
    assert first.status_code != 429
    again = client.http.post("/api/subscriptions", body=json.dumps(signup), headers=JSON_H)
    assert again.status_code == 429 and json.loads(again.body)["error"]["limit"]["action"] == "subscriptions"
    # Nothing was written for the refused story.
    assert len(wiring.store().queue("pending", 10)) == 2


def test_guessing_links_spends_a_budget_then_bad_links_are_refused_and_good_ones_still_work(
    aws, client, directory, now, monkeypatch
):
    monkeypatch.setenv("FF_BAD_LINK_LIMIT", "3")
    wiring.reset()
    story_id = submit(client)
    good = wiring.links().issue("author", story_id, "author", 30)
    guesses = ["A" * 43, "B" * 43, "C" * 43]
    for g in guesses:
        assert client.http.get(f"/api/my/{g}").status_code == 404
    # The budget is spent: a bad link is refused (429), but a good one from the same address still works
    # (issue 18: one client behind a trust's proxy must not lock its staff out of their links).
    refused = client.http.get(f"/api/my/{'D' * 43}", headers={"Accept": "text/html"})
    assert refused.status_code == 429 and refused.headers["Retry-After"]
    assert client.http.get(f"/api/my/{good}", headers={"Accept": "text/html"}).status_code == 200
    assert client.http.get(f"/api/respond/{'D' * 43}").status_code == 429
    # Another client can still use its links; and the window passes.
    monkeypatch.setattr(LambdaEventConverter, "LOCAL_SOURCE_IP", "10.9.9.9")
    assert client.http.get(f"/api/my/{'E' * 43}").status_code == 404
    monkeypatch.setattr(LambdaEventConverter, "LOCAL_SOURCE_IP", "127.0.0.1")
    now.at = START + timedelta(hours=1)
    assert client.http.get(f"/api/my/{'F' * 43}").status_code == 404


def test_links_that_work_spend_nothing(aws, client, directory, pump, now, monkeypatch):
    monkeypatch.setenv("FF_BAD_LINK_LIMIT", "2")
    wiring.reset()
    story_id = submit(client)
    token = wiring.links().issue("author", story_id, "author", 30)
    for _ in range(5):
        assert client.http.get(f"/api/my/{token}").status_code == 200


def test_an_ipv6_client_is_its_64_so_a_thousand_addresses_share_one_budget():
    """Issue 18: 1,000 addresses from one /64 got 1,000 budgets; a /64 is one subscriber line."""
    from types import SimpleNamespace

    from chalicelib.edge.guards import client_of

    def request(ip):
        return SimpleNamespace(context={"identity": {"sourceIp": ip}})

    clients = {client_of(request(f"2001:db8:1234:5678::{n:x}")) for n in range(1000)}
    assert len(clients) == 1
    assert client_of(request("2001:db8:1234:5679::1")) not in clients  # the next /64 is another client
    assert client_of(request("::ffff:203.0.113.9")) == client_of(request("203.0.113.9"))
    assert client_of(request("203.0.113.9")) != client_of(request("203.0.113.10"))


def test_no_route_that_changes_state_lets_another_website_post_to_it(client, aws, directory):
    """Issue 18: POST /api/stories, /api/subscriptions and the me-too answered Access-Control-Allow-Origin: *,
    so any website could make its visitors' browsers post, each from another address."""
    from app import app

    for path, methods in app.routes.items():
        for method, entry in methods.items():
            if method != "GET":
                assert entry.cors is None, (method, path)
    resp = client.http.post(
        "/api/stories", body="{}", headers={"Content-Type": "application/json", "Origin": "https://evil.example"}
    )
    assert "Access-Control-Allow-Origin" not in resp.headers


# ---- Figures for `make prove` (issue 18): 1,000 requests there, fewer in `make test` ------------------


def _prove_total() -> int:
    return 1000 if PROVE_ROUNDS >= 100 else 60


def test_a_thousand_ipv6_addresses_in_one_64_share_one_budget_over_http(aws, client, directory, pump, now, monkeypatch):
    """Issue 18, finding 3: 25 me-too posts from one /64 wrote 25 me-too items. Every address of the /64 here
    posts a me-too about one story: together they get one client's budget, and write one me-too item."""
    from tests.support.prove import record

    story_id = submit(client)
    pump.drain()
    publish(story_id)
    pump.drain()
    total = _prove_total()
    answers: dict[int, int] = {}
    clients = set()
    for n in range(total):
        ip = f"2001:db8:1234:5678:{n >> 16 & 0xFFFF:x}:{n & 0xFFFF:x}:{n * 7 & 0xFFFF:x}:1"
        monkeypatch.setattr(LambdaEventConverter, "LOCAL_SOURCE_IP", ip)
        clients.add(ip)
        status = client.http.post(
            f"/api/stories/{story_id}/me-too", body="{}", headers={"Content-Type": "application/json"}
        ).status_code
        answers[status] = answers.get(status, 0) + 1
    pump.drain()
    items = [
        i
        for i in aws.client("dynamodb").scan(TableName=aws.resources.table)["Items"]
        if i["PK"]["S"] == f"METOO#{story_id}"
    ]
    budget = wiring.get_settings().me_too_story_limit
    assert answers.get(201, 0) + answers.get(200, 0) == budget and answers[429] == total - budget
    assert len(items) == 1 and wiring.store().get_story(story_id)["me_too_count"] == 1
    record(
        "limits_bypass",
        {
            "ipv6_addresses": len(clients),
            "prefix": "2001:db8:1234:5678::/64",
            "answers": {str(k): v for k, v in sorted(answers.items())},
            "budgets": 1,
            "me_too_items_written": len(items),
        },
    )


def test_a_working_link_still_works_after_a_thousand_bad_ones_from_its_address(
    aws, client, directory, now, monkeypatch
):
    """Issue 18, finding 4: after 50 bad tokens from one address, a valid link answered 429."""
    from tests.support.prove import record

    monkeypatch.setattr(LambdaEventConverter, "LOCAL_SOURCE_IP", "198.51.100.66")  # one trust's proxy
    story_id = submit(client)
    good = wiring.links().issue("author", story_id, "author", 30)
    total = _prove_total()
    answers: dict[int, int] = {}
    for n in range(total):
        bad = f"{n:043d}"[-43:]
        status = client.http.get(f"/api/my/{bad}", headers={"Accept": "application/json"}).status_code
        answers[status] = answers.get(status, 0) + 1
    after = client.http.get(f"/api/my/{good}", headers={"Accept": "text/html"}).status_code
    assert after == 200
    limit = wiring.get_settings().bad_link_limit
    assert answers[404] == min(total, limit) and answers.get(429, 0) == max(0, total - limit)
    record(
        "lockout",
        {
            "bad_links": total,
            "answers_to_bad_links": {str(k): v for k, v in sorted(answers.items())},
            "bad_link_limit": limit,
            "valid_link_after": after,
        },
    )
