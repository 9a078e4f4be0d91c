"""Alerts: who a published story reaches, one email per person, digests, SES throttling."""

from __future__ import annotations

import email
import json
import re
from datetime import timedelta
from email.utils import parseaddr

import botocore.endpoint
import pytest
from botocore.awsrequest import AWSResponse
from botocore.exceptions import ClientError
from moto.core.botocore_stubber import MockRawResponse

from chalicelib import wiring
from chalicelib.core import aws as aws_clients
from chalicelib.core import clock
from chalicelib.core.jobs import MailJob
from chalicelib.core.matching import pick_subscription
from chalicelib.core.models import CRITICALITY_WORDS
from chalicelib.store import digest_day
from tests.support import mailbox
from tests.support.staff import LINK, NAMES, PEOPLE, _records, alerts_to, count_to, crowd, raw_to, staff, staff_mail  # noqa: F401
from tests.support.stories import publish, submit


def published_story(client, pump, **decision) -> str:
    story_id = submit(client)
    pump.drain()
    publish(story_id, **decision)
    pump.drain()
    return story_id


# ---- who a story reaches -------------------------------------------------------------------


def test_one_email_per_matching_person_and_none_to_anyone_else(client, aws, directory, pump):
    ward = {"service": "riverside-ward-7"}
    trust = {"service": "riverside-trust"}
    staff("trust@nhs.example", trust)
    staff("two-levels@nhs.example", ward, trust, {"service": "riverside-general"})
    staff("nursing-tag@nhs.example", {"service": "riverside-general", "tags": ["nursing", "food"]})
    staff("critical-enough@nhs.example", {"service": "riverside-trust", "min_criticality": 2})
    staff("immediate-and-digest@nhs.example", {"service": "riverside-ward-7", "frequency": "digest"}, trust)
    staff("other-tag@nhs.example", {"service": "riverside-general", "tags": ["maternity"]})
    staff("too-critical@nhs.example", {"service": "riverside-trust", "min_criticality": 3})
    staff("other-ward@nhs.example", {"service": "riverside-maternity"})
    staff("other-trust@nhs.example", {"service": "hillside-trust"})
    staff("pending@nhs.example", {"service": "riverside-trust", "status": "pending"}, status="pending")
    staff("unsubscribed@nhs.example", {"service": "riverside-trust", "status": "unsubscribed"}, status="unsubscribed")
    staff("suppressed@nhs.example", trust)
    wiring.store().suppress("Suppressed@NHS.example", "bounce", clock.iso())
    pump.drain()

    story_id = published_story(client, pump, tags=["nursing"], criticality=2)

    assert not pump.errors
    for address in ("trust", "two-levels", "nursing-tag", "critical-enough", "immediate-and-digest"):
        assert count_to(f"{address}@nhs.example") == 1, address
    for address in ("other-tag", "too-critical", "other-ward", "other-trust", "pending", "unsubscribed", "suppressed"):
        assert count_to(f"{address}@nhs.example") == 0, address
    assert len(staff_mail()) == 5
    # The immediate subscription won: the story is in nobody's digest.
    assert wiring.store().digest(digest_day(wiring.store().get_story(story_id)["published_at"])) == {}


def test_reach_walks_up_the_tree_one_query_per_level(client, aws, directory):
    a = staff("a@nhs.example", {"service": "riverside-ward-7"}, {"service": "riverside-trust", "frequency": "digest"})
    b = staff("b@nhs.example", {"service": "riverside-maternity", "frequency": "digest"})
    c = staff(
        "c@nhs.example", {"service": "riverside-general", "frequency": "digest"}, {"service": "riverside-general"}
    )
    story = {"id": "x", "services": ["riverside-ward-7", "riverside-maternity"], "tags": [], "criticality": 0}
    calls = []
    store = wiring.store()
    real = store.watchers
    store.watchers = lambda slug: calls.append(slug) or real(slug)
    try:
        reached = wiring.alerts().reach(story)
    finally:
        del store.watchers
    # The trust and the hospital are shared by both services: each is read once.
    assert sorted(calls) == sorted(["riverside-trust", "riverside-general", "riverside-ward-7", "riverside-maternity"])
    assert {sid: sub["frequency"] for sid, sub in reached.items()} == {a: "immediate", b: "digest", c: "immediate"}


def test_the_same_alert_job_three_times_sends_one_email(client, aws, directory, pump):
    sid = staff("once@nhs.example", {"service": "riverside-trust"})
    story_id = published_story(client, pump)
    assert count_to("once@nhs.example") == 1
    job = MailJob(kind="staff_alert", story_id=story_id, ref=sid)
    for _ in range(3):
        wiring.notifications().send(job)
        wiring.queues().send([job])
    pump.drain()
    assert count_to("once@nhs.example") == 1


def test_a_fan_out_delivered_twice_sends_no_duplicates(client, aws, directory, pump):
    for n in range(12):
        staff(f"person{n}@nhs.example", {"service": "riverside-general"})
    story_id = published_story(client, pump)
    job = MailJob(kind="alert_fanout", story_id=story_id)
    wiring.queues().send([job])
    wiring.queues().send([job])
    pump.drain()
    assert not pump.errors
    assert sorted(str(m["To"]) for m in staff_mail()) == sorted(f"person{n}@nhs.example" for n in range(12))


def test_a_story_held_and_published_again_alerts_nobody_twice(client, aws, directory, pump):
    staff("ward@nhs.example", {"service": "riverside-ward-7"})
    story_id = published_story(client, pump)
    assert count_to("ward@nhs.example") == 1
    # A moderator takes it down in the console for safeguarding, then publishes it again.
    aws.client("dynamodb").update_item(
        TableName=aws.resources.table,
        Key={"PK": {"S": f"STORY#{story_id}"}, "SK": {"S": "STORY"}},
        UpdateExpression="SET #s = :h, GSI1PK = :q, GSI1SK = :k",
        ExpressionAttributeNames={"#s": "status"},
        ExpressionAttributeValues={":h": {"S": "held"}, ":q": {"S": "QUEUE#held"}, ":k": {"S": f"2026#{story_id}"}},
    )
    pump.drain()
    publish(story_id)
    pump.drain()
    assert wiring.store().get_story(story_id)["status"] == "published"
    assert count_to("ward@nhs.example") == 1


def test_a_story_no_longer_published_when_the_fan_out_runs_alerts_nobody(client, aws, directory, pump):
    staff("ward@nhs.example", {"service": "riverside-ward-7"})
    story_id = submit(client)
    pump.drain()
    publish(story_id)
    # Withdrawn before the stream is read: the fan-out job finds it gone from public view.
    aws.client("dynamodb").update_item(
        TableName=aws.resources.table,
        Key={"PK": {"S": f"STORY#{story_id}"}, "SK": {"S": "STORY"}},
        UpdateExpression="SET #s = :w",
        ExpressionAttributeNames={"#s": "status"},
        ExpressionAttributeValues={":w": {"S": "withdrawn"}},
    )
    pump.drain()
    assert count_to("ward@nhs.example") == 0


# ---- the alert itself --------------------------------------------------------------------------


def test_the_alert_is_multipart_with_everything_staff_need_and_nothing_private(client, aws, directory, pump):
    staff("reader@nhs.example", {"service": "riverside-general"}, name="Robin Reader")
    story_id = published_story(client, pump, title="Kind nurses on a busy ward", criticality=3, tags=["nursing"])
    [msg] = alerts_to("reader@nhs.example")

    assert msg.get_content_type() == "multipart/alternative"
    assert [p.get_content_type() for p in msg.iter_parts()] == ["text/plain", "text/html"]
    text, html = mailbox.text_of(msg), mailbox.html_of(msg)
    # CSS is inlined: styles sit on the elements, no <style> block for clients that strip it.
    assert "<style" not in html
    assert re.search(
        r'<a class="button" href="https://api\.test/api/respond/[A-Za-z0-9_-]{43}" style="[^"]*background', html
    )

    assert "Kind nurses on a busy ward" in msg["Subject"] and "Ward 7 (Acute Medicine)" in msg["Subject"]
    for body in (text, html):
        assert "Kind nurses on a busy ward" in body
        assert "I was admitted at night with chest pain." in body  # the excerpt
        assert "Ward 7 (Acute Medicine)" in body and "Riverside General Hospital" in body
        assert "3 of 5, moderately critical" in body
        assert f"https://site.test/stories/{story_id}/" in body
        assert re.search(LINK.format("respond"), body)
        assert re.search(LINK.format("unsubscribe"), body)
        assert re.search(LINK.format(r"subscriptions/manage"), body)
        assert "Robin Reader" in body
    # RFC 8058 one-click unsubscribe, with an https link.
    unsubscribe = re.fullmatch(r"<(https://api\.test/api/unsubscribe/[A-Za-z0-9_-]{43})>", str(msg["List-Unsubscribe"]))
    assert unsubscribe, msg["List-Unsubscribe"]
    assert msg["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert unsubscribe.group(1) in text
    # On the wire too: literal, unfolded, not RFC 2047-encoded (RFC 2369 readers would not decode it).
    [raw] = raw_to("reader@nhs.example")
    assert f"\nList-Unsubscribe: <{unsubscribe.group(1)}>\n" in raw
    assert "\nList-Unsubscribe-Post: List-Unsubscribe=One-Click\n" in raw

    # Nothing about the author beyond the public page: no address, no private link, no moderator.
    raw = msg.as_string()
    for private in ("author@example.org", "/api/my/", "mod@example.org", "Mo Derator"):
        assert private not in raw
    assert "Night owl" in text  # the public pseudonym is fine


def test_the_respond_link_is_bound_to_the_subscription_the_story_came_through(client, aws, directory, pump):
    sid = staff("bound@nhs.example", {"service": "riverside-trust"}, {"service": "riverside-ward-7", "tags": ["food"]})
    story_id = published_story(client, pump)
    text = mailbox.text_of(alerts_to("bound@nhs.example")[0])
    token = re.search(LINK.format("respond"), text).group(1)
    bound = wiring.links().resolve(token, "respond")
    subs = {s["service"]: s for s in wiring.store().subscriptions_of(sid)}
    # The ward subscription wants only "food" stories; the trust one matched.
    assert (bound["story_id"], bound["subscriber_id"], bound["subscription_id"], bound["service"]) == (
        story_id,
        sid,
        subs["riverside-trust"]["id"],
        "riverside-trust",
    )
    unsubscribe = re.search(LINK.format("unsubscribe"), text).group(1)
    assert wiring.links().resolve(unsubscribe, "unsubscribe")["subscriber_id"] == sid


def test_pick_subscription_prefers_a_matching_one_then_the_most_specific():
    ward = {"slug": "w", "path": ["t", "h", "w"]}
    subs = [
        {"id": "1", "service": "t", "status": "active", "tags": [], "min_criticality": 0},
        {"id": "2", "service": "w", "status": "active", "tags": [], "min_criticality": 0},
        {"id": "3", "service": "h", "status": "active", "tags": [], "min_criticality": 5},
        {"id": "4", "service": "w", "status": "unsubscribed", "tags": [], "min_criticality": 0},
        {"id": "5", "service": "x", "status": "active", "tags": [], "min_criticality": 0},
    ]
    story = {"tags": [], "criticality": 1}
    assert pick_subscription(subs, story, [ward])["id"] == "2"
    assert pick_subscription(subs[2:3], story, [ward])["id"] == "3"  # on the path, though its filter no longer matches
    assert pick_subscription(subs[3:], story, [ward]) is None


def test_criticality_words_cover_every_level():
    assert [CRITICALITY_WORDS[n] for n in range(6)] == [
        "not critical",
        "minimally critical",
        "mildly critical",
        "moderately critical",
        "strongly critical",
        "severely critical",
    ]


def test_a_get_on_the_emailed_links_changes_nothing(client, aws, directory, pump):
    staff("clicker@nhs.example", {"service": "riverside-trust"})
    published_story(client, pump)
    text = mailbox.text_of(alerts_to("clicker@nhs.example")[0])
    ddb = aws.client("dynamodb")

    def table():
        return sorted(json.dumps(i, sort_keys=True) for i in ddb.scan(TableName=aws.resources.table)["Items"])

    before = table()
    for kind in ("respond", "unsubscribe", "subscriptions/manage"):
        url = re.search(LINK.format(kind), text).group(0)
        resp = client.http.get(url.removeprefix("https://api.test"), headers={"Accept": "text/html"})
        # A mail scanner fetching the link gets a page (or, before a route exists, a 404): never a change.
        assert resp.status_code in (200, 404), (kind, resp.status_code)
    pump.drain()
    assert table() == before


@pytest.mark.parametrize("field", ["title", "name"])
def test_line_breaks_and_encoded_words_make_no_header(client, aws, directory, pump, field):
    evil = "Hi =?utf-8?q?there=0D=0ABcc:_victim@evil.example?= and\r\nX-Injected: yes\nBcc: other@evil.example"
    staff("target@nhs.example", {"service": "riverside-trust"}, name=evil if field == "name" else "Sam Carter")
    story_id = submit(client)
    pump.drain()
    if field == "title":
        # Written in the console, so no validation cleaned it.
        aws.client("dynamodb").update_item(
            TableName=aws.resources.table,
            Key={"PK": {"S": f"STORY#{story_id}"}, "SK": {"S": "STORY"}},
            UpdateExpression="SET title = :t",
            ExpressionAttributeValues={":t": {"S": evil}},
        )
        pump.drain()
    publish(story_id)
    pump.drain()
    [msg] = alerts_to("target@nhs.example")
    assert "Bcc" not in msg and "X-Injected" not in msg
    assert str(msg["To"]) == "target@nhs.example"
    [raw] = raw_to("target@nhs.example")
    header_block = raw.split("\n\n", 1)[0]
    names = [line.split(":", 1)[0] for line in header_block.splitlines() if line and not line[0].isspace()]
    assert set(names) <= {
        "From",
        "To",
        "Subject",
        "Date",
        "Message-ID",
        "List-Unsubscribe",
        "List-Unsubscribe-Post",
        "MIME-Version",
        "Content-Type",
    }, names
    if field == "title":
        assert "victim@evil.example" in str(msg["Subject"])  # kept as text, on the subject line
    assert "victim@evil.example" not in (msg["Bcc"] or "")


# ---- daily digests ----------------------------------------------------------------------------


def test_a_digest_subscriber_gets_one_email_the_next_morning_with_each_story(client, aws, directory, pump, monkeypatch):
    sid = staff("digest@nhs.example", {"service": "riverside-trust", "frequency": "digest"})
    staff("now@nhs.example", {"service": "riverside-trust"})
    first = published_story(client, pump, title="First story of the day")
    second = published_story(client, pump, title="Second story of the day")
    assert count_to("digest@nhs.example") == 0
    assert count_to("now@nhs.example") == 2
    day = digest_day(wiring.store().get_story(first)["published_at"])
    assert sorted(wiring.store().digest_of(day, sid)) == sorted([first, second])

    # 07:00 the next day, the scheduled handler runs (twice: a retried invocation sends nothing more).
    tomorrow = clock.parse(f"{day}T07:00:00Z") + timedelta(days=1)
    monkeypatch.setattr(clock, "now", lambda: tomorrow)
    for _ in range(2):
        result = client.lambda_.invoke(
            "daily_digest",
            client.events.generate_cw_event(
                source="aws.events", detail_type="Scheduled Event", detail={}, resources=[]
            ),
        ).payload
        assert result == {"day": day, "digests": 1}
        pump.drain()
    assert not pump.errors
    [msg] = alerts_to("digest@nhs.example")
    assert msg["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert str(msg["List-Unsubscribe"]).startswith("<https://api.test/api/unsubscribe/")
    text = mailbox.text_of(msg)
    assert "2 new stories" in msg["Subject"]
    assert text.index("First story of the day") < text.index("Second story of the day")
    tokens = re.findall(LINK.format("respond"), text)
    assert len(set(tokens)) == 2
    assert {wiring.links().resolve(t, "respond")["story_id"] for t in tokens} == {first, second}
    assert "author@example.org" not in msg.as_string()
    assert count_to("now@nhs.example") == 2


def test_a_digest_leaves_out_a_story_withdrawn_since(client, aws, directory, pump):
    staff("digest@nhs.example", {"service": "riverside-ward-7", "frequency": "digest"})
    kept = published_story(client, pump, title="Still published")
    gone = published_story(client, pump, title="Withdrawn later")
    wiring.store().change_status(gone, ["published"], {"status": "withdrawn"})
    pump.drain()
    day = digest_day(wiring.store().get_story(kept)["published_at"])
    assert wiring.alerts().queue_digests(day) == {"day": day, "digests": 1}
    pump.drain()
    [msg] = alerts_to("digest@nhs.example")
    text = mailbox.text_of(msg)
    assert "Still published" in text and "Withdrawn later" not in text
    assert "1 new story" in msg["Subject"]


def test_nothing_to_digest_sends_nothing(client, aws, directory, pump):
    staff("digest@nhs.example", {"service": "riverside-trust", "frequency": "digest"})
    assert wiring.alerts().queue_digests("2026-01-01") == {"day": "2026-01-01", "digests": 0}
    # A digest job for a day with nothing in it, or a malformed ref, writes no email.
    wiring.queues().send(
        [MailJob(kind="staff_digest", ref="2026-01-01:nobody"), MailJob(kind="staff_digest", ref="junk")]
    )
    pump.drain()
    assert not pump.errors
    assert mailbox.sent() == []


# ---- many recipients, and SES throttling ------------------------------------------------------


def test_a_fan_out_to_a_few_hundred_people_sends_exactly_one_each(client, aws, directory, pump):
    levels = ["riverside-trust", "riverside-general", "riverside-ward-7"]
    people = [f"p{n:03d}@nhs.example" for n in range(PEOPLE)]
    subscriptions = {}
    for n, address in enumerate(people):
        # Some have two subscriptions on the path; every tenth wants another tag only.
        subscriptions[address] = [{"service": levels[n % 3]}] + (
            [{"service": levels[(n + 1) % 3]}] if n % 4 == 0 else []
        )
        if n % 10 == 9:
            subscriptions[address] = [{"service": levels[n % 3], "tags": ["maternity"]}]
    crowd(subscriptions)
    pump.drain()
    published_story(client, pump, tags=["nursing"])
    assert not pump.errors
    got: dict[str, int] = {}
    for m in staff_mail():
        got[str(m["To"])] = got.get(str(m["To"]), 0) + 1
    expected = {a for n, a in enumerate(people) if n % 10 != 9}
    assert set(got) == expected
    assert set(got.values()) == {1}


def _drain_until_empty(aws, pump, rounds=30):
    sqs = aws.client("sqs")
    for _ in range(rounds):
        pump.drain()
        attrs = sqs.get_queue_attributes(
            QueueUrl=aws.resources.mail_queue_url,
            AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
        )
        if all(v == "0" for v in attrs["Attributes"].values()):
            return
    raise AssertionError("the mail queue never emptied")


def test_ses_throttling_is_retried_never_dropped(client, aws, directory, pump, monkeypatch):
    people = [f"t{n:02d}@nhs.example" for n in range(15)]
    for address in people:
        staff(address, {"service": "riverside-ward-7"})
    pump.drain()
    # Failed messages come back at once, as they would after their visibility timeout.
    receive = pump._sqs.receive_message
    monkeypatch.setattr(pump._sqs, "receive_message", lambda **kw: receive(**(kw | {"VisibilityTimeout": 0})))
    # SES throttles the first 20 sends (more than there are emails), even after botocore's own retries.
    ses = wiring.notifications()._mailer._ses
    send = ses.send_raw_email
    calls = {"n": 0}

    def throttled(**kw):
        calls["n"] += 1
        if calls["n"] <= 20:
            raise ClientError(
                {"Error": {"Code": "Throttling", "Message": "Maximum sending rate exceeded."}}, "SendRawEmail"
            )
        return send(**kw)

    story_id = submit(client)
    _drain_until_empty(aws, pump)
    monkeypatch.setattr(ses, "send_raw_email", throttled)
    publish(story_id)
    _drain_until_empty(aws, pump)

    assert calls["n"] == 20 + len(people) + 1  # and the author's "published" email
    assert sorted(str(m["To"]) for m in staff_mail()) == people
    # The throttled sends were batch item failures, retried: expected here, and each one seen.
    pump.expect_failures()
    assert len(pump.failures) >= 1
    dlq = aws.client("sqs").get_queue_attributes(
        QueueUrl=aws.resources.mail_dlq_url, AttributeNames=["ApproximateNumberOfMessages"]
    )
    assert dlq["Attributes"]["ApproximateNumberOfMessages"] == "0"


def test_the_ses_client_itself_backs_off_and_retries_throttling(aws, monkeypatch):
    ses = aws_clients.client("ses")  # the client the mail worker sends with
    assert ses.meta.config.retries["mode"] in ("standard", "adaptive")
    assert ses.meta.config.retries["total_max_attempts"] >= 5
    throttle = (
        b'<ErrorResponse xmlns="http://ses.amazonaws.com/doc/2010-12-01/"><Error><Type>Sender</Type>'
        b"<Code>Throttling</Code><Message>Maximum sending rate exceeded.</Message></Error>"
        b"<RequestId>1</RequestId></ErrorResponse>"
    )
    attempts = {"n": 0}

    def first_three_throttled(request, **kw):
        attempts["n"] += 1
        if attempts["n"] <= 3:
            url, request.url = request.url, "http://throttled.invalid/"  # so the emulator does not take it as sent
            return AWSResponse(url, 400, {}, MockRawResponse(throttle))
        return None

    ses.meta.events.register_first("before-send.ses.SendRawEmail", first_three_throttled)
    waits: list[float] = []
    monkeypatch.setattr(botocore.endpoint.time, "sleep", waits.append)
    from chalicelib.mail.sender import Mailer

    Mailer(ses, "FeedForward <stories@feedforward.example>").send(
        "backoff@nhs.example", "staff_alert", _alert_context(), {}
    )
    assert attempts["n"] == 4
    assert len(waits) == 3 and all(w > 0 for w in waits)  # it backed off before each retry
    assert [str(m["To"]) for m in mailbox.sent()] == ["backoff@nhs.example"]


def _alert_context() -> dict:
    story = {
        "id": "s1",
        "title": "A title",
        "excerpt": "An excerpt",
        "pseudonym": "P",
        "role": "a patient",
        "tags": [],
        "services": [{"name": "Ward", "within": ""}],
        "service_names": "Ward",
        "criticality": 0,
        "criticality_words": "not critical",
        "published_on": "",
        "url": "https://site.test/stories/s1/",
        "respond_url": "https://api.test/api/respond/x",
        "subscription_service": "Ward",
    }
    return {
        "story": story,
        "name": "N",
        "unsubscribe_url": "https://api.test/api/unsubscribe/x",
        "manage_url": "https://api.test/api/subscriptions/manage/x",
        "site_url": "https://site.test",
        "respond_link_days": 60,
    }


def test_a_permanent_refusal_is_not_retried(client, aws, directory, pump, monkeypatch):
    sid = staff("refused@nhs.example", {"service": "riverside-trust"})
    story_id = submit(client)
    pump.drain()
    ses = wiring.notifications()._mailer._ses
    calls = {"n": 0}

    def rejected(**kw):
        calls["n"] += 1
        raise ses.exceptions.MessageRejected(
            {
                "Error": {
                    "Code": "MessageRejected",
                    "Message": "Email address is not verified. The following identities failed the check in "
                    "region EU-WEST-2: " + parseaddr(str(email.message_from_bytes(kw["RawMessage"]["Data"])["To"]))[1],
                }
            },
            "SendRawEmail",
        )

    monkeypatch.setattr(ses, "send_raw_email", rejected)
    publish(story_id)
    pump.drain()
    assert calls["n"] == 2  # the author's "published" email and the alert, each tried once
    assert wiring.notifications().send(MailJob(kind="staff_alert", story_id=story_id, ref=sid)) == {
        "sent": False,
        "why": "rejected",
    }
    assert not pump.errors
    attrs = aws.client("sqs").get_queue_attributes(QueueUrl=aws.resources.mail_queue_url, AttributeNames=["All"])[
        "Attributes"
    ]
    assert (attrs["ApproximateNumberOfMessages"], attrs["ApproximateNumberOfMessagesNotVisible"]) == ("0", "0")
