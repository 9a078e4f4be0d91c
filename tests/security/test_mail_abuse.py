"""Issue 18, finding 2: the service emailed any address with text an attacker wrote. Each test here
fails on c219401: a story for a stranger's address sent "We have your story: <the attacker's title>"
with the private link; five sign-ups sent five confirmations carrying the attacker's display name.

Now an address nobody has confirmed gets fixed words only, at most `unconfirmed_mail_limit` a day
across every form, and the author's private link only after its owner confirms it is theirs."""

from __future__ import annotations

import json
import os
import re

from chalicelib import wiring
from chalicelib.core import clock
from chalicelib.mail.unconfirmed import recipient_key
from tests.support import mailbox
from tests.support.author import FORM_H, body_of, table_items
from tests.support.stories import publish, submit
from tests.support.subscriptions import signup

# Read at import: the `aws` fixture clears every FF_* variable before a test runs.
ROUNDS = int(os.environ.get("FF_PROVE_ROUNDS", "0") or 0)
VICTIM = "victim@example.net"
HOSTILE = "Cheap pills at evil dot example"


def _mail_text(msg) -> str:
    return f"{msg['Subject']}\n{mailbox.text_of(msg)}\n{mailbox.html_of(msg)}"


def _confirm_token(msg) -> str:
    found = re.search(r"https://api\.test/api/confirm/([A-Za-z0-9_-]{43})", mailbox.text_of(msg))
    assert found, mailbox.text_of(msg)
    return found.group(1)


def test_a_story_for_a_strangers_address_sends_fixed_words_with_no_title_and_no_private_link(
    client, aws, directory, pump
):
    submit(client, confirmed=False, email=VICTIM, title=HOSTILE, pseudonym="Evil Example")
    pump.drain()
    [msg] = mailbox.to(VICTIM)
    text = _mail_text(msg)
    assert "Someone asked FeedForward" in text
    assert HOSTILE not in text and "Evil Example" not in text
    assert "/api/my/" not in text  # no private link, so no unmoderated story, for a stranger


def test_the_private_link_goes_only_after_the_address_owner_confirms(client, aws, directory, pump):
    sid = submit(client, confirmed=False, email=VICTIM, title="The night on ward 7")
    pump.drain()
    token = _confirm_token(mailbox.to(VICTIM)[0])
    before = table_items(aws)
    page = client.http.get(f"/api/confirm/{token}")
    assert page.status_code == 200 and "Yes, this is my address" in body_of(page)
    assert "The night on ward 7" not in body_of(page)  # the page shows nothing of the story either
    assert table_items(aws) == before  # opening the link (a mail scanner) changes nothing
    pump.drain()
    assert len(mailbox.to(VICTIM)) == 1

    done = client.http.post(f"/api/confirm/{token}", body="", headers=FORM_H)
    assert done.status_code == 200 and "your address is confirmed" in body_of(done)
    assert client.http.post(f"/api/confirm/{token}", body="", headers=FORM_H).status_code == 200  # twice: harmless
    pump.drain()
    first, receipt = mailbox.to(VICTIM)
    assert receipt["Subject"] == "We have your story: The night on ward 7"
    assert re.search(r"/api/my/[A-Za-z0-9_-]{43}", mailbox.text_of(receipt))
    assert wiring.store().get_contact(sid)["confirmed_at"]


def test_an_unconfirmed_authors_story_is_moderated_but_its_decisions_are_not_emailed(client, aws, directory, pump):
    """Choice (b) in docs/emailed-links.md: the story goes to moderation at once; only mail waits."""
    sid = submit(client, confirmed=False, email=VICTIM, title=HOSTILE)
    pump.drain()
    assert wiring.moderation().story(sid)["address"] == "unconfirmed"  # the moderator sees it, never the address
    publish(sid)
    pump.drain()
    assert wiring.store().get_story(sid)["status"] == "published"
    assert [m["Subject"] for m in mailbox.to(VICTIM)] == ["Is this your email address? Confirm it for FeedForward"]


def test_a_sign_up_confirmation_carries_no_name_role_or_tag_a_stranger_typed(client, aws, directory, pump):
    body = signup(
        email="sam.victim@riverside.nhs.example",
        name=HOSTILE,
        display_name="Visit evil dot example",
        role="Call 0800 000 000",
        tags=["buy-cheap-pills"],
    )
    assert client.http.post("/api/subscriptions", body=json.dumps(body), headers={"Content-Type": "application/json"})
    pump.drain()
    [msg] = mailbox.to("sam.victim@riverside.nhs.example")
    text = _mail_text(msg)
    for typed in (HOSTILE, "Visit evil dot example", "Call 0800 000 000", "buy-cheap-pills"):
        assert typed not in text
    assert "/api/subscriptions/confirm/" in text


def test_at_most_three_unconfirmed_emails_reach_one_address_a_day_across_every_form(client, aws, directory, pump):
    victim = "sam.victim@riverside.nhs.example"
    for n in range(4):
        submit(client, confirmed=False, email=victim, title=f"Story {n}")
    for service in ("riverside-ward-7", "riverside-trust"):
        body = signup(email=victim, service=service)
        client.http.post("/api/subscriptions", body=json.dumps(body), headers={"Content-Type": "application/json"})
    pump.drain()
    assert len(mailbox.to(victim)) == wiring.get_settings().unconfirmed_mail_limit == 3
    # The count is kept under a hash of the address, never the address.
    items = json.dumps(table_items(aws))
    assert f"unconfirmed-mail#{recipient_key(victim)}" in items
    assert not [i for i in table_items(aws) if i["PK"]["S"].startswith("LIMIT#") and victim in json.dumps(i)]


def test_a_confirmed_authors_own_mail_is_not_counted_against_the_cap(client, aws, directory, pump):
    sid = submit(client, confirmed=False, email=VICTIM)
    assert wiring.store().confirm_contact(sid, clock.iso())
    for n in range(3):
        submit(client, confirmed=False, email=VICTIM, title=f"Another {n}")  # three asks: the cap is spent
    pump.drain()
    publish(sid)
    pump.drain()
    subjects = [m["Subject"] for m in mailbox.to(VICTIM)]
    assert any(s.startswith("We have your story") for s in subjects)
    assert any(s.startswith("Your story is published") for s in subjects)


def test_a_thousand_hostile_requests_reach_a_strangers_inbox_at_most_three_times_with_no_hostile_text(
    client, aws, directory, pump, monkeypatch
):
    """The figure `make prove` reports (1,000 requests; fewer in `make test`): stories and sign-ups naming one
    stranger's address, from many connections (the per-connection limits are not what stops them), with hostile
    words in every field that could carry them."""
    from chalice.local import LambdaEventConverter

    from tests.support.prove import record

    total = 1000 if ROUNDS >= 100 else 40
    victim = "sam.victim@riverside.nhs.example"
    words = [f"{HOSTILE} {n}" for n in range(total)]
    stories = sign_ups = 0
    for n in range(total):
        if n % 50 == 0:  # a new connection every 50: each well inside its own hourly budgets
            monkeypatch.setattr(LambdaEventConverter, "LOCAL_SOURCE_IP", f"10.9.{n // 50 // 256}.{n // 50 % 256}")
        if n % 2 == 0:
            submit(client, confirmed=False, email=victim, title=words[n], pseudonym=words[n])
            stories += 1
        else:
            body = signup(email=victim, name=words[n], display_name=words[n], role=words[n])
            resp = client.http.post(
                "/api/subscriptions", body=json.dumps(body), headers={"Content-Type": "application/json"}
            )
            assert resp.status_code == 202, resp.body
            sign_ups += 1
        if n % 100 == 99:
            pump.drain()
    pump.drain()
    received = mailbox.to(victim)
    hostile = [m["Subject"] for m in received if HOSTILE in _mail_text(m)]
    cap = wiring.get_settings().unconfirmed_mail_limit
    assert len(received) <= cap and hostile == []
    assert not [m for m in received if "/api/my/" in _mail_text(m)]  # no private link either
    record(
        "mail_abuse",
        {
            "hostile_requests": total,
            "stories": stories,
            "sign_ups": sign_ups,
            "connections": (total + 49) // 50,
            "emails_to_the_stranger": len(received),
            "per_address_cap": cap,
            "emails_with_hostile_text": len(hostile),
        },
    )


def test_a_retried_delivery_of_one_email_counts_once_against_the_cap(aws):
    """SQS delivers a mail job again when SES throttles or refuses it for a while (issue 22): that is
    one email, not another, so its retries must not spend the address's budget (nor, once it was
    refused, get it sent on a later delivery)."""
    from types import SimpleNamespace

    from chalicelib.core.jobs import MailJob
    from chalicelib.mail.unconfirmed import capped

    letter = SimpleNamespace(to=VICTIM)
    compose = capped({"author_confirmation": lambda job: letter}, wiring.limits(), wiring.get_settings())[
        "author_confirmation"
    ]
    jobs = [MailJob(kind="author_confirmation", story_id=f"s{n}") for n in range(4)]
    assert [compose(jobs[0]) is letter for _ in range(5)] == [True] * 5  # delivered five times: one email
    assert [compose(job) is letter for job in jobs[1:]] == [True, True, False]  # the cap is 3
    assert compose(jobs[3]) is None and compose(jobs[1]) is letter  # each delivery gets its first answer
