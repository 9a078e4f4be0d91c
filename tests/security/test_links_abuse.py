"""Links and abuse (issue 6): every emailed link on every route that takes one, spoilt every way we know, is
refused alike and writes nothing; guessing is rate-limited; every limited action answers 429 with Retry-After;
and the story form's timing check and honeypot.

The routes are read from the app (every path with `{token}`), so a new one fails here until it is given its
link's purpose and a body that would work. `make test` flips a sample of each token's characters and sends
100 random guesses; `make prove` (FF_PROVE_ROUNDS >= 100) flips every character and sends 1,000.
"""

from __future__ import annotations

import json
import os
import re
import secrets
from datetime import UTC, datetime, timedelta
from urllib.parse import urlencode

import pytest
from chalice.local import LambdaEventConverter

from chalicelib import wiring
from chalicelib.core import clock
from chalicelib.core.settings import Settings, get_settings
from chalicelib.links import NOT_VALID, token_hash
from chalicelib.moderation import Moderator
from chalicelib.stories import TOO_QUICK
from tests.support.factories import story_body
from tests.support.prove import record

ROUNDS = int(os.environ.get("FF_PROVE_ROUNDS", "0") or 0)
FULL = ROUNDS >= 100
GUESSES = 1000 if FULL else 100
ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"  # base64url, as secrets.token_urlsafe
JSON_H = {"Content-Type": "application/json", "Accept": "application/json"}
FORM_H = {"Content-Type": "application/x-www-form-urlencoded"}
BROWSER = {"Accept": "text/html,application/xhtml+xml,*/*;q=0.8"}
MOD = Moderator("mod@example.org", "Mo Derator")
REFUSED = {"error": {"code": "NotFound", "message": NOT_VALID}}
STAFF_EMAIL = "sam.links@riverside.nhs.example"

# Every route with a link in its path: the link's purpose. A new {token} route must be added here.
PURPOSES = {
    "/api/my/{token}": "author",
    "/api/my/{token}/replies": "author",
    "/api/my/{token}/withdraw": "author",
    "/api/my/{token}/erase": "author",
    "/api/my/{token}/messages": "author",
    "/api/my/{token}/correction": "author",
    "/api/confirm/{token}": "address",
    "/api/subscriptions/confirm/{token}": "confirm",
    "/api/subscriptions/manage/{token}": "manage",
    "/api/subscriptions/manage/{token}/report": "manage",
    "/api/subscriptions/manage/{token}/report.csv": "manage",
    "/api/subscriptions/manage/{token}/report.xlsx": "manage",
    "/api/subscriptions/manage/{token}/invitations": "manage",
    "/api/subscriptions/manage/{token}/invitations/{code}/end": "manage",
    "/api/subscriptions/manage/{token}/invitations/{code}/{kind}": "manage",
    "/api/subscriptions/manage/{token}/invitations/{code}/{kind}/pdf": "manage",
    "/api/subscriptions/manage/{token}/take": "manage",
    "/api/subscriptions/manage/{token}/stories": "manage",
    "/api/subscriptions/manage/{token}/waiting": "manage",
    "/api/subscriptions/manage/{token}/waiting/{story_id}": "manage",
    "/api/unsubscribe/{token}": "unsubscribe",
    "/api/respond/{token}": "respond",
    "/api/respond/{token}/read": "respond",
    "/api/respond/{token}/responses/{response_id}": "respond",
    "/api/respond/{token}/pass": "respond",
    "/api/respond/{token}/tags": "respond",
    "/api/respond/{token}/concern": "respond",
    "/api/concerns/confirm/{token}": "concern",
    "/api/check/{token}": "check",
    "/api/organisation/{token}": "organisation",
    "/api/organisation/{token}/members": "organisation",
    "/api/organisation/{token}/report": "organisation",
    "/api/organisation/{token}/report.csv": "organisation",
    "/api/organisation/{token}/report.xlsx": "organisation",
    "/api/organisation/{token}/sources": "organisation",
    "/api/organisation/{token}/sources/{slug}": "organisation",
}
# A body each POST takes with a working link (so a spoilt link is refused with everything else right), in the
# order the working links are finally used: what withdraws, erases or unsubscribes goes last.
BODIES = {
    "/api/respond/{token}/read": lambda: {},
    "/api/respond/{token}/tags": lambda: {"tag": "kindness", "polarity": "positive", "visibility": "shared"},
    "/api/respond/{token}/pass": lambda: {"to": "service", "service": "Maternity Unit", "note": "For you"},
    "/api/respond/{token}/responses/{response_id}": lambda: {"action": "edit", "text": "Thank you, as changed."},
    "/api/respond/{token}": lambda: {"text": "Thank you for telling us. We have changed the night rota."},
    # A review asked for as the service: a reason that does not hide the story (nor does this second report).
    "/api/respond/{token}/concern": lambda: {"reason": "untrue-or-defamatory", "explanation": "Not our ward"},
    "/api/check/{token}": lambda: {"answer": "yes"},
    # Ends the invitation (its card is a GET, done before any POST); before the lead below makes this lead a
    # responder, who may not end one.
    "/api/subscriptions/manage/{token}/invitations/{code}/end": lambda: {},
    "/api/organisation/{token}": lambda: {"action": "access", "member": MEMBER[0], "access": "responder"},
    "/api/organisation/{token}/members": lambda: {
        "members": [{"name": "Una Load", "role": "Nurse", "email": "una@nhs.example", "service": "riverside-ward-7"}]
    },
    "/api/organisation/{token}/report": lambda: {"action": "board-report", "board_report": "off"},
    # A lead's own source (issue 21): added (a public address, written as one so no name is looked up), then
    # changed; neither fetches it.
    "/api/organisation/{token}/sources": lambda: {
        "slug": SOURCE_SLUG,
        "name": "Links reviews",
        "kind": "json_feed",
        "location": "https://93.184.216.34/feed.json",
        "service": "riverside-ward-7",
    },
    "/api/organisation/{token}/sources/{slug}": lambda: {"action": "change", "name": "Links reviews, renamed"},
    "/api/my/{token}/replies": lambda: {"text": "Thank you for answering.", "reply_id": secrets.token_urlsafe(16)},
    "/api/subscriptions/manage/{token}": lambda: {"action": "profile", "display_name": "Sam L", "role": "Ward Manager"},
    "/api/subscriptions/manage/{token}/invitations": lambda: {"service": "riverside-ward-7", "tags": ["discharge"]},
    "/api/subscriptions/manage/{token}/stories": lambda: story_body(route="phone", email="phoned.links@example.org"),
    "/api/subscriptions/manage/{token}/waiting/{story_id}": lambda: {},
    "/api/my/{token}/messages": lambda: {
        "text": "It was ward 7, on the night.",
        "answer_id": secrets.token_urlsafe(16),
    },
    "/api/my/{token}/correction": lambda: {"story": "I was admitted at night with chest pain. The nurses were calm."},
    "/api/concerns/confirm/{token}": lambda: {},
    "/api/subscriptions/confirm/{token}": lambda: {},
    "/api/confirm/{token}": lambda: {},
    "/api/unsubscribe/{token}": lambda: {},
    "/api/my/{token}/withdraw": lambda: {"confirm": True},
    "/api/my/{token}/erase": lambda: {"confirm": "ERASE"},
}
# How long each purpose's link lasts (settings).
LIFETIMES = {
    "author": "author_link_days",
    "respond": "respond_link_days",
    "confirm": "confirm_link_days",
    "address": "confirm_link_days",
    "manage": "subscriber_link_days",
    "unsubscribe": "subscriber_link_days",
    "check": "check_link_days",
    "organisation": "organisation_link_days",
    "concern": "confirm_link_days",
}
SOURCE_SLUG = "links-source"  # the lead's source, added and changed with a working link
MEMBER: list[str] = []  # the member a lead's decision is about (set by the world fixture)
RESPONSE: list[str] = []  # the staff member's own response, which they may change (set by the world fixture)
INVITATION: list[str] = []  # the staff member's invitation's code (set by the world fixture)
STORY: list[str] = []  # the published story, waiting on the staff member's list (set by the world fixture)
REPORT: list[str] = []  # the concern whose reporter left an address (set by the world fixture)


def token_routes() -> list[tuple[str, str]]:
    from app import app

    return sorted((path, method) for path, methods in app.routes.items() if "{token}" in path for method in methods)


def scan(aws) -> list[dict]:
    return aws.client("dynamodb").scan(TableName=aws.resources.table, ConsistentRead=True)["Items"]


def but_limits(items: list[dict]) -> list[str]:
    return sorted(json.dumps(i, sort_keys=True) for i in items if not i["PK"]["S"].startswith("LIMIT#"))


def hits(items: list[dict], action: str) -> int:
    return sum(int(i["hits"]["N"]) for i in items if i["PK"]["S"].startswith(f"LIMIT#{action}#"))


def limit_actions(items: list[dict]) -> set[str]:
    return {i["PK"]["S"].split("#")[1] for i in items if i["PK"]["S"].startswith("LIMIT#")}


class Probe:
    """Requests to the link routes. Each few come from a new source IP (which the test client puts in
    requestContext.identity.sourceIp, as API Gateway does), so that no client's budget of bad links runs
    out here: the guessing test spends one on purpose."""

    PER_CLIENT = 15  # well under the budget of links that do not work (bad_link_limit: 50)

    def __init__(self, client, monkeypatch, rotate: bool = True):
        self.client, self.monkeypatch, self.rotate = client, monkeypatch, rotate
        self.sent = 0

    def __call__(self, path: str, method: str, token: str, headers: dict | None = None):
        if self.rotate and self.sent % self.PER_CLIENT == 0:
            n = self.sent // self.PER_CLIENT
            self.monkeypatch.setattr(
                LambdaEventConverter, "LOCAL_SOURCE_IP", f"10.{n >> 16 & 255}.{n >> 8 & 255}.{n & 255}"
            )
        self.sent += 1
        params = {
            "{token}": token,
            "{response_id}": RESPONSE[0] if RESPONSE else "0" * 17,
            "{code}": INVITATION[0] if INVITATION else "nothere23456",
            "{kind}": "card",
            "{story_id}": STORY[0] if STORY else "0" * 17,
            "{slug}": SOURCE_SLUG,
        }
        url, headers = re.sub(r"\{\w+\}", lambda m: params[m.group(0)], path), headers or JSON_H
        if method == "GET":
            return self.client.http.get(url, headers=headers)
        body = BODIES[path]()
        form = headers.get("Content-Type") == FORM_H["Content-Type"]
        return self.client.http.post(url, headers=headers, body=urlencode(body) if form else json.dumps(body))


@pytest.fixture
def world(aws, client, directory):
    """A published story, with a moderator's message its author may answer; its author's link and a change-check
    link; a member of staff (a lead) with a respond link, a response, and an invitation; someone who
    reported that response and left an address, with its confirm link; and someone who has just signed up,
    with confirm and unsubscribe links. No stream: nothing here needs it."""
    from chalicelib.views.links import manage_url, unsubscribe_url
    from tests.support.conversation import make_staff, respond_link

    s = get_settings()
    resp = client.http.post(
        "/api/stories", body=json.dumps(story_body(email="author.links@example.org")), headers=JSON_H
    )
    assert resp.status_code == 201, resp.body
    story_id = json.loads(resp.body)["id"]
    STORY[:] = [story_id]
    # A moderator asks the author something (their address confirmed) before publishing: the author answers.
    wiring.store().confirm_contact(story_id, clock.iso())
    wiring.messages().send(story_id, {"text": "Which ward was it?"}, MOD)
    wiring.moderation().decide(story_id, {"action": "publish", "version": 1, "criticality": 2}, MOD)
    staff = make_staff(access="lead")  # a lead may end an invitation too
    signup = {
        "name": "Sam Links",
        "role": "Ward Manager",
        "organisation": "riverside-trust",
        "email": STAFF_EMAIL,
        "service": "riverside-general",
    }
    assert client.http.post("/api/subscriptions", body=json.dumps(signup), headers=JSON_H).status_code == 202
    person = wiring.store().find_subscriber(STAFF_EMAIL)
    pending = wiring.store().subscriptions_of(person["id"])[0]
    links = wiring.links()
    issued = clock.now()
    lead = "lee.lead@nhs.example"
    wiring.membership().name_lead({"slug": "riverside-trust", "name": "Riverside"}, lead, by="test")
    lead_id = wiring.store().find_subscriber(lead)["id"]
    MEMBER[:] = [staff["profile"]["id"]]
    sent = client.http.post(
        f"/api/respond/{respond_link(story_id, staff)}",
        body=json.dumps({"text": "Thank you for this."}),
        headers=JSON_H,
    )
    assert sent.status_code == 201, sent.body
    RESPONSE[:] = [json.loads(sent.body)["id"]]
    # Someone reports the response (not the story, which stays public) and leaves an address to confirm.
    concern = {"reason": "offensive", "email": "reporter.links@example.net"}
    reported = client.http.post(
        f"/api/stories/{story_id}/concerns/responses/{RESPONSE[0]}", body=json.dumps(concern), headers=JSON_H
    )
    assert reported.status_code == 201, reported.body
    [report] = wiring.concerns().case(story_id, "responses", RESPONSE[0])["reports"]
    REPORT[:] = [report["id"]]
    tokens = {
        "organisation": links.issue(
            "organisation", "", lead_id, s.organisation_link_days, subscriber_id=lead_id, organisation="riverside-trust"
        ),
        "author": links.issue("author", story_id, "author", s.author_link_days),
        "address": links.issue("address", story_id, "author", s.confirm_link_days),
        "respond": respond_link(story_id, staff),
        "check": links.issue("check", story_id, "author", s.check_link_days, recipient="author"),
        "confirm": links.issue(
            "confirm", "", person["id"], s.confirm_link_days, subscriber_id=person["id"], subscription_id=pending["id"]
        ),
        # A member with a grant and a service they follow, so their report opens too.
        "manage": manage_url(links, s, staff["profile"]["id"]).rsplit("/", 1)[1],
        "unsubscribe": unsubscribe_url(links, s, person["id"]).rsplit("/", 1)[1],
        "concern": links.issue("concern", story_id, REPORT[0], s.confirm_link_days),
    }
    made = client.http.post(
        f"/api/subscriptions/manage/{tokens['manage']}/invitations",
        body=json.dumps({"service": "riverside-ward-7", "campaign": "Links"}),
        headers=JSON_H,
    )
    assert made.status_code == 201, made.body
    INVITATION[:] = [json.loads(made.body)["code"]]
    return {
        "story_id": story_id,
        "staff": staff,
        "person": person,
        "tokens": tokens,
        "issued": issued,
        "lead_id": lead_id,
    }


def _flip(token: str, i: int) -> str:
    return token[:i] + ALPHABET[(ALPHABET.index(token[i]) + 1) % len(ALPHABET)] + token[i + 1 :]


def spoilt(token: str, others: dict[str, str]) -> dict[str, str]:
    """Every way a link can be wrong that does not need the clock or a revocation: name -> token."""
    positions = (
        range(len(token)) if FULL else sorted({0, 1, len(token) // 3, len(token) // 2, len(token) - 2, len(token) - 1})
    )
    out = {f"flipped at {i}": _flip(token, i) for i in positions}
    out |= {
        "one short": token[:-1],
        "half": token[: len(token) // 2],
        "one more": token + "A",
        "padded": token + "=",
        "twice": token + token,
    }
    for name, variant in (
        ("swapped case", token.swapcase()),
        ("upper case", token.upper()),
        ("lower case", token.lower()),
    ):
        if variant != token:
            out[name] = variant
    out |= {f"a {purpose} link": other for purpose, other in others.items()}
    return out


def _refuse_all(probe, aws, cases: list[tuple[str, str, str]]) -> dict:
    """Send each (path, method, token); each must be a 404 with the one body, and write nothing but the
    per-client count of bad links (and, on a check answer, that route's own per-client count)."""
    before = scan(aws)
    bodies, statuses = set(), []
    for path, method, token in cases:
        resp = probe(path, method, token)
        statuses.append(resp.status_code)
        assert resp.status_code == 404, (path, method, token, resp.status_code, resp.body[:300])
        bodies.add(resp.body)
    after = scan(aws)
    assert but_limits(after) == but_limits(before)
    # Only the guessing budget: a refused link spends no action's allowance (a check answer's, say).
    assert limit_actions(after) - limit_actions(before) <= {"bad-links"}
    # ...and not one more hit on an action counted before (a story form's, say): the counts, not only the names.
    assert {a: hits(after, a) for a in limit_actions(after) - {"bad-links"}} == {
        a: hits(before, a) for a in limit_actions(after) - {"bad-links"}
    }
    # Every refusal was counted as a link that did not work: that is what the guessing limit spends.
    assert hits(after, "bad-links") - hits(before, "bad-links") == len(cases)
    assert [json.loads(b) for b in bodies] == [REFUSED]
    return {"attempts": len(cases), "accepted": sum(1 for s in statuses if s < 400)}


# ---- every spoilt link, on every route --------------------------------------------------------------


def test_every_token_route_is_known_with_its_purpose_and_a_body():
    routes = token_routes()
    paths = {p for p, _ in routes}
    assert paths - set(PURPOSES) == set(), "a new {token} route: give it its link's purpose in PURPOSES"
    assert set(PURPOSES) - paths == set(), "PURPOSES names a route the app no longer has"
    posts = {p for p, m in routes if m == "POST"}
    assert posts == set(BODIES), "every POST route with a link needs a body that works in BODIES"
    assert set(PURPOSES.values()) == set(LIFETIMES)


def _ordered(routes):
    """GETs first (they change nothing), then POSTs in BODIES order (what ends a link's use goes last)."""
    order = list(BODIES)
    return sorted(routes, key=lambda r: (r[1] != "GET", order.index(r[0]) if r[1] == "POST" else 0, r[0]))


def test_every_spoilt_link_on_every_route_is_refused_alike_and_writes_nothing(aws, client, world, monkeypatch):
    routes = _ordered(token_routes())
    tokens = world["tokens"]
    probe = Probe(client, monkeypatch)
    # Control: each working link opens its pages.
    for path, method in routes:
        if method == "GET":
            assert probe(path, method, tokens[PURPOSES[path]], BROWSER).status_code == 200, path

    cases = []
    for path, method in routes:
        purpose = PURPOSES[path]
        others = {p: t for p, t in tokens.items() if p != purpose}
        cases += [(path, method, bad) for bad in spoilt(tokens[purpose], others).values()]
    flips_per_token = sum(1 for name in spoilt(tokens["author"], {}) if name.startswith("flipped"))
    guesses = [(*routes[n % len(routes)], secrets.token_urlsafe(32)) for n in range(GUESSES)]
    assert all(len(g[2]) == 43 and set(g[2]) <= set(ALPHABET) for g in guesses)
    spoilt_figures = _refuse_all(probe, aws, cases)
    guess_figures = _refuse_all(probe, aws, guesses)

    # A browser is shown the same page whatever the route and whatever was wrong.
    form_post = {**BROWSER, **FORM_H}
    pages = {
        probe(path, method, secrets.token_urlsafe(32), form_post if method == "POST" else BROWSER).body
        for path, method in routes
    }
    assert len(pages) == 1 and NOT_VALID in pages.pop().decode()

    # Control: each working link still does its job on every route, and none of that counts as a bad link.
    before = scan(aws)
    for path, method in routes:
        if method == "POST":
            resp = probe(path, method, tokens[PURPOSES[path]])
            assert resp.status_code < 400, (path, resp.status_code, resp.body[:300])
    assert hits(scan(aws), "bad-links") == hits(before, "bad-links")
    record(
        "links",
        {
            "purposes": len(set(PURPOSES.values())),
            "routes": len(routes),
            "spoilt_attempts": spoilt_figures["attempts"],
            "flips_per_token": flips_per_token,
            "random_guesses": guess_figures["attempts"],
            "attempts": spoilt_figures["attempts"] + guess_figures["attempts"],
            "accepted": spoilt_figures["accepted"] + guess_figures["accepted"],
            "refusal_bodies": 1,
        },
    )


def test_expired_links_are_refused_alike_and_work_until_their_last_second(aws, client, world, monkeypatch):
    routes = _ordered(token_routes())
    probe = Probe(client, monkeypatch)
    s = get_settings()
    refused = 0
    for purpose, token in world["tokens"].items():
        mine = [(p, m) for p, m in routes if PURPOSES[p] == purpose]
        expiry = world["issued"] + timedelta(days=getattr(s, LIFETIMES[purpose]))
        monkeypatch.setattr(clock, "now", lambda at=expiry - timedelta(seconds=2): at)
        assert probe(mine[0][0], "GET", token, BROWSER).status_code == 200, purpose
        monkeypatch.setattr(clock, "now", lambda at=expiry + timedelta(seconds=1): at)
        refused += _refuse_all(probe, aws, [(p, m, token) for p, m in mine])["attempts"]
    record("links", {"expired_refused": refused})


def _revoke(aws, token: str) -> None:
    """What an admin does in the console to stop one link: `revoked: true` on its item (docs/emailed-links.md)."""
    aws.client("dynamodb").update_item(
        TableName=aws.resources.table,
        Key={"PK": {"S": f"TOKEN#{token_hash(token)}"}, "SK": {"S": "TOKEN"}},
        UpdateExpression="SET revoked = :t",
        ExpressionAttributeValues={":t": {"BOOL": True}},
    )


def test_revoked_links_are_refused_alike(aws, client, world, monkeypatch):
    routes = _ordered(token_routes())
    probe = Probe(client, monkeypatch)
    tokens = world["tokens"]
    links = wiring.links()
    store = wiring.store()
    refused = 0
    # One link revoked by hand, for every purpose: the link is refused; a sibling of the same purpose is not.
    for purpose, token in tokens.items():
        sibling = _sibling(purpose, world)
        _revoke(aws, token)
        refused += _refuse_all(probe, aws, [(p, m, token) for p, m in routes if PURPOSES[p] == purpose])["attempts"]
        first_get = next(p for p, m in routes if PURPOSES[p] == purpose and m == "GET")
        assert probe(first_get, "GET", sibling, BROWSER).status_code == 200, purpose
        tokens = {**tokens, purpose: sibling}

    respond_routes = [(p, m) for p, m in routes if PURPOSES[p] == "respond"]
    staff = world["staff"]
    # Stopping the one subscription that brought the story revokes its respond links.
    store.set_subscription_status(
        staff["profile"]["id"], staff["subscription"]["id"], "unsubscribed", {"stopped_at": clock.iso()}
    )
    refused += _refuse_all(probe, aws, [(p, m, tokens["respond"]) for p, m in respond_routes])["attempts"]
    store.set_subscription_status(staff["profile"]["id"], staff["subscription"]["id"], "active")
    assert probe("/api/respond/{token}", "GET", tokens["respond"], BROWSER).status_code == 200
    # Unsubscribing (one click, from their own link) revokes every respond link the person holds, for good.
    mine = _staff_unsubscribe_link(staff)
    assert probe("/api/unsubscribe/{token}", "POST", mine).status_code == 200
    refused += _refuse_all(probe, aws, [(p, m, tokens["respond"]) for p, m in respond_routes])["attempts"]
    # Signing up again later does not bring them back; only links issued since then work.
    store.update_subscriber(staff["profile"]["id"], {"status": "active"})
    store.set_subscription_status(staff["profile"]["id"], staff["subscription"]["id"], "active")
    refused += _refuse_all(probe, aws, [(p, m, tokens["respond"]) for p, m in respond_routes])["attempts"]
    fresh_respond = _sibling("respond", world)

    # Erasing the story deletes every link to it: the author's, staff's, the change check's and a reporter's.
    story_links = {
        "author": tokens["author"],
        "respond": fresh_respond,
        "check": tokens["check"],
        "concern": tokens["concern"],
    }
    assert probe("/api/respond/{token}", "GET", fresh_respond, BROWSER).status_code == 200
    store.erase_story(world["story_id"])
    refused += _refuse_all(
        probe, aws, [(p, m, story_links[PURPOSES[p]]) for p, m in routes if PURPOSES[p] in story_links]
    )["attempts"]

    # By design, nothing but expiry or the flag stops the links that stop email: unsubscribing twice, and
    # seeing one's settings after unsubscribing, keep working (docs/emailed-links.md).
    assert probe("/api/unsubscribe/{token}", "POST", tokens["unsubscribe"]).status_code == 200
    assert probe("/api/unsubscribe/{token}", "POST", tokens["unsubscribe"]).status_code == 200
    assert probe("/api/subscriptions/manage/{token}", "GET", tokens["manage"], BROWSER).status_code == 200
    assert links.resolve(tokens["confirm"], "confirm")["subscriber_id"] == world["person"]["id"]
    record(
        "links",
        {
            "revoked_refused": refused,
            "revocations": "per link (revoked flag), subscription stopped, unsubscribed, story erased",
        },
    )


def _sibling(purpose: str, world: dict) -> str:
    """Another working link of the same purpose and holder."""
    from tests.support.conversation import respond_link

    s, links, person = get_settings(), wiring.links(), world["person"]
    if purpose == "respond":
        return respond_link(world["story_id"], world["staff"])
    if purpose == "organisation":
        lead = world["lead_id"]
        return links.issue(
            purpose, "", lead, s.organisation_link_days, subscriber_id=lead, organisation="riverside-trust"
        )
    if purpose == "concern":
        return links.issue(purpose, world["story_id"], REPORT[0], s.confirm_link_days)
    if purpose in ("author", "check", "address"):
        bound = {"recipient": "author"} if purpose == "check" else {}
        return links.issue(purpose, world["story_id"], "author", getattr(s, LIFETIMES[purpose]), **bound)
    pending = wiring.store().subscriptions_of(person["id"])[0]
    bound = {"subscription_id": pending["id"]} if purpose == "confirm" else {}
    return links.issue(purpose, "", person["id"], getattr(s, LIFETIMES[purpose]), subscriber_id=person["id"], **bound)


def _staff_unsubscribe_link(staff: dict) -> str:
    from chalicelib.views.links import unsubscribe_url

    return unsubscribe_url(wiring.links(), get_settings(), staff["profile"]["id"]).rsplit("/", 1)[1]


# ---- guessing is rate-limited -------------------------------------------------------------------------


START = datetime(2026, 11, 26, 10, 0, 10, tzinfo=UTC)  # ten seconds into an hour's window


def test_after_its_budget_of_bad_links_a_client_is_refused_bad_links_but_a_good_one_always_works(
    aws, client, world, monkeypatch
):
    """Issue 18, finding 4: one client behind a trust's proxy spent the budget and every member of staff
    there was locked out of their own links for the rest of the hour. Now the budget is checked only
    after a link failed to resolve: a working link always works; bad ones get a 429 and write nothing."""
    monkeypatch.setattr(clock, "now", lambda: START)
    routes = _ordered(token_routes())
    tokens = world["tokens"]
    limit = get_settings().bad_link_limit
    assert limit == Settings().bad_link_limit == 50  # the default is what is measured
    guesser = Probe(client, monkeypatch, rotate=False)
    monkeypatch.setattr(LambdaEventConverter, "LOCAL_SOURCE_IP", "203.0.113.66")
    statuses = []
    for n in range(limit):
        path, method = routes[n % len(routes)]
        statuses.append(guesser(path, method, secrets.token_urlsafe(32)).status_code)
    assert statuses == [404] * limit

    before = scan(aws)
    refusals = set()
    for path, method in routes:
        resp = guesser(path, method, secrets.token_urlsafe(32))
        assert resp.status_code == 429, (path, method, resp.status_code)
        assert 1 <= int(resp.headers["Retry-After"]) <= 3600 - 10
        refusals.add(resp.body)
    # One answer for every bad link, and nothing written (not even a count).
    assert len(refusals) == 1
    assert json.loads(refusals.pop())["error"]["limit"] == {"action": "bad-links", "limit": limit, "per_seconds": 3600}
    assert scan(aws) == before
    page = guesser("/api/my/{token}", "GET", secrets.token_urlsafe(32), BROWSER)
    assert page.status_code == 429 and page.headers["Retry-After"] and "Too many requests" in page.body.decode()
    # A colleague's working links, from the same address, still open their pages.
    for path, method in routes:
        if method == "GET":
            assert guesser(path, method, tokens[PURPOSES[path]], BROWSER).status_code == 200, path

    # Another connection is not affected: its good link works, its bad one is a 404.
    other = Probe(client, monkeypatch, rotate=False)
    monkeypatch.setattr(LambdaEventConverter, "LOCAL_SOURCE_IP", "198.51.100.23")
    assert other("/api/my/{token}", "GET", tokens["author"], BROWSER).status_code == 200
    assert other("/api/respond/{token}", "GET", secrets.token_urlsafe(32)).status_code == 404
    # And the next window, the first client's good link works again.
    monkeypatch.setattr(LambdaEventConverter, "LOCAL_SOURCE_IP", "203.0.113.66")
    monkeypatch.setattr(clock, "now", lambda: START + timedelta(hours=1))
    assert guesser("/api/my/{token}", "GET", tokens["author"], BROWSER).status_code == 200
    record(
        "links",
        {
            "guesses_before_limit": statuses.count(404),
            "bad_link_limit_per_hour": limit,
            "after_the_limit": "429 with Retry-After for every bad link, nothing written; good links always work",
        },
    )


# ---- every limited action answers 429 with Retry-After -------------------------------------------------


def test_every_limited_action_answers_429_with_retry_after(aws, client, world, monkeypatch):
    """Each per-client limit, set to 2 here: the third request in the window is a 429 naming the action, with
    Retry-After, and the request it refuses writes nothing."""
    for name in ("STORY", "SUBSCRIPTION", "ME_TOO", "CHECK_ANSWER", "BAD_LINK"):
        monkeypatch.setenv(f"FF_{name}_LIMIT", "2")
    wiring.reset()
    monkeypatch.setattr(clock, "now", lambda: START)
    story_id = world["story_id"]
    signup = {"name": "Alex Limits", "role": "Nurse", "organisation": "riverside-trust", "service": "riverside-general"}
    actions = {
        "stories": lambda n: client.http.post("/api/stories", body=json.dumps(story_body()), headers=JSON_H),
        "subscriptions": lambda n: client.http.post(
            "/api/subscriptions", headers=JSON_H, body=json.dumps({**signup, "email": f"alex{n}@riverside.nhs.example"})
        ),
        "me-too": lambda n: client.http.post(f"/api/stories/{story_id}/me-too", body="{}", headers=JSON_H),
        "check-answer": lambda n: client.http.post(
            f"/api/check/{world['tokens']['check']}", body='{"answer": "yes"}', headers=JSON_H
        ),
        "bad-links": lambda n: client.http.get(f"/api/my/{secrets.token_urlsafe(32)}", headers=JSON_H),
    }
    answered = {}
    for n, (action, send) in enumerate(actions.items()):
        monkeypatch.setattr(LambdaEventConverter, "LOCAL_SOURCE_IP", f"192.0.2.{n + 1}")
        first = [send(i).status_code for i in range(2)]
        assert all(s < 500 and s != 429 for s in first), (action, first)
        before = but_limits(scan(aws))
        refused = send(2)
        assert refused.status_code == 429, (action, refused.status_code, refused.body[:200])
        assert 1 <= int(refused.headers["Retry-After"]) <= 3600 - 10
        assert json.loads(refused.body)["error"]["limit"]["action"] == action
        assert but_limits(scan(aws)) == before, action
        answered[action] = refused.headers["Retry-After"]
    defaults = {
        k: getattr(Settings(), k)
        for k in (
            "story_limit",
            "subscription_limit",
            "me_too_limit",
            "check_answer_limit",
            "bad_link_limit",
            "rate_window_seconds",
        )
    }
    record(
        "links",
        {
            "limits_per_window": {
                "stories": defaults["story_limit"],
                "subscriptions": defaults["subscription_limit"],
                "me-too": defaults["me_too_limit"],
                "check-answer": defaults["check_answer_limit"],
                "bad-links": defaults["bad_link_limit"],
            },
            "window_seconds": defaults["rate_window_seconds"],
            "answer_429_with_retry_after": sorted(answered),
        },
    )


# ---- the story form: the timing check and the honeypot -------------------------------------------------


T = datetime(2026, 11, 26, 14, 0, 0, tzinfo=UTC)
T_MS = int(T.timestamp() * 1000)


@pytest.fixture
def fixed_clock(monkeypatch):
    monkeypatch.setattr(clock, "now", lambda: T)


def _stored(aws) -> list[dict]:
    """Everything a story writes: the story, its private items and its submission record."""
    return [i for i in scan(aws) if i["PK"]["S"].startswith(("STORY#", "PRIVATE#", "IDEMPOTENCY#"))]


def _form(**overrides) -> str:
    body = {k: v for k, v in story_body(**overrides).items() if k not in ("feelings", "services", "consent")}
    return urlencode(list(body.items()) + [("services", "riverside-ward-7"), ("consent", "yes")])


def test_a_story_sent_within_seconds_of_opening_the_form_is_refused_naming_the_field(
    aws, client, directory, fixed_clock
):
    for elapsed_ms in (0, 1, 1500, 2999):
        resp = client.http.post("/api/stories", body=json.dumps(story_body(started=T_MS - elapsed_ms)), headers=JSON_H)
        assert resp.status_code == 422, (elapsed_ms, resp.body)
        assert json.loads(resp.body)["error"]["fields"] == [{"field": "started", "message": TOO_QUICK}]
    assert _stored(aws) == []


HONEST_OR_UNREADABLE = {
    "exactly the minimum": T_MS - 3000,
    "five minutes: a person": T_MS - 5 * 60 * 1000,
    "a clock a little fast": T_MS + 1,
    "a clock a day fast": T_MS + 24 * 3600 * 1000,
    "a clock reset to 1970": 0,
    "a draft begun weeks ago": T_MS - 40 * 24 * 3600 * 1000,
    "sent empty (JSON null)": None,
}


def test_an_honest_or_unreadable_start_time_is_accepted(aws, client, directory, fixed_clock):
    for why, started in HONEST_OR_UNREADABLE.items():
        resp = client.http.post("/api/stories", body=json.dumps(story_body(started=started)), headers=JSON_H)
        assert resp.status_code == 201, (why, resp.body)
    assert len([i for i in scan(aws) if i["SK"]["S"] == "STORY"]) == len(HONEST_OR_UNREADABLE)


def test_without_javascript_there_is_no_time_and_the_story_is_accepted(aws, client, directory, fixed_clock):
    assert client.http.post("/api/stories", body=json.dumps(story_body()), headers=JSON_H).status_code == 201
    resp = client.http.post("/api/stories", body=_form(started=""), headers=FORM_H)
    assert resp.status_code == 303 and "/thank-you/?ref=" in resp.headers["Location"]
    assert len([i for i in scan(aws) if i["SK"]["S"] == "STORY"]) == 2


def test_a_start_time_that_is_not_a_time_is_named(aws, client, directory, fixed_clock):
    for started in (-1, "soon", 1.5, [1], {"ms": 1}):
        resp = client.http.post("/api/stories", body=json.dumps(story_body(started=started)), headers=JSON_H)
        assert resp.status_code == 422, started
        assert [f["field"] for f in json.loads(resp.body)["error"]["fields"]] == ["started"], started
    assert _stored(aws) == []


def test_a_quick_form_post_gets_its_form_back_with_the_message_by_the_button(aws, client, directory, fixed_clock):
    resp = client.http.post(
        "/api/stories", body=_form(started=str(T_MS - 800), title="A very quick story"), headers=FORM_H
    )
    assert resp.status_code == 422
    html = resp.body.decode()
    summary = re.search(r'<ul class="error-summary__list">(.*?)</ul>', html, re.S).group(1)
    assert re.findall(r'<a href="([^"]+)">([^<]+)</a>', summary) == [("#started-error", TOO_QUICK)]
    assert re.search(
        r'<p id="started-error" class="error-message">.*?' + re.escape(TOO_QUICK) + r'</p>\s*<button[^>]*id="send"',
        html,
        re.S,
    )
    # Everything typed is kept, and so is when the form was opened: sending it again counts from then.
    assert 'value="A very quick story"' in html and f'name="started" value="{T_MS - 800}"' in html
    assert _stored(aws) == []
    # A problem with the story itself is shown first; the time is only looked at once the rest is right.
    short = client.http.post("/api/stories", body=_form(started=str(T_MS - 800), story="Too short."), headers=FORM_H)
    assert (
        short.status_code == 422
        and 'href="#story"' in short.body.decode()
        and "started-error" not in short.body.decode()
    )


def test_the_check_can_be_turned_off(aws, client, directory, fixed_clock, monkeypatch):
    monkeypatch.setenv("FF_MIN_FORM_SECONDS", "0")
    wiring.reset()
    assert (
        client.http.post("/api/stories", body=json.dumps(story_body(started=T_MS)), headers=JSON_H).status_code == 201
    )


def test_the_honeypot_refuses_a_filled_form_and_writes_nothing(aws, client, directory, fixed_clock):
    """Refused with a 422 (not accepted and dropped): a person whose browser filled it by mistake is told,
    and sending again works, since the form never gives the honeypot back."""
    resp = client.http.post("/api/stories", body=json.dumps(story_body(website="http://spam.example")), headers=JSON_H)
    assert resp.status_code == 422
    assert [f["field"] for f in json.loads(resp.body)["error"]["fields"]] == ["website"]
    page = client.http.post("/api/stories", body=_form(website="http://spam.example"), headers=FORM_H)
    assert page.status_code == 422 and 'href="#send"' in page.body.decode()
    assert 'value="http://spam.example"' not in page.body.decode()
    assert _stored(aws) == []


def test_the_form_page_carries_the_field_and_its_script_fills_it(aws, directory):
    from chalicelib.site import pages
    from chalicelib.site.forms import form_context

    html = pages.render_page("form.html", **form_context({}, [], [], get_settings(), script=True))
    form = re.search(r'<form id="story-form".*?</form>', html, re.S).group(0)
    assert '<input type="hidden" name="started" value="">' in form
    js = pages.assets()["form_js"].body.decode()
    assert re.search(r"""started = form\.querySelector\('input\[name="started"\]'\)""", js)
    assert "started.value = String(Date.now())" in js
    # The page as the API gives it back keeps only a time that is a number.
    kept = pages.render_page("form.html", **form_context({"started": "12345"}, [], [], get_settings(), script=False))
    odd = pages.render_page(
        "form.html", **form_context({"started": '"><script>'}, [], [], get_settings(), script=False)
    )
    assert 'name="started" value="12345"' in kept and 'name="started" value=""' in odd


def test_the_openapi_document_describes_the_optional_field():
    from chalicelib.edge.openapi import document

    schemas = document()["components"]["schemas"]
    for name in ("StorySubmission", "StoryForm"):
        assert "started" in schemas[name]["properties"] and "started" not in schemas[name]["required"], name
        assert "422" in schemas[name]["properties"]["started"]["description"]
