"""Idempotency (chalicelib/core/idempotency.py): once per key, records in their story's partition, and
no growth of the shared DynamoDB client's event hooks however many emails are sent."""

from __future__ import annotations

from chalicelib import wiring
from chalicelib.core.jobs import MailJob
from tests.support import mailbox
from tests.support.stories import submit


def hooks(client) -> int:
    """Every handler registered on a client's events (powertools adds one per persistence layer)."""
    trie = client.meta.events._emitter._handlers
    return sum(len(list(trie.prefix_search(event))) for event in ("request-created", "before-call", "before-send"))


def test_many_emails_leave_the_clients_hooks_as_they_were(client, aws, directory, pump):
    db = wiring.store()._db
    submit(client, email="first@example.org")
    pump.drain()
    assert len(mailbox.to("first@example.org")) == 1
    after_one = hooks(db)
    for i in range(12):
        submit(client, email=f"author{i}@example.org")
    pump.drain()
    assert all(len(mailbox.to(f"author{i}@example.org")) == 1 for i in range(12))
    assert hooks(db) == after_one


def test_each_email_is_sent_once_and_its_record_is_in_its_storys_partition(client, aws, directory, pump):
    story_id = submit(client, confirmed=False)  # one email: is this your address?
    pump.drain()
    job = MailJob(kind="author_confirmation", story_id=story_id)
    again = wiring.notifications().send(job)  # the queue delivers the same job a second time
    assert again["sent"] is True  # the first send's result, returned again...
    assert len(mailbox.to("author@example.org")) == 1  # ...and no second email
    items = aws.client("dynamodb").query(
        TableName=aws.resources.table,
        KeyConditionExpression="PK = :pk",
        ExpressionAttributeValues={":pk": {"S": f"IDEMPOTENCY#mail#{story_id}"}},
    )["Items"]
    assert len(items) == 1 and items[0]["SK"]["S"].startswith("notifications.send#")
    assert items[0]["status"]["S"] == "COMPLETED"


def test_two_stories_keep_their_records_apart(client, aws, directory, pump):
    first = submit(client, confirmed=False, email="a@example.org")
    second = submit(client, confirmed=False, email="b@example.org")
    pump.drain()
    for story_id in (first, second):
        items = aws.client("dynamodb").query(
            TableName=aws.resources.table,
            KeyConditionExpression="PK = :pk",
            ExpressionAttributeValues={":pk": {"S": f"IDEMPOTENCY#mail#{story_id}"}},
        )["Items"]
        assert len(items) == 1
    assert len(mailbox.to("a@example.org")) == 1 and len(mailbox.to("b@example.org")) == 1
