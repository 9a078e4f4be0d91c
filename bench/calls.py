"""AWS calls per operation, counted with botocore's before-call event on chalicelib's own clients.

One story goes through its whole life in moto (in process) with the demo directory: told,
confirmed, published, rendered, alerted to three subscribers (on its ward, hospital and trust),
read and answered by one of them, and replied to by its author. Each operation is one small
function below; OPERATIONS lists them in order with their budgets (bench/budgets.py).
An operation whose code is missing is reported as not yet measured.
"""

from __future__ import annotations

import json
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from .budgets import AWS_CALLS
from .env import BENCH_WARD, Aws, Calls, aws_in_process, bar, load_directory, story_body
from .report import Section, table

JSON_H = {"Content-Type": "application/json"}


@dataclass
class Ctx:
    aws: Aws
    services: dict[str, Any]
    story_id: str = ""
    staff: list[dict[str, Any]] = field(default_factory=list)
    mail: list[Any] = field(default_factory=list)  # mail jobs taken off the queue, to run one by one
    pages: int = 0
    recipients: int = 0
    note: str = ""


def run_mail(ctx: Ctx, kind: str) -> Calls:
    """Run the queued mail jobs of one kind, as the mail worker would, counting their calls."""
    from chalicelib import wiring

    jobs = [j for j in ctx.mail if j.kind == kind]
    if not jobs:
        raise RuntimeError(f"no {kind} job was queued")
    ctx.mail = [j for j in ctx.mail if j.kind != kind]
    with ctx.aws.counter.measure() as calls:
        for job in jobs:
            wiring.notifications().handle(job)
    ctx.recipients = len(jobs)
    return calls


# ---- the operations ----------------------------------------------------------------------------------


def submit(ctx: Ctx) -> Calls:
    with ctx.aws.counter.measure() as calls:
        resp = ctx.aws.app_client.http.post("/api/stories", body=json.dumps(story_body()), headers=JSON_H)
    assert resp.status_code == 201, resp.body
    ctx.story_id = json.loads(resp.body)["id"]
    return calls


def submit_stream(ctx: Ctx) -> Calls:
    with ctx.aws.counter.measure() as calls:
        ctx.aws.drain_stream()
    ctx.mail += ctx.aws.take_jobs("mail")
    return calls


def author_confirmation(ctx: Ctx) -> Calls:
    calls = run_mail(ctx, "author_confirmation")
    # The author confirms the address from that email (issue 18), so the letters measured later are sent;
    # not counted, and the receipt it causes is set aside.
    from chalicelib import wiring
    from chalicelib.core import clock

    wiring.store().confirm_contact(ctx.story_id, clock.iso())
    ctx.aws.drain_stream()
    ctx.aws.take_jobs("mail")
    return calls


def moderate_publish(ctx: Ctx) -> Calls:
    from chalicelib import wiring
    from chalicelib.moderation import Moderator

    _make_staff(ctx)  # before publication, so the fan-out finds them (not counted: setup)
    version = wiring.store().get_story(ctx.story_id, consistent=True)["version"]
    with ctx.aws.counter.measure() as calls:
        wiring.moderation().decide(
            ctx.story_id,
            {"action": "publish", "version": version, "criticality": 3, "tags": ["nursing"]},
            Moderator("bench@feedforward.example", "Bench Moderator"),
        )
        wiring.store().forget_kept()  # the stream handler is another function: its own process
        ctx.aws.drain_stream()
    ctx.mail += ctx.aws.take_jobs("mail")
    return calls


def render_story_pages(ctx: Ctx) -> Calls:
    jobs = ctx.aws.take_jobs("render")
    calls, per_page = ctx.aws.render_each(jobs)
    ctx.pages = sum(len(n) for n in per_page.values())
    ctx.note = f"{ctx.pages} pages: " + page_costs(per_page)
    # The search worker's shard rebuild is its own function's (debounced): counted apart.
    search = ctx.aws.take_jobs("search")
    if search:
        searched = ctx.aws.search_each(search)
        ctx.note += f"; apart, the search shard rebuild: {searched.total} calls"
    return calls


def page_costs(per_page: dict[str, list[int]]) -> str:
    """ "story 3, service 7+7+7, ..." : the calls of each page, by kind."""
    return ", ".join(f"{kind} {'+'.join(str(n) for n in counts)}" for kind, counts in per_page.items())


def author_published(ctx: Ctx) -> Calls:
    return run_mail(ctx, "author_published")


def alert_fanout(ctx: Ctx) -> Calls:
    calls = run_mail(ctx, "alert_fanout")
    ctx.mail += ctx.aws.take_jobs("mail")
    ctx.note = f"{sum(1 for j in ctx.mail if j.kind == 'staff_alert')} alerts queued"
    return calls


def staff_alert_per_recipient(ctx: Ctx) -> Calls:
    """The most any one recipient's alert cost (the budget is per recipient)."""
    from chalicelib import wiring

    jobs = [j for j in ctx.mail if j.kind == "staff_alert"]
    if not jobs:
        raise RuntimeError("no staff_alert job was queued")
    ctx.mail = [j for j in ctx.mail if j.kind != "staff_alert"]
    worst: Calls | None = None
    for job in jobs:
        with ctx.aws.counter.measure() as calls:
            wiring.notifications().handle(job)
        if worst is None or calls.total > worst.total:
            worst = calls
    ctx.note = f"the costliest of {len(jobs)} recipients"
    return worst


def staff_read(ctx: Ctx) -> Calls:
    token = _respond_link(ctx)
    with ctx.aws.counter.measure() as calls:
        resp = ctx.aws.app_client.http.post(f"/api/respond/{token}/read", body="{}", headers=JSON_H)
    assert resp.status_code == 200, resp.body
    return calls


def effects(ctx: Ctx) -> Calls:
    """What follows a state change: the stream handler, then every render and mail job, to the end."""
    with ctx.aws.counter.measure() as calls:
        while ctx.aws.drain_stream() + ctx.aws.drain_queue("render") + ctx.aws.drain_queue("mail"):
            pass
    return calls


def staff_response(ctx: Ctx) -> Calls:
    from chalicelib.core.ids import new_id

    token = _respond_link(ctx)
    body = {
        "text": "Thank you for telling us. We have talked about night-time admissions as a team.",
        "change": "planned",
        "change_description": "A named nurse for every night admission.",
        "response_id": new_id(),
    }
    with ctx.aws.counter.measure() as calls:
        resp = ctx.aws.app_client.http.post(f"/api/respond/{token}", body=json.dumps(body), headers=JSON_H)
    assert resp.status_code == 201, resp.body
    return calls


def author_reply(ctx: Ctx) -> Calls:
    import uuid

    from chalicelib import wiring
    from chalicelib.core.settings import get_settings

    token = wiring.links().issue("author", ctx.story_id, "author", get_settings().author_link_days)
    body = {"text": "Thank you for answering. It means a lot to know it was read.", "reply_id": uuid.uuid4().hex}
    with ctx.aws.counter.measure() as calls:
        resp = ctx.aws.app_client.http.post(f"/api/my/{token}/replies", body=json.dumps(body), headers=JSON_H)
    assert resp.status_code == 202, resp.body
    return calls


# (id, what a person reads, function); each id's budget is AWS_CALLS[id] when it has one.
IMPORT_ITEMS = 20


def import_first(ctx: Ctx) -> Calls:
    """A JSON export of IMPORT_ITEMS items about the benchmark ward, registered and brought in: the calls of
    the run alone (the registration is an admin's, once)."""
    import tempfile
    from pathlib import Path

    from chalicelib import wiring

    organisation = ctx.services[BENCH_WARD]["path"][0]
    words = "The nurses explained every step of the treatment and came back to check on me at night."
    rows = [
        {"id": f"b{n}", "title": f"Imported {n}", "story": words, "date": "2026-11-01"} for n in range(IMPORT_ITEMS)
    ]
    export = Path(tempfile.mkdtemp()) / "export.json"
    export.write_text(json.dumps(rows), encoding="utf-8")
    importer = wiring.importer(local_files=True)
    source = {"slug": "bench-export", "name": "Bench export", "organisation": organisation, "kind": "json"}
    importer.add_source(source | {"location": str(export), "service": BENCH_WARD})
    with ctx.aws.counter.measure() as calls:
        summary = importer.run("bench-export")
    assert summary.imported == IMPORT_ITEMS, summary.line()
    return calls


def import_again(ctx: Ctx) -> Calls:
    from chalicelib import wiring

    with ctx.aws.counter.measure() as calls:
        summary = wiring.importer(local_files=True).run("bench-export")
    assert summary.unchanged == IMPORT_ITEMS, summary.line()
    return calls


OPERATIONS: list[tuple[str, str, Callable[[Ctx], Calls]]] = [
    ("submit", "submit a story (POST /api/stories)", submit),
    ("submit_stream", "… the stream handler for it", submit_stream),
    ("author_confirmation", "… the author's confirmation email", author_confirmation),
    ("moderate_publish", "moderate and publish (Moderation.decide and the stream handler)", moderate_publish),
    ("render_story_pages", "render the story's pages (the render jobs that follow)", render_story_pages),
    ("author_published", '… the author\'s "published" email', author_published),
    ("alert_fanout", "alert fan-out job (3 subscribers)", alert_fanout),
    ("staff_alert_per_recipient", "alert email, per recipient", staff_alert_per_recipient),
    ("staff_read", "a staff read receipt (POST /api/respond/{token}/read)", staff_read),
    ("staff_read_effects", "… what follows it (progress on the story, its pages, the author's email)", effects),
    ("staff_response", "a staff response (POST /api/respond/{token})", staff_response),
    ("staff_response_effects", "… what follows it (progress, pages, the author's email)", effects),
    ("author_reply", "an author reply (POST /api/my/{token}/replies)", author_reply),
    ("author_reply_effects", "… what follows it (nothing until a moderator decides)", effects),
    ("import_first", f"import a source's {IMPORT_ITEMS} new items (importer.run, issue 21)", import_first),
    ("import_again", f"… the same {IMPORT_ITEMS} items again (all unchanged)", import_again),
]


def _make_staff(ctx: Ctx) -> None:
    from chalicelib import wiring
    from chalicelib.core import clock
    from chalicelib.core.ids import new_id

    store = wiring.store()
    now = clock.iso()
    path = ctx.services[BENCH_WARD]["path"]  # one subscriber on each level: trust, hospital, ward
    for i, slug in enumerate(path):
        profile = {
            "id": new_id(),
            "email": f"staff{i}@nhs.example",
            "name": f"Staff Member {i}",
            "display_name": f"Staff {i}",
            "role": "Ward Manager",
            "organisation": path[0],
            "organisation_name": ctx.services[path[0]]["name"],
            "status": "active",
            "access": "responder",  # a member with the grant (organisations, issue 15)
            "responses_sent": 3,  # past the first responses a moderator checks
            "created_at": now,
            "confirmed_at": now,
            "links_valid_after": "",
        }
        store.create_subscriber(profile)
        sub = {
            "id": new_id(),
            "subscriber_id": profile["id"],
            "service": slug,
            "service_name": ctx.services[slug]["name"],
            "tags": [],
            "min_criticality": 0,
            "frequency": "immediate",
            "status": "active",
            "created_at": now,
        }
        store.put_subscription(sub)
        ctx.staff.append({"profile": profile, "subscription": sub})


def _respond_link(ctx: Ctx) -> str:
    from chalicelib import wiring
    from chalicelib.core.settings import get_settings

    staff = ctx.staff[-1]
    p, s = staff["profile"], staff["subscription"]
    return wiring.links().issue(
        "respond",
        ctx.story_id,
        p["id"],
        get_settings().respond_link_days,
        subscriber_id=p["id"],
        subscription_id=s["id"],
        service=s["service"],
    )


def run(quick: bool = False) -> Section:
    section = Section("calls", "AWS calls per operation", other_figures=False)
    rows = []
    data: dict[str, Any] = {}
    with aws_in_process() as aws:
        ctx = Ctx(aws, load_directory())
        aws.drain_stream()  # the directory's own records
        failed = ""
        with bar("operations", total=len(OPERATIONS), unit=" ops") as b:
            for op_id, label, fn in OPERATIONS:
                budget = AWS_CALLS.get(op_id)
                ctx.note = ""
                calls: Calls | None = None
                note = ""
                if failed:
                    note = f"not yet measured: needs an earlier step ({failed})"
                else:
                    try:
                        # Each operation starts in a process that has kept nothing (the directory's
                        # items are kept a minute, store/directory.py): the figures are the first
                        # call's, not a warm process's best.
                        from chalicelib import wiring

                        wiring.store().forget_kept()
                        calls = fn(ctx)
                    except Exception as e:  # noqa: BLE001 - the code for it may not exist yet
                        failed = op_id
                        note = f"not yet measured: {type(e).__name__}: {str(e)[:160]}"
                        data[f"{op_id}.error"] = traceback.format_exc()[-2000:]
                b.update()
                value = calls.total if calls is not None else None
                section.add(f"calls.{op_id}", f"AWS calls: {label}", value, "", budget, note or ctx.note)
                if calls is not None:
                    data[op_id] = dict(calls.counts)
                rows.append(
                    [
                        label,
                        value if value is not None else "—",
                        budget.text() if budget else "—",
                        calls.breakdown() if calls is not None else note,
                        ctx.note if calls is not None else "",
                    ]
                )
    section.data = data
    section.details = "\n".join(
        [
            "Calls counted with a `before-call.*.*` hook on the clients chalicelib/core/aws.py makes (one per API call, "
            "whatever its retries), in moto in process, with the demo directory (92 services). The story is about a "
            "ward three levels down (trust › hospital › ward); three subscribers watch the ward, its hospital and its "
            "trust. The event pump's own calls (reading the stream and the queues) are Lambda's work, not ours, and "
            "are not counted. Each budget, with the reason for its number, is in `bench/budgets.py` (`AWS_CALLS`).",
            "",
            table(["operation", "calls", "budget", "calls by operation", "note"], rows),
        ]
    )
    return section
