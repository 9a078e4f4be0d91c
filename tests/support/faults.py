"""Fault injection for the event pipeline, and a small event-source emulator that retries as AWS does.

`Faults` hooks the clients chalicelib/core/aws.py hands out (botocore events, as bench/env.py counts calls):
- an error fault answers `before-call.<service>.<Operation>` with an error response, so botocore
  raises the very exception class AWS would give (a ClientError subclass). It stands for a call
  that still failed after botocore's own retries.
- "conditional" lets a twin (a hook-free client: another worker) make the same conditional write
  first, so the call then meets a real ConditionalCheckFailed or TransactionCanceled from the table.
- "die" raises `ProcessDied` in `after-call` of a write: the write happened, the process dies
  before anything after it.
- "lost" lets a write reach the emulator (moto's `before-send` answers it: the write is applied),
  then replaces its answer with a read timeout (issue 22). Only the call's first attempt is hit:
  botocore's own retry (its retry mode, its quota; its backoff sleep skipped by the test) then sends
  the same request again, as after a timeout or a dropped connection on AWS. ProcessDied is a BaseException, as a killed process runs no `except
  Exception` clean-up (powertools' idempotency and batch handlers catch Exception only).

`Sources` plays the event source mappings: the stream (a failed batch is retried from its first
failed record, as Lambda does with ReportBatchItemFailures, up to MaximumRetryAttempts), the two
queues (a failed message comes back until maxReceiveCount, then goes to `dlq`), and SNS (an
asynchronous invocation retried twice, then `event_failures`). Between attempts the clock moves
on by `retry_after` seconds, as a message waits out its visibility timeout.
"""

from __future__ import annotations

import random
import re
import threading
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from chalicelib import wiring

INFRA = Path(__file__).resolve().parents[2] / "infra" / "template.yaml"


class ProcessDied(BaseException):
    """The Lambda process stopped (killed, out of memory) right after a write."""


# kind -> (HTTP status, error code, message)
ERRORS: dict[str, tuple[int, str, str]] = {
    "ddb_throttle": (
        400,
        "ProvisionedThroughputExceededException",
        "The level of configured provisioned throughput was exceeded",
    ),
    "ddb_throttle_request": (400, "ThrottlingException", "Rate of requests exceeds the allowed throughput."),
    "s3_500": (500, "InternalError", "We encountered an internal error. Please try again."),
    "s3_503": (503, "SlowDown", "Please reduce your request rate."),
    "ses_throttle": (400, "Throttling", "Maximum sending rate exceeded."),
    # The recipient's address is appended (SES names the identities that failed): permanent.
    "ses_rejected": (400, "MessageRejected", "Email address is not verified."),
    # Our own sender's identity failed (an operator puts it right): retried, then dead-lettered.
    "ses_refused_sender": (
        400,
        "MessageRejected",
        "Email address is not verified. The following identities failed the check in region EU-WEST-2: "
        "stories@feedforward.example",
    ),
    "sqs_500": (500, "InternalError", "We encountered an internal error."),
}
KINDS = tuple(ERRORS) + ("conditional", "die", "lost")
WRITES = {
    "dynamodb": ("PutItem", "UpdateItem", "DeleteItem", "TransactWriteItems", "BatchWriteItem"),
    "s3": ("PutObject", "DeleteObject"),
    "sqs": ("SendMessageBatch", "SendMessage"),
    "ses": ("SendRawEmail",),
}
_SNAKE = re.compile(r"(?<!^)(?=[A-Z])")


def max_receive_count(queue: str = "RenderQueue") -> int:
    """maxReceiveCount of one queue's redrive policy in infra/template.yaml (RenderQueue, MailQueue)."""
    text = INFRA.read_text()
    block = text[text.index(f"\n  {queue}:\n") :]
    return int(re.search(r"maxReceiveCount:\s*(\d+)", block).group(1))


def stream_retries() -> int:
    return int(re.search(r"MaximumRetryAttempts:\s*(\d+)", INFRA.read_text()).group(1))


@dataclass
class Fault:
    """Inject `kind` into `service.operation` calls made while handler `step` runs.

    Schedule: skip the first `skip` matching calls, then inject into `times` of them, one in
    every `every`; or, with `rate`, into each matching call with that probability (seeded).
    `match` sees the call's parameters (e.g. only idempotency records)."""

    step: str
    kind: str
    service: str
    operation: str
    times: int = 1
    skip: int = 0
    every: int = 1
    rate: float = 0.0
    match: Callable[[dict[str, Any]], bool] | None = None
    seen: int = 0
    injected: int = 0

    def due(self, rng: random.Random) -> bool:
        self.seen += 1
        if self.rate:
            return rng.random() < self.rate
        n = self.seen - self.skip
        return n > 0 and (n - 1) % self.every == 0 and self.injected < self.times


@dataclass
class _Response:
    status_code: int
    headers: dict[str, str] = field(default_factory=dict)
    content: bytes = b""


class Faults:
    SERVICES = ("dynamodb", "s3", "sqs", "ses")

    def __init__(self, twin: Callable[[str], Any] | None = None, seed: int = 6):
        self.faults: list[Fault] = []
        self.step = ""
        self.enabled = True
        self.injected: Counter[tuple[str, str, str]] = Counter()  # (step, kind, service.operation)
        self._twin = twin  # service -> a client with no hooks, for "conditional"
        self._rng = random.Random(seed)
        self.log: list[str] = []  # every injection and delivery, in order (for a failing test's message)
        self.calls: Counter[tuple[str, str]] = Counter()  # (step, service.operation) -> calls seen
        self.rejected: list[tuple[str, str]] = []  # (to, subject) of each email answered MessageRejected
        self._losing = threading.local()  # the call whose first attempt's answer is to be lost
        self.tokens: Counter[bool] = Counter()  # TransactWriteItems seen with (True) and without a token

    def add(self, *faults: Fault) -> Faults:
        for f in faults:
            assert f.kind in KINDS, f.kind
            if f.kind in ("die", "lost"):
                assert f.operation in WRITES[f.service], f"{f.kind} is for writes, not {f.operation}"
        self.faults += faults
        return self

    def attach(self) -> None:
        """Hook every client chalicelib uses (again after wiring.reset(), which makes new ones)."""
        from chalicelib.core import aws

        for name in self.SERVICES:
            c = aws.client(name)
            if getattr(c, "_faults", None) is self:
                continue
            c.meta.events.register("provide-client-params.*.*", self._params_hook)
            c.meta.events.register("before-call.*.*", self._before)
            c.meta.events.register("after-call.*.*", self._after)
            # Last, after moto's own before-send has applied the call: only its answer is lost.
            c.meta.events.register_last("before-send", self._lose_answer)
            c._faults = self

    def by_kind_and_step(self) -> dict[str, dict[str, int]]:
        out: dict[str, dict[str, int]] = {}
        for (step, kind, _), n in sorted(self.injected.items()):
            out.setdefault(kind, {})
            out[kind][step] = out[kind].get(step, 0) + n
        return out

    def total(self) -> int:
        return sum(self.injected.values())

    # ---- the hooks ----------------------------------------------------------------------------------

    def _pick(self, model: Any, params: dict[str, Any], when: str) -> Fault | None:
        if not self.enabled or not self.step:
            return None
        service, op = model.service_model.service_name, model.name
        for f in self.faults:
            if f.step != self.step or f.service != service or f.operation != op:
                continue
            if (f.kind == "die") != (when == "after") or (f.kind == "conditional") != (when == "params"):
                continue
            if f.match is not None and not f.match(params):
                continue
            if f.due(self._rng):
                f.injected += 1
                self.injected[(self.step, f.kind, f"{service}.{op}")] += 1
                self.log.append(f"inject {f.kind} {service}.{op} in {self.step} {_brief(params)}")
                return f
        return None

    def _params_hook(self, params: dict[str, Any], model: Any, context: dict[str, Any], **_: Any) -> None:
        context["fault_params"] = dict(params)
        if not _conditional(model.name, params):
            return
        if self._pick(model, params, "params") and self._twin is not None:
            # Another worker makes the same write first; ours then meets its condition, for real.
            twin = self._twin(model.service_model.service_name)
            try:
                getattr(twin, _SNAKE.sub("_", model.name).lower())(**params)
            except twin.exceptions.ClientError:
                pass  # the twin lost its own race: nothing changed

    def _before(self, model: Any, context: dict[str, Any], **_: Any) -> Any:
        params = context.get("fault_params", {})
        if self.step:
            self.calls[(self.step, f"{model.service_model.service_name}.{model.name}")] += 1
            if model.name == "TransactWriteItems":
                self.tokens[bool(params.get("ClientRequestToken"))] += 1
        f = self._pick(model, params, "before")
        if f is not None and f.kind == "lost":
            self._losing.call = f"{model.service_model.service_name}.{model.name}"
            return None
        if f is None or f.kind not in ERRORS:
            return None
        status, code, message = ERRORS[f.kind]
        if f.kind == "ses_rejected":
            import email
            from email import policy
            from email.utils import parseaddr

            msg = email.message_from_bytes(params["RawMessage"]["Data"], policy=policy.default)
            self.rejected.append((parseaddr(str(msg["To"]))[1], str(msg["Subject"])))
            message += " The following identities failed the check in region EU-WEST-2: " + self.rejected[-1][0]
        parsed = {
            "Error": {"Code": code, "Message": message},
            "ResponseMetadata": {"HTTPStatusCode": status, "HTTPHeaders": {}, "RetryAttempts": 0},
        }
        return _Response(status), parsed

    def _lose_answer(self, request: Any, event_name: str = "", **_: Any) -> None:
        losing = getattr(self._losing, "call", None)
        if not losing:
            return
        self._losing.call = None  # the retry goes through
        from botocore.exceptions import ReadTimeoutError

        raise ReadTimeoutError(endpoint_url=getattr(request, "url", ""))

    def _after(self, http_response: Any, model: Any, context: dict[str, Any], **_: Any) -> None:
        if getattr(http_response, "status_code", 500) >= 300:
            return
        if self._pick(model, context.get("fault_params", {}), "after"):
            raise ProcessDied(f"died after {model.service_model.service_name}.{model.name} ({self.step})")


def _brief(params: dict[str, Any]) -> str:
    key = params.get("Item") or params.get("Key") or {}
    if not isinstance(key, dict):  # an S3 key
        return str(key)[:120]
    return " ".join(str(v.get("S", ""))[:60] for v in key.values() if isinstance(v, dict))[:120] if key else ""


def _conditional(op: str, params: dict[str, Any]) -> bool:
    if op in ("PutItem", "UpdateItem", "DeleteItem"):
        return "ConditionExpression" in params
    if op == "TransactWriteItems":
        return any(
            "ConditionExpression" in next(iter(i.values()), {}) or "ConditionCheck" in i
            for i in params.get("TransactItems", [])
        )
    return False


# ---- the event sources --------------------------------------------------------------------------------


@dataclass
class Sources:
    """Lambda's event source mappings for the stream, the queues and SNS, driven by hand.

    Messages are taken off the real (moto) queues at once and kept here with their receive count,
    so that redelivery, maxReceiveCount and the dead-letter queue are exact and need no waiting."""

    session: Any
    resources: Any
    invoke: Callable[[str, dict[str, Any]], Any]
    faults: Faults
    wait: Callable[[float], None] = lambda seconds: None  # moves the clock on (time-machine)
    # Seconds a failed item waits before it comes back. SQS waits out the visibility timeout (360 s);
    # 5 s is enough here: it only has to outlast the test client's Lambda time (3 s), which bounds a
    # dead call's in-progress idempotency record, and keeps the pages' times close to a clean run's.
    retry_after: float = 5.0
    region: str = "eu-west-2"

    def __post_init__(self) -> None:
        self._streams = self.session.client("dynamodbstreams", region_name=self.region)
        self._sqs = self.session.client("sqs", region_name=self.region)
        self.max_receives = {
            "render_worker": max_receive_count("RenderQueue"),
            "mail_worker": max_receive_count("MailQueue"),
        }
        self.max_receive = self.max_receives["render_worker"]
        self.stream_retries = stream_retries()
        self._iterators: dict[str, str | None] = {}
        self.pending: dict[str, list[dict[str, Any]]] = {"render_worker": [], "mail_worker": []}
        self.dlq: dict[str, list[dict[str, Any]]] = {"render_worker": [], "mail_worker": []}
        self.stream_failures: list[dict[str, Any]] = []  # records given up on (the OnFailure destination)
        self.event_failures: list[dict[str, Any]] = []  # SNS events given up on (the function's DLQ)
        self.deliveries: Counter[str] = Counter()  # handler -> invocations
        self.redeliveries: Counter[str] = Counter()  # handler -> items delivered again
        self.handled: Counter[str] = Counter()  # handler -> items done
        self.first_try: dict[str, set[str]] = {
            "render_worker": set(),
            "mail_worker": set(),
        }  # ids of messages done at once
        self._sent = 0
        self._urls = {"render_worker": self.resources.render_queue_url, "mail_worker": self.resources.mail_queue_url}

    def _call(self, handler: str, event: dict[str, Any]) -> tuple[Any, bool]:
        """(result, crashed): a crash is a whole-invocation failure, as Lambda sees it."""
        self.deliveries[handler] += 1
        self.faults.step = handler
        # Each function runs in processes of its own: none starts with the directory items another's
        # calls kept (store/directory.py), so each invocation reads what it needs, and can meet its faults.
        wiring.store().forget_kept()
        try:
            return self.invoke(handler, event), False
        except (Exception, ProcessDied) as e:
            self.faults.log.append(f"crash in {handler}: {type(e).__name__}: {str(e)[:300]}")
            return None, True
        finally:
            self.faults.step = ""

    # ---- the stream ------------------------------------------------------------------------------------

    def _records(self) -> list[dict[str, Any]]:
        # A fresh iterator after the last record read, each time: moto restores a table from a copy
        # when a transaction is cancelled, stream shard included, and old iterators then see nothing.
        out = []
        desc = self._streams.describe_stream(StreamArn=self.resources.stream_arn)["StreamDescription"]
        for shard in [s["ShardId"] for s in desc.get("Shards", [])]:
            last = self._iterators.get(shard)
            where = (
                {"ShardIteratorType": "AFTER_SEQUENCE_NUMBER", "SequenceNumber": last}
                if last
                else {"ShardIteratorType": "TRIM_HORIZON"}
            )
            iterator = self._streams.get_shard_iterator(StreamArn=self.resources.stream_arn, ShardId=shard, **where)[
                "ShardIterator"
            ]
            while iterator:
                resp = self._streams.get_records(ShardIterator=iterator, Limit=100)
                iterator = resp.get("NextShardIterator")
                if not resp.get("Records"):
                    break
                out += [self._stream_record(r) for r in resp["Records"]]
                self._iterators[shard] = resp["Records"][-1]["dynamodb"]["SequenceNumber"]
        return out

    def _stream_record(self, record: dict[str, Any]) -> dict[str, Any]:
        out, ddb = dict(record), dict(record["dynamodb"])
        created = ddb.get("ApproximateCreationDateTime")
        if isinstance(created, datetime):
            ddb["ApproximateCreationDateTime"] = created.timestamp()
        out["dynamodb"], out["eventSourceARN"] = ddb, self.resources.stream_arn
        out.setdefault("eventSource", "aws:dynamodb")
        return out

    def stream_once(self) -> int:
        records = self._records()
        if records:
            self.faults.log.append(f"stream read {len(records)} records")
        for i in range(0, len(records), 100):
            self._stream_batch(records[i : i + 100], 0)
        return len(records)

    def _stream_batch(self, batch: list[dict[str, Any]], attempt: int) -> None:
        """Retry from the first failed record (ReportBatchItemFailures); after a function error, split
        the batch in two (BisectBatchOnFunctionError); past MaximumRetryAttempts, give up on the rest."""
        while batch:
            result, crashed = self._call("on_table_change", {"Records": batch})
            self.faults.log.append(f"delivered on_table_change {len(batch)} -> {'crashed' if crashed else result}")
            seqs = [r["dynamodb"]["SequenceNumber"] for r in batch]
            failed = seqs if crashed else [f["itemIdentifier"] for f in (result or {}).get("batchItemFailures", [])]
            self.handled["on_table_change"] += seqs.index(failed[0]) if failed else len(batch)
            if not failed:
                return
            attempt += 1
            batch = batch[seqs.index(failed[0]) :]
            self.redeliveries["on_table_change"] += len(batch)
            if attempt > self.stream_retries:
                self.stream_failures += batch
                return
            self.wait(self.retry_after)
            if crashed and len(batch) > 1:
                half = len(batch) // 2
                self._stream_batch(batch[:half], attempt)
                self._stream_batch(batch[half:], attempt)
                return

    # ---- the queues -------------------------------------------------------------------------------

    def _take(self, handler: str) -> None:
        url = self._urls[handler]
        while True:
            msgs = self._sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=0).get(
                "Messages", []
            )
            if not msgs:
                return
            self._sqs.delete_message_batch(
                QueueUrl=url, Entries=[{"Id": str(n), "ReceiptHandle": m["ReceiptHandle"]} for n, m in enumerate(msgs)]
            )
            self.pending[handler] += [{"id": m["MessageId"], "body": m["Body"], "received": 0} for m in msgs]

    def send(self, handler: str, body: str) -> str:
        """Put a message straight on a queue (a poisonous one, say)."""
        message_id = f"by-hand-{handler}-{self._sent}"
        self._sent += 1
        self.pending[handler].append({"id": message_id, "body": body, "received": 0})
        return message_id

    def queue_once(self, handler: str) -> int:
        self._take(handler)
        queue, self.pending[handler] = self.pending[handler], []
        done = 0
        retried = False
        for i in range(0, len(queue), 10):
            batch = queue[i : i + 10]
            for m in batch:
                m["received"] += 1
            event = {"Records": [_sqs_record(m, self._urls[handler], self.region) for m in batch]}
            result, crashed = self._call(handler, event)
            self.faults.log.append(
                f"delivered {handler} {[m['body'][:90] for m in batch]} -> {'crashed' if crashed else result}"
            )
            failed = (
                {m["id"] for m in batch}
                if crashed
                else {f["itemIdentifier"] for f in (result or {}).get("batchItemFailures", [])}
            )
            for m in batch:
                if m["id"] not in failed:
                    done += 1
                    self.handled[handler] += 1
                    if m["received"] == 1:
                        self.first_try[handler].add(m["id"])
                elif m["received"] >= self.max_receives[handler]:
                    self.dlq[handler].append(m)
                else:
                    self.redeliveries[handler] += 1
                    self.pending[handler].append(m)
                    retried = True
        if retried:
            self.wait(self.retry_after)  # the visibility timeout
        return len(queue)

    # ---- SNS (asynchronous invocation) ------------------------------------------------------------------

    def publish(self, handler: str, event: dict[str, Any], attempts: int = 3) -> None:
        """Lambda runs an asynchronous event up to three times, then sends it to the function's DLQ."""
        for _ in range(attempts):
            _, crashed = self._call(handler, event)
            if not crashed:
                self.handled[handler] += 1
                return
            self.redeliveries[handler] += 1
            self.wait(self.retry_after)
        self.event_failures.append(event)

    def scheduled(self, handler: str) -> None:
        """An EventBridge schedule's invocation (retried twice, as any asynchronous one)."""
        self.publish(
            handler,
            {
                "version": "0",
                "id": "schedule",
                "detail-type": "Scheduled Event",
                "source": "aws.events",
                "account": "123456789012",
                "time": "",
                "region": self.region,
                "resources": [],
                "detail": {},
            },
        )

    def drain(self, most: int = 200) -> None:
        for _ in range(most):
            if (
                self.stream_once() + self.queue_once("render_worker") + self.queue_once("mail_worker")
            ) == 0 and not any(self.pending.values()):
                return
        raise AssertionError("the pipeline did not come to rest")


def _sqs_record(m: dict[str, Any], url: str, region: str) -> dict[str, Any]:
    return {
        "messageId": m["id"],
        "receiptHandle": f"rh-{m['id']}-{m['received']}",
        "body": m["body"],
        "attributes": {"ApproximateReceiveCount": str(m["received"])},
        "messageAttributes": {},
        "md5OfBody": "",
        "eventSource": "aws:sqs",
        "eventSourceARN": url,
        "awsRegion": region,
    }
