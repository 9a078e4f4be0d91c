"""Incremental publishing: what publishing one story costs in a site of 100 stories and in one of 10,000.

Each site is seeded straight into the table (store.put_published: BatchWriteItem, in moto in
process), with the demo directory. Then one story is told through the API and published by a
moderator; counted are the calls of the decision, the stream handler and every render job that
follows (the emails are another matter: see the AWS calls per operation). The design's rule 5:
the same number of S3 writes and DynamoDB reads at both sizes.
"""

from __future__ import annotations

import json
import time
from typing import Any

from .budgets import INCREMENTAL_RATIO
from .env import Aws, Calls, aws_in_process, load_directory, seed_published, story_body
from .report import Section, fmt, table

SMALL, LARGE = 100, 10_000


def publish_one(aws: Aws) -> tuple[Calls, dict[str, list[int]], float]:
    from chalicelib import wiring
    from chalicelib.moderation import Moderator

    resp = aws.app_client.http.post(
        "/api/stories", body=json.dumps(story_body()), headers={"Content-Type": "application/json"}
    )
    assert resp.status_code == 201, resp.body
    story_id = json.loads(resp.body)["id"]
    aws.drain_stream()
    aws.purge("mail")
    version = wiring.store().get_story(story_id, consistent=True)["version"]
    t0 = time.perf_counter()
    with aws.counter.measure() as calls:
        wiring.moderation().decide(
            story_id,
            {"action": "publish", "version": version, "criticality": 1, "tags": ["nursing"]},
            Moderator("bench@feedforward.example", "Bench Moderator"),
        )
        aws.drain_stream()
        jobs = aws.take_jobs("render")
        _, pages = aws.render_each(jobs)
    took = time.perf_counter() - t0
    # The search worker's rebuild of the story's shard, apart (its own function and queue): it
    # reads the shard's months, not the site (bench/search.py measures it at scale).
    search = aws.search_each(aws.take_jobs("search"))
    return calls, pages, took, search


def site(n: int) -> dict[str, Any]:
    with aws_in_process() as aws:
        services = load_directory()
        t0 = time.perf_counter()
        seed_published(n, services, desc=f"seeding a site of {n:,} stories")
        seeded = time.perf_counter() - t0
        aws.skip_stream()  # the seeded stories are the site as it stands, not changes to react to
        build_search_index()
        calls, pages, took, search = publish_one(aws)
        home = wiring_listing_size()
    return {
        "calls": calls,
        "pages": pages,
        "seconds": took,
        "seed_seconds": seeded,
        "home_entries": home,
        "search": search,
    }


def build_search_index() -> None:
    """The index as it stands before the publication, so the search job's uploads are only what changed."""
    from chalicelib import wiring
    from chalicelib.core.jobs import RenderJob

    wiring.site().render(RenderJob(page="search"))


def wiring_listing_size() -> int:
    from chalicelib import wiring
    from chalicelib.store import EVERYTHING

    return len(wiring.store().listing(EVERYTHING, 10**6))


def run(quick: bool = False) -> Section:
    section = Section("incremental", "Incremental publishing", other_figures=False)
    large = 2_000 if quick else LARGE
    small_run, large_run = site(SMALL), site(large)
    a, b = small_run["calls"], large_run["calls"]
    figures = [
        ("s3_writes", "S3 writes", a.s3_writes, b.s3_writes, True),
        ("ddb_reads", "DynamoDB reads", a.ddb_reads, b.ddb_reads, True),
        ("ddb_writes", "DynamoDB writes", a.ddb_writes, b.ddb_writes, False),
        ("all_calls", "all AWS calls", a.total, b.total, False),
    ]
    rows = []
    for key, label, small, big, budgeted in figures:
        ratio = big / small if small else None
        section.add(
            f"incremental.{key}.ratio",
            f"{label} publishing one story, {large:,} stories ÷ {SMALL}",
            round(ratio, 3) if ratio is not None else None,
            "×",
            INCREMENTAL_RATIO if budgeted else None,
        )
        rows.append([label, small, big, fmt(ratio, "×")])
    sa, sb = small_run["search"], large_run["search"]
    for key, label, small, big in [
        ("s3_writes", "S3 writes", sa.s3_writes, sb.s3_writes),
        ("ddb_reads", "DynamoDB reads", sa.ddb_reads, sb.ddb_reads),
    ]:
        section.add(
            f"incremental.search.{key}",
            f"search index job after one publication: {label} at {large:,} stories",
            big,
            "",
            None,
            note=f"{small} at {SMALL}; apart from the budget: the search worker rebuilds the story's shard (bench: search)",
        )
    n_pages = sum(len(v) for v in large_run["pages"].values())
    kinds = ", ".join(f"{kind} × {len(v)}" for kind, v in large_run["pages"].items())
    section.add("incremental.pages", "pages rendered for one publication", n_pages, "")
    section.add(
        "incremental.seed_rate",
        f"seeding {large:,} stories",
        round(large / large_run["seed_seconds"]),
        "stories/s",
        note="BatchWriteItem in moto in process, story and listing items",
    )
    section.data = {
        "small": dict(a.counts),
        "large": dict(b.counts),
        "large_stories": large,
        "seconds": {"small": round(small_run["seconds"], 2), "large": round(large_run["seconds"], 2)},
    }
    section.details = "\n".join(
        [
            f"One story published into a site of {SMALL} stories and into one of {large:,} (checked: the home listing "
            f"holds {small_run['home_entries']:,} and {large_run['home_entries']:,} entries), in moto in process with "
            "the demo directory; the seeded stories are spread over its leaf services and the past year. Counted: "
            "the moderator's decision, the stream handler for it and the render jobs that follow "
            f"({n_pages} pages: {kinds}). The story has a tag, so its tag's page (and feeds) are among them.",
            "",
            table(["calls", f"{SMALL} stories", f"{large:,} stories", "ratio"], rows),
            "",
            f"By operation at {SMALL}: {a.breakdown()}. At {large:,}: {b.breakdown()}.",
            "",
            f"Wall time of the same work (moto's, not AWS's: moto walks every item of a table for an index query, so "
            f"its time grows with the table even when the calls do not): {small_run['seconds']:.2f} s and "
            f"{large_run['seconds']:.2f} s. Seeding {large:,} stories took {large_run['seed_seconds']:.1f} s.",
            "",
            f"Not in these counts: the search index job that follows each publication. Pagefind cannot add one page "
            f"to an index, so the job reads every published story and uploads the index files that changed: "
            f"{sa.ddb_reads} DynamoDB reads and {sa.s3_writes} S3 writes at {SMALL} stories, {sb.ddb_reads} and "
            f"{sb.s3_writes} at {large:,}. Jobs are deduplicated per batch of stream records, so a batch that publishes many stories runs it once (docs/operations.md).",
        ]
    )
    return section
