"""Invitations and stories taken for someone (issue 19), through the API, the stream and the mail, as a
member of staff, a patient and a moderator meet them: the short link's form, a story routed and
tagged through it, the card's QR code, the manage page, and a phone story with the person's consent."""

from __future__ import annotations

import json
import re
from urllib.parse import urlencode

import pytest

from chalicelib import wiring
from chalicelib.core import clock
from chalicelib.core.settings import get_settings
from chalicelib.site.qr import qr_rows
from tests.support import mailbox
from tests.support.auth import bearer
from tests.support.conversation import MOD, make_staff
from tests.support.factories import story_body
from tests.support.vnu import needs_vnu, vnu_errors

JSON_H = {"Content-Type": "application/json"}
FORM_H = {"Content-Type": "application/x-www-form-urlencoded", "Accept": "text/html"}


def body(resp) -> str:
    return resp.body.decode() if isinstance(resp.body, bytes) else (resp.body or "")


def manage_token(staff: dict) -> str:
    sid = staff["profile"]["id"]
    return wiring.links().issue("manage", "", sid, 30, subscriber_id=sid)


def invite(client, token: str, **data) -> dict:
    data = {"service": "riverside-ward-7", "tags": ["discharge"]} | data
    resp = client.http.post(f"/api/subscriptions/manage/{token}/invitations", body=json.dumps(data), headers=JSON_H)
    assert resp.status_code == 201, resp.body
    return json.loads(resp.body)


def test_a_story_sent_through_an_invitation_is_routed_tagged_and_counted(client, pump, directory):
    token = manage_token(make_staff())
    made = invite(client, token, campaign="Discharge letters")
    assert made["url"] == f"{get_settings().site_url}/i/{made['code']}"

    page = client.http.get(f"/api/i/{made['code']}")
    html = body(page)
    assert page.status_code == 200 and "Ward 7 (Acute Medicine) asked for your story" in html
    assert f'name="invitation" value="{made["code"]}"' in html
    assert re.search(r'<option value="riverside-ward-7" selected>', html)
    assert "Discharge letters" not in html and "Alex" not in html  # never the campaign or who made it

    resp = client.http.post(
        "/api/stories", body=json.dumps(story_body(invitation=made["code"], email=None)), headers=JSON_H
    )
    assert resp.status_code == 201, resp.body
    story_id = json.loads(resp.body)["id"]
    story = wiring.store().get_story(story_id, consistent=True)
    assert (story["route"], story["invitation"], story["tags"]) == ("invitation", made["code"], ["discharge"])
    pump.drain()
    assert wiring.store().get_invitation(made["code"])["stories"] == 1
    manage = body(client.http.get(f"/api/subscriptions/manage/{token}"))
    assert made["url"] in manage and "<dt>Stories brought in</dt><dd>1</dd>" in manage

    # Published: the public API says how it came in, and nothing of the invitation.
    version = wiring.store().get_story(story_id, consistent=True)["version"]
    wiring.moderation().decide(
        story_id, {"action": "publish", "version": version, "criticality": 1, "tags": ["discharge"]}, MOD
    )
    pump.drain()
    public = json.loads(body(client.http.get(f"/api/public/stories/{story_id}")))
    assert public["route"] == "invitation" and made["code"] not in json.dumps(public)
    listed = json.loads(body(client.http.get("/api/public/stories?service=riverside-ward-7")))
    assert [s["route"] for s in listed["stories"]] == ["invitation"]


def test_an_unknown_or_ended_code_opens_the_ordinary_form_with_a_note(client, pump, directory):
    lead = make_staff(access="lead", email="lena.lead@nhs.example")
    token = manage_token(lead)
    made = invite(client, token)
    resp = client.http.post(
        f"/api/subscriptions/manage/{token}/invitations/{made['code']}/end", body="", headers=FORM_H
    )
    assert resp.status_code == 303 and "notice=invitation-ended" in resp.headers["Location"]
    for code in (made["code"], "nothere23456", "x"):
        page = client.http.get(f"/api/i/{code}")
        html = body(page)
        assert page.status_code == 200 and "you can still tell your story here" in html
        assert "asked for your story" not in html and 'name="invitation" value=""' in html
    # A story sent with the ended code (a form opened before it ended) comes in by the web.
    resp = client.http.post("/api/stories", body=json.dumps(story_body(invitation=made["code"])), headers=JSON_H)
    story = wiring.store().get_story(json.loads(resp.body)["id"], consistent=True)
    assert story["route"] == "web" and "invitation" not in story and story["tags"] == []


def test_a_reader_gets_no_invitations_and_cannot_make_one(client, directory):
    token = manage_token(make_staff(access="reader"))
    assert 'id="invitations"' not in body(client.http.get(f"/api/subscriptions/manage/{token}"))
    resp = client.http.post(
        f"/api/subscriptions/manage/{token}/invitations",
        body=json.dumps({"service": "riverside-ward-7"}),
        headers=JSON_H,
    )
    assert resp.status_code == 403
    assert client.http.get(f"/api/subscriptions/manage/{token}/take").status_code == 403
    assert wiring.store().invitations_of("riverside-trust") == []


def test_a_bad_invitation_form_comes_back_with_its_error_named(client, directory):
    token = manage_token(make_staff())
    form = urlencode({"service": "hillside-trust", "campaign": "Spring", "tags": "a, b"})
    resp = client.http.post(f"/api/subscriptions/manage/{token}/invitations", body=form, headers=FORM_H)
    html = body(resp)
    assert resp.status_code == 422 and "Choose one of your organisation" in html
    assert 'href="#invite-service"' in html and 'value="Spring"' in html


@needs_vnu
def test_the_card_and_poster_carry_a_qr_code_of_the_short_link_and_nothing_from_elsewhere(client, directory, tmp_path):
    token = manage_token(make_staff())
    made = invite(client, token)
    pages = {}
    for kind in ("card", "poster"):
        resp = client.http.get(f"/api/subscriptions/manage/{token}/invitations/{made['code']}/{kind}")
        assert resp.status_code == 200
        pages[kind] = html = body(resp)
        assert made["url"].split("://")[1] in html and "You do not have to give your name" in html
        hosts = set(re.findall(r"https?://([^/\"' ;]+)", html))
        assert hosts <= {"site.test", "api.test"}, hosts  # our own hosts only: no font, script or image from elsewhere
    # The QR code is segno's for the short link; decoded as a matrix, it is the URL's own code.
    svg = re.search(r"<svg[^>]*>.*?</svg>", pages["card"], re.S).group(0)
    assert f'aria-label="QR code: {made["url"]}"' in svg
    rows = qr_rows(made["url"])
    assert _svg_rows(svg, len(rows)) == rows
    assert _svg_rows(svg, len(rows)) != qr_rows(made["url"] + "x")
    assert vnu_errors({f"{k}.html": v for k, v in pages.items()}, tmp_path) == ""
    other = manage_token(make_staff(email="hal@hillside.nhs.example", organisation="hillside-trust"))
    assert client.http.get(f"/api/subscriptions/manage/{other}/invitations/{made['code']}/card").status_code == 404


@needs_vnu
def test_the_new_pages_are_valid_html(client, pump, directory, tmp_path):
    lead = manage_token(make_staff(access="lead"))
    made = invite(client, lead, campaign="Ward round", expires_on=clock.now().date().isoformat())
    bad = urlencode({"service": "riverside-ward-7", "expires_on": "2001-01-01"})
    pages = {
        "manage.html": client.http.get(f"/api/subscriptions/manage/{lead}"),
        "manage-error.html": client.http.post(
            f"/api/subscriptions/manage/{lead}/invitations", body=bad, headers=FORM_H
        ),
        "invited.html": client.http.get(f"/api/i/{made['code']}"),
        "unknown.html": client.http.get("/api/i/nothere23456"),
        "take.html": client.http.get(f"/api/subscriptions/manage/{lead}/take"),
        "take-error.html": client.http.post(
            f"/api/subscriptions/manage/{lead}/stories", body=urlencode({"route": "phone"}), headers=FORM_H
        ),
    }
    assert [r.status_code for r in pages.values()] == [200, 422, 200, 200, 200, 422]
    html = {name: body(r) for name, r in pages.items()}
    assert "End this invitation" in html["manage.html"] and "Print a poster" in html["manage.html"]
    assert 'href="#expires_on"' in html["manage-error.html"]
    assert vnu_errors(html, tmp_path) == ""


def _svg_rows(svg: str, size: int, border: int = 4) -> list[str]:
    """The dark modules segno's path draws (runs of "h" from "M x y.5" moves), without the quiet zone."""
    grid = [["0"] * size for _ in range(size)]
    path = re.search(r' d="([^"]+)"', svg).group(1)
    x = y = 0.0
    for op, a, b in re.findall(r"([Mmh])(-?[\d.]+)(?:\s+(-?[\d.]+))?", path):
        if op == "M":
            x, y = float(a), float(b)
        elif op == "m":
            x, y = x + float(a), y + float(b)
        else:
            for i in range(int(float(a))):
                grid[int(y - 0.5) - border][int(x) + i - border] = "1"
            x += float(a)
    return ["".join(r) for r in grid]


def test_a_responder_enters_a_phone_story_with_consent_and_the_author_gets_their_link(client, pump, directory):
    staff = make_staff()
    token = manage_token(staff)
    page = client.http.get(f"/api/subscriptions/manage/{token}/take")
    assert page.status_code == 200 and "Enter a story for someone" in body(page)
    data = story_body(route="phone", email="phoned.in@example.org")
    data.pop("consent")
    resp = client.http.post(f"/api/subscriptions/manage/{token}/stories", body=json.dumps(data), headers=JSON_H)
    assert resp.status_code == 422
    assert json.loads(resp.body)["error"]["fields"][0]["field"] == "consent"
    resp = client.http.post(
        f"/api/subscriptions/manage/{token}/stories", body=json.dumps(data | {"consent": True}), headers=JSON_H
    )
    assert resp.status_code == 201, resp.body
    story_id = json.loads(resp.body)["id"]
    story = wiring.store().get_story(story_id, consistent=True)
    assert story["route"] == "phone" and story["status"] == "pending" and story["agreed_at"]
    assert story["entered_by"]["name"] == staff["profile"]["name"] and story["entered_by"]["kind"] == "member"
    pump.drain()
    assert mailbox.to("phoned.in@example.org"), "the author is asked to confirm their address, as usual"
    wiring.store().confirm_contact(story_id, clock.iso())
    version = wiring.store().get_story(story_id, consistent=True)["version"]
    wiring.moderation().decide(story_id, {"action": "publish", "version": version, "criticality": 1}, MOD)
    pump.drain()
    public = json.loads(body(client.http.get(f"/api/public/stories/{story_id}")))
    assert public["route"] == "phone" and staff["profile"]["name"] not in json.dumps(public)


def test_a_member_may_enter_stories_only_about_their_own_organisation(client, directory):
    token = manage_token(make_staff())
    data = story_body(route="paper", services=["hillside-district-nursing"])
    resp = client.http.post(f"/api/subscriptions/manage/{token}/stories", body=json.dumps(data), headers=JSON_H)
    assert resp.status_code == 422 and json.loads(resp.body)["error"]["fields"][0]["field"] == "services"
    resp = client.http.post(
        f"/api/subscriptions/manage/{token}/stories", body=json.dumps(story_body(route="web")), headers=JSON_H
    )
    assert resp.status_code == 422 and json.loads(resp.body)["error"]["fields"][0]["field"] == "route"


def test_the_taken_story_form_names_a_missing_tick(client, directory):
    token = manage_token(make_staff())
    data = story_body(route="staff-assisted")
    data.pop("consent")
    form = urlencode({k: v for k, v in data.items() if not isinstance(v, list)} | {"services": "riverside-ward-7"})
    resp = client.http.post(f"/api/subscriptions/manage/{token}/stories", body=form, headers=FORM_H)
    html = body(resp)
    assert resp.status_code == 422 and 'href="#consent"' in html and "the person agreed" in html
    assert 'value="staff-assisted" checked' in html


@pytest.mark.parametrize("route", ["phone", "paper"])
def test_a_moderator_enters_a_story_for_someone(client, pump, directory, token, route):
    headers = JSON_H | bearer(token)
    resp = client.http.post("/api/moderation/stories", body=json.dumps(story_body(route=route)), headers=headers)
    assert resp.status_code == 201, resp.body
    story = wiring.store().get_story(json.loads(resp.body)["id"], consistent=True)
    assert story["route"] == route and story["entered_by"]["kind"] == "moderator"
    assert (
        client.http.post(
            "/api/moderation/stories", body=json.dumps(story_body(route=route)), headers=JSON_H
        ).status_code
        == 401
    )


def test_a_story_from_a_widget_says_so_and_a_json_client_cannot_claim_a_staff_route(client, directory):
    resp = client.http.post("/api/stories", body=json.dumps(story_body(via="widget")), headers=JSON_H)
    assert wiring.store().get_story(json.loads(resp.body)["id"], consistent=True)["route"] == "widget"
    resp = client.http.post("/api/stories", body=json.dumps(story_body(route="phone")), headers=JSON_H)
    assert resp.status_code == 422 and json.loads(resp.body)["error"]["fields"][0]["field"] == "route"


def test_erasing_a_story_removes_its_mark_on_the_invitation_and_a_taken_storys_records(client, pump, directory):
    from chalicelib.store import submission_record_key

    token = manage_token(make_staff())
    made = invite(client, token)
    sent = story_body(invitation=made["code"], email="erase.me@example.org")
    story_id = json.loads(client.http.post("/api/stories", body=json.dumps(sent), headers=JSON_H).body)["id"]
    taken = story_body(route="paper", email="erase.too@example.org")
    resp = client.http.post(f"/api/subscriptions/manage/{token}/stories", body=json.dumps(taken), headers=JSON_H)
    taken_id = json.loads(resp.body)["id"]
    pump.drain()
    store = wiring.store()
    assert store._get(f"INVITE#{made['code']}", f"STORY#{story_id}")
    assert store._get("IDEMPOTENCY#stories", submission_record_key(taken["submission_id"]))
    store.erase_story(story_id)
    store.erase_story(taken_id)
    assert store._get(f"INVITE#{made['code']}", f"STORY#{story_id}") is None
    assert store._get("IDEMPOTENCY#stories", submission_record_key(taken["submission_id"])) is None
    assert store.get_invitation(made["code"])["stories"] == 1  # a count, which names nobody


def test_staff_see_how_a_story_came_in_on_the_read_and_respond_page(client, pump, directory):
    from tests.support.conversation import respond_link

    staff = make_staff()
    token = manage_token(staff)
    resp = client.http.post(
        f"/api/subscriptions/manage/{token}/stories", body=json.dumps(story_body(route="paper")), headers=JSON_H
    )
    story_id = json.loads(resp.body)["id"]
    wiring.store().confirm_contact(story_id, clock.iso())
    version = wiring.store().get_story(story_id, consistent=True)["version"]
    wiring.moderation().decide(story_id, {"action": "publish", "version": version, "criticality": 1}, MOD)
    pump.drain()
    page = body(client.http.get(f"/api/respond/{respond_link(story_id, staff)}"))
    assert "<dt>How it came in</dt><dd>Through a letter or paper form, written down by a member of staff" in page


def test_a_story_form_sent_again_from_an_invitation_still_says_who_asked(client, directory):
    made = invite(client, manage_token(make_staff()))
    data = story_body(invitation=made["code"], title="")
    form = urlencode({k: v for k, v in data.items() if not isinstance(v, list)} | {"services": "riverside-ward-7"})
    resp = client.http.post("/api/stories", body=form, headers=FORM_H)
    html = body(resp)
    assert resp.status_code == 422 and 'href="#title"' in html
    assert "Ward 7 (Acute Medicine) asked for your story" in html
    assert f'name="invitation" value="{made["code"]}"' in html


def test_a_story_taken_for_someone_spends_the_clients_story_allowance_once_the_link_works(
    client, directory, monkeypatch
):
    monkeypatch.setenv("FF_STORY_LIMIT", "2")
    wiring.reset()
    token = manage_token(make_staff())
    url = f"/api/subscriptions/manage/{token}/stories"
    spoilt = f"/api/subscriptions/manage/{token[:-1]}/stories"

    def taken() -> str:
        return json.dumps(story_body(route="paper"))

    # A link that does not work is refused without spending the allowance (only the budget of bad links).
    assert client.http.post(spoilt, body=taken(), headers=JSON_H).status_code == 404
    assert [client.http.post(url, body=taken(), headers=JSON_H).status_code for _ in range(2)] == [201, 201]
    refused = client.http.post(url, body=taken(), headers=JSON_H)
    assert refused.status_code == 429 and json.loads(refused.body)["error"]["limit"]["action"] == "stories"
