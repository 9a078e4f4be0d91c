"""The event pump: what Lambda's event source mappings do, for the local stack and for tests.

`chalice local` serves HTTP routes only. This reads the table's stream and both queues and
calls the same handlers Lambda would, through chalice's test client, honouring partial
batch failures: a failed stream record is read again, a failed message stays on its queue.

In the local stack it also stands in for EventBridge and SNS: `daily` runs a scheduled handler
at its time of day (UTC), and SES's bounce and complaint notifications, published to the SNS
topic, reach `on_mail_event` through a queue subscribed to it. Other threads hand it work with
`call_soon`, so that only this thread ever drives the chalice client.
"""

from __future__ import annotations

import json
import queue
import threading
from collections.abc import Callable
from concurrent.futures import Future
from datetime import UTC, datetime, timedelta
from typing import Any

Invoke = Callable[[str, dict[str, Any]], dict[str, Any] | None]


def chalice_invoker(app: Any, stage: str = "local") -> Invoke:
    from chalice.test import Client

    client = Client(app, stage_name=stage)

    def invoke(name: str, event: dict[str, Any]) -> dict[str, Any] | None:
        return client.lambda_.invoke(name, event).payload

    return invoke


class Pump:
    def __init__(
        self,
        session: Any,
        resources: Any,
        invoke: Invoke,
        region: str = "eu-west-2",
        stream_batch: int = 100,
        peek: Any = None,
    ):
        """`peek`: a look at the emulator's memory that says when a real call would find nothing
        (local/moto_peek.py), for a pump in moto's own process; None asks every time."""
        self._streams = session.client("dynamodbstreams", region_name=region)
        self._sqs = session.client("sqs", region_name=region)
        self._sns = session.client("sns", region_name=region)
        self._res = resources
        self._invoke = invoke
        self._batch = stream_batch
        self._peek = peek
        self._last_sequence: dict[str, str] = {}
        self._queues = [
            (resources.render_queue_url, "render_worker"),
            (resources.mail_queue_url, "mail_worker"),
        ]
        if getattr(resources, "search_queue_url", ""):
            self._queues.append((resources.search_queue_url, "search_worker"))
        if getattr(resources, "delivery_queue_url", ""):
            self._queues.append((resources.delivery_queue_url, "delivery_worker"))
        self._sns_queues: list[tuple[str, str, str]] = []  # (queue url, topic arn, handler)
        self._daily: dict[str, tuple[int, int, datetime]] = {}  # handler -> (hour, minute, next run, UTC)
        self._calls: queue.Queue[tuple[Callable[[], Any], Future]] = queue.Queue()
        self.coalesce: set[str] = set()  # queue urls whose backlog is handled one distinct body at a time
        self.errors: list[str] = []
        # Every batch item failure ("handler: item id"), so that a retry hidden behind the
        # visibility timeout is still seen (tests fail on one they did not expect).
        self.failures: list[str] = []
        self.failures_expected = False

    def expect_failures(self) -> None:
        """Say that failures are part of what is being tested (the `pump` test fixture then allows them)."""
        self.failures_expected = True

    # ---- the stream -----------------------------------------------------------------------

    def _shards(self) -> list[str]:
        desc = self._streams.describe_stream(StreamArn=self._res.stream_arn)["StreamDescription"]
        return [s["ShardId"] for s in desc.get("Shards", [])]

    def skip_to_end(self) -> None:
        """Read past every record now on the stream without acting on it (bulk-loaded data is the
        state things start from, not a change to react to)."""
        for shard in self._shards():
            last = self._last_sequence.get(shard)
            where = (
                {"ShardIteratorType": "AFTER_SEQUENCE_NUMBER", "SequenceNumber": last}
                if last
                else {"ShardIteratorType": "TRIM_HORIZON"}
            )
            iterator = self._streams.get_shard_iterator(StreamArn=self._res.stream_arn, ShardId=shard, **where)[
                "ShardIterator"
            ]
            while iterator:
                resp = self._streams.get_records(ShardIterator=iterator, Limit=1000)
                if not resp.get("Records"):
                    break
                last = resp["Records"][-1]["dynamodb"]["SequenceNumber"]
                iterator = resp.get("NextShardIterator")
            if last:
                self._last_sequence[shard] = last

    def stream_once(self) -> int:
        done = 0
        if self._peek and not self._peek.stream(self._res.stream_arn, self._last_sequence):
            return 0
        for shard in self._shards():
            # A fresh iterator each round, after the last record read: when a TransactWriteItems is
            # cancelled, moto restores the table (its stream included) from a copy, and an iterator
            # held from before then returns nothing ever again.
            last = self._last_sequence.get(shard)
            where = (
                {"ShardIteratorType": "AFTER_SEQUENCE_NUMBER", "SequenceNumber": last}
                if last
                else {"ShardIteratorType": "TRIM_HORIZON"}
            )
            iterator = self._streams.get_shard_iterator(StreamArn=self._res.stream_arn, ShardId=shard, **where)[
                "ShardIterator"
            ]
            resp = self._streams.get_records(ShardIterator=iterator, Limit=self._batch)
            records = resp.get("Records", [])
            if not records:
                continue
            self._last_sequence[shard] = records[-1]["dynamodb"]["SequenceNumber"]
            event = {"Records": [self._stream_record(r) for r in records]}
            failed = self._failures(
                self._safe_invoke("on_table_change", event), records, stream=True, handler="on_table_change"
            )
            if failed:
                # Lambda retries from the first failed record; so do we (the next round reads after
                # the record before it, or from the start).
                first = next(i for i, r in enumerate(records) if r["dynamodb"]["SequenceNumber"] == failed[0])
                resume = records[first - 1]["dynamodb"]["SequenceNumber"] if first else last
                if resume:
                    self._last_sequence[shard] = resume
                else:
                    self._last_sequence.pop(shard, None)
                done += len(records) - len(failed)
            else:
                done += len(records)
        return done

    def _stream_record(self, record: dict[str, Any]) -> dict[str, Any]:
        out = dict(record)
        ddb = dict(record["dynamodb"])
        created = ddb.get("ApproximateCreationDateTime")
        if isinstance(created, datetime):
            ddb["ApproximateCreationDateTime"] = created.timestamp()
        out["dynamodb"] = ddb
        out["eventSourceARN"] = self._res.stream_arn
        out.setdefault("eventSource", "aws:dynamodb")
        return out

    # ---- the queues ---------------------------------------------------------------------------

    def queue_once(self, url: str, handler: str) -> int:
        if self._peek and not self._peek.queue(url):
            return 0
        if url in self.coalesce:
            return self._coalesced_once(url, handler)
        resp = self._sqs.receive_message(
            QueueUrl=url, MaxNumberOfMessages=10, AttributeNames=["All"], VisibilityTimeout=30, WaitTimeSeconds=0
        )
        messages = resp.get("Messages", [])
        if not messages:
            return 0
        return self._deliver(url, handler, messages, messages)

    def _deliver(self, url: str, handler: str, messages: list[dict[str, Any]], settle: list[dict[str, Any]]) -> int:
        """Invoke `handler` with up to ten `messages`; delete those of `settle` whose body was handled."""
        event = {"Records": [self._sqs_record(m, url) for m in messages]}
        failed = set(self._failures(self._safe_invoke(handler, event), messages, stream=False, handler=handler))
        failed_bodies = {m["Body"] for m in messages if m["MessageId"] in failed}
        done = [m for m in settle if m["Body"] not in failed_bodies]
        for i in range(0, len(done), 10):
            self._sqs.delete_message_batch(
                QueueUrl=url,
                Entries=[{"Id": str(n), "ReceiptHandle": m["ReceiptHandle"]} for n, m in enumerate(done[i : i + 10])],
            )
        return len(done)

    def _coalesced_once(self, url: str, handler: str, most: int = 2000) -> int:
        """Take the queue's whole backlog (up to `most`) and handle each distinct body once.

        Only for jobs whose effect depends on the state when they run, not on how often they run
        (a render job builds a page from the table as it is now): ten copies of "render the home
        page", queued while catching up with a backlog, become one render. Lambda would render it
        ten times, with the same result.
        """
        messages: list[dict[str, Any]] = []
        while len(messages) < most:
            more = self._sqs.receive_message(
                QueueUrl=url, MaxNumberOfMessages=10, AttributeNames=["All"], VisibilityTimeout=600, WaitTimeSeconds=0
            ).get("Messages", [])
            if not more:
                break
            messages += more
        copies: dict[str, list[dict[str, Any]]] = {}
        for m in messages:
            copies.setdefault(m["Body"], []).append(m)
        firsts = [group[0] for group in copies.values()]
        done = 0
        for i in range(0, len(firsts), 10):
            chunk = firsts[i : i + 10]
            done += self._deliver(url, handler, chunk, [m for first in chunk for m in copies[first["Body"]]])
        return done

    @staticmethod
    def _sqs_record(m: dict[str, Any], url: str) -> dict[str, Any]:
        return {
            "messageId": m["MessageId"],
            "receiptHandle": m["ReceiptHandle"],
            "body": m["Body"],
            "attributes": m.get("Attributes", {}),
            "messageAttributes": {},
            "md5OfBody": m.get("MD5OfBody", ""),
            "eventSource": "aws:sqs",
            "eventSourceARN": url,  # good enough for handlers, which never read it
            "awsRegion": "eu-west-2",
        }

    def queues_once(self) -> int:
        return sum(self.queue_once(url, handler) for url, handler in self._queues) + sum(
            self.sns_once(url, topic, handler) for url, topic, handler in self._sns_queues
        )

    # ---- SNS, through a queue subscribed to the topic ------------------------------------------

    def subscribe(self, topic_arn: str, queue_url: str, handler: str) -> None:
        """Deliver what is published to `topic_arn` to `handler`, as Lambda's SNS trigger would."""
        arn = self._sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        self._sns.subscribe(TopicArn=topic_arn, Protocol="sqs", Endpoint=arn)
        self._sns_queues.append((queue_url, topic_arn, handler))

    def sns_once(self, url: str, topic_arn: str, handler: str) -> int:
        if self._peek and not self._peek.queue(url):
            return 0
        messages = self._sqs.receive_message(
            QueueUrl=url, MaxNumberOfMessages=10, VisibilityTimeout=30, WaitTimeSeconds=0
        ).get("Messages", [])
        if not messages:
            return 0
        records = []
        for m in messages:
            try:
                note = json.loads(m["Body"])  # the SNS envelope SQS holds
            except ValueError:
                note = {"Message": m["Body"]}
            records.append(
                {
                    "EventSource": "aws:sns",
                    "EventVersion": "1.0",
                    "EventSubscriptionArn": f"{topic_arn}:local",
                    "Sns": {
                        "Type": note.get("Type", "Notification"),
                        "MessageId": note.get("MessageId", m["MessageId"]),
                        "TopicArn": note.get("TopicArn", topic_arn),
                        "Subject": note.get("Subject"),
                        "Message": note.get("Message", ""),
                        "Timestamp": note.get("Timestamp", ""),
                        "SignatureVersion": note.get("SignatureVersion", "1"),
                        "Signature": note.get("Signature", ""),
                        "SigningCertUrl": note.get("SigningCertURL", ""),
                        "UnsubscribeUrl": note.get("UnsubscribeURL", ""),
                        "MessageAttributes": note.get("MessageAttributes", {}),
                    },
                }
            )
        try:
            self._invoke(handler, {"Records": records})
        except Exception as e:  # as Lambda would: the messages stay, and come back after the timeout
            self.errors.append(f"{handler}: {e!r}")
            return 0
        self._sqs.delete_message_batch(
            QueueUrl=url, Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(messages)]
        )
        return len(messages)

    # ---- scheduled handlers, and work from other threads --------------------------------------

    def daily(self, handler: str, hour: int, minute: int = 0, now: datetime | None = None) -> datetime:
        """Run `handler` every day at hour:minute UTC while the pump runs. Returns the first run."""
        now = now or datetime.now(UTC)
        first = now.replace(hour=hour, minute=minute, second=0, microsecond=0)
        if first <= now:
            first += timedelta(days=1)
        self._daily[handler] = (hour, minute, first)
        return first

    def hourly(self, handler: str, minute: int = 0, now: datetime | None = None) -> datetime:
        """Run `handler` every hour at that minute while the pump runs (hour -1 below). Returns the first run."""
        now = now or datetime.now(UTC)
        first = now.replace(minute=minute, second=0, microsecond=0)
        if first <= now:
            first += timedelta(hours=1)
        self._daily[handler] = (-1, minute, first)
        return first

    def scheduled_once(self, now: datetime | None = None) -> int:
        now = now or datetime.now(UTC)
        ran = 0
        for handler, (hour, minute, due) in list(self._daily.items()):
            if now < due:
                continue
            self._daily[handler] = (
                hour,
                minute,
                due + (timedelta(hours=1) if hour < 0 else timedelta(days=1)),
            )  # hour -1: hourly
            event = {
                "version": "0",
                "id": f"local-{handler}-{due:%Y%m%d%H%M}",
                "detail-type": "Scheduled Event",
                "source": "aws.events",
                "account": "000000000000",
                "time": due.strftime("%Y-%m-%dT%H:%M:%SZ"),
                "region": "eu-west-2",
                "resources": [f"arn:aws:events:eu-west-2:000000000000:rule/{handler}"],
                "detail": {},
            }
            try:
                self._invoke(handler, event)
                ran += 1
            except Exception as e:
                self.errors.append(f"{handler}: {e!r}")
        return ran

    def call_soon(self, fn: Callable[[], Any]) -> Future:
        """Run `fn` on the pump's thread, between rounds; the future holds its result or error."""
        future: Future = Future()
        self._calls.put((fn, future))
        return future

    def calls_once(self) -> int:
        done = 0
        while True:
            try:
                fn, future = self._calls.get_nowait()
            except queue.Empty:
                return done
            if future.set_running_or_notify_cancel():
                try:
                    future.set_result(fn())
                except Exception as e:  # the caller reads it from the future
                    future.set_exception(e)
            done += 1

    # ---- driving ------------------------------------------------------------------------------

    def _safe_invoke(self, name: str, event: dict[str, Any]) -> Any:
        try:
            return self._invoke(name, event)
        except Exception as e:  # the whole batch failed: Lambda would retry it all
            self.errors.append(f"{name}: {e!r}")
            return {"batchItemFailures": [{"itemIdentifier": "*"}]}

    def _failures(self, result: Any, items: list[dict[str, Any]], stream: bool, handler: str = "") -> list[str]:
        failures = (result or {}).get("batchItemFailures", []) if isinstance(result, dict) else []
        ids = [f.get("itemIdentifier") for f in failures]
        if "*" in ids:
            ids = [i["dynamodb"]["SequenceNumber"] if stream else i["MessageId"] for i in items]
        self.failures += [f"{handler}: {i}" for i in ids]
        return ids

    def dead_letters(self) -> dict[str, int]:
        """Messages on each dead-letter queue (by queue url): work that was given up on."""
        counts = {}
        for url in (
            getattr(self._res, n, "") for n in ("render_dlq_url", "mail_dlq_url", "search_dlq_url", "delivery_dlq_url")
        ):
            if url:
                known = self._peek.messages(url) if self._peek is not None else None
                if known is not None:
                    counts[url] = known
                    continue
                attrs = self._sqs.get_queue_attributes(
                    QueueUrl=url,
                    AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
                )["Attributes"]
                counts[url] = sum(int(v) for v in attrs.values())
        return counts

    def problems(self) -> list[str]:
        """Everything that went wrong: handler errors, batch item failures, dead-lettered messages."""
        dead = [f"{n} message(s) on {url.rsplit('/', 1)[-1]}" for url, n in self.dead_letters().items() if n]
        return self.errors + self.failures + dead

    def drain(self, max_rounds: int = 100) -> int:
        """Run until the stream and the queues are quiet. Returns how many records were handled."""
        total = 0
        for _ in range(max_rounds):
            n = self.stream_once() + self.queues_once()
            total += n
            if n == 0:
                return total
        return total

    def run(self, stop: threading.Event, interval: float = 0.2) -> None:
        while not stop.is_set():
            try:
                self.calls_once()
                self.scheduled_once()
                if self.stream_once() + self.queues_once() == 0:
                    stop.wait(interval)
            except Exception as e:  # keep pumping: an emulator hiccup must not stop the stack
                self.errors.append(repr(e))
                stop.wait(1.0)
