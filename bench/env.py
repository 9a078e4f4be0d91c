"""What every measurement stands on: an AWS (moto in process, or the emulator in its own process),
the app's test client and event pump, a counter of AWS calls, and fast seeding of big sites."""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
import uuid
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
DIRECTORY_FILE = ROOT / "data" / "directory.json"
SITE_URL = "https://site.bench"
API_URL = "https://api.bench"
# The services the benchmark story is about: a ward three levels down (trust › hospital › ward).
BENCH_WARD = "northbridge-general-acute-medical-unit"

DDB_READS = frozenset({"GetItem", "BatchGetItem", "Query", "Scan", "TransactGetItems"})
DDB_WRITES = frozenset({"PutItem", "UpdateItem", "DeleteItem", "BatchWriteItem", "TransactWriteItems"})
S3_WRITES = frozenset({"PutObject", "DeleteObject", "DeleteObjects", "CopyObject"})


def quiet() -> None:
    """Before chalicelib is imported: handlers log warnings only, and publish no metrics."""
    os.environ["POWERTOOLS_LOG_LEVEL"] = "WARNING"
    os.environ["POWERTOOLS_METRICS_DISABLED"] = "true"
    os.environ["POWERTOOLS_TRACE_DISABLED"] = "true"
    import logging
    import warnings

    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    # Outside Lambda there is no remaining time to read; powertools says so on every idempotent call.
    warnings.filterwarnings("ignore", message="Couldn't determine the remaining time left")


def bar(desc: str, total: int | None = None, unit: str = "it") -> Any:
    from tqdm import tqdm

    return tqdm(
        total=total,
        desc=f"  {desc}",
        unit=unit,
        file=sys.stderr,
        dynamic_ncols=True,
        leave=False,
        disable=os.environ.get("BENCH_NO_PROGRESS") == "1",
    )


# ---- counting AWS calls ------------------------------------------------------------------------------


class CallCounter:
    """Counts the calls chalicelib's own clients make (chalicelib/core/aws.py), per service and operation,
    on botocore's before-call event: one per API call, however many HTTP attempts its retries take.
    The pump's and the bench's own clients are separate objects and are not counted."""

    SERVICES = ("dynamodb", "s3", "sqs", "ses")

    def __init__(self) -> None:
        self.total: Counter[str] = Counter()

    def attach(self) -> None:
        """Hook every client chalicelib will use (call again after wiring.reset())."""
        from chalicelib.core import aws

        for name in self.SERVICES:
            c = aws.client(name)
            if getattr(c, "_bench_counted", False):
                continue
            c.meta.events.register("before-call.*.*", self._call)
            c._bench_counted = True

    def _call(self, model: Any, **_: Any) -> None:
        self.total[f"{model.service_model.service_name}.{model.name}"] += 1

    @contextmanager
    def measure(self) -> Iterator[Calls]:
        before = Counter(self.total)
        calls = Calls(Counter())
        try:
            yield calls
        finally:
            calls.counts.update({k: v - before.get(k, 0) for k, v in self.total.items() if v - before.get(k, 0)})


@dataclass
class Calls:
    counts: Counter

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    def of(self, service: str, ops: frozenset[str] | None = None) -> int:
        return sum(
            n for k, n in self.counts.items() if k.split(".")[0] == service and (ops is None or k.split(".")[1] in ops)
        )

    @property
    def ddb_reads(self) -> int:
        return self.of("dynamodb", DDB_READS)

    @property
    def ddb_writes(self) -> int:
        return self.of("dynamodb", DDB_WRITES)

    @property
    def s3_writes(self) -> int:
        return self.of("s3", S3_WRITES)

    def breakdown(self) -> str:
        return ", ".join(
            f"{k.split('.')[1]} {n}" for k, n in sorted(self.counts.items(), key=lambda kv: (-kv[1], kv[0]))
        )


# ---- moto, made to read as DynamoDB does ---------------------------------------------------------------


def fast_moto() -> None:
    """Make moto's costs grow as DynamoDB's and SQS's do, in the bench's emulators only (tests and
    `make run` keep moto as it is). The answers are the same.

    Every moto Query sorts every item of the table (Python comparisons) before it looks at the key,
    so its time grows with the table; DynamoDB reads one partition. Here a Query on the table reads
    only its partition, and a Query on an index skips that first sort (moto sorts what matches
    again anyway). And moto's SQS reads the clock through datetime arithmetic for every message at
    every call; here it reads the same clock more cheaply."""
    import threading
    import time

    from moto.dynamodb.models.table import Table

    if getattr(Table, "_bench_fast_moto", False):
        return
    scope = threading.local()
    query, all_items = Table.query, Table.all_items

    def partition_items(self: Any) -> list[Any]:
        asked = getattr(scope, "query", None)
        if asked is None or asked[0] is not self:
            return all_items(self)
        if not self.range_key_attr:
            return all_items(self)
        if asked[1] is None:  # an index: every item, in any order
            return [item for part in self.items.values() for item in part.values()]
        return list(self.items.get(asked[1], {}).values())

    def partition_query(self: Any, hash_key: Any, *args: Any, **kwargs: Any) -> Any:
        index_name = args[6] if len(args) > 6 else kwargs.get("index_name")
        scope.query = (self, None if index_name else hash_key)
        try:
            return query(self, hash_key, *args, **kwargs)
        finally:
            scope.query = None

    Table.query, Table.all_items, Table._bench_fast_moto = partition_query, partition_items, True

    # moto's SQS asks every message whether it is visible yet at each call: most of a big queue's cost.
    import moto.sqs.models as sqs_models

    clock = sqs_models.unix_time_millis
    sqs_models.unix_time_millis = lambda dt=None: time.time() * 1000.0 if dt is None else clock(dt)


# ---- moto in process ----------------------------------------------------------------------------------


def aws_variables() -> None:
    for key in [k for k in os.environ if k.startswith("FF_") or k == "AWS_ENDPOINT_URL"]:
        del os.environ[key]
    os.environ.update(
        AWS_ACCESS_KEY_ID="bench",
        AWS_SECRET_ACCESS_KEY="bench",
        AWS_DEFAULT_REGION="eu-west-2",
        AWS_REGION="eu-west-2",
        AWS_ACCOUNT_ID_ENDPOINT_MODE="disabled",
    )


@dataclass
class Aws:
    session: Any
    resources: Any
    counter: CallCounter
    _client: Any = None
    _pump: Any = None

    def client(self, name: str) -> Any:
        return self.session.client(name, region_name="eu-west-2")

    @property
    def app_client(self) -> Any:
        """chalice's test client: HTTP routes and Lambda invocations, with the local stage's environment."""
        if self._client is None:
            from chalice.test import Client

            from app import app

            self._client = Client(app, stage_name="local")
            self._client.__enter__()
        return self._client

    @property
    def pump(self) -> Any:
        if self._pump is None:
            from local.pump import Pump

            def invoke(name: str, event: dict[str, Any]) -> Any:
                return self.app_client.lambda_.invoke(name, event).payload

            self._pump = Pump(self.session, self.resources, invoke)
        return self._pump

    def skip_stream(self) -> None:
        """Start the pump's reading of the stream at its end: what was seeded is not a change to react to."""
        self.pump.skip_to_end()

    def drain_stream(self) -> int:
        n = 0
        while k := self.pump.stream_once():
            n += k
        return n

    def drain_queue(self, which: str) -> int:
        url, handler = {
            "render": (self.resources.render_queue_url, "render_worker"),
            "mail": (self.resources.mail_queue_url, "mail_worker"),
            "search": (self.resources.search_queue_url, "search_worker"),
        }[which]
        n = 0
        while k := self.pump.queue_once(url, handler):
            n += k
        return n

    def take_jobs(self, which: str) -> list[Any]:
        """Every job on a queue ("render", "mail" or "search"), taken off it by the bench's own (uncounted)
        client, so that each can be run, and counted, on its own."""
        from chalicelib.core.jobs import parse_mail, parse_render, parse_search

        sqs = self.client("sqs")
        url = self._queue_url(which)
        parse = {"render": parse_render, "mail": parse_mail, "search": parse_search}[which]
        jobs = []
        while True:
            msgs = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=0).get("Messages", [])
            if not msgs:
                return jobs
            jobs += [parse(m["Body"]) for m in msgs]
            sqs.delete_message_batch(
                QueueUrl=url, Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(msgs)]
            )

    def render_each(self, jobs: list[Any]) -> tuple[Calls, dict[str, list[int]]]:
        """Run render jobs as the render worker does, one by one; (all their calls, calls per page kind)."""
        from chalicelib import wiring

        per_page: dict[str, list[int]] = {}
        with self.counter.measure() as calls:
            for job in jobs:
                with self.counter.measure() as one:
                    wiring.site().render(job)
                per_page.setdefault(job.page, []).append(one.total)
        return calls, per_page

    def search_each(self, jobs: list[Any]) -> Calls:
        """Run search jobs as the search worker does: one batch (each shard rebuilt once)."""
        from chalicelib import wiring

        with self.counter.measure() as calls:
            if jobs:
                wiring.search_index().update(jobs)
        return calls

    def _queue_url(self, which: str) -> str:
        return {
            "render": self.resources.render_queue_url,
            "mail": self.resources.mail_queue_url,
            "search": self.resources.search_queue_url,
        }[which]

    def purge(self, which: str) -> None:
        self.client("sqs").purge_queue(QueueUrl=self._queue_url(which))

    def close(self) -> None:
        if self._client is not None:
            self._client.__exit__(None, None, None)


@contextmanager
def aws_in_process() -> Iterator[Aws]:
    """moto's mock_aws with every resource, as tests/conftest.py has it."""
    aws_variables()
    import boto3
    from moto import mock_aws

    from chalicelib import wiring
    from local.resources import REGION, create_all

    fast_moto()
    with mock_aws():
        session = boto3.Session(region_name=REGION)
        res = create_all(session)
        os.environ.update(res.environment(SITE_URL, API_URL, None))
        wiring.reset()
        counter = CallCounter()
        counter.attach()
        env = Aws(session, res, counter)
        try:
            yield env
        finally:
            env.close()
            wiring.reset()


# ---- the emulator in its own process ---------------------------------------------------------------


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def aws_emulator() -> Iterator[Aws]:
    """The local stack's emulator (moto server, one request at a time) in a process of its own,
    with every resource; this process's boto3 clients talk to it over HTTP."""
    aws_variables()
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "bench.emulator", str(port)],
        cwd=ROOT,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        line = proc.stdout.readline()
        if not line.startswith("ready"):
            raise RuntimeError(f"the emulator did not start: {line!r}")
        endpoint = f"http://127.0.0.1:{port}"
        os.environ["AWS_ENDPOINT_URL"] = endpoint
        import boto3

        from chalicelib import wiring
        from local.resources import REGION, create_all

        session = boto3.Session(region_name=REGION)
        res = create_all(session)
        os.environ.update(res.environment(SITE_URL, API_URL, endpoint))
        wiring.reset()
        counter = CallCounter()
        counter.attach()
        env = Aws(session, res, counter)
        try:
            yield env
        finally:
            env.close()
            wiring.reset()
    finally:
        proc.stdin.close()  # the emulator exits when its stdin closes
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


# ---- data ---------------------------------------------------------------------------------------------


def load_directory() -> dict[str, dict[str, Any]]:
    """Load the demo directory (92 services, up to five levels); returns its services by slug."""
    from chalicelib import wiring
    from chalicelib.directory import flatten

    tree = json.loads(DIRECTORY_FILE.read_text(encoding="utf-8"))
    wiring.directory().load(tree)
    return {s["slug"]: s for s in flatten(tree)}


def leaf_services(services: dict[str, dict[str, Any]]) -> list[str]:
    parents = {s.get("parent") for s in services.values()}
    return sorted(slug for slug in services if slug not in parents)


def story_body(**overrides: Any) -> dict[str, Any]:
    """A valid submission, as the form sends it."""
    today = date.today()
    body = {
        "submission_id": uuid.uuid4().hex,
        "title": "Kind nurses on a busy night",
        "story": "I was admitted at night with chest pain.\nThe nurses explained everything and stayed calm.",
        "good": "They listened.",
        "improve": "The wait for a bed was long.",
        "feelings": ["listened-to", "anxious"],
        "role": "patient",
        "pseudonym": "Night owl",
        "experience_month": today.month,
        "experience_year": today.year,
        "services": [BENCH_WARD],
        "email": "author@example.org",
        "consent": True,
    }
    return body | overrides


TAGS = ["nursing", "communication", "waiting-times", "food", "discharge", "pain", "dignity", "parking"]
WORDS = (
    "nurse ward night bed wait kind calm pain doctor clinic visit letter phone appointment care team "
    "discharge food quiet noise help test result scan explained listened rushed felt"
).split()


def fake_story(rng: random.Random, service: str, published_at: str) -> dict[str, Any]:
    """A published story as moderation leaves it, with text of a realistic length."""
    from chalicelib.core import ids

    def text(n: int) -> str:
        return " ".join(rng.choice(WORDS) for _ in range(n)).capitalize() + "."

    return {
        "id": ids.new_story_id(),
        "status": "published",
        "version": 2,
        "submitted_at": published_at,
        "published_at": published_at,
        "decided_at": published_at,
        "decided_by": "bench@feedforward.example",
        "title": text(6)[:80],
        "story": "\n".join(text(rng.randint(30, 80)) for _ in range(rng.randint(1, 4))),
        "good": text(15),
        "improve": text(15),
        "feelings": rng.sample(["listened-to", "reassured", "anxious", "rushed", "grateful"], 2),
        "role": rng.choice(["patient", "carer", "relative"]),
        "pseudonym": text(2)[:30],
        "experience": "2026-01",
        "services": [service],
        "has_contact": False,
        "tags": rng.sample(TAGS, rng.choice((0, 1, 1, 2))),
        "criticality": rng.randint(0, 5),
    }


def seed_published(n: int, services: dict[str, dict[str, Any]], seed: int = 7, desc: str = "") -> list[str]:
    """n published stories and their listing entries, written straight to the table in BatchWriteItem
    calls (store.put_published), spread over the directory's leaf services and the past year."""
    from botocore.config import Config

    from chalicelib.changes import listing_entry
    from chalicelib.core.settings import get_settings
    from chalicelib.store import EVERYTHING, Store, month_list, tag_list

    rng = random.Random(seed)
    leaves = leaf_services(services)
    start = datetime(2025, 1, 1, tzinfo=UTC)
    # A client of its own (not counted), without botocore's parameter validation: a fifth of the time.
    store = Store(
        direct_writes(_session().client("dynamodb", config=Config(parameter_validation=False))),
        get_settings().table_name,
    )
    ids_out: list[str] = []
    tags: set[str] = set()
    months: set[str] = set()
    chunk: list[tuple[dict, dict, list[str]]] = []
    with bar(desc or f"seeding {n:,} stories", total=n, unit=" stories") as b, fast_seeding():
        for i in range(n):
            moment = start + timedelta(seconds=int(i * 365 * 86400 / max(n, 1)))
            published_at = moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")
            svc = rng.choice(leaves)
            story = fake_story(rng, svc, published_at)
            # The listings the stream gives a published story: its services up the tree, everything,
            # each of its tags, and the month of its publication (changes.py).
            lists = list(services[svc]["path"]) + [EVERYTHING] + [tag_list(t) for t in story["tags"]]
            lists.append(month_list(published_at[:7]))
            tags.update(story["tags"])
            months.add(published_at[:7])
            chunk.append((story, listing_entry(story), lists))
            ids_out.append(story["id"])
            if len(chunk) == 100 or i == n - 1:
                store.put_published(chunk)
                b.update(len(chunk))
                chunk = []
        store.register_names("tags", tags)
        store.register_names("months", months)
    return ids_out


class _DirectWrites:
    """A DynamoDB client whose BatchWriteItem puts the items straight into moto's backend (in process):
    the same items, without botocore serialising and moto parsing hundreds of requests, most of
    seeding's time. Every other call goes through the client."""

    def __init__(self, client: Any, backend: Any):
        self._client, self._backend = client, backend

    def batch_write_item(self, RequestItems: dict[str, list[dict[str, Any]]], **_: Any) -> dict[str, Any]:  # noqa: N803
        for table, writes in RequestItems.items():
            for w in writes:
                if "PutRequest" in w:
                    self._backend.put_item(table, w["PutRequest"]["Item"])
                else:
                    self._backend.delete_item(table, w["DeleteRequest"]["Key"])
        return {"UnprocessedItems": {}}

    def __getattr__(self, name: str) -> Any:
        return getattr(self._client, name)


def direct_writes(client: Any) -> Any:
    """`client`, with bulk writes straight into moto when moto runs in this process (else as it is)."""
    if os.environ.get("AWS_ENDPOINT_URL"):
        return client
    from moto.core import DEFAULT_ACCOUNT_ID
    from moto.dynamodb.models import dynamodb_backends

    return _DirectWrites(client, dynamodb_backends[DEFAULT_ACCOUNT_ID]["eu-west-2"])


def _session() -> Any:
    import boto3

    return boto3.session.Session(region_name="eu-west-2")


@contextmanager
def fast_seeding() -> Iterator[None]:
    """While seeding into moto in process, skip two pieces of moto's own bookkeeping (not our code).

    Its 400 KB item-size check sums the size of every attribute each time one is set, which is
    quadratic in an item's attributes and half of seeding's time; our items are a few KB. And each
    item written makes a stream record, which the benchmarks skip anyway: a seeded site is where a
    measurement starts, not a change to react to. Both are restored afterwards, so every measured
    call runs on moto as it is. Against the emulator in its own process this does nothing.
    """
    if os.environ.get("AWS_ENDPOINT_URL"):
        yield
        return
    from moto.core import DEFAULT_ACCOUNT_ID
    from moto.dynamodb.models import dynamo_type, dynamodb_backends

    from chalicelib.core.settings import get_settings

    table = dynamodb_backends[DEFAULT_ACCOUNT_ID]["eu-west-2"].get_table(get_settings().table_name)
    size_check, shard = dynamo_type.LimitedSizeDict.__setitem__, table.stream_shard
    dynamo_type.LimitedSizeDict.__setitem__ = dict.__setitem__
    table.stream_shard = None
    try:
        yield
    finally:
        dynamo_type.LimitedSizeDict.__setitem__ = size_check
        table.stream_shard = shard
