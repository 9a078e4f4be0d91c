"""Load on the local stack: concurrent clients telling stories through `chalice local` and the event pump.

The real `make run` stack (python -m local.run --no-seed, on free ports, as tests/support/live.py starts
it). For a fixed time CLIENTS threads post stories to the API, each as fast as it is answered;
before and after, the same number of threads run raw boto3 loops on the same emulator for the
same time: PutItem, and the TransactWriteItems a story needs. Then, once the pump is quiet: every acknowledged story must be stored, and
its author must have had the confirmation email.
"""

from __future__ import annotations

import json
import subprocess
import threading
import time
import uuid

from .budgets import LOAD_LOST, LOAD_THROUGHPUT_RATIO, LOAD_UNMAILED
from .env import BENCH_WARD, aws_variables, bar, story_body
from .report import Section, fmt, table

CLIENTS = 4
SECONDS = 10.0
RAW_SECONDS = 5.0
QUIET_TIMEOUT = 180.0


def raw_loop(endpoint: str, table_name: str, seconds: float, clients: int, transaction: bool) -> int:
    """Calls answered in `seconds` by `clients` threads, each with its own client: PutItem of an item
    of a story's size, or (transaction=True) a TransactWriteItems of two conditional puts, the write
    that telling a story makes (the story and, apart, its contact)."""
    import boto3

    stop = time.monotonic() + seconds
    done = [0] * clients
    body = json.dumps(story_body())

    def loop(i: int) -> None:
        ddb = boto3.session.Session().client("dynamodb", endpoint_url=endpoint, region_name="eu-west-2")
        while time.monotonic() < stop:
            key = uuid.uuid4().hex
            story = {"PK": {"S": f"BENCH#{key}"}, "SK": {"S": "RAW"}, "body": {"S": body}}
            if transaction:
                contact = {"PK": {"S": f"BENCH#{key}"}, "SK": {"S": "CONTACT"}, "email": {"S": "author@example.org"}}
                ddb.transact_write_items(
                    TransactItems=[
                        {
                            "Put": {
                                "TableName": table_name,
                                "Item": item,
                                "ConditionExpression": "attribute_not_exists(PK)",
                            }
                        }
                        for item in (story, contact)
                    ]
                )
            else:
                ddb.put_item(TableName=table_name, Item=story)
            done[i] += 1

    threads = [threading.Thread(target=loop, args=(i,)) for i in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return sum(done)


def submissions(api: str, seconds: float, clients: int) -> tuple[list[str], dict[int, int], list[str]]:
    """Stories acknowledged (201) in `seconds` by `clients` threads; every other answer, counted."""
    import requests

    stop = time.monotonic() + seconds
    acknowledged: list[str] = []
    statuses: dict[int, int] = {}
    errors: list[str] = []
    lock = threading.Lock()

    def loop(i: int) -> None:
        http = requests.Session()
        n = 0
        while time.monotonic() < stop:
            n += 1
            body = story_body(email=f"author.{i}.{n}@example.org", services=[BENCH_WARD])
            try:
                resp = http.post(f"{api}stories", json=body, timeout=30)
            except requests.RequestException as e:
                with lock:
                    errors.append(repr(e)[:200])
                continue
            with lock:
                statuses[resp.status_code] = statuses.get(resp.status_code, 0) + 1
                if resp.status_code == 201:
                    acknowledged.append(resp.json()["id"])
                elif len(errors) < 5:
                    errors.append(f"HTTP {resp.status_code}: {resp.text[:200]}")

    threads = [threading.Thread(target=loop, args=(i,)) for i in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return acknowledged, statuses, errors


def confirmations(endpoint: str) -> int:
    """Confirmation emails the emulator's SES has accepted for the bench's authors."""
    import requests

    data = requests.get(f"{endpoint}/moto-api/data.json", timeout=60).json()
    count = 0
    for messages in data.get("ses", {}).values():
        for m in messages if isinstance(messages, list) else []:
            raw = m.get("raw_data") or m.get("RawMessage") or ""
            if "@example.org" in raw and "author." in raw:
                count += 1
    return count


def stored_pending(endpoint: str, table_name: str) -> set[str]:
    import boto3

    from chalicelib.store import Store

    store = Store(
        boto3.session.Session().client("dynamodb", endpoint_url=endpoint, region_name="eu-west-2"), table_name
    )
    return {s["id"] for s in store.queue("pending", 10**6)}


def run(quick: bool = False) -> Section:
    from local.resources import TABLE
    from tests.support.live import start_stack

    section = Section("load", "Load on the local stack")
    aws_variables()  # fake credentials for the bench's own clients; the stack sets its own
    seconds = 6.0 if quick else SECONDS
    # The raw loops only give a rate to compare with: shorter than the stories' phase, run twice each.
    raw_seconds = 3.0 if quick else RAW_SECONDS
    with bar("starting the local stack (make run --no-seed)", unit=" steps", total=1) as b:
        stack = start_stack("--no-seed")
        b.update()
    try:
        api, endpoint = stack.api, stack.aws
        raw: dict[str, list[int]] = {"put": [], "transaction": []}

        def raw_phase(kind: str) -> None:
            with bar(
                f"raw {'TransactWriteItems' if kind == 'transaction' else 'PutItem'} loop, {CLIENTS} clients, {raw_seconds:.0f} s",
                total=1,
            ) as b:
                raw[kind].append(raw_loop(endpoint, TABLE, raw_seconds, CLIENTS, kind == "transaction"))
                b.update()

        # Side by side, and symmetric in time: a drift in the machine's load weighs on every rate alike.
        raw_phase("put")
        raw_phase("transaction")
        with bar(f"telling stories, {CLIENTS} clients, {seconds:.0f} s", total=1) as b:
            t0 = time.perf_counter()
            acknowledged, statuses, errors = submissions(api, seconds, CLIENTS)
            took = time.perf_counter() - t0
            b.update()
        raw_phase("transaction")
        raw_phase("put")
        # The pump works through the stream and the mail queue: wait until every author is told.
        deadline = time.monotonic() + QUIET_TIMEOUT
        mailed = 0
        t_quiet = time.perf_counter()
        with bar("waiting for the confirmations", total=len(acknowledged), unit=" emails") as b:
            while time.monotonic() < deadline:
                mailed = confirmations(endpoint)
                b.update(mailed - b.n)
                if mailed >= len(acknowledged):
                    break
                time.sleep(2)
        drained = time.perf_counter() - t_quiet
        stored = stored_pending(endpoint, TABLE)
    finally:
        try:
            stack.stop(timeout=60)
        except subprocess.TimeoutExpired:  # stop() has killed it by then; the figures stand
            pass
    acked = set(acknowledged)
    lost = len(acked - stored) + len(stored - acked)
    story_rate = len(acknowledged) / took
    put_rate = sum(raw["put"]) / (len(raw["put"]) * raw_seconds)
    tx_rate = sum(raw["transaction"]) / (len(raw["transaction"]) * raw_seconds)
    section.add("load.lost", "stories acknowledged but not stored, or stored but not acknowledged", lost, "", LOAD_LOST)
    section.add(
        "load.unmailed",
        "acknowledged stories whose author had no confirmation",
        max(0, len(acknowledged) - mailed),
        "",
        LOAD_UNMAILED,
    )
    section.add(
        "load.ratio",
        "stories per second ÷ raw PutItem per second, same emulator, same clients",
        round(story_rate / put_rate, 3) if put_rate else None,
        "×",
        note="moto's TransactWriteItems copies the table: the transaction ratio below is the one to watch",
    )
    section.add(
        "load.transaction_ratio",
        "stories per second ÷ raw TransactWriteItems (two puts) per second",
        round(story_rate / tx_rate, 3) if tx_rate else None,
        "×",
        LOAD_THROUGHPUT_RATIO,
    )
    section.add("load.acknowledged", f"stories acknowledged in {seconds:.0f} s", len(acknowledged), "")
    section.add("load.stories_per_s", "stories told per second", round(story_rate, 1), "stories/s")
    section.add("load.raw_put_per_s", "raw PutItem per second (mean of before and after)", round(put_rate, 1), "puts/s")
    section.add(
        "load.raw_transaction_per_s",
        "raw TransactWriteItems per second (mean of before and after)",
        round(tx_rate, 1),
        "transactions/s",
    )
    section.data = {
        "statuses": statuses,
        "errors": errors[:5],
        "raw": raw,
        "stored": len(stored),
        "mailed": mailed,
        "drain_seconds": round(drained, 1),
    }
    other = {k: v for k, v in statuses.items() if k != 201}
    section.details = "\n".join(
        [
            f"The `make run` stack (`python -m local.run --no-seed` on free ports: moto serving one request at a time, "
            f"`chalice local`, the event pump), {CLIENTS} client threads ({raw_seconds:.0f} s for each raw loop, "
            f"{seconds:.0f} s for the stories), in this order: raw "
            "PutItem, raw TransactWriteItems, stories, raw TransactWriteItems, raw PutItem (each raw rate is the mean of "
            "its two runs, so a drift in the machine's load weighs on every rate alike). All on the app's own table.",
            "",
            table(
                ["", "count", "per second"],
                [
                    ["raw PutItem (before / after)", " / ".join(f"{n:,}" for n in raw["put"]), fmt(put_rate, "puts/s")],
                    [
                        "raw TransactWriteItems of two puts (before / after)",
                        " / ".join(f"{n:,}" for n in raw["transaction"]),
                        fmt(tx_rate, "transactions/s"),
                    ],
                    ["stories acknowledged (201)", len(acknowledged), fmt(story_rate, "stories/s")],
                    ["stories stored (the pending queue)", len(stored), ""],
                    ["confirmations mailed", mailed, f"all within {drained:.0f} s of the end"],
                ],
            ),
            "",
            (
                "Other answers: " + ", ".join(f"HTTP {k} × {v}" for k, v in sorted(other.items())) + ". "
                if other
                else "No answer other than 201. "
            )
            + (f"Client errors: {'; '.join(errors[:3])}." if errors else ""),
            "",
            "A story costs four DynamoDB calls behind an HTTP hop through `chalice local`, while the pump reads the "
            "stream and sends the confirmations on the same emulator. One of the four is a TransactWriteItems, which moto "
            "makes far dearer than a PutItem (it copies the whole table first, stream included), so the PutItem ratio "
            "mostly measures moto; the TransactWriteItems ratio measures what the API adds to the one write it must make.",
        ]
    )
    return section
