"""Staff subscriptions: sign-up with double opt-in, confirming, one-click unsubscribe, managing, bulk loading."""

from __future__ import annotations

import csv
import json
import re
from datetime import timedelta
from urllib.parse import urlencode

import pytest

from chalicelib import wiring
from chalicelib.core import clock
from chalicelib.core.errors import NotFound
from chalicelib.core.jobs import RenderJob
from chalicelib.core.settings import get_settings
from chalicelib.views.links import manage_url, unsubscribe_headers
from tests.support import mailbox
from tests.support.subscriptions import active, signup
from tests.support.vnu import needs_vnu, vnu_errors

JSON_H = {"Content-Type": "application/json"}
FORM_H = {"Content-Type": "application/x-www-form-urlencoded"}
EMAIL = "sam.patel@riverside.nhs.example"
TOKEN = r"([A-Za-z0-9_-]{43})"


def form_pairs(**overrides):
    body = signup(**overrides)
    tags = body.pop("tags")
    pairs = [(k, str(v)) for k, v in body.items()]
    return pairs + [("tags", ", ".join(tags) if isinstance(tags, list) else tags), ("website", "")]


def post_json(client, body, path="/api/subscriptions"):
    return client.http.post(path, body=json.dumps(body), headers=JSON_H)


def post_form(client, pairs, path="/api/subscriptions", headers=FORM_H):
    return client.http.post(path, body=urlencode(pairs), headers=headers)


def text(resp) -> str:
    return resp.body.decode() if isinstance(resp.body, bytes) else resp.body


def error_fields(resp):
    return [f["field"] for f in json.loads(resp.body)["error"].get("fields", [])]


def table(aws) -> list[dict]:
    items = aws.client("dynamodb").scan(TableName=aws.resources.table)["Items"]
    return sorted(items, key=lambda i: (i["PK"]["S"], i["SK"]["S"]))


def table_but_limits(aws) -> list[dict]:
    """The table without the per-client counts of bad links: a refused link writes only that count (limits.py)."""
    return [i for i in table(aws) if not i["PK"]["S"].startswith("LIMIT#")]


def staff_items(aws) -> list[dict]:
    return [i for i in table(aws) if i["PK"]["S"].startswith(("SUBSCRIBER#", "EMAIL#"))]


def raw_messages() -> list[str]:
    from moto.core import DEFAULT_ACCOUNT_ID
    from moto.ses.models import ses_backends

    from local.resources import REGION

    return [m.raw_data for m in ses_backends[DEFAULT_ACCOUNT_ID][REGION].sent_messages if getattr(m, "raw_data", None)]


def confirm_token(address=EMAIL, index=-1) -> str:
    mails = mailbox.to(address)
    assert mails, f"no email to {address}"
    found = re.search(r"https://api\.test/api/subscriptions/confirm/" + TOKEN, mailbox.text_of(mails[index]))
    assert found, mailbox.text_of(mails[index])
    return found.group(1)


def subscribed(client, pump, **overrides) -> tuple[dict, dict]:
    """Sign up and confirm; returns (subscriber, subscription)."""
    assert post_json(client, signup(**overrides)).status_code == 202
    pump.drain()
    resp = client.http.post(
        f"/api/subscriptions/confirm/{confirm_token(overrides.get('email', EMAIL))}", body="", headers=FORM_H
    )
    assert resp.status_code == 200, resp.body
    store = wiring.store()
    subscriber = store.find_subscriber(overrides.get("email", EMAIL))
    subs = [s for s in store.subscriptions_of(subscriber["id"]) if s["status"] == "active"]
    return subscriber, subs[-1]


def watcher_ids(slug="riverside-ward-7") -> list[str]:
    return [w["id"] for w in wiring.store().watchers(slug)]


# ---- signing up ---------------------------------------------------------------------------------


def test_a_form_sign_up_sends_one_confirmation_with_a_working_link(client, aws, directory, pump):
    resp = post_form(client, form_pairs(tags=["Waiting times", "discharge"], min_criticality=2))
    assert resp.status_code == 303
    assert resp.headers["Location"] == "https://site.test/subscribe/check-your-email/"
    store = wiring.store()
    subscriber = store.find_subscriber(EMAIL)
    assert subscriber["status"] == "pending" and subscriber["links_valid_after"] == ""
    [sub] = store.subscriptions_of(subscriber["id"])
    assert sub["status"] == "pending"
    assert sub["tags"] == ["discharge", "waiting-times"] and sub["min_criticality"] == 2
    assert watcher_ids() == []  # nothing is on until the owner of the address says so

    pump.drain()
    pump.drain()
    mails = mailbox.to(EMAIL)
    assert len(mails) == 1
    assert "Confirm" in mails[0]["Subject"]
    body = mailbox.text_of(mails[0])
    # Issue 18: fixed words only, nothing a stranger typed (who asked, and their tags, are on the page).
    assert "Sam Patel" not in body and "discharge" not in body
    assert "Ward 7 (Acute Medicine)" in body and "only those chosen when asking" in body
    assert "mildly critical or more" in body
    assert "ignore this email, nothing is switched on" in body
    token = confirm_token()
    assert token not in json.dumps(table(aws))  # stored only as a hash
    page = client.http.get(f"/api/subscriptions/confirm/{token}")
    assert page.status_code == 200 and "Sam Patel" in text(page) and "Only stories tagged discharge" in text(page)


def test_a_json_sign_up_is_accepted_with_a_plain_answer(client, aws, directory):
    resp = post_json(client, signup())
    assert resp.status_code == 202
    assert json.loads(resp.body) == {"status": "check-your-email"}


def test_the_answer_is_the_same_for_a_known_address(client, aws, directory, pump):
    new_json = post_json(client, signup(email="someone.new@riverside.nhs.example"))
    new_form = post_form(client, form_pairs(email="another.new@riverside.nhs.example"))
    subscribed(client, pump)
    known_json = post_json(client, signup())
    known_form = post_form(client, form_pairs())
    assert (known_json.status_code, text(known_json)) == (new_json.status_code, text(new_json))
    assert (known_form.status_code, known_form.headers["Location"], text(known_form)) == (
        new_form.status_code,
        new_form.headers["Location"],
        text(new_form),
    )
    # Asking again for alerts that are already on writes nothing and sends nothing.
    subscriber = wiring.store().find_subscriber(EMAIL)
    assert [s["status"] for s in wiring.store().subscriptions_of(subscriber["id"])] == ["active"]


def test_signing_up_again_with_a_new_name_never_renames_the_owner(client, aws, directory, pump):
    """Issue 18: the owner's confirming another sign-up used to apply its name; now names change only on
    the manage page."""
    subscriber, _ = subscribed(client, pump)
    assert (
        post_json(client, signup(name="Mallory", display_name="Mallory", service="riverside-general")).status_code
        == 202
    )
    assert wiring.store().get_subscriber(subscriber["id"])["name"] == "Sam Patel"
    pump.drain()
    assert "Mallory" not in mailbox.text_of(mailbox.to(EMAIL)[-1])  # fixed words in the email (issue 18)
    assert "Mallory" in text(client.http.get(f"/api/subscriptions/confirm/{confirm_token()}"))  # who asked: the page
    client.http.post(f"/api/subscriptions/confirm/{confirm_token()}", body="", headers=FORM_H)
    assert wiring.store().get_subscriber(subscriber["id"])["name"] == "Sam Patel"


def test_an_organisation_takes_sign_ups_only_from_its_domains(client, aws, directory, monkeypatch):
    # Domains come from the directory file and from the deployment's setting, merged.
    monkeypatch.setenv(
        "FF_SIGNUP_DOMAINS", json.dumps({"hillside-trust": ["hillside.nhs.example", "@Hillside-Trust.Example"]})
    )
    wiring.reset()
    hillside = {"organisation": "hillside-trust", "service": "hillside-district-nursing"}
    for email in ("sam@gmail.example", "sam@nothillside.nhs.example", "sam@hillside.nhs.example.evil.example"):
        resp = post_json(client, signup(email=email, **hillside))
        assert resp.status_code == 422, email
        assert error_fields(resp) == ["email"]
        assert (
            "hillside.nhs.example or hillside-trust.example" in json.loads(resp.body)["error"]["fields"][0]["message"]
        )
    page = post_form(client, form_pairs(email="sam@gmail.example", **hillside))
    assert page.status_code == 422 and 'href="#email"' in text(page) and 'id="email-error"' in text(page)
    assert staff_items(aws) == []
    for email in ("sam@hillside.nhs.example", "Sam@Ward7.Hillside.nhs.example", "sam@mail.hillside-trust.example"):
        assert post_json(client, signup(email=email, **hillside)).status_code == 202, email


@pytest.mark.parametrize(
    "overrides, field",
    [
        ({"name": ""}, "name"),
        ({"name": "x" * 81}, "name"),
        ({"display_name": "x" * 81}, "display_name"),
        ({"role": ""}, "role"),
        ({"organisation": ""}, "organisation"),
        ({"organisation": "no-such-trust"}, "organisation"),
        ({"organisation": "riverside-general"}, "organisation"),  # not a top-level node
        ({"email": ""}, "email"),
        ({"email": "not-an-address"}, "email"),
        ({"service": ""}, "service"),
        ({"service": "no-such-ward"}, "service"),
        ({"service": "hillside-district-nursing"}, "service"),  # outside the organisation
        ({"tags": ["Not a tag!"]}, "tags"),
        ({"tags": [f"t{i}" for i in range(11)]}, "tags"),
        ({"min_criticality": 6}, "min_criticality"),
        ({"min_criticality": -1}, "min_criticality"),
        ({"min_criticality": "high"}, "min_criticality"),
        ({"frequency": "weekly"}, "frequency"),
        ({"website": "http://spam.example"}, "website"),
        ({"unexpected": "field"}, "unexpected"),
    ],
)
def test_each_bad_field_is_named_and_nothing_is_written(client, aws, directory, overrides, field):
    resp = post_json(client, signup(**overrides))
    assert resp.status_code == 422, resp.body
    assert field in error_fields(resp)
    assert staff_items(aws) == []


def test_missing_fields_are_each_named(client, aws, directory):
    resp = post_json(client, {})
    assert resp.status_code == 422
    assert {"name", "role", "organisation", "email", "service"} <= set(error_fields(resp))


@pytest.mark.parametrize(
    "overrides, field",
    [
        ({"name": ""}, "name"),
        ({"role": "x"}, "role"),
        ({"organisation": ""}, "organisation"),
        ({"email": "sam at riverside"}, "email"),
        ({"service": "hillside-district-nursing"}, "service"),
        ({"tags": "ok, Not OK!"}, "tags"),
        ({"min_criticality": "9"}, "min_criticality"),
        ({"frequency": "hourly"}, "frequency"),
    ],
)
def test_a_form_with_a_mistake_comes_back_with_the_field_named_and_nothing_lost(
    client, aws, directory, overrides, field
):
    resp = post_form(client, form_pairs(**{"display_name": "Sam the Manager", **overrides}))
    assert resp.status_code == 422
    assert resp.headers["Content-Type"].startswith("text/html")
    html = text(resp)
    assert "There is a problem" in html
    assert f'href="#{field}"' in html and f'id="{field}-error"' in html
    assert 'value="Sam the Manager"' in html  # what was typed is kept
    if field != "service":
        assert '<option value="riverside-ward-7" selected>' in html
    if field != "organisation":
        assert '<option value="riverside-trust" selected>' in html
    assert "default-src 'none'" in resp.headers["Content-Security-Policy"]
    assert staff_items(aws) == []


def test_the_honeypot_refuses_a_bot_and_writes_nothing(client, aws, directory):
    pairs = [p for p in form_pairs() if p[0] != "website"] + [("website", "http://spam.example")]
    resp = post_form(client, pairs)
    assert resp.status_code == 422
    assert "Something went wrong" in text(resp)
    assert "spam.example" not in text(resp)
    assert staff_items(aws) == []


def test_a_line_break_in_the_name_never_adds_a_header(client, aws, directory, pump):
    body = signup(
        name="Sam\r\nBcc: victim@example.org", display_name="Sam\nX-Evil: 1", role="Nurse\r\n\r\nInjected body"
    )
    assert post_json(client, body).status_code == 202
    pump.drain()
    [raw] = raw_messages()
    head = raw.split("\r\n\r\n", 1)[0] if "\r\n\r\n" in raw else raw.split("\n\n", 1)[0]
    names = [line.split(":", 1)[0].lower() for line in re.split(r"\r?\n", head) if line and not line[0].isspace()]
    assert "bcc" not in names and "x-evil" not in names
    assert names.count("to") == 1 and names.count("subject") == 1
    [mail] = mailbox.to(EMAIL)
    assert mail["Bcc"] is None and "victim@example.org" not in str(mail["To"])
    assert "victim@example.org" not in mailbox.text_of(mail)  # a stranger's words never reach the email (issue 18)


def test_the_static_pages_offer_the_form_and_the_check_your_email_page(aws, directory):
    outputs = {o.key: o for o in wiring.site().build(RenderJob(page="static"))}
    form = outputs["subscribe/index.html"].body.decode()
    assert 'action="https://api.test/api/subscriptions"' in form and 'method="post"' in form
    assert '<option value="riverside-trust">Riverside NHS Foundation Trust</option>' in form
    assert "Riverside General Hospital › Ward 7 (Acute Medicine)" in form
    for field in (
        "name",
        "display_name",
        "role",
        "organisation",
        "email",
        "service",
        "tags",
        "min_criticality",
        "frequency",
    ):
        assert f'name="{field}"' in form and f'for="{field}"' in form, field
    assert "5 out of 5" in form and "not critical" in form
    assert 'name="website"' in form  # the honeypot
    assert "Check your email" in outputs["subscribe/check-your-email/index.html"].body.decode()


# ---- confirming ---------------------------------------------------------------------------------


def test_opening_the_confirm_link_changes_nothing(client, aws, directory, pump):
    post_json(client, signup())
    pump.drain()
    token = confirm_token()
    before = table(aws)
    page = client.http.get(f"/api/subscriptions/confirm/{token}")
    assert page.status_code == 200
    html = text(page)
    assert f'action="https://api.test/api/subscriptions/confirm/{token}"' in html and 'method="post"' in html
    assert "Confirm my alerts" in html and "Ward 7 (Acute Medicine)" in html
    assert EMAIL not in html
    assert table(aws) == before


def test_confirming_switches_the_alerts_on_and_twice_is_harmless(client, aws, directory, pump):
    post_json(client, signup())
    pump.drain()
    token = confirm_token()
    resp = client.http.post(f"/api/subscriptions/confirm/{token}", body="", headers=FORM_H)
    assert resp.status_code == 200 and "Your alerts are on" in text(resp)
    store = wiring.store()
    subscriber = store.find_subscriber(EMAIL)
    assert subscriber["status"] == "active" and subscriber["confirmed_at"] and subscriber["links_valid_after"] == ""
    assert subscriber["display_name"] == "Sam, Ward Manager"
    [sub] = store.subscriptions_of(subscriber["id"])
    assert sub["status"] == "active"
    assert watcher_ids() == [sub["id"]]
    manage = re.search(r"https://api\.test/api/subscriptions/manage/" + TOKEN, text(resp))
    assert manage and client.http.get(f"/api/subscriptions/manage/{manage.group(1)}").status_code == 200

    again = client.http.post(f"/api/subscriptions/confirm/{token}", body="", headers=FORM_H)
    assert again.status_code == 200 and "already confirmed" in text(again)
    assert watcher_ids() == [sub["id"]]
    assert store.get_subscriber(subscriber["id"])["confirmed_at"] == subscriber["confirmed_at"]
    pump.drain()
    assert len(mailbox.to(EMAIL)) == 1  # confirming sends nothing more


def test_a_confirm_link_after_unsubscribing_switches_nothing_on(client, aws, directory, pump):
    post_json(client, signup())
    pump.drain()
    token = confirm_token()
    subscriber = wiring.store().find_subscriber(EMAIL)
    wiring.subscriptions().stop_everything(subscriber)
    resp = client.http.post(f"/api/subscriptions/confirm/{token}", body="", headers=FORM_H)
    assert resp.status_code == 200 and "were stopped" in text(resp)
    assert wiring.store().get_subscriber(subscriber["id"])["status"] == "unsubscribed"
    assert watcher_ids() == []


# ---- unsubscribing --------------------------------------------------------------------------------


def issue_respond_link(subscriber, sub) -> str:
    return wiring.links().issue(
        "respond",
        "story0000000000001",
        subscriber["id"],
        60,
        subscriber_id=subscriber["id"],
        subscription_id=sub["id"],
        service=sub["service"],
    )


def unsubscribe_token(subscriber) -> str:
    headers = unsubscribe_headers(wiring.links(), get_settings(), subscriber["id"])
    assert headers["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    found = re.fullmatch(r"<https://api\.test/api/unsubscribe/" + TOKEN + ">", headers["List-Unsubscribe"])
    assert found, headers
    return found.group(1)


def test_one_click_unsubscribe_with_no_cookie_stops_everything_and_revokes_links(client, aws, directory, pump):
    subscriber, sub = subscribed(client, pump)
    respond = issue_respond_link(subscriber, sub)
    assert wiring.links().resolve(respond, "respond")["subscriber_id"] == subscriber["id"]
    token = unsubscribe_token(subscriber)

    page = client.http.get(f"/api/unsubscribe/{token}")
    assert page.status_code == 200 and f'action="https://api.test/api/unsubscribe/{token}"' in text(page)
    assert watcher_ids() == [sub["id"]]  # opening the link changes nothing

    resp = client.http.post(f"/api/unsubscribe/{token}", body="List-Unsubscribe=One-Click", headers=FORM_H)
    assert resp.status_code == 200
    assert "You are unsubscribed" in text(resp) and "https://site.test/subscribe/" in text(resp)
    assert watcher_ids() == []
    after = wiring.store().get_subscriber(subscriber["id"])
    assert after["status"] == "unsubscribed" and after["links_valid_after"]
    assert [s["status"] for s in wiring.store().subscriptions_of(subscriber["id"])] == ["unsubscribed"]
    with pytest.raises(NotFound):
        wiring.links().resolve(respond, "respond")

    before = table(aws)
    again = client.http.post(f"/api/unsubscribe/{token}", body="List-Unsubscribe=One-Click", headers=FORM_H)
    assert again.status_code == 200 and "You are unsubscribed" in text(again)
    assert table(aws) == before  # idempotent


UNSUBSCRIBE_BODIES = [
    ("", FORM_H),
    (
        '--b1\r\nContent-Disposition: form-data; name="List-Unsubscribe"\r\n\r\nOne-Click\r\n--b1--\r\n',
        {"Content-Type": "multipart/form-data; boundary=b1"},
    ),
    ("List-Unsubscribe=One-Click", {"Content-Type": "text/plain; charset=utf-8"}),
    ("List-Unsubscribe=One-Click", {}),
    ("anything at all", {}),
]


def test_unsubscribe_works_whatever_the_body(client, aws, directory):
    for n, (body, headers) in enumerate(UNSUBSCRIBE_BODIES):
        subscriber, sub = active(f"person{n}@riverside.nhs.example")
        resp = client.http.post(f"/api/unsubscribe/{unsubscribe_token(subscriber)}", body=body, headers=headers)
        assert resp.status_code == 200, (headers, resp.body)
        assert wiring.store().get_subscriber(subscriber["id"])["status"] == "unsubscribed", headers
        assert sub["id"] not in watcher_ids()
    assert watcher_ids() == []


def _flip(token: str) -> str:
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    return "".join(alphabet[(alphabet.index(c) + 1) % len(alphabet)] for c in token)


def test_a_spoilt_unsubscribe_link_is_refused_and_changes_nothing(client, aws, directory, monkeypatch):
    subscriber, _ = active()
    good = unsubscribe_token(subscriber)
    spoilt = {
        "flipped": _flip(good),
        "truncated": good[:-1],
        "too long": good + "A",
        "a manage link": manage_token(subscriber),
        "no such link": "A" * 43,
        "not a token": "..%2F..%2Fetc",
    }
    before = table_but_limits(aws)
    for why, token in spoilt.items():
        for resp in (
            client.http.get(f"/api/unsubscribe/{token}"),
            client.http.post(f"/api/unsubscribe/{token}", body="List-Unsubscribe=One-Click", headers=FORM_H),
        ):
            assert resp.status_code == 404, why
    later = clock.now() + timedelta(days=get_settings().subscriber_link_days, seconds=1)
    monkeypatch.setattr(clock, "now", lambda: later)
    assert client.http.get(f"/api/unsubscribe/{good}").status_code == 404
    assert (
        client.http.post(f"/api/unsubscribe/{good}", body="List-Unsubscribe=One-Click", headers=FORM_H).status_code
        == 404
    )
    assert table_but_limits(aws) == before
    assert any(i["PK"]["S"].startswith("LIMIT#") for i in table(aws))
    assert watcher_ids() and wiring.store().get_subscriber(subscriber["id"])["status"] == "active"


def test_an_expired_confirm_link_is_refused(client, aws, directory, pump, monkeypatch):
    post_json(client, signup())
    pump.drain()
    token = confirm_token()
    later = clock.now() + timedelta(days=get_settings().confirm_link_days, seconds=1)
    monkeypatch.setattr(clock, "now", lambda: later)
    before = table_but_limits(aws)
    assert client.http.post(f"/api/subscriptions/confirm/{token}", body="", headers=FORM_H).status_code == 404
    assert client.http.get(f"/api/subscriptions/confirm/{_flip(token)}").status_code == 404
    assert table_but_limits(aws) == before
    assert any(i["PK"]["S"].startswith("LIMIT#") for i in table(aws))


def test_signing_up_again_after_unsubscribing_keeps_old_links_dead(client, aws, directory, pump):
    subscriber, sub = subscribed(client, pump)
    respond = issue_respond_link(subscriber, sub)
    client.http.post(f"/api/unsubscribe/{unsubscribe_token(subscriber)}", body="", headers=FORM_H)
    again, new_sub = subscribed(client, pump)
    assert again["id"] == subscriber["id"] and again["status"] == "active"
    assert new_sub["id"] != sub["id"] and watcher_ids() == [new_sub["id"]]
    with pytest.raises(NotFound):
        wiring.links().resolve(respond, "respond")
    fresh = issue_respond_link(again, new_sub)
    assert wiring.links().resolve(fresh, "respond")["subscription_id"] == new_sub["id"]


# ---- managing -------------------------------------------------------------------------------------


def manage_token(subscriber) -> str:
    return manage_url(wiring.links(), get_settings(), subscriber["id"]).rsplit("/", 1)[1]


def test_the_manage_page_lists_the_alerts_and_changes_nothing(client, aws, directory):
    subscriber, sub = active(tags=["discharge"], min_criticality=3)
    token = manage_token(subscriber)
    before = table(aws)
    page = client.http.get(f"/api/subscriptions/manage/{token}?notice=<script>alert(1)</script>")
    assert page.status_code == 200
    html = text(page)
    assert "Ward 7 (Acute Medicine)" in html and "Only stories tagged discharge" in html
    assert "moderately critical or more" in html and "As soon as each story is published" in html
    assert "Sam, Ward Manager" in html and 'value="Ward Manager"' in html
    assert "<script>alert(1)" not in html and "alert(1)" not in html  # notices are codes, never echoed
    assert EMAIL not in html
    assert table(aws) == before


def test_manage_actions(client, aws, directory):
    subscriber, sub = active()
    token = manage_token(subscriber)
    url = f"/api/subscriptions/manage/{token}"
    store = wiring.store()

    resp = post_form(client, [("action", "frequency"), ("subscription", sub["id"]), ("frequency", "digest")], url)
    assert resp.status_code == 303 and resp.headers["Location"] == f"https://api.test{url}?notice=frequency"
    assert store.get_subscription(subscriber["id"], sub["id"])["frequency"] == "digest"
    assert watcher_ids() == [sub["id"]]
    assert "Saved. Those alerts will now come as you chose." in text(
        client.http.get(resp.headers["Location"].replace("https://api.test", ""))
    )

    resp = post_form(client, [("action", "profile"), ("display_name", "  Sam\r\nP  "), ("role", "Senior Sister")], url)
    assert resp.status_code == 303
    person = store.get_subscriber(subscriber["id"])
    assert (person["display_name"], person["role"]) == ("Sam P", "Senior Sister")
    resp = post_form(client, [("action", "profile"), ("display_name", ""), ("role", "Matron")], url)
    assert store.get_subscriber(subscriber["id"])["display_name"] == "Sam Patel"  # blank shows the full name

    bad = post_form(client, [("action", "profile"), ("display_name", "Kept name"), ("role", "")], url)
    assert bad.status_code == 422 and 'href="#role"' in text(bad) and 'value="Kept name"' in text(bad)
    assert store.get_subscriber(subscriber["id"])["role"] == "Matron"
    bad = post_form(client, [("action", "frequency"), ("subscription", sub["id"]), ("frequency", "hourly")], url)
    assert bad.status_code == 422 and store.get_subscription(subscriber["id"], sub["id"])["frequency"] == "digest"
    bad = client.http.post(url, body=json.dumps({"action": "explode"}), headers=JSON_H)
    assert bad.status_code == 422 and error_fields(bad) == ["action"]

    # Someone else's subscription cannot be touched from this page.
    other, other_sub = active("jo.bloggs@riverside.nhs.example", name="Jo Bloggs")
    bad = post_form(client, [("action", "stop"), ("subscription", other_sub["id"])], url)
    assert bad.status_code == 422
    assert store.get_subscription(other["id"], other_sub["id"])["status"] == "active"

    respond = wiring.links().issue(
        "respond",
        "some-story",
        subscriber["id"],
        60,
        subscriber_id=subscriber["id"],
        subscription_id=sub["id"],
        service=sub["service"],
    )
    assert wiring.links().resolve(respond, "respond")["subscription_id"] == sub["id"]
    resp = post_form(client, [("action", "stop"), ("subscription", sub["id"])], url)
    assert resp.status_code == 303 and resp.headers["Location"].endswith("?notice=stopped")
    with pytest.raises(NotFound):  # stopping a subscription revokes the links it brought
        wiring.links().resolve(respond, "respond")
    assert store.get_subscription(subscriber["id"], sub["id"])["status"] == "unsubscribed"
    assert watcher_ids() == [other_sub["id"]]
    assert store.get_subscriber(subscriber["id"])["status"] == "active"

    resp = post_form(client, [("action", "stop_all")], url)
    assert resp.status_code == 303 and resp.headers["Location"].endswith("?notice=stopped-all")
    assert store.get_subscriber(subscriber["id"])["status"] == "unsubscribed"
    assert "You are unsubscribed" in text(client.http.get(url))


# ---- bulk loading ---------------------------------------------------------------------------------

BULK = [
    {
        "name": "Priya Shah",
        "display_name": "Priya",
        "role": "Ward Manager",
        "organisation": "riverside-trust",
        "email": "priya.shah@riverside.nhs.example",
        "service": "riverside-ward-7",
        "tags": [],
        "min_criticality": 0,
        "frequency": "immediate",
    },
    {
        "name": "Priya Shah",
        "role": "Ward Manager",
        "organisation": "riverside-trust",
        "email": "priya.shah@riverside.nhs.example",
        "service": "riverside-maternity",
        "tags": "Discharge, communication",
        "min_criticality": 2,
        "frequency": "digest",
    },
    {
        "name": "Tom Okafor",
        "role": "Head of Patient Experience",
        "organisation": "hillside-trust",
        "email": "tom.okafor@hillside.nhs.example",
        "service": "hillside-trust",
    },
]


def test_bulk_loading_twice_creates_nothing_new_and_sends_no_email(aws, directory, pump, tmp_path, capsys):
    from tools import ff

    path = tmp_path / "staff.json"
    path.write_text(json.dumps(BULK, indent=2))
    first = ff.load_subscriptions(path, show_progress=False)
    assert (first["created"], first["updated"], first["unchanged"], first["errors"]) == (3, 0, 0, [])
    loaded = staff_items(aws)
    assert watcher_ids() and len(list(wiring.store().watchers("hillside-trust"))) == 1
    priya = wiring.store().find_subscriber("priya.shah@riverside.nhs.example")
    assert priya["status"] == "active" and priya["confirmed_at"]
    maternity = [s for s in wiring.store().subscriptions_of(priya["id"]) if s["service"] == "riverside-maternity"][0]
    assert maternity["tags"] == ["communication", "discharge"] and maternity["frequency"] == "digest"

    assert ff.main(["--no-progress", "load-subscriptions", str(path)]) == 0
    assert "0 created, 0 updated, 3 unchanged" in capsys.readouterr().out
    assert staff_items(aws) == loaded
    pump.drain()
    assert mailbox.sent() == []  # admins vouch for these: no double opt-in

    # A changed setting for the same person and service updates that subscription in place.
    changed = [dict(BULK[0], min_criticality=4)] + BULK[1:]
    path.write_text(json.dumps(changed))
    again = ff.load_subscriptions(path, show_progress=False)
    assert (again["created"], again["updated"], again["unchanged"]) == (0, 1, 2)
    assert [w["min_criticality"] for w in wiring.store().watchers("riverside-ward-7")] == [4]


def test_bulk_loading_reports_bad_rows_by_line_and_field_and_writes_nothing(aws, directory, tmp_path, capsys):
    from tools import ff

    path = tmp_path / "staff.json"
    rows = [
        BULK[0],
        dict(BULK[2], email="not-an-address"),
        dict(BULK[2], frequency="weekly"),
        dict(BULK[2], service="riverside-ward-7"),
    ]
    path.write_text(json.dumps(rows, indent=2))
    text_lines = path.read_text().splitlines()
    starts = [i + 1 for i, line in enumerate(text_lines) if line.strip() == "{"]
    report = ff.load_subscriptions(path, show_progress=False)
    problems = {(p["line"], p["field"]) for p in report["errors"]}
    assert problems == {(starts[1], "email"), (starts[2], "frequency"), (starts[3], "service")}
    assert staff_items(aws) == []

    csv_path = tmp_path / "staff.csv"
    csv_path.write_text(
        "name,role,organisation,email,service,tags,min_criticality,frequency\n"
        'Priya Shah,Ward Manager,riverside-trust,priya.shah@riverside.nhs.example,riverside-ward-7,"discharge, falls",1,immediate\n'
        "\n"
        "Tom,Head of Patient Experience,hillside-trust,tom@hillside.nhs.example,hillside-trust,,7,digest\n"
        "Jo Bloggs,Nurse,riverside-trust,jo@riverside.nhs.example,no-such-ward,,0,immediate\n"
    )
    assert ff.main(["--no-progress", "load-subscriptions", str(csv_path)]) == 1
    err = capsys.readouterr().err
    assert "line 4, min_criticality:" in err and "line 5, service:" in err
    assert staff_items(aws) == []

    csv_path.write_text(
        "name,role,organisation,email,service,min_critcality\nTom Okafor,Lead,hillside-trust,tom@hillside.nhs.example,hillside-trust,3\n"
    )
    report = ff.load_subscriptions(csv_path, show_progress=False)
    assert [(p["line"], p["field"]) for p in report["errors"]] == [
        (1, "min_critcality")
    ]  # a typo is not a silent default
    assert staff_items(aws) == []


def test_a_bulk_load_writes_new_people_25_a_transaction_and_one_taken_meanwhile_still_loads(
    aws, directory, monkeypatch
):
    store = wiring.store()
    rows = [(i + 2, signup(email=f"p{i}@riverside.nhs.example", name=f"P {i}")) for i in range(60)]
    rows.append((62, signup(email="P3@riverside.nhs.example", name="P 3", service="riverside-general")))
    known, create = store.known_addresses, store.create_members
    calls: list[tuple[int, bool]] = []

    def known_then_someone_signs_up(emails):
        found = known(emails)
        taken = {"id": "early", "email": "p30@riverside.nhs.example", "name": "P 30", "status": "pending"}
        assert store.create_subscriber(taken | {"organisation": "riverside-trust", "created_at": clock.iso()})
        return found

    def counted(members):
        calls.append((len(members), create(members)))
        return calls[-1][1]

    store.known_addresses, store.create_members = known_then_someone_signs_up, counted
    try:
        report = wiring.subscriptions().bulk_load(rows)
    finally:
        del store.known_addresses, store.create_members  # the class's own again
    assert calls == [(25, True), (25, False), (10, True)]  # the second batch held p30: row by row
    assert (report["created"], report["updated"], report["errors"]) == (61, 0, [])  # rows: each made a subscription
    p30 = store.find_subscriber("p30@riverside.nhs.example")
    assert p30["id"] == "early" and (p30["status"], p30["access"]) == ("active", "reader")
    p3 = store.find_subscriber("p3@riverside.nhs.example")
    assert sorted(s["service"] for s in store.subscriptions_of(p3["id"])) == ["riverside-general", "riverside-ward-7"]
    assert len(store.grants("riverside-trust", limit=100)) == 60
    assert len(list(store.watchers("riverside-ward-7"))) == 60

    before = staff_items(aws)
    again = wiring.subscriptions().bulk_load(rows)
    assert (again["created"], again["updated"], again["unchanged"]) == (0, 0, 61)
    assert staff_items(aws) == before


def test_ten_thousand_rows_load_in_400_transactions_with_a_progress_bar(aws, directory, tmp_path, capsys):
    """Read as the CLI reads a file, through the same flow, into the in-memory store (pinned to the
    real one by tests/store/test_store_contract.py): moto alone would take about 30 s to write it."""
    from chalicelib.subscriptions import Subscriptions
    from tests.support.memory_store import MemoryStore
    from tools import ff

    memory = MemoryStore()
    for svc in wiring.store().get_services(["riverside-trust", "riverside-ward-7"]).values():
        memory.put_service(svc)
    path = tmp_path / "staff.csv"
    with path.open("w", newline="", encoding="utf-8") as f:
        out = csv.writer(f)
        out.writerow(["Name", "Role", "Organisation", "Email", "Service", "Access"])
        for i in range(10_000):
            access = "responder" if i % 10 == 0 else "reader"
            email = f"person.{i}@riverside.nhs.example"
            out.writerow([f"Person {i}", "Nurse", "riverside-trust", email, "riverside-ward-7", access])
    rows, problems = ff.read_subscription_rows(path)
    assert problems == [] and len(rows) == 10_000
    sizes: list[int] = []
    create = memory.create_members
    memory.create_members = lambda members: sizes.append(len(members)) or create(members)  # type: ignore[method-assign]

    flow = Subscriptions(memory, None, get_settings(), None)  # type: ignore[arg-type]
    report = flow.bulk_load(rows, progress=ff.progress_wrapper("Loading subscriptions", "row"))
    assert (report["created"], report["errors"]) == (10_000, [])
    assert sizes == [25] * 400
    assert "10000/10000" in capsys.readouterr().err
    addresses = [f"person.{i}@riverside.nhs.example" for i in range(10_000)]
    assert len(memory.known_addresses(addresses)) == 10_000
    assert memory.find_subscriber("person.10@riverside.nhs.example")["access"] == "responder"
    assert memory.find_subscriber("person.11@riverside.nhs.example")["access"] == "reader"
    assert len(memory.grants("riverside-trust", limit=20_000)) == 10_000


def test_a_good_csv_loads_and_someone_who_unsubscribed_is_left_alone(aws, directory, tmp_path):
    from tools import ff

    subscriber, _ = active()
    wiring.subscriptions().stop_everything(subscriber)
    csv_path = tmp_path / "staff.csv"
    csv_path.write_text(
        "Name,Role,Organisation,Email,Service,Tags,Min criticality,Frequency\n"
        f"Sam Patel,Ward Manager,riverside-trust,{EMAIL},riverside-general,,0,immediate\n"
        'Tom Okafor,Lead,hillside-trust,tom@hillside.nhs.example,hillside-district-nursing,"dignity; kindness",1,digest\n'
    )
    report = ff.load_subscriptions(csv_path, show_progress=False)
    assert (report["created"], report["skipped"], report["errors"]) == (1, 1, [])
    assert report["notes"][0]["line"] == 2
    assert wiring.store().get_subscriber(subscriber["id"])["status"] == "unsubscribed"
    assert list(wiring.store().watchers("riverside-general")) == []
    [tom] = list(wiring.store().watchers("hillside-district-nursing"))
    assert tom["tags"] == ["dignity", "kindness"] and tom["frequency"] == "digest"


def test_the_demo_subscriptions_fit_the_demo_directory():
    from chalicelib.directory import flatten
    from chalicelib.subscriptions import Subscriptions
    from tools import ff

    services = {s["slug"]: s for s in flatten(json.loads(ff.DIRECTORY_FILE.read_text()))}
    checker = Subscriptions(None, None, get_settings(), None)
    rows, problems = ff.read_subscription_rows(ff.DEMO_SUBSCRIPTIONS_FILE)
    assert problems == [] and len(rows) >= 5
    for line, row in rows:
        assert row.pop("access", "reader") in ("reader", "responder", "lead"), line
        checker.validate(
            row, restrict_domains=False, services=lambda slugs: {s: services[s] for s in slugs if s in services}
        )
        assert row["email"].rpartition("@")[2].endswith(".example"), line  # reserved: never a real inbox


# ---- the HTML validator (vnu; a few seconds; skipped without java) ----------------------------------


@needs_vnu
def test_every_subscription_page_is_valid_html(client, aws, directory, pump, tmp_path):
    static = {o.key: o.body.decode() for o in wiring.site().build(RenderJob(page="static"))}
    pages = {
        "form.html": static["subscribe/index.html"],
        "check-your-email.html": static["subscribe/check-your-email/index.html"],
        "form-errors.html": text(
            post_form(
                client,
                form_pairs(
                    name="",
                    organisation="",
                    service="hillside-district-nursing",
                    tags="Bad!",
                    frequency="x",
                    email="no",
                ),
            )
        ),
    }
    post_json(client, signup(tags=["discharge"], min_criticality=1))
    pump.drain()
    token = confirm_token()
    pages["confirm.html"] = text(client.http.get(f"/api/subscriptions/confirm/{token}"))
    pages["confirmed.html"] = text(client.http.post(f"/api/subscriptions/confirm/{token}", body="", headers=FORM_H))
    subscriber = wiring.store().find_subscriber(EMAIL)
    active("other@riverside.nhs.example")
    wiring.subscriptions().bulk_load([(1, signup(service="riverside-general", frequency="digest"))])
    manage = f"/api/subscriptions/manage/{manage_token(subscriber)}"
    pages["manage.html"] = text(client.http.get(f"{manage}?notice=profile"))
    pages["manage-errors.html"] = text(post_form(client, [("action", "profile"), ("role", "")], manage))
    unsubscribe = f"/api/unsubscribe/{unsubscribe_token(subscriber)}"
    pages["unsubscribe.html"] = text(client.http.get(unsubscribe))
    pages["unsubscribed.html"] = text(client.http.post(unsubscribe, body="", headers=FORM_H))
    pages["manage-unsubscribed.html"] = text(client.http.get(manage))
    pages["confirm-stopped.html"] = text(client.http.get(f"/api/subscriptions/confirm/{token}"))
    [mail] = mailbox.to(EMAIL)
    pages["email.html"] = mailbox.html_of(mail)
    assert vnu_errors(pages, tmp_path) == ""
