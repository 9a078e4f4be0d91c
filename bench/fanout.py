"""Fan-out: one story that reaches 1,000 subscribers, with injected SES throttling and redeliveries.

In moto in process: 1,000 people subscribed on the story's ward, hospital or trust. The story is
published; the event pump then runs the stream, the fan-out job and every alert job, with:
  - a burst of SES throttling that botocore's own retries absorb (SES refuses the first attempt
    of 20 consecutive sends with 400 Throttling);
  - a burst that outlasts them (20 consecutive sends raise Throttling as they would once every
    retry was throttled): those messages go back to the queue and come again;
  - 30 messages whose emails were sent but that were never deleted (a worker that died after
    sending), so they come again;
  - the fan-out job delivered a second time, once everyone has had their email.
Expected: exactly one email per person.
"""

from __future__ import annotations

import json
import time
from collections import Counter
from email.parser import HeaderParser
from typing import Any

from .budgets import FANOUT_DUPLICATES, FANOUT_HOOKS, FANOUT_RECIPIENTS, FANOUT_SENT
from .env import BENCH_WARD, Aws, aws_in_process, bar, fast_seeding, load_directory, story_body
from .loaders import put_subscribers
from .report import Section, fmt, table

VISIBILITY = 2  # seconds before a message that was not deleted comes back (Lambda's queue: minutes)
# Where each fault starts, as a share of the recipients (or of the mail batches), and how many it hits.
RETRIED_BURST = (0.2, 20)  # sends whose first attempt SES throttles: botocore's retries absorb them
FAILED_BURST = (0.5, 20)  # sends that SES throttles on every attempt: the queue retries them
UNDELETED_BATCHES = (0.3, 3)  # batches of 10 messages sent but never deleted


def subscribe_crowd(services: dict[str, Any], n: int) -> list[str]:
    """n people, each with one active immediate subscription on the story's ward, hospital or trust,
    written in BatchWriteItem calls (loaders.put_subscribers)."""
    from chalicelib import wiring
    from chalicelib.core import clock
    from chalicelib.core.ids import new_id

    store = wiring.store()
    path = services[BENCH_WARD]["path"]
    now = clock.iso()
    people: list[str] = []
    chunk: list[tuple[dict, list[dict]]] = []
    with bar(f"subscribing {n:,} people", total=n, unit=" people") as b, fast_seeding():
        for i in range(n):
            email = f"staff{i:04d}@nhs.example"
            profile = {
                "id": new_id(),
                "email": email,
                "name": f"Staff Member {i}",
                "display_name": f"Staff {i}",
                "role": "Nurse",
                "organisation": path[0],
                "organisation_name": services[path[0]]["name"],
                "status": "active",
                "access": "responder",  # a member with the grant (organisations, issue 15)
                "responses_sent": 3,  # past the first responses a moderator checks
                "created_at": now,
                "confirmed_at": now,
                "links_valid_after": "",
            }
            level = path[i % len(path)]
            sub = {
                "id": new_id(),
                "subscriber_id": profile["id"],
                "service": level,
                "service_name": services[level]["name"],
                "tags": [],
                "min_criticality": 0,
                "frequency": "immediate",
                "status": "active",
                "created_at": now,
            }
            chunk.append((profile, [sub]))
            people.append(email)
            if len(chunk) == 100 or i == n - 1:
                put_subscribers(store, chunk)
                b.update(len(chunk))
                chunk = []
    return people


class Faults:
    """The injected faults, and what they did. A throttled first attempt is refused inside the
    emulator's SES (moto's backend), so it sends nothing, as on AWS, and botocore retries a real 400."""

    def __init__(self, aws: Aws, recipients: int):
        import warnings

        from botocore.exceptions import ClientError
        from moto.core import DEFAULT_ACCOUNT_ID
        from moto.ses.exceptions import SesError
        from moto.ses.models import ses_backends

        from chalicelib.core import aws as clients

        class Throttling(SesError):
            code = "Throttling"

        warnings.filterwarnings("ignore", message=r"Exception\(Throttling\)")
        self.sends = 0  # SendRawEmail calls
        self.attempts = 0  # their attempts that reached SES
        self.throttled_first = 0
        self.throttled_calls = 0
        self.undeleted = 0
        self.batches = 0
        self._first_attempt = False
        self.retried = (int(RETRIED_BURST[0] * recipients), RETRIED_BURST[1])
        self.failed = (int(FAILED_BURST[0] * recipients), FAILED_BURST[1])
        self.undeleted_batches = (int(UNDELETED_BATCHES[0] * recipients / 10), UNDELETED_BATCHES[1])
        backend = ses_backends[DEFAULT_ACCOUNT_ID]["eu-west-2"]
        send_in_ses = backend.send_raw_email

        def ses_side(*args: Any, **kwargs: Any) -> Any:
            self.attempts += 1
            if self._first_attempt:
                self._first_attempt = False
                self.throttled_first += 1
                raise Throttling("Maximum sending rate exceeded.")
            return send_in_ses(*args, **kwargs)

        backend.send_raw_email = ses_side
        ses = clients.client("ses")
        call = ses.send_raw_email

        def client_side(**kwargs: Any) -> Any:
            self.sends += 1
            first, count = self.failed
            if first <= self.sends < first + count:
                # What a send throttled on every one of botocore's attempts raises, without the
                # minute of backoff that takes.
                self.throttled_calls += 1
                raise ClientError(
                    {"Error": {"Code": "Throttling", "Message": "Maximum sending rate exceeded."}}, "SendRawEmail"
                )
            first, count = self.retried
            self._first_attempt = first <= self.sends < first + count
            return call(**kwargs)

        ses.send_raw_email = client_side
        pump = aws.pump
        receive, delete = pump._sqs.receive_message, pump._sqs.delete_message_batch
        pump._sqs.receive_message = lambda **kw: receive(**(kw | {"VisibilityTimeout": VISIBILITY}))

        def maybe_delete(**kw: Any) -> Any:
            if kw.get("QueueUrl") == aws.resources.mail_queue_url:
                self.batches += 1
                first, count = self.undeleted_batches
                if first <= self.batches < first + count:
                    self.undeleted += len(kw["Entries"])
                    return {"Successful": [], "Failed": []}
            return delete(**kw)

        pump._sqs.delete_message_batch = maybe_delete


def ua_handlers() -> int | None:
    """How many powertools User-Agent hooks the app's DynamoDB client carries now. Each idempotency
    layer built on a client registers one more (aws_lambda_powertools.shared.user_agent), and every
    request then runs them all: a warm Lambda that builds a layer per email gets slower with each."""
    from chalicelib.core import aws as clients

    try:
        handlers = clients.client("dynamodb").meta.events._emitter._handlers.prefix_search(
            "request-created.dynamodb.GetItem"
        )
        return sum(1 for h in handlers if getattr(h, "__name__", "") == "add_powertools_feature")
    except Exception:  # noqa: BLE001 - botocore internals: report nothing rather than fail
        return None


def emails_by_recipient() -> Counter:
    from moto.core import DEFAULT_ACCOUNT_ID
    from moto.ses.models import ses_backends

    parser = HeaderParser()
    got: Counter = Counter()
    for m in ses_backends[DEFAULT_ACCOUNT_ID]["eu-west-2"].sent_messages:
        raw = getattr(m, "raw_data", None)
        if raw:
            got[str(parser.parsestr(raw)["To"])] += 1
    return got


def pump_mail(aws: Aws, b: Any) -> None:
    """Run the mail queue until nothing is left on it, visible or in flight."""
    sqs = aws.client("sqs")
    url = aws.resources.mail_queue_url
    while True:
        n = aws.pump.queue_once(url, "mail_worker")
        b.update(n)
        if n:
            continue
        attrs = sqs.get_queue_attributes(
            QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"]
        )["Attributes"]
        if not any(int(v) for v in attrs.values()):
            return
        time.sleep(0.2)


def run(quick: bool = False) -> Section:
    from chalicelib import wiring
    from chalicelib.core.jobs import MailJob
    from chalicelib.moderation import Moderator

    section = Section("fanout", "Fan-out")
    n = 200 if quick else FANOUT_RECIPIENTS
    with aws_in_process() as aws:
        services = load_directory()
        people = subscribe_crowd(services, n)
        aws.drain_stream()
        resp = aws.app_client.http.post(
            "/api/stories", body=json.dumps(story_body(email="")), headers={"Content-Type": "application/json"}
        )
        assert resp.status_code == 201, resp.body
        story_id = json.loads(resp.body)["id"]
        aws.drain_stream()
        aws.purge("mail")
        faults = Faults(aws, n)
        version = wiring.store().get_story(story_id, consistent=True)["version"]
        t0 = time.perf_counter()
        wiring.moderation().decide(
            story_id,
            {"action": "publish", "version": version, "criticality": 2},
            Moderator("bench@feedforward.example", "Bench Moderator"),
        )
        aws.drain_stream()
        aws.purge("render")  # pages are measured elsewhere
        with bar("alert emails", unit=" jobs") as b:
            pump_mail(aws, b)
        took = time.perf_counter() - t0
        # The fan-out job delivered again, once everyone has had their email.
        wiring.queues().send([MailJob(kind="alert_fanout", story_id=story_id)])
        t1 = time.perf_counter()
        with bar("the fan-out job again", unit=" jobs") as b:
            pump_mail(aws, b)
        again = time.perf_counter() - t1
        handlers = ua_handlers()
        got = emails_by_recipient()
        errors = list(aws.pump.errors)
    sent = sum(got[p] for p in people)
    duplicates = sum(c - 1 for p in people if (c := got[p]) > 1)
    missing = sum(1 for p in people if got[p] == 0)
    strangers = sum(c for a, c in got.items() if a not in set(people))
    section.add(
        "fanout.sent",
        f"emails sent for one story reaching {n:,} subscribers",
        sent,
        "",
        FANOUT_SENT if not quick else None,
    )
    section.add("fanout.duplicates", "duplicate emails", duplicates, "", FANOUT_DUPLICATES)
    section.add("fanout.missing", "subscribers who got no email", missing, "")
    section.add("fanout.seconds", "wall time, publication to the last email", round(took, 1), "s")
    section.add("fanout.rate", "emails per second", round(sent / took, 1) if took else None, "emails/s")
    section.add("fanout.again_seconds", "wall time of the fan-out job delivered again (no email)", round(again, 1), "s")
    section.add(
        "fanout.ua_handlers",
        "powertools User-Agent hooks on the app's DynamoDB client afterwards",
        handlers,
        "",
        FANOUT_HOOKS,
        note="one per idempotency layer ever built on it; each DynamoDB request runs them all",
    )
    section.data = {
        "recipients": n,
        "sends": faults.sends,
        "attempts": faults.attempts,
        "throttled_first": faults.throttled_first,
        "throttled_calls": faults.throttled_calls,
        "undeleted": faults.undeleted,
        "pump_errors": errors[-5:],
        "strangers": strangers,
        "duplicated": {p: got[p] for p in people if got[p] > 1},
    }
    rows = [
        ["SendRawEmail calls / attempts that reached SES", f"{faults.sends:,} / {faults.attempts:,}"],
        ["first attempts throttled, absorbed by botocore's retries", faults.throttled_first],
        ["sends that failed after botocore's retries (back to the queue)", faults.throttled_calls],
        ["messages sent but never deleted (redelivered)", faults.undeleted],
        ["fan-out job deliveries", 2],
        ["batch failures reported to the pump", len(errors)],
    ]
    section.details = "\n".join(
        [
            f"One story published to {n:,} people subscribed on its ward, hospital or trust (a third on each), in moto in "
            "process, through the event pump: the stream, the fan-out job, then one alert job per person, ten to a "
            f"batch. The faults injected, and what they did (a message not deleted comes back after {VISIBILITY} s):",
            "",
            table(["fault", "count"], rows),
            "",
            f"Result: {sent:,} emails to {n - missing:,} of {n:,} people, {duplicates} duplicates, {strangers} to anyone "
            f"else, in {took:.1f} s ({fmt(sent / took if took else None, 'emails/s')}; moto's and this machine's speed, "
            "SES's sending quota sets the pace on AWS). The SES client retries throttling in adaptive mode "
            "(chalicelib/core/aws.py), which also slows itself down after a throttle.",
        ]
    )
    return section
