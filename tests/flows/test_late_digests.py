"""Digests that never miss (issue 22): a story published on day D is in the digest of D, or, when its
fan-out runs after that digest's cut-off (06:50 UTC on D + 1, ten minutes before the 07:00 job), in the
next digest still to be sent; never in a digest already sent, and never in two."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from chalicelib import wiring
from chalicelib.core import clock
from chalicelib.core.jobs import MailJob
from chalicelib.store import digest_day, digest_day_for
from tests.support.staff import alerts_to, staff
from tests.support.stories import publish, submit


@pytest.mark.parametrize(
    ("published", "fan_out", "day"),
    [
        ("2026-03-02T23:59:00.000Z", "2026-03-02T23:59:30+00:00", "2026-03-02"),
        ("2026-03-02T23:59:00.000Z", "2026-03-03T06:49:59+00:00", "2026-03-02"),  # before the cut-off
        ("2026-03-02T23:59:00.000Z", "2026-03-03T06:50:00+00:00", "2026-03-03"),  # D's digest is closing
        ("2026-03-02T23:59:00.000Z", "2026-03-03T07:05:00+00:00", "2026-03-03"),  # delayed past 07:00
        ("2026-03-02T10:00:00.000Z", "2026-03-05T12:00:00+00:00", "2026-03-05"),  # days late
        ("2026-03-02T10:00:00.000Z", "2026-03-02T10:00:01+02:00", "2026-03-02"),  # any zone, in UTC
    ],
)
def test_a_story_goes_in_the_first_digest_still_to_be_sent(published, fan_out, day):
    assert digest_day_for(published, datetime.fromisoformat(fan_out)) == day


def _at(monkeypatch, moment: str) -> None:
    when = datetime.fromisoformat(moment).astimezone(UTC)
    monkeypatch.setattr(clock, "now", lambda: when)


def _story_for_a_late_fan_out(client, pump) -> tuple[str, str, str]:
    """A published story whose fan-out reached no digest subscriber yet (they sign up after it ran)."""
    story_id = submit(client)
    pump.drain()
    publish(story_id)
    pump.drain()
    sid = staff("digest@nhs.example", {"service": "riverside-trust", "frequency": "digest"})
    return story_id, sid, digest_day(wiring.store().get_story(story_id)["published_at"])


def _next_day(day: str, n: int = 1) -> str:
    return (datetime.fromisoformat(day) + timedelta(days=n)).date().isoformat()


def test_a_fan_out_delayed_past_the_digest_is_in_the_next_one_and_mailed(client, aws, directory, pump, monkeypatch):
    story_id, sid, day = _story_for_a_late_fan_out(client, pump)
    alerts = wiring.alerts()
    _at(monkeypatch, f"{_next_day(day)}T07:00:00+00:00")
    assert alerts.queue_digests() == {"day": day, "digests": 0}  # D's digest goes out first
    _at(monkeypatch, f"{_next_day(day)}T07:05:00+00:00")
    alerts.fan_out(MailJob(kind="alert_fanout", story_id=story_id))  # ... then the delayed fan-out
    store = wiring.store()
    assert store.digest_of(day, sid) == [] and store.digest_of(_next_day(day), sid) == [story_id]
    _at(monkeypatch, f"{_next_day(day, 2)}T07:00:00+00:00")
    assert alerts.queue_digests() == {"day": _next_day(day), "digests": 1}
    pump.drain()
    [msg] = alerts_to("digest@nhs.example")
    assert "1 new stor" in str(msg["Subject"])
    # Erasing the story finds its late entry too.
    store.change_status(story_id, ["published"], {"status": "erasing"})
    pump.drain()
    assert store.digest_of(_next_day(day), sid) == []


def test_a_fan_out_in_time_is_in_its_days_digest(client, aws, directory, pump, monkeypatch):
    story_id, sid, day = _story_for_a_late_fan_out(client, pump)
    _at(monkeypatch, f"{_next_day(day)}T06:30:00+00:00")
    wiring.alerts().fan_out(MailJob(kind="alert_fanout", story_id=story_id))
    assert wiring.store().digest_of(day, sid) == [story_id]


def test_a_fan_out_retried_across_the_cut_off_puts_the_story_in_one_digest(client, aws, directory, pump, monkeypatch):
    story_id, sid, day = _story_for_a_late_fan_out(client, pump)
    _at(monkeypatch, f"{_next_day(day)}T06:49:00+00:00")
    wiring.alerts().fan_out(MailJob(kind="alert_fanout", story_id=story_id))
    _at(monkeypatch, f"{_next_day(day)}T06:56:00+00:00")  # the job delivered again
    wiring.alerts().fan_out(MailJob(kind="alert_fanout", story_id=story_id))
    store = wiring.store()
    assert store.digest_of(day, sid) == [story_id] and store.digest_of(_next_day(day), sid) == []
