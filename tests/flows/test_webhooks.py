"""Webhooks for partners (issue 21, docs/partners.md): registration, the events the stream turns into
deliveries, signatures checked with the documented recipes (Python and node), retries with the same
id, a pause that keeps every delivery, and a resumption that sends them all.

Most tests are flow-level (the in-memory store, direct calls) against a real HTTP receiver on
127.0.0.1; two run the whole path on moto: stream, delivery queue, worker, and the leads' email.
"""

from __future__ import annotations

import base64
import json
import os
import random
import re
import subprocess
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from chalicelib import webhooks, wiring
from chalicelib.core import clock
from chalicelib.core.errors import NotFound, ValidationFailed
from chalicelib.core.ids import new_id, new_story_id
from chalicelib.core.jobs import DeliveryJob
from chalicelib.core.settings import Settings
from chalicelib.core.webhooks import SIGNATURE_HEADER, LocalBox, sign, verify
from chalicelib.store.stream import Change
from tests.support import mailbox
from tests.support.memory_store import MemoryStore
from tests.support.prove import record
from tests.support.receiver import Receiver

ROOT = Path(__file__).resolve().parents[2]
KEY = base64.b64encode(bytes(range(32))).decode()
TRUST, HOSPITAL, WARD = "riverside-trust", "riverside-general", "riverside-ward-7"
OTHER = "hillside-trust"
SIGNED = SIGNATURE_HEADER.lower()  # the receiver keeps header names in lower case


class SentJobs:
    """Where resumed deliveries go: the jobs, as the delivery queue would take them."""

    def __init__(self) -> None:
        self.jobs: list[DeliveryJob] = []

    def send(self, jobs: list[DeliveryJob]) -> int:
        self.jobs += jobs
        return len(jobs)


def public_story(story_id: str) -> dict[str, Any]:
    """The public API's view, as far as a delivery reads it (the moto tests use the real one)."""
    if story_id == "gone":
        raise NotFound("There is no published story with that id.")
    return {
        "id": story_id,
        "title": "Kind night staff",
        "conversation": [{"kind": "response", "id": "r1", "text": "Thank you", "change": "made"}],
    }


def world(stage: str = "local", pause_after: int = 5) -> tuple[MemoryStore, webhooks.Webhooks, SentJobs]:
    store = MemoryStore()
    for slug, path in ((TRUST, [TRUST]), (HOSPITAL, [TRUST, HOSPITAL]), (WARD, [TRUST, HOSPITAL, WARD])):
        store.put_service({"slug": slug, "name": slug.title(), "path": path})
    store.put_service({"slug": OTHER, "name": "Hillside", "path": [OTHER]})
    queue = SentJobs()
    settings = Settings(stage=stage, webhook_secret_key=KEY, webhook_pause_after=pause_after)
    return store, webhooks.Webhooks(store, LocalBox(KEY), queue, settings, public_story), queue


def job(partner_id: str, n: int = 1, kind: str = "story.published") -> DeliveryJob:
    sid = f"s{n:016d}"
    return DeliveryJob(
        id=webhooks.delivery_id(f"{kind}:{sid}:2", partner_id),
        partner_id=partner_id,
        type=kind,  # type: ignore[arg-type]
        story_id=sid,
        ref="r1" if kind != "story.published" else "2",
        created="2026-03-01T09:00:00.000Z",
    )


# ---- registration --------------------------------------------------------------------------------


def test_only_https_is_registered_plain_http_only_to_127_0_0_1_locally_and_the_secret_is_kept_sealed():
    store, hooks, _ = world(stage="prod")
    refused = ("http://partner.example/hooks", "http://127.0.0.1:9/hooks", "ftp://x", "https://u:p@x.org/", "nope")
    inside = ("https://169.254.169.254/latest", "https://10.0.0.5/h", "https://[::1]/h", "https://localhost/h")
    for url in refused + inside:
        with pytest.raises(ValidationFailed) as e:
            hooks.register(TRUST, url, "Healthwatch", by="test")
        assert [f["field"] for f in e.value.fields] == ["url"], url
    with pytest.raises(ValidationFailed) as e:
        hooks.register("nowhere", "https://partner.example/hooks", "", by="test")
    assert [f["field"] for f in e.value.fields] == ["service", "name"]

    partner, secret = hooks.register(TRUST, "https://partner.example/hooks", "Healthwatch", by="test")
    assert secret.startswith("whsec_") and len(secret) > 40 and "secret_sealed" not in partner
    assert partner["organisation"] == TRUST
    kept = store.get_partner(partner["id"])
    assert secret not in json.dumps(list(store._items.values()), default=str)  # only the sealed form is stored
    assert LocalBox(KEY).open(kept["secret_sealed"], partner["id"]) == secret
    with pytest.raises(Exception):  # noqa: B017 (AES-GCM refuses a ciphertext bound to another partner)
        LocalBox(KEY).open(kept["secret_sealed"], "another-partner")

    _, local_hooks, _ = world(stage="local")
    assert local_hooks.register(WARD, "http://127.0.0.1:9/hooks", "Local receiver", by="test")[0]["service"] == WARD
    with pytest.raises(ValidationFailed):
        local_hooks.register(WARD, "http://localhost:9/hooks", "Local receiver", by="test")


def test_no_partner_is_registered_without_a_way_to_seal_its_secret():
    store, _, queue = world()
    bare = webhooks.Webhooks(store, None, queue, Settings(), public_story)
    with pytest.raises(RuntimeError, match="FF_WEBHOOK"):
        bare.register(TRUST, "https://partner.example/hooks", "Healthwatch", by="test")
    assert store.partners_watching([TRUST]) == []


# ---- events from the stream ----------------------------------------------------------------------


def story_change(old_status: str | None, new_status: str, **new: Any) -> Change:
    old = {"id": "s1", "status": old_status, "services": [WARD], "version": 1} if old_status else None
    after = {"id": "s1", "status": new_status, "services": [WARD], "version": 2, "published_at": "2026-03-01"} | new
    return Change("story", "s1", old, after, event="MODIFY" if old else "INSERT")


def test_each_event_becomes_one_delivery_per_partner_watching_the_story_s_services_with_a_stable_id():
    store, hooks, _ = world()
    trust = hooks.register(TRUST, "https://a.example/h", "Trust-wide", by="test")[0]["id"]
    ward = hooks.register(WARD, "https://b.example/h", "Ward only", by="test")[0]["id"]
    hooks.register(OTHER, "https://c.example/h", "Another trust", by="test")
    published = story_change("pending", "published")
    jobs = webhooks.delivery_jobs(store, published)
    assert sorted((j.partner_id, j.type) for j in jobs) == sorted(
        [(trust, "story.published"), (ward, "story.published")]
    )
    assert jobs == webhooks.delivery_jobs(store, published)  # a replayed record: the same ids
    assert len({j.id for j in jobs}) == 2  # one id per partner
    assert webhooks.delivery_jobs(store, story_change("published", "published", title="edited")) == []
    assert webhooks.delivery_jobs(store, story_change(None, "pending")) == []

    reasons = {}
    for status in ("withdrawn", "erasing", "held"):
        out = webhooks.delivery_jobs(store, story_change("published", status, withdrawn_at="2026-04-01"))
        assert {j.type for j in out} == {"story.withdrawn"}
        reasons[status] = {j.ref for j in out}
    assert reasons == {"withdrawn": {"withdrawn"}, "erasing": {"erased"}, "held": {"removed"}}
    deleted = Change("story", "s1", published.new, None, event="REMOVE")  # deleted in the console
    assert {(j.type, j.ref) for j in webhooks.delivery_jobs(store, deleted)} == {("story.withdrawn", "removed")}


def test_a_published_response_is_an_event_and_marking_a_change_is_another():
    store, hooks, _ = world()
    hooks.register(TRUST, "https://a.example/h", "Trust-wide", by="test")
    store.create_story({"id": "s1", "status": "published", "services": [WARD]}, None)

    def response(old: dict | None, new: dict) -> Change:
        return Change("response", "s1", old, {"id": "r1", "created_at": "2026-03-02"} | new, ref="r1")

    assert [j.type for j in webhooks.delivery_jobs(store, response(None, {"status": "published"}))] == [
        "response.published"
    ]
    made = webhooks.delivery_jobs(store, response(None, {"status": "published", "change": "made"}))
    assert [j.type for j in made] == ["response.published", "change.marked"]
    edited = webhooks.delivery_jobs(
        store, response({"status": "published", "change": "planned"}, {"status": "published", "change": "made"})
    )
    planned = webhooks.delivery_jobs(store, response(None, {"status": "published", "change": "planned"}))
    assert [j.type for j in edited] == ["change.marked"]
    assert edited[0].id == made[1].id != planned[1].id  # "made" is one event however it was reached
    assert webhooks.delivery_jobs(store, response(None, {"status": "held"})) == []
    store.create_story({"id": "s2", "status": "withdrawn", "services": [WARD]}, None)
    hidden = Change("response", "s2", None, {"id": "r2", "status": "published"}, ref="r2")
    assert webhooks.delivery_jobs(store, hidden) == []  # a story no longer public tells no one


@contextmanager
def dynamodb_calls() -> Iterator[Counter[str]]:
    """The store's DynamoDB calls, by operation (botocore's before-call event, as bench/ counts them)."""
    calls: Counter[str] = Counter()
    events = wiring.store()._db.meta.events

    def hook(model: Any, **_: Any) -> None:
        calls[model.name] += 1

    events.register("before-call.dynamodb.*", hook)
    try:
        yield calls
    finally:
        events.unregister("before-call.dynamodb.*", hook)


def test_with_no_partner_events_cost_one_read_a_warm_minute_and_a_new_partner_only_its_level(aws, directory):
    store = wiring.store()
    store.forget_kept()  # a fresh process
    published = story_change("pending", "published")
    with dynamodb_calls() as calls:
        for _ in range(3):
            assert webhooks.delivery_jobs(store, published) == []
    assert calls == {"GetItem": 1}  # the watched services' one item, then kept

    store.forget_kept()
    with dynamodb_calls() as calls:
        store.get_services([WARD])  # as the stream's listings do first
        assert webhooks.delivery_jobs(store, published) == []
    assert calls == {"BatchGetItem": 1}  # the item rode along with the services' read

    partner = {"id": new_id(), "name": "Healthwatch", "url": "https://a.example/h", "service": HOSPITAL}
    store.create_partner(partner | {"organisation": TRUST, "secret_sealed": "local:x", "created_at": clock.iso()})
    with dynamodb_calls() as calls:
        jobs = webhooks.delivery_jobs(store, published)
    assert [(j.partner_id, j.type) for j in jobs] == [(partner["id"], "story.published")]
    assert calls["Query"] == 1  # the hospital's level only: nobody watches the ward or the trust


# ---- signatures ----------------------------------------------------------------------------------


def recipe(kind: str) -> str:
    text = (ROOT / "docs" / "partners.md").read_text(encoding="utf-8")
    found = re.search(rf"<!-- recipe:{kind} -->\n```\w+\n(.*?)```", text, re.S)
    assert found, f"docs/partners.md has no {kind} recipe"
    return found.group(1)


def python_recipe(secret: str, header: str, body: bytes) -> bool:
    space: dict[str, Any] = {}
    exec(recipe("python"), space)  # the documented code, as a partner would paste it
    return bool(space["verify"](secret, header, body))


def node_recipe(secret: str, header: str, body: bytes) -> bool:
    script = recipe("node") + (
        "\nconst body = Buffer.from(process.env.BODY_B64, 'base64');"
        "\nprocess.stdout.write(String(verify(process.env.SECRET, process.env.HEADER, body)));"
    )
    env = {"SECRET": secret, "HEADER": header, "BODY_B64": base64.b64encode(body).decode(), "PATH": "/usr/bin:/bin"}
    out = subprocess.run(["node", "-e", script], env=env, capture_output=True, text=True, timeout=30, check=True)
    return {"true": True, "false": False}[out.stdout.strip()]


def test_a_delivery_verifies_with_the_documented_recipes_and_a_replayed_or_altered_one_does_not():
    store, hooks, _ = world()
    with Receiver() as rx:
        partner, secret = hooks.register(TRUST, rx.url, "Healthwatch", by="test")
        assert hooks.deliver(job(partner["id"], kind="change.marked")) == "delivered"
    (got,) = rx.got
    header, body = got["headers"][SIGNED], got["body"]
    assert got["headers"]["content-type"] == "application/json"
    sent = json.loads(body)
    assert sent["type"] == "change.marked" and sent["id"] == got["headers"]["feedforward-delivery"]
    assert sent["data"]["response"]["id"] == "r1" and sent["data"]["story"]["title"] == "Kind night staff"

    assert verify(secret, header, body)
    assert python_recipe(secret, header, body) is True
    assert node_recipe(secret, header, body) is True

    altered = body.replace(b"Kind night staff", b"Kind night staff!")
    replayed = sign(secret, body, timestamp=int(time.time()) - 301)  # the same delivery, sent 5 minutes on
    for check in (python_recipe, node_recipe):
        assert check(secret, header, altered) is False
        assert check(secret, replayed, body) is False
        assert check("whsec_another", header, body) is False
        assert check(secret, "t=,v1=", body) is False
    assert not verify(secret, header, altered) and not verify(secret, replayed, body)


def test_a_story_no_longer_public_is_sent_without_its_words():
    store, hooks, _ = world()
    with Receiver() as rx:
        pid = hooks.register(TRUST, rx.url, "Healthwatch", by="test")[0]["id"]
        gone = DeliveryJob(id="evt_x", partner_id=pid, type="story.published", story_id="gone", created="2026-03-01")
        withdrawn = DeliveryJob(
            id="evt_y", partner_id=pid, type="story.withdrawn", story_id="s1", ref="withdrawn", created="2026-03-01"
        )
        hooks.deliver(gone)
        hooks.deliver(withdrawn)
    first, second = (json.loads(g["body"]) for g in rx.got)
    assert first["data"] == {"story_id": "gone", "story": None}
    assert second["data"] == {"story_id": "s1", "story": None, "reason": "withdrawn"}


# ---- retries, pauses, resumption -----------------------------------------------------------------


def test_a_receiver_that_answers_500_then_200_gets_the_same_delivery_again_with_the_same_id():
    store, hooks, _ = world()
    with Receiver([500, 200]) as rx:
        pid = hooks.register(TRUST, rx.url, "Healthwatch", by="test")[0]["id"]
        one = job(pid)
        with pytest.raises(webhooks.DeliveryFailed) as failed:
            hooks.deliver(one)
        assert rx.url not in str(failed.value)  # a partner's address may carry a token: not logged
        assert store.get_partner(pid)["failures"] == 1
        assert hooks.deliver(one) == "delivered"  # the queue brings it back
    assert [g["status"] for g in rx.got] == [500, 200]
    ids = {json.loads(g["body"])["id"] for g in rx.got} | {g["headers"]["feedforward-delivery"] for g in rx.got}
    assert ids == {one.id}
    assert store.get_partner(pid)["failures"] == 0  # a success ends the run of failures


def test_a_partner_failing_in_a_row_is_paused_its_deliveries_kept_and_all_sent_once_resumed():
    store, hooks, queue = world(pause_after=3)
    with Receiver([500]) as rx:
        pid = hooks.register(TRUST, rx.url, "Healthwatch", by="test")[0]["id"]
        jobs = [job(pid, n) for n in range(1, 7)]
        retry = []
        for j in jobs[:3]:
            try:
                assert hooks.deliver(j) == "kept"  # the third failure in a row pauses it
            except webhooks.DeliveryFailed:
                retry.append(j)  # the queue will bring these back
        assert [j.id for j in retry] == [jobs[0].id, jobs[1].id]
        assert store.get_partner(pid)["paused_at"]
        tried = len(rx.got)
        for j in jobs[3:] + retry:  # new events and the retries arrive while it is paused: kept, not sent
            assert hooks.deliver(j) == "kept"
        assert len(rx.got) == tried == 3
        assert {d["id"] for d in store.held_deliveries(pid)} == {j.id for j in jobs}

        rx.answer(200)
        assert hooks.resume(pid) == len(jobs)
        assert store.held_deliveries(pid) == [] and not store.get_partner(pid)["paused_at"]
        assert sorted(j.id for j in queue.jobs) == sorted(j.id for j in jobs)  # the same ids
        for j in queue.jobs:
            assert hooks.deliver(j) == "delivered"
    assert sorted(json.loads(g["body"])["id"] for g in rx.delivered()) == sorted(j.id for j in jobs)
    with pytest.raises(NotFound):
        hooks.resume("nobody")


def test_an_unanswered_or_refused_connection_is_a_failure_too():
    store, hooks, _ = world()
    with Receiver() as rx:
        url = rx.url
    pid = hooks.register(TRUST, url, "Gone away", by="test")[0]["id"]  # nothing listens there any more
    with pytest.raises(webhooks.DeliveryFailed, match="nothing"):
        hooks.deliver(job(pid))
    assert hooks.deliver(DeliveryJob.model_validate(job(pid).model_dump() | {"partner_id": "nobody"})) == "gone"


ROUNDS = int(os.environ.get("FF_PROVE_ROUNDS", "0") or 0)


def test_events_to_one_receiver_under_injected_failures_arrive_all_with_one_id_each():
    """make test: 100 events; make prove (FF_PROVE_ROUNDS=1000): 1,000. The receiver fails 20% of POSTs,
    takes in 10% and answers 503 (a lost answer: the delivery comes again), and has an outage long enough
    to pause the partner. The queue is played by a loop that gives a failed job back, as SQS would."""
    events = max(100, ROUNDS)
    chance = random.Random(21)
    outage = range(events // 2, events // 2 + 12)

    def fault(n: int) -> tuple[bool, int]:
        if n in outage:
            return False, 500
        roll = chance.random()
        return (False, 500) if roll < 0.2 else (True, 503) if roll < 0.3 else (True, 200)

    store, hooks, resumed = world(pause_after=5)
    with Receiver(fault=fault) as rx:
        partner, secret = hooks.register(TRUST, rx.url, "Healthwatch", by="test")
        pid = partner["id"]
        jobs = [job(pid, n) for n in range(events)]
        waiting, pauses, retries = list(jobs), 0, 0
        while waiting or store.get_partner(pid)["paused_at"]:
            if not waiting:  # everything left is kept: the admin resumes it
                pauses += 1
                hooks.resume(pid)
                waiting, resumed.jobs = list(resumed.jobs), []
                continue
            j = waiting.pop(0)
            try:
                hooks.deliver(j)
            except webhooks.DeliveryFailed:
                retries += 1
                waiting.append(j)
    taken = rx.taken
    ids = [json.loads(t["body"])["id"] for t in taken]
    assert set(ids) == {j.id for j in jobs}  # 0 lost
    assert all(verify(secret, t["headers"][SIGNED], t["body"]) for t in taken)
    firsts: dict[str, bytes] = {}
    for i, t in zip(ids, taken, strict=True):
        assert firsts.setdefault(i, t["body"]) == t["body"]  # a duplicate is the same delivery, same id
    duplicates = len(ids) - len(set(ids))
    assert duplicates > 0 and pauses >= 1
    record(
        "webhooks",
        {
            "events": events,
            "posts": len(rx.got),
            "retries": retries,
            "pauses": pauses,
            "duplicates_same_id": duplicates,
            "lost": len({j.id for j in jobs} - set(ids)),
        },
    )


# ---- the whole path, on moto ---------------------------------------------------------------------


PRIVATE = ("author-7f3q@example.org", "NOTE-7f3q", "mod-7f3q", "sub-7f3q", "subn-7f3q", "flag-7f3q")


def test_the_stream_sends_each_event_signed_and_only_public_fields(aws, directory, pump):
    store = wiring.store()
    with Receiver() as rx:
        partner, secret = wiring.webhooks().register(TRUST, rx.url, "Healthwatch", by="test")
        sid, rid, now = new_story_id(), new_id(), clock.iso()
        story = {
            "id": sid,
            "status": "pending",
            "version": 1,
            "title": "Kind night staff",
            "story": "They sat with my dad all night.",
            "pseudonym": "A daughter",
            "role": "relative",
            "experience": "2026-02",
            "services": [WARD],
            "tags": ["kindness"],
            "submitted_at": now,
            "criticality": 5,
            "has_contact": True,
        }
        store.create_story(story, {"email": PRIVATE[0]})
        decided = {"published_at": now, "decided_at": now, "decided_by": PRIVATE[2], "decision_note": PRIVATE[1]}
        store.change_status(sid, ["pending"], {"status": "published"} | decided)
        pump.drain()
        response = {
            "id": rid,
            "subscriber_id": PRIVATE[3],
            "subscription_id": PRIVATE[4],
            "service": WARD,
            "service_name": "Ward 7 (Acute Medicine)",
            "name": "Sam Patel",
            "role": "Ward manager",
            "organisation": TRUST,
            "organisation_name": "Riverside NHS Foundation Trust",
            "text": "Thank you: we have changed the rota.",
            "change": "made",
            "change_description": "A second nurse at night.",
            "status": "published",
            "flags": [PRIVATE[5]],
            "created_at": now,
            "published_at": now,
            "decided_by": PRIVATE[2],
            "decision_note": PRIVATE[1],
        }
        store.put_response(sid, response)
        pump.drain()
        store.change_status(sid, ["published"], {"status": "withdrawn", "withdrawn_at": clock.iso()})
        pump.drain()
    got = rx.delivered()
    bodies = [json.loads(g["body"]) for g in got]
    assert sorted(b["type"] for b in bodies) == [
        "change.marked",
        "response.published",
        "story.published",
        "story.withdrawn",
    ]
    assert all(verify(secret, g["headers"][SIGNED], g["body"]) for g in got)
    by_type = {b["type"]: b for b in bodies}
    assert by_type["story.published"]["data"]["story"]["title"] == "Kind night staff"
    assert by_type["change.marked"]["data"]["response"]["change_description"] == "A second nurse at night."
    assert by_type["story.withdrawn"]["data"] == {"story_id": sid, "story": None, "reason": "withdrawn"}
    everything = b"\n".join(g["body"] + json.dumps(g["headers"]).encode() for g in got).decode().lower()
    for private in (*PRIVATE, "criticality", "has_contact", "decision", "secret", "flags", "email"):
        assert private.lower() not in everything, private


def test_a_paused_partner_s_leads_are_told_through_the_mail_path(aws, directory, pump):
    org = {"slug": TRUST, "name": "Riverside NHS Foundation Trust"}
    wiring.membership().name_lead(org, "lead.7f3q@nhs.example", by="test", name="Lee")
    partner, _ = wiring.webhooks().register(TRUST, "https://partner.example/hooks", "Healthwatch", by="test")
    pump.drain()
    assert wiring.store().pause_partner(partner["id"], clock.iso())
    pump.drain()
    (letter,) = [m for m in mailbox.to("lead.7f3q@nhs.example") if "Healthwatch" in str(m["Subject"])]
    text = mailbox.text_of(letter)
    assert "partner.example" in text and "Nothing is lost" in text and "whsec_" not in text


def test_the_admin_commands_print_the_secret_once_refuse_plain_http_and_resume(aws, directory, capsys):
    from tools import ff

    assert ff.main(["--no-progress", "webhook-add", TRUST, "http://partner.example/hooks", "--name", "Plain"]) == 1
    assert "url: The address must start https://" in capsys.readouterr().err
    assert (
        ff.main(["--no-progress", "webhook-add", TRUST, "https://partner.example/hooks", "--name", "Healthwatch"]) == 0
    )
    out = capsys.readouterr().out
    (secret,) = re.findall(r"whsec_[A-Za-z0-9_-]+", out)
    assert out.count(secret) == 1  # printed for the admin; not in the log line beside it
    pid = re.search(r"Partner (\w+) \(Healthwatch\)", out).group(1)
    kept = job(pid)
    wiring.store().hold_delivery(pid, kept.model_dump())
    wiring.store().pause_partner(pid, clock.iso())
    assert ff.main(["--no-progress", "webhook-resume", pid]) == 0
    assert "1 kept deliveries queued again" in capsys.readouterr().out
    sqs = aws.client("sqs")
    bodies = [
        json.loads(m["Body"])
        for m in sqs.receive_message(QueueUrl=aws.resources.delivery_queue_url, MaxNumberOfMessages=10).get(
            "Messages", []
        )
    ]
    assert [b["id"] for b in bodies] == [kept.id] and not wiring.store().get_partner(pid)["paused_at"]
    assert ff.main(["--no-progress", "webhook-resume", "nobody"]) == 1


def test_a_failed_delivery_comes_back_after_a_minute_doubling_to_at_most_two_hours():
    from chalicelib.core.jobs import DELIVERY_MAX_RECEIVES, delivery_retry_delay

    assert [delivery_retry_delay(n) for n in range(1, DELIVERY_MAX_RECEIVES)] == [
        60,
        120,
        240,
        480,
        960,
        1920,
        3840,
        7200,
        7200,
    ]
