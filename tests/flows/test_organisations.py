"""Organisations: who may speak for a service (sign-up fails closed, roles, leads' decisions,
frozen leavers), and the risk-based checks on responses. Through the API, the stream and the mail,
as a person would meet them.
"""

from __future__ import annotations

import json
import re
from datetime import timedelta
from urllib.parse import urlencode

import pytest

from chalicelib import wiring
from chalicelib.core import clock
from chalicelib.links import NOT_VALID
from tests.support import mailbox
from tests.support.conversation import make_staff, publish_story, respond_link
from tests.support.vnu import needs_vnu, vnu_errors

JSON_H = {"Content-Type": "application/json"}
FORM_H = {"Content-Type": "application/x-www-form-urlencoded", "Accept": "text/html"}
TOKEN = r"([A-Za-z0-9_-]{43})"
LEAD = "lena.lead@nhs.example"
OUTSIDER = "outsider.attacker@evil.example"
RIVERSIDE = {"slug": "riverside-trust", "name": "Riverside NHS Foundation Trust"}
HILLSIDE = {"slug": "hillside-trust", "name": "Hillside Community Health"}


def body(resp) -> str:
    return resp.body.decode() if isinstance(resp.body, bytes) else (resp.body or "")


def signup(email=OUTSIDER, **overrides) -> dict:
    data = {
        "name": "Chief Executive (official reply)",
        "display_name": "Chief Executive (official reply)",
        "role": "Chief Executive",
        "organisation": "riverside-trust",
        "email": email,
        "service": "riverside-ward-7",
        "tags": [],
        "min_criticality": 0,
        "frequency": "immediate",
    }
    return data | overrides


def sign_up_and_confirm(client, pump, email=OUTSIDER, **overrides) -> dict:
    resp = client.http.post("/api/subscriptions", body=json.dumps(signup(email, **overrides)), headers=JSON_H)
    assert resp.status_code == 202, resp.body
    pump.drain()
    found = re.search(r"/api/subscriptions/confirm/" + TOKEN, mailbox.text_of(mailbox.to(email)[-1]))
    assert found
    page = client.http.post(f"/api/subscriptions/confirm/{found.group(1)}", body="", headers=FORM_H)
    assert page.status_code == 200, page.body
    pump.drain()
    return {"page": body(page), "person": wiring.store().find_subscriber(email)}


def lead_link(email=LEAD) -> str:
    """The lead's most recent organisation link, from their mailbox."""
    mails = mailbox.to(email)
    assert mails, f"no email to {email}"
    found = re.search(r"/api/organisation/" + TOKEN, mailbox.text_of(mails[-1]))
    assert found, mailbox.text_of(mails[-1])
    return found.group(1)


def ask_for_lead_link(client, pump, email=LEAD) -> str:
    resp = client.http.post("/api/organisation", body=json.dumps({"email": email}), headers=JSON_H)
    assert resp.status_code == 202 and json.loads(resp.body) == {"status": "check-your-email"}
    pump.drain()
    return lead_link(email)


def decide(client, token, **data):
    return client.http.post(f"/api/organisation/{token}", body=json.dumps(data), headers=JSON_H)


def alerts_to(email) -> list:
    return [m for m in mailbox.to(email) if "/api/respond/" in mailbox.text_of(m)]


@pytest.fixture
def lead(aws, directory):
    """Riverside has a lead, named as the directory file would."""
    assert wiring.membership().name_lead(RIVERSIDE, LEAD, by="the directory file", name="Lena Lead") == "created"
    return wiring.store().find_subscriber(LEAD)


# ---- the outsider's walk (issue: anyone could speak for any trust) ------------------------------


def test_an_outsider_becomes_a_request_sees_nothing_then_cannot_respond_until_granted_and_is_checked(
    aws, client, pump, lead
):
    confirmed = sign_up_and_confirm(client, pump)
    person = confirmed["person"]
    assert person["status"] == "requested" and "access" not in person
    assert "leads will decide" in confirmed["page"]
    # The lead is asked, with a link to decide; the outsider's alerts are not on.
    [asked] = [m for m in mailbox.to(LEAD) if "asks to join" in str(m["Subject"])]
    assert OUTSIDER in mailbox.text_of(asked)
    assert [w for w in wiring.store().watchers("riverside-ward-7")] == []

    # A story is published: no alert, no respond link, no criticality reach the outsider.
    story_id = publish_story(client, pump)
    assert alerts_to(OUTSIDER) == []
    assert all("Criticality" not in mailbox.text_of(m) for m in mailbox.to(OUTSIDER))

    # Approved as a reader: alerts come; a response is refused (403), nothing written.
    token = lead_link()
    assert decide(client, token, action="approve", member=person["id"], access="reader").status_code == 200
    pump.drain()
    decided = [m for m in mailbox.to(OUTSIDER) if "member of Riverside" in str(m["Subject"])]
    assert decided and "ask your organisation" in mailbox.text_of(decided[0]).lower()
    story_id = publish_story(client, pump)
    [alert] = alerts_to(OUTSIDER)
    respond = re.search(r"/api/respond/" + TOKEN, mailbox.text_of(alert)).group(1)
    refused = client.http.post(
        f"/api/respond/{respond}", body=json.dumps({"text": "Official statement."}), headers=JSON_H
    )
    assert refused.status_code == 403 and "responder" in body(refused)
    assert [i for i in wiring.store().story_thread(story_id) if i["item"] == "response"] == []
    page = body(client.http.get(f"/api/respond/{respond}", headers={"Accept": "text/html"}))
    assert "Publish your response" not in page and "make you a responder" in page

    # Made a responder: the first response waits for a moderator; the public sees nothing yet.
    assert decide(client, token, action="access", member=person["id"], access="responder").status_code == 200
    sent = client.http.post(
        f"/api/respond/{respond}",
        body=json.dumps(
            {
                "text": "Official statement: this complaint is false.",
                "change": "made",
                "change_description": "Nothing at all",
            }
        ),
        headers=JSON_H,
    )
    assert sent.status_code == 202
    answer = json.loads(sent.body)
    assert answer["status"] == "held" and set(answer["checks"]) == {"first-responses", "change-made"}
    pump.drain()
    public = client.http.get(f"/api/public/stories/{story_id}")
    assert "this complaint is false" not in body(public)
    story = wiring.store().get_story(story_id, consistent=True)
    assert not story.get("first_response_at") and not story.get("change_made_at")


def test_the_first_responses_a_change_made_and_a_serious_story_are_checked_the_rest_publish(
    aws, client, pump, directory
):
    staff = make_staff(responses_sent=0)
    story_id = publish_story(client, pump)
    link = respond_link(story_id, staff)
    statuses = []
    for n in range(4):
        resp = client.http.post(
            f"/api/respond/{link}", body=json.dumps({"text": f"Thank you for telling us, number {n}."}), headers=JSON_H
        )
        statuses.append((resp.status_code, json.loads(resp.body).get("checks")))
    assert statuses == [(202, ["first-responses"])] * 3 + [(201, None)]
    # A story of criticality 4 or 5: checked whoever answers.
    serious = publish_story(client, pump, criticality=5)
    resp = client.http.post(
        f"/api/respond/{respond_link(serious, staff)}", body=json.dumps({"text": "We are so sorry."}), headers=JSON_H
    )
    assert resp.status_code == 202 and json.loads(resp.body)["checks"] == ["high-criticality"]
    # The moderators' queue says why each one waits.
    queue = wiring.moderation().replies_queue()
    assert any("answers a story of criticality 4 or 5" in i["flag_words"] for i in queue)
    assert any("one of this responder's first responses" in i["flag_words"] for i in queue)


def test_a_published_response_carries_the_verified_mark_in_public(aws, client, pump, directory):
    staff = make_staff()
    story_id = publish_story(client, pump)
    resp = client.http.post(
        f"/api/respond/{respond_link(story_id, staff)}",
        body=json.dumps({"text": "Thank you, we hear you."}),
        headers=JSON_H,
    )
    assert resp.status_code == 201
    pump.drain()
    [entry] = json.loads(client.http.get(f"/api/public/stories/{story_id}").body)["conversation"]
    assert entry["verified_member"] is True and entry["organisation"] == "Riverside NHS Foundation Trust"
    page = aws.client("s3").get_object(Bucket=aws.resources.bucket, Key=f"stories/{story_id}/index.html")
    assert "Verified member of staff at Riverside NHS Foundation Trust" in page["Body"].read().decode()


# ---- sign-up fails closed -------------------------------------------------------------------------


def test_an_organisation_with_no_domain_and_no_lead_takes_no_sign_up_and_says_how_to_ask(aws, client, pump, directory):
    wiring.store().put_organisation("hillside-trust", {"domains": [], "responder_domains": []})
    hillside = {"organisation": "hillside-trust", "service": "hillside-district-nursing"}
    answers = []
    for email in ("jo@hillside.nhs.example", OUTSIDER):
        resp = client.http.post("/api/subscriptions", body=json.dumps(signup(email, **hillside)), headers=JSON_H)
        assert resp.status_code == 422
        [field] = json.loads(resp.body)["error"]["fields"]
        answers.append(field)
    assert answers[0] == answers[1] and answers[0]["field"] == "organisation"
    assert "moderators@feedforward.example" in answers[0]["message"]
    assert wiring.store().find_subscriber(OUTSIDER) is None


def test_the_answer_to_a_sign_up_is_the_same_for_a_known_and_an_unknown_address(aws, client, pump, lead):
    sign_up_and_confirm(client, pump)  # the outsider is known now (requested)
    known = client.http.post("/api/subscriptions", body=json.dumps(signup()), headers=JSON_H)
    unknown = client.http.post("/api/subscriptions", body=json.dumps(signup("new.person@evil.example")), headers=JSON_H)
    assert (known.status_code, known.body) == (unknown.status_code, unknown.body) == (202, unknown.body)


def test_a_verified_domain_makes_a_reader_and_a_responder_domain_a_responder(aws, client, pump, directory, monkeypatch):
    wiring.store().put_organisation(
        "riverside-trust", {"domains": ["nhs.example"], "responder_domains": ["pals.nhs.example"]}
    )
    reader = sign_up_and_confirm(client, pump, "rita.reader@ward.nhs.example")
    responder = sign_up_and_confirm(client, pump, "rob.responder@pals.nhs.example")
    assert (reader["person"]["status"], reader["person"]["access"]) == ("active", "reader")
    assert (responder["person"]["status"], responder["person"]["access"]) == ("active", "responder")
    assert "Your alerts are on" in reader["page"]
    grants = wiring.store().grants("riverside-trust")
    assert {(g["member_name"], g["access"]) for g in grants} >= {
        ("Chief Executive (official reply)", "reader"),
        ("Chief Executive (official reply)", "responder"),
    }
    assert all(g["by"].startswith("verified domain") for g in grants)


# ---- leads: their link, their page, their decisions ------------------------------------------------


def test_only_a_lead_gets_a_link_and_the_answer_never_says_who_is_one(aws, client, pump, lead):
    for email in (LEAD, "nobody@nhs.example", OUTSIDER):
        resp = client.http.post("/api/organisation", body=json.dumps({"email": email}), headers=JSON_H)
        assert (resp.status_code, json.loads(resp.body)) == (202, {"status": "check-your-email"})
    pump.drain()
    assert len(mailbox.to(LEAD)) == 1 and mailbox.to("nobody@nhs.example") == [] and mailbox.to(OUTSIDER) == []
    page = client.http.get(f"/api/organisation/{lead_link()}", headers={"Accept": "text/html"})
    assert page.status_code == 200 and "Riverside NHS Foundation Trust" in body(page)
    assert page.headers["X-Robots-Tag"] == "noindex, nofollow"


def test_a_lead_of_one_organisation_cannot_manage_another(aws, client, pump, lead):
    other_lead = "harry.lead@hillside.nhs.example"
    wiring.membership().name_lead(HILLSIDE, other_lead, by="test")
    theirs = make_staff(
        email="tom@hillside.nhs.example", organisation="hillside-trust", organisation_name="Hillside Community Health"
    )["profile"]
    token = ask_for_lead_link(client, pump)
    for action in ("freeze", "access", "approve", "refuse", "restore"):
        resp = decide(client, token, action=action, member=theirs["id"], access="lead")
        assert resp.status_code == 422 and "not in your organisation" in body(resp), action
    assert wiring.store().get_subscriber(theirs["id"])["status"] == "active"
    # Nor does their page list anyone of another organisation.
    page = body(client.http.get(f"/api/organisation/{token}", headers={"Accept": "text/html"}))
    assert "tom@hillside.nhs.example" not in page and other_lead not in page


def test_a_frozen_member_s_links_all_answer_like_unknown_links_and_their_responses_stay(aws, client, pump, lead):
    staff = make_staff(email="leaver@nhs.example")
    sid = staff["profile"]["id"]
    story_id = publish_story(client, pump)
    respond = respond_link(story_id, staff)
    assert (
        client.http.post(
            f"/api/respond/{respond}", body=json.dumps({"text": "Thank you for this."}), headers=JSON_H
        ).status_code
        == 201
    )
    links = wiring.links()
    others = {
        "manage": links.issue("manage", "", sid, 30, subscriber_id=sid),
        "unsubscribe": links.issue("unsubscribe", "", sid, 30, subscriber_id=sid),
    }
    wiring.membership().name_lead(RIVERSIDE, "leaver@nhs.example", by="test")
    lead_token = links.issue("organisation", "", sid, 7, subscriber_id=sid, organisation="riverside-trust")
    wiring.store().update_subscriber(sid, {"access": "responder"})  # a lead once, a responder now
    token = ask_for_lead_link(client, pump)
    assert decide(client, token, action="freeze", member=sid).status_code == 200
    pump.drain()
    unknown = "A" * 43
    for path in (
        f"/api/respond/{respond}",
        f"/api/subscriptions/manage/{others['manage']}",
        f"/api/unsubscribe/{others['unsubscribe']}",
        f"/api/organisation/{lead_token}",
    ):
        mine = client.http.get(path, headers={"Accept": "application/json"})
        never = client.http.get(re.sub(TOKEN + "$", unknown, path), headers={"Accept": "application/json"})
        assert (
            (mine.status_code, json.loads(mine.body)["error"]["message"])
            == (
                never.status_code,
                json.loads(never.body)["error"]["message"],
            )
            == (404, NOT_VALID)
        ), path
    # No alert reaches them; their response stays public, attributed.
    assert [w for w in wiring.store().watchers("riverside-ward-7") if w["subscriber_id"] == sid] == []
    before = len(alerts_to("leaver@nhs.example"))
    publish_story(client, pump)
    assert len(alerts_to("leaver@nhs.example")) == before
    [entry] = json.loads(client.http.get(f"/api/public/stories/{story_id}").body)["conversation"]
    assert entry["name"] == "Alex Morgan" and entry["text"] == "Thank you for this."
    # Restored: alerts again; the old link stays dead.
    assert decide(client, token, action="restore", member=sid).status_code == 200
    assert client.http.get(f"/api/respond/{respond}", headers={"Accept": "application/json"}).status_code == 404
    assert [w for w in wiring.store().watchers("riverside-ward-7") if w["subscriber_id"] == sid]


def test_a_lead_cannot_leave_the_organisation_without_a_lead_or_freeze_themselves(aws, client, pump, lead):
    token = ask_for_lead_link(client, pump)
    resp = decide(client, token, action="access", member=lead["id"], access="reader")
    assert resp.status_code == 422 and "at least one lead" in body(resp)
    resp = decide(client, token, action="freeze", member=lead["id"])
    assert resp.status_code == 422
    assert wiring.store().get_subscriber(lead["id"])["access"] == "lead"


def test_a_reader_and_a_member_of_another_organisation_never_see_criticality(aws, client, pump, directory):
    reader = make_staff(email="rita@nhs.example", access="reader")
    story_id = publish_story(client, pump)
    page = body(client.http.get(f"/api/respond/{respond_link(story_id, reader)}", headers={"Accept": "text/html"}))
    assert "Criticality" in page  # a member of the story's organisation sees it, even a reader
    outsider = make_staff(
        email="tom@hillside.nhs.example", organisation="hillside-trust", organisation_name="Hillside Community Health"
    )
    page = body(client.http.get(f"/api/respond/{respond_link(story_id, outsider)}", headers={"Accept": "text/html"}))
    assert "Criticality" not in page


def test_a_person_with_no_grant_gets_no_alert_and_no_working_link(aws, client, pump, directory):
    """Fail closed: an active subscriber with no access (an old record, a console edit) is no member."""
    staff = make_staff(email="nogrant@nhs.example")
    wiring.store().update_subscriber(staff["profile"]["id"], {"access": ""})
    story_id = publish_story(client, pump)
    assert alerts_to("nogrant@nhs.example") == []
    resp = client.http.get(f"/api/respond/{respond_link(story_id, staff)}", headers={"Accept": "application/json"})
    assert resp.status_code == 404


# ---- rate limits --------------------------------------------------------------------------------


def test_responses_are_limited_per_link_with_retry_after(aws, client, pump, directory, monkeypatch):
    monkeypatch.setenv("FF_RESPONSE_LINK_LIMIT", "3")
    wiring.reset()
    staff = make_staff()
    story_id = publish_story(client, pump)
    link = respond_link(story_id, staff)
    codes = [
        client.http.post(f"/api/respond/{link}", body=json.dumps({"text": f"Answer number {n}."}), headers=JSON_H)
        for n in range(4)
    ]
    assert [c.status_code for c in codes] == [201, 201, 201, 429]
    assert int(codes[-1].headers["Retry-After"]) > 0
    assert sum(1 for i in wiring.store().story_thread(story_id) if i["item"] == "response") == 3


def test_responses_are_limited_per_person_across_links(aws, client, pump, directory, monkeypatch):
    monkeypatch.setenv("FF_RESPONSE_PERSON_LIMIT", "2")
    wiring.reset()
    staff = make_staff()
    stories = [publish_story(client, pump) for _ in range(3)]
    codes = [
        client.http.post(
            f"/api/respond/{respond_link(s, staff)}", body=json.dumps({"text": "Thank you."}), headers=JSON_H
        ).status_code
        for s in stories
    ]
    assert codes == [201, 201, 429]


# ---- bulk: a lead's upload ------------------------------------------------------------------------


def test_a_lead_uploads_members_every_bad_row_is_named_and_the_same_file_twice_changes_nothing(aws, client, pump, lead):
    token = ask_for_lead_link(client, pump)
    bad = (
        "name,role,email,service,access\n"
        "Ann Ok,Nurse,ann@nhs.example,riverside-ward-7,responder\n"
        "Bo Bad,Nurse,not-an-address,riverside-ward-7,reader\n"
        "Cy Bad,Nurse,cy@nhs.example,hillside-district-nursing,reader\n"
        "Di Bad,Nurse,di@nhs.example,riverside-ward-7,boss\n"
    )
    resp = client.http.post(f"/api/organisation/{token}/members", body=bad, headers={"Content-Type": "text/csv"})
    assert resp.status_code == 422
    errors = {(e["line"], e["field"]) for e in json.loads(resp.body)["errors"]}
    assert errors == {(3, "email"), (4, "service"), (5, "access")}
    assert wiring.store().find_subscriber("ann@nhs.example") is None  # nothing written
    good = "name,role,email,service,access\nAnn Ok,Nurse,ann@nhs.example,riverside-ward-7,responder\n"
    first = json.loads(
        client.http.post(f"/api/organisation/{token}/members", body=good, headers={"Content-Type": "text/csv"}).body
    )
    again = json.loads(
        client.http.post(f"/api/organisation/{token}/members", body=good, headers={"Content-Type": "text/csv"}).body
    )
    assert first["created"] == 1 and again["created"] == again["updated"] == 0 and again["unchanged"] == 1
    ann = wiring.store().find_subscriber("ann@nhs.example")
    assert (ann["status"], ann["access"], ann["organisation"]) == ("active", "responder", "riverside-trust")


def test_a_lead_uploads_an_xlsx_file_through_the_page_s_form(aws, client, pump, lead):
    import io

    from openpyxl import Workbook

    token = ask_for_lead_link(client, pump)
    book = Workbook()
    sheet = book.active
    sheet.append(["Name", "Role", "Email", "Service", "Access"])
    sheet.append(["Xena Sheet", "Matron", "xena@nhs.example", "riverside-ward-7", "lead"])
    data = io.BytesIO()
    book.save(data)
    boundary = "----ffboundary"
    multipart = (
        (
            f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="staff.xlsx"\r\n'
            "Content-Type: application/vnd.openxmlformats-officedocument.spreadsheetml.sheet\r\n\r\n"
        ).encode()
        + data.getvalue()
        + f"\r\n--{boundary}--\r\n".encode()
    )
    resp = client.http.post(
        f"/api/organisation/{token}/members",
        body=multipart,
        headers={"Content-Type": f"multipart/form-data; boundary={boundary}", "Accept": "text/html"},
    )
    assert resp.status_code == 200, body(resp)[:500]
    assert "The members in your file are loaded" in body(resp) and "Xena Sheet" in body(resp)
    assert wiring.store().find_subscriber("xena@nhs.example")["access"] == "lead"


def test_a_form_decision_redirects_back_with_a_notice(aws, client, pump, lead):
    person = sign_up_and_confirm(client, pump)["person"]
    token = ask_for_lead_link(client, pump)
    page = body(client.http.get(f"/api/organisation/{token}", headers={"Accept": "text/html"}))
    assert "Asking to join (1)" in page and OUTSIDER in page
    resp = client.http.post(
        f"/api/organisation/{token}",
        body=urlencode({"action": "refuse", "member": person["id"]}),
        headers=FORM_H,
    )
    assert resp.status_code == 303 and resp.headers["Location"].endswith("?notice=refuse")
    pump.drain()
    assert wiring.store().get_subscriber(person["id"])["status"] == "refused"
    assert any("did not approve" in mailbox.text_of(m) for m in mailbox.to(OUTSIDER))
    # Refused, they cannot ask again by signing up; they are told so.
    again = sign_up_and_confirm(client, pump)
    assert "Your request was refused" in again["page"] and again["person"]["status"] == "refused"
    record = wiring.store().grants("riverside-trust")
    assert [r["action"] for r in record][:2] == ["refused", "requested"]


# ---- every new page is valid HTML (vnu; skipped without java) ----------------------------------------


@needs_vnu
def test_every_organisation_page_and_email_is_valid_html(aws, client, pump, lead, tmp_path):
    html = {"Accept": "text/html"}
    pages = {"ask.html": body(client.http.get("/api/organisation", headers=html))}
    pages["ask-sent.html"] = body(
        client.http.post("/api/organisation", body=urlencode({"email": LEAD}), headers=FORM_H)
    )
    pages["ask-errors.html"] = body(client.http.post("/api/organisation", body="email=", headers=FORM_H))
    person = sign_up_and_confirm(client, pump)
    pages["confirm-requested.html"] = person["page"]
    token = lead_link()
    member = make_staff(email="mo.member@nhs.example")["profile"]
    pages["organisation.html"] = body(client.http.get(f"/api/organisation/{token}?notice=approve", headers=html))
    pages["organisation-errors.html"] = body(
        client.http.post(
            f"/api/organisation/{token}",
            body=urlencode({"action": "access", "member": member["id"], "access": "boss"}),
            headers=FORM_H,
        )
    )
    decide(client, token, action="freeze", member=member["id"])
    decide(client, token, action="refuse", member=person["person"]["id"])
    pump.drain()
    pages["organisation-frozen-refused.html"] = body(client.http.get(f"/api/organisation/{token}", headers=html))
    pages["confirm-refused.html"] = sign_up_and_confirm(client, pump)["page"]
    reader = make_staff(email="rita.reader@nhs.example", access="reader")
    story_id = publish_story(client, pump)
    pages["respond-reader.html"] = body(client.http.get(f"/api/respond/{respond_link(story_id, reader)}", headers=html))
    for kind in ("asks to join", "Manage Riverside", "did not approve"):
        found = [m for m in mailbox.sent() if kind in str(m["Subject"]) or kind in mailbox.text_of(m)]
        assert found, kind
        pages[f"email-{len(pages)}.html"] = mailbox.html_of(found[-1])
    assert vnu_errors(pages, tmp_path) == ""


# ---- the 30-minute window to change or delete one's own response ------------------------------------


def _send(client, link, text="Thank you for telling us about the night.", **extra):
    resp = client.http.post(f"/api/respond/{link}", body=json.dumps({"text": text, **extra}), headers=JSON_H)
    assert resp.status_code in (201, 202), resp.body
    return json.loads(resp.body)["id"]


def _change(client, link, response_id, **data):
    return client.http.post(f"/api/respond/{link}/responses/{response_id}", body=json.dumps(data), headers=JSON_H)


def _at(monkeypatch, minutes_from_now):
    later = clock.now() + timedelta(minutes=minutes_from_now)
    monkeypatch.setattr(clock, "now", lambda: later)


def test_a_response_can_be_edited_at_29_minutes_not_at_31_and_the_original_is_kept_privately(
    aws, client, pump, directory, monkeypatch
):
    staff = make_staff()
    story_id = publish_story(client, pump)
    link = respond_link(story_id, staff)
    rid = _send(client, link)
    pump.drain()
    start = clock.now()
    _at(monkeypatch, 29)
    resp = _change(client, link, rid, action="edit", text="Thank you. We have talked about the night as a team.")
    assert resp.status_code == 200, resp.body
    assert json.loads(resp.body)["status"] == "published"
    pump.drain()
    item = wiring.store().get_thread_item(story_id, "response", rid)
    assert item["text"].endswith("as a team.") and item["edits"] == 1 and item["edited_at"]
    [kept] = [
        i
        for i in aws.client("dynamodb").scan(TableName=aws.resources.table)["Items"]
        if i["PK"]["S"] == f"PRIVATE#{story_id}" and i["SK"]["S"].startswith(f"RESPONSE#{rid}#")
    ]
    assert kept["text"]["S"] == "Thank you for telling us about the night." and kept["action"]["S"] == "edit"
    [entry] = json.loads(client.http.get(f"/api/public/stories/{story_id}").body)["conversation"]
    assert entry["text"].endswith("as a team.")
    page = aws.client("s3").get_object(Bucket=aws.resources.bucket, Key=f"stories/{story_id}/index.html")
    words = page["Body"].read().decode()
    assert "edited by its author" in words and "about the night." not in words
    # Two minutes later (31 after sending) the window has closed: refused, nothing changed.
    monkeypatch.setattr(clock, "now", lambda: start + timedelta(minutes=31))
    late = _change(client, link, rid, action="edit", text="Something else entirely, too late.")
    assert late.status_code == 403 and "30 minutes" in body(late)
    assert _change(client, link, rid, action="delete").status_code == 403
    assert wiring.store().get_thread_item(story_id, "response", rid)["edits"] == 1


def test_deleting_a_response_takes_it_off_the_page_and_takes_back_the_progress_it_gave(aws, client, pump, directory):
    staff = make_staff()
    story_id = publish_story(client, pump)
    link = respond_link(story_id, staff)
    rid = _send(client, link, change="planned", change_description="A named nurse at night.")
    pump.drain()
    story = wiring.store().get_story(story_id, consistent=True)
    assert story["first_response_at"] and story["change_planned_at"]
    assert _change(client, link, rid, action="delete").status_code == 200
    pump.drain()
    story = wiring.store().get_story(story_id, consistent=True)
    assert "first_response_at" not in story and "change_planned_at" not in story
    assert json.loads(client.http.get(f"/api/public/stories/{story_id}").body)["conversation"] == []
    assert wiring.store().get_thread_item(story_id, "response", rid)["status"] == "deleted"


def test_an_edit_with_identifying_details_leaves_the_page_for_a_moderator_and_others_cannot_edit(
    aws, client, pump, directory
):
    staff = make_staff()
    other = make_staff(email="someone.else@nhs.example")
    story_id = publish_story(client, pump)
    link = respond_link(story_id, staff)
    rid = _send(client, link)
    pump.drain()
    theirs = _change(client, respond_link(story_id, other), rid, action="delete")
    assert theirs.status_code == 404
    resp = _change(client, link, rid, action="edit", text="Please ring me on 07700 900123 about it.")
    assert resp.status_code == 200 and json.loads(resp.body)["status"] == "held"
    pump.drain()
    assert json.loads(client.http.get(f"/api/public/stories/{story_id}").body)["conversation"] == []
    assert any(i["id"] == rid for i in wiring.moderation().replies_queue())
    # Bad input names its field and changes nothing.
    bad = _change(client, link, rid, action="rename")
    assert bad.status_code == 422 and json.loads(bad.body)["error"]["fields"][0]["field"] == "action"


# ---- a lead responds on behalf of a colleague or a team ---------------------------------------------


def test_a_lead_responds_on_behalf_of_a_team_and_no_one_else_can(aws, client, pump, directory):
    story_id = publish_story(client, pump)
    responder = make_staff(email="rob@nhs.example")
    refused = client.http.post(
        f"/api/respond/{respond_link(story_id, responder)}",
        body=json.dumps({"text": "Thank you, from all of us.", "on_behalf_of": "the Ward 7 team"}),
        headers=JSON_H,
    )
    assert refused.status_code == 422 and json.loads(refused.body)["error"]["fields"][0]["field"] == "on_behalf_of"
    lead = make_staff(email="lena@nhs.example", access="lead")
    page = body(client.http.get(f"/api/respond/{respond_link(story_id, lead)}", headers={"Accept": "text/html"}))
    assert 'name="on_behalf_of"' in page
    sent = client.http.post(
        f"/api/respond/{respond_link(story_id, lead)}",
        body=json.dumps({"text": "Thank you, from all of us.", "on_behalf_of": "the Ward 7 team"}),
        headers=JSON_H,
    )
    assert sent.status_code == 201, sent.body
    pump.drain()
    [entry] = json.loads(client.http.get(f"/api/public/stories/{story_id}").body)["conversation"]
    assert entry["on_behalf_of"] == "the Ward 7 team" and entry["name"] == "Alex Morgan"
    html = aws.client("s3").get_object(Bucket=aws.resources.bucket, Key=f"stories/{story_id}/index.html")
    assert "on behalf of the Ward 7 team" in html["Body"].read().decode()


# ---- teamwork: passing a story on, and staff tags with polarity --------------------------------------


def test_a_member_passes_a_story_to_a_colleague_who_gets_it_with_the_note_and_a_link_of_their_own(
    aws, client, pump, directory
):
    story_id = publish_story(client, pump)
    sam = make_staff(email="sam.first@nhs.example")
    make_staff(email="cleo.colleague@nhs.example", service="riverside-maternity", service_name="Maternity")
    outsider = make_staff(
        email="tom@hillside.nhs.example", organisation="hillside-trust", organisation_name="Hillside Community Health"
    )
    link = respond_link(story_id, sam)
    for who in ("tom@hillside.nhs.example", "nobody@nhs.example", "sam.first@nhs.example"):
        refused = client.http.post(
            f"/api/respond/{link}/pass", body=json.dumps({"to": "colleague", "colleague": who}), headers=JSON_H
        )
        assert refused.status_code == 422 and json.loads(refused.body)["error"]["fields"][0]["field"] == "colleague"
    done = client.http.post(
        f"/api/respond/{link}/pass",
        body=json.dumps({"to": "colleague", "colleague": "cleo.colleague@nhs.example", "note": "Your ward, I think"}),
        headers=JSON_H,
    )
    assert done.status_code == 200, done.body
    pump.drain()
    [mail] = [m for m in mailbox.to("cleo.colleague@nhs.example") if "passed you a story" in str(m["Subject"])]
    text = mailbox.text_of(mail)
    assert "Your ward, I think" in text and "Criticality" in text
    theirs = re.search(r"/api/respond/" + TOKEN, text).group(1)
    assert client.http.get(f"/api/respond/{theirs}", headers={"Accept": "text/html"}).status_code == 200
    # The staff page shows who it went to; the public sees nothing of it.
    page = body(client.http.get(f"/api/respond/{link}", headers={"Accept": "text/html"}))
    assert "passed it to Alex Morgan" in page and "Your ward, I think" in page
    public = body(client.http.get(f"/api/public/stories/{story_id}"))
    assert "Your ward" not in public and "cleo" not in public
    assert mailbox.to("tom@hillside.nhs.example") == [] or all(
        "passed you" not in str(m["Subject"]) for m in mailbox.to("tom@hillside.nhs.example")
    )
    assert outsider  # a member of another organisation: never a colleague to pass to (refused above)


def test_passing_to_a_service_reaches_its_watchers_and_a_vague_name_is_a_clear_422(aws, client, pump, directory):
    story_id = publish_story(client, pump)
    sam = make_staff(email="sam.first@nhs.example")
    make_staff(email="mia.maternity@nhs.example", service="riverside-maternity", service_name="Maternity Unit")
    link = respond_link(story_id, sam)
    vague = client.http.post(
        f"/api/respond/{link}/pass", body=json.dumps({"to": "service", "service": "zz"}), headers=JSON_H
    )
    assert vague.status_code == 422 and json.loads(vague.body)["error"]["fields"][0]["field"] == "service"
    done = client.http.post(
        f"/api/respond/{link}/pass", body=json.dumps({"to": "service", "service": "Maternity Unit"}), headers=JSON_H
    )
    assert done.status_code == 200 and json.loads(done.body)["to_name"] == "Maternity Unit"
    pump.drain()
    assert any("passed you a story" in str(m["Subject"]) for m in mailbox.to("mia.maternity@nhs.example"))
    assert not any("passed you a story" in str(m["Subject"]) for m in mailbox.to("sam.first@nhs.example"))


def test_staff_tags_are_seen_only_by_whom_they_may_be_and_public_ones_show_with_their_polarity(
    aws, client, pump, directory
):
    story_id = publish_story(client, pump)
    ann = make_staff(email="ann@nhs.example")
    bob = make_staff(email="bob@nhs.example")
    tom = make_staff(
        email="tom@hillside.nhs.example", organisation="hillside-trust", organisation_name="Hillside Community Health"
    )
    link = respond_link(story_id, ann)
    for tag, polarity, visibility in (
        ("Night care", "negative", "private"),
        ("discharge", "negative", "shared"),
        ("Kindness", "positive", "public"),
    ):
        resp = client.http.post(
            f"/api/respond/{link}/tags",
            body=json.dumps({"tag": tag, "polarity": polarity, "visibility": visibility}),
            headers=JSON_H,
        )
        assert resp.status_code == 200, resp.body
    bad = client.http.post(
        f"/api/respond/{link}/tags",
        body=json.dumps({"tag": "x", "polarity": "angry", "visibility": "all"}),
        headers=JSON_H,
    )
    assert bad.status_code == 422
    assert {f["field"] for f in json.loads(bad.body)["error"]["fields"]} == {"polarity", "visibility"}
    pump.drain()

    def tags_seen(staff) -> str:
        page = body(client.http.get(f"/api/respond/{respond_link(story_id, staff)}", headers={"Accept": "text/html"}))
        team = page[page.index('id="team"') :]
        return team[: team.index("Add a tag")]  # the tags listed, not the form's examples

    assert all(t in tags_seen(ann) for t in ("night care", "discharge", "kindness"))
    assert "discharge" in tags_seen(bob) and "night care" not in tags_seen(bob)
    assert "kindness" in tags_seen(tom) and "discharge" not in tags_seen(tom) and "night care" not in tags_seen(tom)
    story = json.loads(client.http.get(f"/api/public/stories/{story_id}").body)
    assert story["staff_tags"] == [{"tag": "kindness", "polarity": "positive", "by": "Riverside NHS Foundation Trust"}]
    html = aws.client("s3").get_object(Bucket=aws.resources.bucket, Key=f"stories/{story_id}/index.html")
    page = html["Body"].read().decode()
    assert "How staff tagged this story" in page and "discharge" not in page.split("How staff tagged")[1][:2000]


def test_a_strangers_sign_up_for_a_members_address_cannot_rename_them_even_if_they_confirm(
    aws, client, pump, directory
):
    """Issue 18: a sign-up for someone else's address changed their public name and role once they clicked confirm."""
    member = sign_up_and_confirm(
        client, pump, "nina.nurse@nhs.example", name="Nina Nurse", display_name="Nina", role="Nurse"
    )
    assert member["person"]["display_name"] == "Nina"
    again = sign_up_and_confirm(
        client,
        pump,
        "nina.nurse@nhs.example",
        name="Chief Executive",
        display_name="Chief Executive (official reply)",
        role="Chief Executive",
        service="riverside-maternity",
    )
    person = again["person"]
    assert (person["name"], person["display_name"], person["role"]) == ("Nina Nurse", "Nina", "Nurse")
    assert len([s for s in wiring.store().subscriptions_of(person["id"]) if s["status"] == "active"]) == 2


@pytest.mark.parametrize(
    "email", ["no-at-sign", "a@b", "\x06\xa0@x\x12.example", "two@@nhs.example", "a" * 250 + "@x.uk"]
)
def test_asking_for_a_lead_s_link_with_no_real_address_is_a_422_naming_it_and_writes_nothing(aws, lead, client, email):
    def items() -> int:  # what the request wrote, apart from its count against the client's rate limit
        scanned = aws.client("dynamodb").scan(TableName=aws.resources.table)["Items"]
        return sum(1 for i in scanned if not i["PK"]["S"].startswith("LIMIT#"))

    before = items()
    resp = client.http.post("/api/organisation", body=json.dumps({"email": email}), headers=JSON_H)
    assert resp.status_code == 422, email
    assert [f["field"] for f in json.loads(resp.body)["error"]["fields"]] == ["email"]
    assert items() == before
