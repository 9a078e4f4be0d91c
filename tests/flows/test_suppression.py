"""SES bounces and complaints, as SNS delivers them to on_mail_event, suppress the address."""

from __future__ import annotations

import io
import json

import pytest

from chalicelib import wiring
from chalicelib.core.jobs import MailJob
from chalicelib.core.observability import logger
from chalicelib.store import email_hash
from chalicelib.suppression import handle_sns
from tests.support import ses_events
from tests.support.staff import alerts_to, staff
from tests.support.stories import publish, submit


def mail_event(client, *messages) -> dict:
    """Deliver an SNS event to the handler, as Lambda would."""
    return client.lambda_.invoke("on_mail_event", ses_events.sns_event(*messages)).payload


def new_story(client, pump) -> str:
    story_id = submit(client)
    pump.drain()
    publish(story_id)
    pump.drain()
    return story_id


@pytest.mark.parametrize("shape", ["identity", "event"])
def test_a_permanent_bounce_stops_every_further_email(client, aws, directory, pump, shape):
    sid = staff("gone@nhs.example", {"service": "riverside-trust"})
    new_story(client, pump)
    assert len(alerts_to("gone@nhs.example")) == 1

    result = mail_event(client, ses_events.bounce(["Gone@NHS.example"], shape=shape))
    assert result == {"suppressed": 1, "ignored": 0}
    entry = wiring.store().suppression("gone@nhs.example")
    assert (entry["reason"], entry["detail"]) == ("bounce", "Permanent/General")

    second = new_story(client, pump)
    assert len(alerts_to("gone@nhs.example")) == 1
    again = wiring.notifications().send(MailJob(kind="staff_alert", story_id=second, ref=sid))
    assert again == {"sent": False, "why": "suppressed"}


@pytest.mark.parametrize("shape", ["identity", "event"])
def test_a_complaint_suppresses(client, aws, directory, pump, shape):
    staff("annoyed@nhs.example", {"service": "riverside-trust"})
    assert mail_event(client, ses_events.complaint(["annoyed@nhs.example"], shape=shape)) == {
        "suppressed": 1,
        "ignored": 0,
    }
    entry = wiring.store().suppression("annoyed@nhs.example")
    assert (entry["reason"], entry["detail"]) == ("complaint", "abuse")
    new_story(client, pump)
    assert alerts_to("annoyed@nhs.example") == []


def test_a_transient_bounce_does_not_suppress(client, aws, directory, pump):
    staff("full@nhs.example", {"service": "riverside-trust"})
    result = mail_event(
        client,
        ses_events.bounce(["full@nhs.example"], bounce_type="Transient", sub_type="MailboxFull"),
        ses_events.bounce(["full@nhs.example"], bounce_type="Undetermined", sub_type="Undetermined", shape="event"),
    )
    assert result == {"suppressed": 0, "ignored": 2}
    assert wiring.store().suppression("full@nhs.example") is None
    new_story(client, pump)
    assert len(alerts_to("full@nhs.example")) == 1


def test_a_delivery_changes_nothing(client, aws, directory):
    assert mail_event(
        client, ses_events.delivery(["fine@nhs.example"]), ses_events.delivery(["fine@nhs.example"], shape="event")
    ) == {
        "suppressed": 0,
        "ignored": 2,
    }
    assert wiring.store().suppression("fine@nhs.example") is None


def test_one_bounce_for_several_recipients_suppresses_each(client, aws):
    result = mail_event(client, ses_events.bounce(["a@nhs.example", '"B Person" <b@nhs.example>']))
    assert result == {"suppressed": 2, "ignored": 0}
    assert wiring.store().suppression("a@nhs.example") and wiring.store().suppression("b@nhs.example")


def test_a_malformed_message_does_not_stop_the_others(client, aws):
    good = ses_events.complaint(["kept@nhs.example"])
    no_recipients = ses_events.bounce(["x@nhs.example"])
    no_recipients["bounce"]["bouncedRecipients"] = "x@nhs.example"
    no_address = ses_events.complaint(["y@nhs.example"])
    no_address["complaint"]["complainedRecipients"] = [{"emailAddress": "not an address"}]
    event = ses_events.sns_event(
        "{not json", "[1, 2]", json.dumps({"mail": {}}), {"notificationType": "Bounce"}, no_recipients, no_address, good
    )
    event["Records"].insert(1, {"EventSource": "aws:sns", "Sns": None})
    result = client.lambda_.invoke("on_mail_event", event).payload
    assert result == {"suppressed": 1, "ignored": 7}
    assert wiring.store().suppression("kept@nhs.example")["reason"] == "complaint"
    assert wiring.store().suppression("x@nhs.example") is None


def test_a_failing_table_still_does_the_other_records_then_asks_for_a_retry(aws, monkeypatch):
    store = wiring.store()
    real = store.suppress

    def flaky(email, *args, **kwargs):
        if email == "first@nhs.example":
            raise RuntimeError("table unavailable")
        return real(email, *args, **kwargs)

    monkeypatch.setattr(store, "suppress", flaky)
    event = ses_events.sns_event(
        ses_events.complaint(["first@nhs.example"]), ses_events.complaint(["second@nhs.example"])
    )
    with pytest.raises(RuntimeError):
        handle_sns(event, store)
    assert real.__self__.suppression("second@nhs.example")
    # The retry (Lambda retries a failed asynchronous invocation) does the rest; doing one twice is harmless.
    monkeypatch.setattr(store, "suppress", real)
    assert handle_sns(event, store) == {"suppressed": 2, "ignored": 0}


def test_no_log_line_carries_the_address(aws):
    store = wiring.store()
    lines = io.StringIO()
    previous = logger.registered_handler.setStream(lines)
    event = ses_events.sns_event(
        ses_events.bounce(["private.person@nhs.example"]),
        ses_events.bounce(["private.person@nhs.example"], bounce_type="Transient"),
        ses_events.complaint(["private.person@nhs.example"], shape="event"),
        ses_events.delivery(["private.person@nhs.example"]),
        "{broken",
    )
    try:
        handle_sns(event, store)
    finally:
        logger.registered_handler.setStream(previous)
    logged = lines.getvalue()
    assert "address suppressed" in logged
    assert email_hash("private.person@nhs.example") in logged
    assert "private.person" not in logged
    # The suppression item itself is keyed by the hash and holds no address either.
    items = aws.client("dynamodb").scan(TableName=aws.resources.table)["Items"]
    assert "private.person" not in json.dumps(items)


def test_emails_go_through_the_configuration_set_that_reports_bounces(client, aws, directory, pump, monkeypatch):
    """Without the configuration set on each send, SES would publish no bounce or complaint to SNS."""
    from chalicelib.core import aws as aws_clients

    monkeypatch.setenv("FF_MAIL_CONFIGURATION_SET", "feedforward-test-events")
    wiring.reset()
    seen: list[str | None] = []
    aws_clients.client("ses").meta.events.register(
        "provide-client-params.ses.SendRawEmail", lambda params, **_: seen.append(params.get("ConfigurationSetName"))
    )
    submit(client)
    pump.drain()
    assert seen and set(seen) == {"feedforward-test-events"}
