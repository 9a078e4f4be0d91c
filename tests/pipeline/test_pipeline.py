"""The stream as outbox: real stream records from moto, fed to the same handlers Lambda runs."""

from __future__ import annotations

import json
import re

from chalicelib import wiring
from chalicelib.core.jobs import MailJob
from chalicelib.moderation import Moderator
from tests.support import mailbox
from tests.support.stories import publish, submit

JSON_H = {"Content-Type": "application/json"}
MOD = Moderator("mod@example.org", "Mo Derator")


def test_the_author_gets_one_confirmation_with_a_private_link(client, aws, directory, pump):
    story_id = submit(client)
    pump.drain()
    pump.drain()
    mails = mailbox.to("author@example.org")
    assert len(mails) == 1
    text = mailbox.text_of(mails[0])
    assert "Kind nurses on a busy night" in mails[0]["Subject"]
    link = re.search(r"https://api\.test/api/my/([A-Za-z0-9_-]{43})", text)
    assert link, text
    # The token is stored only as a hash.
    items = aws.client("dynamodb").scan(TableName=aws.resources.table)["Items"]
    assert link.group(1) not in json.dumps(items)
    page = client.http.get(f"/api/my/{link.group(1)}")
    assert page.status_code == 200
    assert "author@example.org" not in page.body.decode()
    assert story_id


def test_a_story_without_email_sends_nothing(client, aws, directory, pump):
    submit(client, email="")
    pump.drain()
    assert mailbox.sent() == []


def test_the_same_mail_job_twice_sends_one_email(client, aws, directory, pump):
    story_id = submit(client)
    pump.drain()
    before = len(mailbox.sent())
    job = MailJob(kind="author_confirmation", story_id=story_id)
    for _ in range(3):
        wiring.notifications().send(job)
    assert len(mailbox.sent()) == before


def test_publishing_lists_the_story_up_the_tree_and_records_the_decision(client, aws, directory, pump):
    story_id = submit(client)
    pump.drain()
    publish(story_id, title="Kind nurses on a busy ward", tags=["nursing"])
    pump.drain()
    store = wiring.store()
    for slug in ("riverside-ward-7", "riverside-general", "riverside-trust", "_all"):
        assert [e["id"] for e in store.listing(slug, 10)] == [story_id], slug
    assert store.listing("hillside-trust", 10) == []
    audit = store.audit_trail(story_id)
    assert [(a["from"], a["to"], a["by"]) for a in audit] == [("pending", "published", "mod@example.org")]
    assert audit[0]["edited"] == ["title"]
    assert store.get_original(story_id)["title"] == "Kind nurses on a busy night"
    assert any("published" in m["Subject"] for m in mailbox.to("author@example.org"))
    assert store.queue("pending", 10) == []


def test_a_status_edited_in_the_console_has_the_same_effects(client, aws, directory, pump):
    story_id = submit(client)
    pump.drain()
    aws.client("dynamodb").update_item(
        TableName=aws.resources.table,
        Key={"PK": {"S": f"STORY#{story_id}"}, "SK": {"S": "STORY"}},
        UpdateExpression="SET #s = :p, published_at = :t REMOVE GSI1PK, GSI1SK",
        ExpressionAttributeNames={"#s": "status"},
        ExpressionAttributeValues={":p": {"S": "published"}, ":t": {"S": "2026-11-26T10:00:00.000Z"}},
    )
    pump.drain()
    store = wiring.store()
    assert [e["id"] for e in store.listing("riverside-trust", 10)] == [story_id]
    audit = store.audit_trail(story_id)
    assert [(a["to"], a["by"]) for a in audit] == [("published", "table edit")]
    # And taking it down in the console takes it off every list.
    aws.client("dynamodb").update_item(
        TableName=aws.resources.table,
        Key={"PK": {"S": f"STORY#{story_id}"}, "SK": {"S": "STORY"}},
        UpdateExpression="SET #s = :w",
        ExpressionAttributeNames={"#s": "status"},
        ExpressionAttributeValues={":w": {"S": "withdrawn"}},
    )
    pump.drain()
    for slug in ("riverside-ward-7", "riverside-general", "riverside-trust", "_all"):
        assert store.listing(slug, 10) == []


def test_a_rejection_tells_the_author_the_reason(client, aws, directory, pump):
    story_id = submit(client)
    pump.drain()
    version = wiring.store().get_story(story_id)["version"]
    wiring.moderation().decide(
        story_id, {"action": "reject", "version": version, "note": "It names a member of staff."}, MOD
    )
    pump.drain()
    rejected = [m for m in mailbox.to("author@example.org") if "could not publish" in m["Subject"]]
    assert len(rejected) == 1
    assert "It names a member of staff." in mailbox.text_of(rejected[0])
    assert wiring.store().listing("_all", 10) == []


def test_a_handler_failure_retries_only_the_failed_record(client, aws, directory, pump, monkeypatch):
    first = submit(client)
    second = submit(client)
    pump.drain()
    real = wiring.changes().handle
    calls = {"n": 0}

    def flaky(record):
        change = wiring.store().decode_change(record)
        if change.story_id == first and calls["n"] == 0:
            calls["n"] += 1
            raise RuntimeError("injected")
        return real(record)

    monkeypatch.setattr(wiring.changes(), "handle", flaky)
    pump.expect_failures()
    for sid in (first, second):
        publish(sid)
    pump.drain()
    assert calls["n"] == 1
    assert len([f for f in pump.failures if f.startswith("on_table_change:")]) == 1  # and the pump saw it
    assert {e["id"] for e in wiring.store().listing("_all", 10)} == {first, second}
