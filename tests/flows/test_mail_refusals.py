"""Mail that is never silently lost (issue 22): SES's MessageRejected told apart by its cause, a long
SES throttle outlasted by the mail queue's retries, and addresses no header can carry refused at
sign-up by name (and, where one was stored before, refused once when composing, not dead-lettered)."""

from __future__ import annotations

import email
import json
from email.utils import parseaddr

import pytest

from chalicelib import wiring
from chalicelib.core.batches import queue_batch
from chalicelib.core.jobs import MAIL_MAX_RECEIVES, MailJob, Queues, mail_retry_delay, mail_retry_window
from chalicelib.mail.sender import Permanent, about_the_address, compose
from tests.support.factories import story_body
from tests.support.staff import staff, staff_mail
from tests.support.stories import publish, submit

SENDER = "FeedForward <stories@feedforward.example>"
REGION_CHECK = "Email address is not verified. The following identities failed the check in region EU-WEST-2: "
JSON_H = {"Content-Type": "application/json"}
ENCODED_WORDS = ["=?utf-8?q?x?=@nhs.example", "sam=?x@nhs.example", "s?=am@nhs.example", "sám@nhs.example"]


@pytest.mark.parametrize(
    ("message", "permanent"),
    [
        (REGION_CHECK + "sam@nhs.example", True),  # the recipient, in the SES sandbox
        ("Address blacklisted.", True),
        ("Illegal address", True),
        ("Email address is on the account-level suppression list", True),
        (REGION_CHECK + "stories@feedforward.example", False),  # our own sender: put right by an operator
        (REGION_CHECK + "feedforward.example, sam@nhs.example", False),  # our domain among them
        ("Email address is not verified.", False),  # no identity named: cannot tell, so retried
        ("Sending paused for this account.", False),
        ("Message content rejected: virus detected", False),
    ],
)
def test_a_refusal_is_permanent_only_when_it_is_about_the_recipients_address(message, permanent):
    assert about_the_address(message, SENDER) is permanent


def _refuse_as(ses, monkeypatch, cause, times: int) -> dict:
    send, calls = ses.send_raw_email, {"n": 0}

    def refused(**kw):
        calls["n"] += 1
        if calls["n"] <= times:
            to = parseaddr(str(email.message_from_bytes(kw["RawMessage"]["Data"])["To"]))[1]
            error = {"Error": {"Code": "MessageRejected", "Message": cause(to)}}
            raise ses.exceptions.MessageRejected(error, "SendRawEmail")
        return send(**kw)

    monkeypatch.setattr(ses, "send_raw_email", refused)
    return calls


def test_a_refusal_not_about_the_address_is_retried_until_sent_not_dropped(client, aws, directory, pump, monkeypatch):
    """It used to be treated as permanent: a reminder or alert vanished without trace."""
    staff("sam@nhs.example", {"service": "riverside-ward-7"})
    story_id = submit(client)
    pump.drain()
    receive = pump._sqs.receive_message  # failed messages come back at once
    monkeypatch.setattr(pump._sqs, "receive_message", lambda **kw: receive(**(kw | {"VisibilityTimeout": 0})))
    calls = _refuse_as(
        wiring.notifications()._mailer._ses, monkeypatch, lambda to: REGION_CHECK + "stories@feedforward.example", 3
    )
    publish(story_id)
    for _ in range(10):
        pump.drain()
    assert calls["n"] > 3  # three refusals, then the sends that went through
    assert [parseaddr(str(m["To"]))[1] for m in staff_mail()] == ["sam@nhs.example"]
    pump.expect_failures()
    assert pump.failures  # each refusal was a failed job, retried


def test_a_refusal_about_the_address_is_tried_once_and_recorded(client, aws, directory, pump, monkeypatch):
    sid = staff("gone@nhs.example", {"service": "riverside-ward-7"})
    story_id = submit(client)
    pump.drain()
    calls = _refuse_as(wiring.notifications()._mailer._ses, monkeypatch, lambda to: "Address blacklisted.", 99)
    publish(story_id)
    pump.drain()
    assert calls["n"] == 2 and not pump.errors
    job = MailJob(kind="staff_alert", story_id=story_id, ref=sid)
    assert wiring.notifications().send(job) == {"sent": False, "why": "rejected"}  # recorded: not tried again
    assert calls["n"] == 2


@pytest.mark.parametrize("address", ENCODED_WORDS)
def test_an_address_no_header_can_carry_is_refused_at_sign_up_by_name(client, aws, directory, address):
    signup = {
        "name": "Sam Patel",
        "role": "Ward Manager",
        "organisation": "riverside-trust",
        "email": address,
        "service": "riverside-ward-7",
    }
    resp = client.http.post("/api/subscriptions", body=json.dumps(signup), headers=JSON_H)
    assert resp.status_code == 422, resp.body
    assert [f["field"] for f in json.loads(resp.body)["error"]["fields"]] == ["email"]
    story = client.http.post("/api/stories", body=json.dumps(story_body(email=address)), headers=JSON_H)
    assert story.status_code == 422, story.body
    assert [f["field"] for f in json.loads(story.body)["error"]["fields"]] == ["email"]


@pytest.mark.parametrize("address", ENCODED_WORDS)
def test_composing_to_an_address_no_header_can_carry_is_a_permanent_refusal(address):
    """Stored before sign-up refused them: composing raised InvalidHeaderDefect, the job failed until
    it reached the dead-letter queue."""
    with pytest.raises(Permanent):
        compose(SENDER, address, "Subject", "text", "<p>html</p>")


def test_a_stored_address_no_header_can_carry_gets_no_email_and_no_dead_letter(
    client, aws, directory, pump, monkeypatch
):
    sid = staff("=?utf-8?q?x?=@nhs.example", {"service": "riverside-ward-7"})
    story_id = submit(client)
    pump.drain()
    publish(story_id)
    pump.drain()
    assert not pump.errors and not pump.failures and not any(pump.dead_letters().values())
    job = MailJob(kind="staff_alert", story_id=story_id, ref=sid)
    assert wiring.notifications().send(job) == {"sent": False, "why": "rejected"}


# ---- the retry window --------------------------------------------------------------------------


def test_a_failed_mail_job_is_held_back_longer_each_time_and_outlasts_a_day_of_throttling():
    """maxReceiveCount 5 at a 6-minute visibility timeout sent alerts to the DLQ after ~30 minutes."""
    assert [mail_retry_delay(n) for n in range(1, 5)] == [360, 720, 1440, 2880]
    assert mail_retry_delay(30) == 12 * 3600  # SQS's longest
    assert 24 * 3600 < mail_retry_window() < 4 * 24 * 3600  # a day of throttling, inside the retention


class FakeSqs:
    def __init__(self):
        self.changes: list[tuple[str, int]] = []

    def change_message_visibility(self, QueueUrl, ReceiptHandle, VisibilityTimeout):  # noqa: N803 (boto3's names)
        self.changes.append((ReceiptHandle, VisibilityTimeout))


def test_only_the_failed_messages_of_a_batch_are_held_back_by_their_receive_count():
    sqs = FakeSqs()
    queues = Queues(sqs, "render-url", "mail-url")
    records = [
        {"messageId": f"m{n}", "receiptHandle": f"rh{n}", "body": body, "attributes": {"ApproximateReceiveCount": rc}}
        for n, (body, rc) in enumerate([("ok", "1"), ("fail", "3"), ("ok", "1"), ("fail", str(MAIL_MAX_RECEIVES))])
    ]
    for r in records:
        r |= {
            "eventSource": "aws:sqs",
            "md5OfBody": "",
            "messageAttributes": {},
            "eventSourceARN": "arn",
            "awsRegion": "x",
        }

    def handle(body):
        if body == "fail":
            raise RuntimeError("SES throttled")

    result = queue_batch({"Records": records}, handle, queues.back_off_mail)
    assert [f["itemIdentifier"] for f in result["batchItemFailures"]] == ["m1", "m3"]
    assert sqs.changes == [("rh1", 1440), ("rh3", 12 * 3600)]
    assert Queues(sqs, "r", "m", mail_retry_seconds=0).back_off_mail("rh", 2) is None and len(sqs.changes) == 2
