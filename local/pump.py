"""The event pump: what Lambda's event source mappings do, for the local stack and for tests.

`chalice local` serves HTTP routes only. This reads the table's stream and both queues and
calls the same handlers Lambda would, through chalice's test client, honouring partial
batch failures: a failed stream record is read again, a failed message stays on its queue.
"""

from __future__ import annotations

import threading
from datetime import datetime
from typing import Any, Callable

Invoke = Callable[[str, dict[str, Any]], dict[str, Any] | None]


def chalice_invoker(app: Any, stage: str = "local") -> Invoke:
    from chalice.test import Client

    client = Client(app, stage_name=stage)

    def invoke(name: str, event: dict[str, Any]) -> dict[str, Any] | None:
        return client.lambda_.invoke(name, event).payload

    return invoke


class Pump:
    def __init__(self, session: Any, resources: Any, invoke: Invoke, region: str = "eu-west-2", stream_batch: int = 100):
        self._streams = session.client("dynamodbstreams", region_name=region)
        self._sqs = session.client("sqs", region_name=region)
        self._res = resources
        self._invoke = invoke
        self._batch = stream_batch
        self._iterators: dict[str, str | None] = {}
        self._queues = [
            (resources.render_queue_url, "render_worker"),
            (resources.mail_queue_url, "mail_worker"),
        ]
        self.errors: list[str] = []

    # ---- the stream -----------------------------------------------------------------------

    def _shards(self) -> list[str]:
        desc = self._streams.describe_stream(StreamArn=self._res.stream_arn)["StreamDescription"]
        return [s["ShardId"] for s in desc.get("Shards", [])]

    def stream_once(self) -> int:
        done = 0
        for shard in self._shards():
            if shard not in self._iterators:
                self._iterators[shard] = self._streams.get_shard_iterator(
                    StreamArn=self._res.stream_arn, ShardId=shard, ShardIteratorType="TRIM_HORIZON"
                )["ShardIterator"]
            iterator = self._iterators[shard]
            if not iterator:
                continue
            resp = self._streams.get_records(ShardIterator=iterator, Limit=self._batch)
            records = resp.get("Records", [])
            self._iterators[shard] = resp.get("NextShardIterator")
            if not records:
                continue
            event = {"Records": [self._stream_record(r) for r in records]}
            failed = self._failures(self._safe_invoke("on_table_change", event), records, stream=True)
            if failed:
                # Lambda retries from the first failed record; so do we.
                self._iterators[shard] = self._streams.get_shard_iterator(
                    StreamArn=self._res.stream_arn,
                    ShardId=shard,
                    ShardIteratorType="AT_SEQUENCE_NUMBER",
                    SequenceNumber=failed[0],
                )["ShardIterator"]
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
        resp = self._sqs.receive_message(
            QueueUrl=url, MaxNumberOfMessages=10, AttributeNames=["All"], VisibilityTimeout=30, WaitTimeSeconds=0
        )
        messages = resp.get("Messages", [])
        if not messages:
            return 0
        arn = url  # good enough for handlers, which never read it
        event = {
            "Records": [
                {
                    "messageId": m["MessageId"],
                    "receiptHandle": m["ReceiptHandle"],
                    "body": m["Body"],
                    "attributes": m.get("Attributes", {}),
                    "messageAttributes": {},
                    "md5OfBody": m.get("MD5OfBody", ""),
                    "eventSource": "aws:sqs",
                    "eventSourceARN": arn,
                    "awsRegion": "eu-west-2",
                }
                for m in messages
            ]
        }
        failed = set(self._failures(self._safe_invoke(handler, event), messages, stream=False))
        done = [m for m in messages if m["MessageId"] not in failed]
        if done:
            self._sqs.delete_message_batch(
                QueueUrl=url, Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(done)]
            )
        return len(done)

    def queues_once(self) -> int:
        return sum(self.queue_once(url, handler) for url, handler in self._queues)

    # ---- driving ------------------------------------------------------------------------------

    def _safe_invoke(self, name: str, event: dict[str, Any]) -> Any:
        try:
            return self._invoke(name, event)
        except Exception as e:  # the whole batch failed: Lambda would retry it all
            self.errors.append(f"{name}: {e!r}")
            return {"batchItemFailures": [{"itemIdentifier": "*"}]}

    @staticmethod
    def _failures(result: Any, items: list[dict[str, Any]], stream: bool) -> list[str]:
        failures = (result or {}).get("batchItemFailures", []) if isinstance(result, dict) else []
        ids = [f.get("itemIdentifier") for f in failures]
        if "*" in ids:
            return [i["dynamodb"]["SequenceNumber"] if stream else i["MessageId"] for i in items]
        return ids

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
                if self.stream_once() + self.queues_once() == 0:
                    stop.wait(interval)
            except Exception as e:  # keep pumping: an emulator hiccup must not stop the stack
                self.errors.append(repr(e))
                stop.wait(1.0)
