"""Reports (issue 15): what a lead's report on a year of a 10,000-story organisation costs.

The organisation with the most services in the demo directory is seeded with 10,000 published
stories over one year (store.put_published, in moto in process), and its lead opens the report for
the last 12 months (compared with the 12 before), then its CSV export. Counted with the same
botocore hook as the other AWS-call figures; the budget is the access pattern's, from
docs/data-model.md: a few fixed reads, one listing Query per 1 MB of entries, one BatchGetItem per
100 stories. Never a Scan.
"""

from __future__ import annotations

import math
import time
from datetime import UTC, datetime
from typing import Any

from .budgets import REPORT_FIXED_CALLS, report_budget
from .env import Calls, aws_in_process, leaf_services, load_directory, seed_published
from .report import Section, table

STORIES = 10_000
# Seeded stories are published through 2025; on 5 January 2026 "the last 12 months" is all of 2025.
NOW = datetime(2026, 1, 5, 9, tzinfo=UTC)
JSON_H = {"Accept": "application/json"}
BROWSER = {"Accept": "text/html,*/*;q=0.8"}


def _biggest(services: dict[str, dict[str, Any]]) -> str:
    leaves = leaf_services(services)
    counts: dict[str, int] = {}
    for slug in leaves:
        top = services[slug]["path"][0]
        counts[top] = counts.get(top, 0) + 1
    return max(sorted(counts), key=lambda s: counts[s])


def measure(n: int) -> dict[str, Any]:
    from chalicelib import wiring
    from chalicelib.core import clock
    from chalicelib.core.settings import get_settings

    with aws_in_process() as aws:
        services = load_directory()
        org = _biggest(services)
        mine = {slug: s for slug, s in services.items() if s["path"][0] == org}
        seed_published(n, mine, desc=f"seeding {n:,} stories in {org}")
        aws.skip_stream()
        clock.now = lambda: NOW  # type: ignore[assignment] - the bench's own process: the clock held
        wiring.membership().name_lead(
            {"slug": org, "name": services[org]["name"]}, "bench.lead@nhs.example", by="bench"
        )
        lead = wiring.store().find_subscriber("bench.lead@nhs.example")
        token = wiring.links().issue(
            "organisation",
            "",
            lead["id"],
            get_settings().organisation_link_days,
            subscriber_id=lead["id"],
            organisation=org,
        )
        app = aws.app_client
        out: dict[str, Any] = {"organisation": org, "services": len(mine)}
        for key, path, headers in (
            ("report", f"/api/organisation/{token}/report?period=year", JSON_H),
            ("export", f"/api/organisation/{token}/report.csv?period=year", BROWSER),
        ):
            t0 = time.perf_counter()
            with aws.counter.measure() as calls:
                resp = app.http.get(path, headers=headers)
            assert resp.status_code == 200, resp.body[:300]
            out[key] = calls
            out[f"{key}_seconds"] = time.perf_counter() - t0
            if key == "report":
                import json

                out["stories"] = json.loads(resp.body)["figures"]["stories"]
    return out


def run(quick: bool = False) -> Section:
    section = Section("reports", "Reports", other_figures=False)
    n = 2_000 if quick else STORIES
    got = measure(n)
    report: Calls = got["report"]
    export: Calls = got["export"]
    budget = report_budget(n)
    section.add(
        "reports.year_calls",
        f"AWS calls: a lead's report on the last 12 months of a {n:,}-story organisation (and the 12 before)",
        report.total,
        "",
        budget,
        note=report.breakdown(),
    )
    section.add("reports.year_scans", "Scans made by that report", report.counts.get("dynamodb.Scan", 0), "")
    section.add(
        "reports.export_calls",
        f"AWS calls: its CSV export ({n:,} rows; seeded stories have no responses, so no thread Queries)",
        export.total,
        "",
        budget,
        note=export.breakdown(),
    )
    rows = [
        ["report (JSON)", report.total, budget.text(), report.breakdown(), f"{got['report_seconds']:.1f} s"],
        ["CSV export", export.total, budget.text(), export.breakdown(), f"{got['export_seconds']:.1f} s"],
    ]
    section.data = {"report": dict(report.counts), "export": dict(export.counts), "stories": got["stories"]}
    section.details = "\n".join(
        [
            f"{n:,} published stories seeded over 2025 in `{got['organisation']}` ({got['services']} services of the demo "
            f"directory), in moto in process; the clock held at {NOW:%d %B %Y}, so the last 12 months hold them all "
            f"(the report counted {got['stories']:,}). Counted: the request, from the link's checks to the answer. "
            f"The budget: {REPORT_FIXED_CALLS} fixed calls, one listing Query per 1,000 stories (a Query page is 1 MB "
            "and an entry under 1 kB) and one BatchGetItem per 100 stories "
            f"(= {REPORT_FIXED_CALLS} + ⌈n/1000⌉ + ⌈n/100⌉ = {budget.limit:g} at {n:,}). An export adds one Query per "
            "story that has a response (its published responses), 8 at a time. Wall time is moto's, not DynamoDB's.",
            "",
            table(["operation", "calls", "budget", "calls by operation", "wall time"], rows),
        ]
    )
    assert math.isfinite(budget.limit)
    return section
