"""The escalation ladder, driven through the real stream (the pump) with the clock held.

A story about Ward 7 (a 5-working-day promise) published on Monday 23 November 2026 at 10:00:
  reminder      Wednesday 25 November, 22:00 (half the promise)
  overdue       Monday 30 November, 10:00 (the promise)
  organisation  Monday 7 December, 10:00 (twice the promise)
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta

import pytest

from chalicelib import wiring
from chalicelib.core import clock
from chalicelib.core.jobs import MailJob
from tests.support import mailbox, moto_state
from tests.support.directories import promised_directory
from tests.support.staff import staff
from tests.support.stories import publish, submit

PUBLISHED = datetime(2026, 11, 23, 10, tzinfo=UTC)
REMINDER = datetime(2026, 11, 25, 22, tzinfo=UTC)
OVERDUE = datetime(2026, 11, 30, 10, tzinfo=UTC)
ORGANISATION = datetime(2026, 12, 7, 10, tzinfo=UTC)
MINUTE = timedelta(minutes=1)
JSON_H = {"Content-Type": "application/json"}
RESPOND = re.compile(r"https://api\.test/api/respond/([A-Za-z0-9_-]{43})")


class Clock:
    def __init__(self, monkeypatch):
        self.now = PUBLISHED
        monkeypatch.setattr(clock, "now", lambda: self.now)

    def at(self, moment: datetime) -> None:
        self.now = moment


@pytest.fixture
def held(monkeypatch):
    return Clock(monkeypatch)


@pytest.fixture
def people(aws):
    wiring.directory().load(promised_directory())
    return {
        "ward": staff("ward@nhs.example", {"service": "riverside-ward-7"}),
        "hospital": staff("hospital@nhs.example", {"service": "riverside-general"}),
        "trust": staff("trust@nhs.example", {"service": "riverside-trust"}),
        "gone": staff(
            "gone@nhs.example", {"service": "riverside-ward-7", "status": "unsubscribed"}, status="unsubscribed"
        ),
        "bounced": staff("bounced@nhs.example", {"service": "riverside-ward-7"}),
        "elsewhere": staff("elsewhere@nhs.example", {"service": "hillside-trust"}),
        "maternity": staff("maternity@nhs.example", {"service": "riverside-maternity"}),
    }


def ladder_run(client, pump, times: int = 1) -> list:
    results = []
    for _ in range(times):
        results.append(
            client.lambda_.invoke(
                "escalation_ladder",
                client.events.generate_cw_event(
                    source="aws.events", detail_type="Scheduled Event", detail={}, resources=[]
                ),
            ).payload
        )
        pump.drain()
    return results


def ladder_mail(address: str, kind: str = "") -> list:
    words = {"reminder": "Reminder:", "overdue": "Overdue:", "organisation": "Still no reply"}
    wanted = [words[kind]] if kind else list(words.values())
    return [m for m in mailbox.to(address) if any(str(m["Subject"]).startswith(w) for w in wanted)]


@moto_state.remembered
def published(client, pump, services=("riverside-ward-7",)) -> str:
    story_id = submit(client, services=list(services))
    pump.drain()
    publish(story_id)
    pump.drain()
    return story_id


def story_page(aws, story_id: str) -> str:
    obj = aws.client("s3").get_object(Bucket=aws.resources.bucket, Key=f"stories/{story_id}/index.html")
    return obj["Body"].read().decode("utf-8")


def page_text(html: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", "", html))


def test_first_publication_sets_the_promise_and_starts_the_ladder(client, aws, pump, people, held):
    story_id = published(client, pump)
    story = wiring.store().get_story(story_id, consistent=True)
    assert story["response_days"] == 5
    assert story["response_due_at"] == "2026-11-30T10:00:00.000Z"
    assert "overdue_at" not in story
    ladder = wiring.store().get_ladder(story_id)
    assert ladder["next_step"] == "reminder" and ladder["next_at"] == "2026-11-25T22:00:00.000Z"
    text = page_text(story_page(aws, story_id))
    assert "Awaiting a response since 23 November 2026; a reply is due by 30 November 2026." in text
    assert "Ward 7 (Acute Medicine) aims to reply within 5 working days" in text
    # A story about the ward and the maternity unit (3 days) takes the stricter promise.
    both = published(client, pump, services=("riverside-ward-7", "riverside-maternity"))
    assert wiring.store().get_story(both)["response_days"] == 3
    assert "Maternity Unit aims to reply within 3 working days" in page_text(story_page(aws, both))


def test_each_step_fires_at_its_moment_once_to_the_right_people(client, aws, pump, people, held):
    wiring.store().suppress("bounced@nhs.example", "bounce", clock.iso())
    story_id = published(client, pump)
    everyone = ("ward", "hospital", "trust", "gone", "bounced", "elsewhere", "maternity")

    # Just before the reminder, nothing (however often the handler runs).
    held.at(REMINDER - MINUTE)
    ladder_run(client, pump, times=2)
    assert all(ladder_mail(f"{p}@nhs.example") == [] for p in everyone)

    # At half the promise: everyone the story reached is reminded, once; the unsubscribed, the
    # suppressed and the people of other services are not.
    held.at(REMINDER)
    ladder_run(client, pump, times=3)
    for p in ("ward", "hospital", "trust"):
        [msg] = ladder_mail(f"{p}@nhs.example", "reminder")
        assert msg["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
        assert str(msg["List-Unsubscribe"]).startswith("<https://api.test/api/unsubscribe/")
        text = mailbox.text_of(msg)
        assert "within 5 working days: by Monday 30 November 2026" in text
        assert RESPOND.search(text) and RESPOND.search(mailbox.html_of(msg))
    for p in ("gone", "bounced", "elsewhere", "maternity"):
        assert ladder_mail(f"{p}@nhs.example") == []
    assert "overdue_at" not in wiring.store().get_story(story_id, consistent=True)

    # The same jobs delivered again send nothing more.
    for sid in (people["ward"], people["hospital"]):
        wiring.notifications().send(MailJob(kind="ladder_reminder", story_id=story_id, ref=f"reminder:{sid}"))
    assert len(ladder_mail("ward@nhs.example")) == 1

    # At the promise: overdue, once, and the parent service's people (the hospital) are told.
    held.at(OVERDUE - MINUTE)
    ladder_run(client, pump)
    assert "overdue_at" not in wiring.store().get_story(story_id, consistent=True)
    held.at(OVERDUE)
    ladder_run(client, pump, times=3)
    story = wiring.store().get_story(story_id, consistent=True)
    assert story["overdue_at"] == "2026-11-30T10:00:00.000Z"
    [msg] = ladder_mail("hospital@nhs.example", "overdue")
    assert "Overdue: no reply within 5 working days" in str(msg["Subject"])
    assert "was due by Monday 30 November 2026" in mailbox.text_of(msg)
    for p in ("ward", "trust", "gone", "bounced", "elsewhere", "maternity"):
        assert ladder_mail(f"{p}@nhs.example", "overdue") == []
    assert "Overdue: no reply within 5 working days." in page_text(story_page(aws, story_id))

    # Past twice the promise: the organisation's people (the trust), once.
    held.at(ORGANISATION)
    ladder_run(client, pump, times=3)
    [msg] = ladder_mail("trust@nhs.example", "organisation")
    assert "Still no reply after 10 working days" in str(msg["Subject"])
    for p in ("ward", "hospital", "gone", "bounced", "elsewhere", "maternity"):
        assert ladder_mail(f"{p}@nhs.example", "organisation") == []

    # Later runs do nothing more, and overdue_at keeps the moment it became overdue.
    held.at(ORGANISATION + timedelta(days=30))
    ladder_run(client, pump, times=2)
    totals = {p: len(ladder_mail(f"{p}@nhs.example")) for p in everyone}
    assert totals == {"ward": 1, "hospital": 2, "trust": 2, "gone": 0, "bounced": 0, "elsewhere": 0, "maternity": 0}
    assert wiring.store().get_story(story_id, consistent=True)["overdue_at"] == "2026-11-30T10:00:00.000Z"
    assert wiring.store().get_ladder(story_id)["next_step"] == "done"
    assert wiring.store().ladders_due(clock.iso(), 10) == ([], None)


def test_repeated_stream_records_start_one_ladder(client, aws, pump, people, held):
    story_id = submit(client)
    pump.drain()
    publish(story_id)
    # Deliver every stream record of the publication twice (as Lambda may), then once more.
    records = []
    real = wiring.changes().handle

    def twice(record):
        records.append(record)
        real(record)
        return real(record)

    wiring.changes().handle = twice
    try:
        pump.drain()
    finally:
        del wiring.changes().handle
    for record in records:
        real(record)
    assert wiring.store().get_story(story_id, consistent=True)["response_due_at"] == "2026-11-30T10:00:00.000Z"
    held.at(REMINDER)
    ladder_run(client, pump, times=2)
    assert len(ladder_mail("ward@nhs.example", "reminder")) == 1


def test_a_response_stops_the_ladder(client, aws, pump, people, held):
    story_id = published(client, pump)
    held.at(REMINDER)
    ladder_run(client, pump)
    [reminder] = ladder_mail("ward@nhs.example", "reminder")
    token = RESPOND.search(mailbox.text_of(reminder)).group(1)
    held.at(REMINDER + timedelta(hours=12))
    resp = client.http.post(
        f"/api/respond/{token}",
        headers=JSON_H,
        body=json.dumps({"text": "Thank you for telling us. We are looking into the wait for a bed."}),
    )
    assert resp.status_code == 201, resp.body
    pump.drain()
    assert wiring.store().get_ladder(story_id) is None
    for moment in (OVERDUE, ORGANISATION, ORGANISATION + timedelta(days=10)):
        held.at(moment)
        ladder_run(client, pump)
    assert ladder_mail("hospital@nhs.example", "overdue") == []
    assert ladder_mail("trust@nhs.example", "organisation") == []
    story = wiring.store().get_story(story_id, consistent=True)
    assert "overdue_at" not in story
    assert "First reply after 3 working days, on 26 November 2026." in page_text(story_page(aws, story_id))


def test_a_response_the_stream_has_not_yet_seen_still_stops_the_step(client, aws, pump, people, held):
    """The handler re-reads the story before acting: a ladder item left behind does nothing."""
    story_id = published(client, pump)
    wiring.store().mark_progress(story_id, "first_response_at", clock.iso(REMINDER - MINUTE))
    held.at(OVERDUE)
    result = wiring.ladder().run()
    assert result["ended"] == 1
    assert wiring.store().get_ladder(story_id) is None
    pump.drain()
    assert all(ladder_mail(f"{p}@nhs.example") == [] for p in ("ward", "hospital", "trust"))


def test_a_job_queued_before_the_response_sends_nothing_after_it(client, aws, pump, people, held):
    story_id = published(client, pump)
    wiring.store().mark_progress(story_id, "first_response_at", clock.iso())
    result = wiring.notifications().send(
        MailJob(kind="ladder_reminder", story_id=story_id, ref=f"reminder:{people['ward']}")
    )
    assert result == {"sent": False, "why": "no one to tell"}


def test_unsubscribing_after_the_step_stops_the_email(client, aws, pump, people, held):
    story_id = published(client, pump)
    held.at(OVERDUE)
    # The step is queued, then the hospital's person unsubscribes before the mail worker runs.
    wiring.ladder().run()
    profile = wiring.store().get_subscriber(people["hospital"])
    # (The subscriptions flow owns unsubscribing; what the ladder's letter sees is the status.)
    aws.client("dynamodb").update_item(
        TableName=aws.resources.table,
        Key={"PK": {"S": f"SUBSCRIBER#{profile['id']}"}, "SK": {"S": "PROFILE"}},
        UpdateExpression="SET #s = :u",
        ExpressionAttributeNames={"#s": "status"},
        ExpressionAttributeValues={":u": {"S": "unsubscribed"}},
    )
    pump.drain()
    assert ladder_mail("hospital@nhs.example") == []
    assert wiring.store().get_story(story_id, consistent=True)["overdue_at"]


def test_a_run_after_a_long_gap_sends_only_the_latest_step(client, aws, pump, people, held):
    story_id = published(client, pump)
    held.at(ORGANISATION + timedelta(hours=1))
    ladder_run(client, pump, times=2)
    assert ladder_mail("ward@nhs.example") == []  # no reminder after the deadline
    assert ladder_mail("hospital@nhs.example", "overdue") == []
    assert len(ladder_mail("trust@nhs.example", "organisation")) == 1
    assert wiring.store().get_story(story_id, consistent=True)["overdue_at"] == "2026-11-30T10:00:00.000Z"


def test_withdrawal_and_erasure_remove_the_ladder(client, aws, pump, people, held):
    withdrawn = published(client, pump)
    erased = published(client, pump)
    store = wiring.store()
    assert store.get_ladder(withdrawn) and store.get_ladder(erased)
    store.change_status(withdrawn, ["published"], {"status": "withdrawn", "withdrawn_at": clock.iso()})
    store.change_status(erased, ["published"], {"status": "erasing", "erase_requested_at": clock.iso()})
    pump.drain()
    assert store.get_ladder(withdrawn) is None
    assert store.get_ladder(erased) is None
    held.at(ORGANISATION)
    assert wiring.ladder().run() == {"ladders": 0}


def test_erasure_deletes_a_ladder_the_stream_left(client, aws, pump, people, held):
    story_id = published(client, pump)
    wiring.store().erase_story(story_id)
    assert wiring.store().get_ladder(story_id) is None


def test_a_held_story_waits_and_climbs_again_once_published(client, aws, pump, people, held):
    story_id = published(client, pump)
    # A moderator takes it down for a safeguarding check (in the console: a published story is not decidable).
    aws.client("dynamodb").update_item(
        TableName=aws.resources.table,
        Key={"PK": {"S": f"STORY#{story_id}"}, "SK": {"S": "STORY"}},
        UpdateExpression="SET #s = :h",
        ExpressionAttributeNames={"#s": "status"},
        ExpressionAttributeValues={":h": {"S": "held"}},
    )
    pump.drain()
    held.at(OVERDUE)
    assert wiring.ladder().run()["waiting"] == 1
    pump.drain()
    assert ladder_mail("hospital@nhs.example") == [] and ladder_mail("ward@nhs.example") == []
    assert "overdue_at" not in wiring.store().get_story(story_id, consistent=True)
    # Published again: a day later the ladder goes on from where it was (straight to overdue).
    publish(story_id)
    pump.drain()
    held.at(OVERDUE + timedelta(days=1))
    ladder_run(client, pump)
    assert len(ladder_mail("hospital@nhs.example", "overdue")) == 1
    assert ladder_mail("ward@nhs.example", "reminder") == []


def test_a_story_with_no_promise_has_no_ladder(client, aws, pump, people, held):
    story_id = published(client, pump, services=("hillside-district-nursing",))
    story = wiring.store().get_story(story_id, consistent=True)
    assert "response_days" not in story and "response_due_at" not in story
    assert wiring.store().get_ladder(story_id) is None
    assert "aims to reply" not in story_page(aws, story_id)


def test_a_run_is_bounded_and_the_rest_waits_for_the_next(client, aws, pump, people, held):
    ids = [published(client, pump) for _ in range(3)]
    held.at(REMINDER)
    first = wiring.ladder().run(most=2)
    assert first["ladders"] == 2 and first["reminder"] == 2
    second = wiring.ladder().run(most=2)
    assert second["ladders"] == 1 and second["reminder"] == 1
    assert wiring.ladder().run(most=2) == {"ladders": 0}
    assert {wiring.store().get_ladder(i)["next_step"] for i in ids} == {"overdue"}
    pump.drain()
    assert len(ladder_mail("ward@nhs.example", "reminder")) == 3


def _story_records(pump) -> list:
    """Drain the pump, keeping each story record's change and the jobs that followed from it."""
    real = wiring.changes().handle
    seen = []

    def keep(record):
        jobs = real(record)
        seen.append((wiring.store().decode_change(record), jobs))
        return jobs

    wiring.changes().handle = keep
    try:
        pump.drain()
    finally:
        del wiring.changes().handle
    return [(c, jobs) for c, jobs in seen if c.kind == "story"]


def test_a_publication_writes_the_promise_with_the_story_and_renders_its_page_once(client, aws, pump, people, held):
    """Issue 17: the moderator's publication carries the promise and starts the ladder in its own
    transaction, so one stream record follows it, and one job renders the story page."""
    from chalicelib.core.jobs import RenderJob

    story_id = submit(client)
    pump.drain()
    publish(story_id)
    assert wiring.store().get_ladder(story_id)["next_at"] == "2026-11-25T22:00:00.000Z"
    stories = _story_records(pump)
    assert [c.new["status"] for c, _ in stories] == ["published"]
    (change, jobs) = stories[0]
    assert change.old["status"] == "pending" and change.new["response_due_at"] == "2026-11-30T10:00:00.000Z"
    assert jobs.count(RenderJob(page="story", ref=story_id)) == 1
    assert "a reply is due by" in page_text(story_page(aws, story_id))


def test_the_record_that_sets_the_promise_renders_only_the_story_page(client, aws, pump, people, held):
    """A publication made in the console has no promise: the stream writes it, and the record of
    that write re-renders the story page alone, not every listing again."""
    from chalicelib.core.jobs import RenderJob

    story_id = submit(client)
    pump.drain()
    aws.client("dynamodb").update_item(
        TableName=aws.resources.table,
        Key={"PK": {"S": f"STORY#{story_id}"}, "SK": {"S": "STORY"}},
        UpdateExpression="SET #s = :p, published_at = :at REMOVE GSI1PK, GSI1SK",
        ExpressionAttributeNames={"#s": "status"},
        ExpressionAttributeValues={":p": {"S": "published"}, ":at": {"S": "2026-11-23T10:00:00.000Z"}},
    )
    stories = _story_records(pump)
    assert [c.new["status"] for c, _ in stories] == ["published", "published"]
    (first, first_jobs), (second, second_jobs) = stories
    assert first.old["status"] == "pending" and len(first_jobs) > 3  # pages, listings, the fan-out
    assert "response_due_at" not in second.old and second.new["response_due_at"] == "2026-11-30T10:00:00.000Z"
    assert second_jobs == [RenderJob(page="story", ref=story_id)]
    assert "a reply is due by" in page_text(story_page(aws, story_id))
