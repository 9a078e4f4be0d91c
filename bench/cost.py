"""python -m bench.cost: the monthly AWS bill at Care Opinion's scale, on paper (issue 17), written to
docs/cost.md. `make bench` runs it after the measurements.

It multiplies the AWS calls each operation makes, as `python -m bench` last measured them
(docs/benchmarks.json, section "calls": calls by service and operation, traced call by call), by
how often Care Opinion's scale makes each operation happen, and prices the result with the public
list prices for Europe (London), eu-west-2, below. What a call costs in capacity units, and how long
a Lambda invocation takes, are not measured here: they are assumptions, each named in ASSUMED, and
the document shows them. Free tiers are left out (they would lower the bill; see the document).
"""

from __future__ import annotations

import json
import math
import sys
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BENCHMARKS = ROOT / "docs" / "benchmarks.json"
OUT = ROOT / "docs" / "cost.md"

# ---- public prices, Europe (London) eu-west-2, US dollars --------------------------------------------
# Transcribed from the AWS pricing pages named, as listed in 2025 (on-demand, first tier, no free tier;
# DynamoDB after the 50% cut of on-demand throughput on 1 November 2024). The script does not fetch
# them: check the pages before relying on a figure.
PRICES_DATE = "2025 (transcribed 2026-12-07)"
PRICES: dict[str, tuple[float, str, str]] = {  # name: (dollars, per what, source page)
    "lambda_gb_s": (0.0000133334, "GB-second, Arm", "https://aws.amazon.com/lambda/pricing/"),
    "lambda_request": (0.20 / 1e6, "request", "https://aws.amazon.com/lambda/pricing/"),
    "ddb_wru": (0.7423 / 1e6, "write request unit, on-demand", "https://aws.amazon.com/dynamodb/pricing/on-demand/"),
    "ddb_rru": (0.1484 / 1e6, "read request unit, on-demand", "https://aws.amazon.com/dynamodb/pricing/on-demand/"),
    "ddb_gb_month": (0.2970, "GB-month of table storage", "https://aws.amazon.com/dynamodb/pricing/on-demand/"),
    "s3_put": (0.0053 / 1000, "PUT, COPY, POST or LIST request, S3 Standard", "https://aws.amazon.com/s3/pricing/"),
    "s3_get": (0.00042 / 1000, "GET, HEAD or other request, S3 Standard", "https://aws.amazon.com/s3/pricing/"),
    "s3_gb_month": (0.024, "GB-month, S3 Standard, first 50 TB", "https://aws.amazon.com/s3/pricing/"),
    "ses_email": (0.10 / 1000, "outbound email", "https://aws.amazon.com/ses/pricing/"),
    "sqs_request": (0.40 / 1e6, "standard queue request (64 KB chunk)", "https://aws.amazon.com/sqs/pricing/"),
    "sqs_fifo_request": (0.50 / 1e6, "FIFO queue request", "https://aws.amazon.com/sqs/pricing/"),
    "cf_gb": (0.085, "GB out to the internet, Europe, first 10 TB", "https://aws.amazon.com/cloudfront/pricing/"),
    "cf_request": (0.0120 / 10000, "HTTPS request, Europe", "https://aws.amazon.com/cloudfront/pricing/"),
    "apigw_request": (3.70 / 1e6, "REST API request, first 333 million", "https://aws.amazon.com/api-gateway/pricing/"),
}

# ---- Care Opinion's scale (issue 17) -----------------------------------------------------------------
DAYS = 30.4
SCALE = {
    "stories": 500_000,
    "new_per_day": 300,
    "subscribed_staff": 50_000,
    "alerts_per_story": 5,
    "page_views": 2_000_000,
}

# ---- assumptions (not measured by the bench) -----------------------------------------------------------
ASSUMED: dict[str, tuple[float, str]] = {
    "with_email": (0.7, "share of authors who give an address and confirm it (the author's letters)"),
    "reads_per_story": (2.0, "staff read receipts per story (the first has the progress effects)"),
    "responses_per_story": (0.7, "published staff responses per story (Care Opinion answers about 70%)"),
    "replies_per_story": (0.2, "author replies per story"),
    "moderation_views_per_story": (3, "moderation screen requests per story (about 5 reads each)"),
    "api_requests_per_story": (15, "other API requests per story told: the finder as the form is filled, sign-ups"),
    "requests_per_view": (2.5, "CloudFront requests per page view (the page, and assets a first visit fetches)"),
    "kb_per_view": (40, "KB per page view out of CloudFront (compressed page and first-visit assets)"),
    "origin_miss": (0.25, "share of page requests CloudFront fetches from S3 (short HTML cache)"),
    "search_share": (0.04, "share of page views that search"),
    "search_kb": (407, "KB a search downloads at 50,000 stories (bench: search)"),
    "search_requests": (12, "requests a search makes (loader, wasm, pf_meta, index chunks, fragments)"),
    "shard_stories": (4_560, "stories in the hot (current month) shard, on average: half a month's"),
    "pagefind_ms_per_story": (2.2, "Pagefind's time per story in a shard (bench: search, 10,000 stories 22.4 s)"),
    "shard_rrus": (3_000, "read units of one hot-shard rebuild (the month's listing Query and its stories)"),
    "shard_puts": (72, "S3 writes of one hot-shard rebuild (bench: incremental, search job at 10,000 stories)"),
    "debounce_s": (300, "the search queue's debounce: at most one hot-shard rebuild per 5 minutes"),
    "jobs_per_invocation": (3, "SQS jobs per worker invocation on average (batches of up to 10)"),
    "ms_per_invocation": (40, "ms of each invocation besides its calls (handler, decoding, templates)"),
    "cold_share": (0.05, "share of invocations that start cold"),
    "cold_ms": (800, "ms of a cold start's init, billed (Lambda bills init for managed runtimes)"),
    "kb_per_item_story": (10, "KB of table per story: story, listing entries, thread, facts, private items"),
    "objects": (1_100_000, "objects on the site (issue 17: pages of 500,000 stories, 10,000 services, ...)"),
    "kb_per_object": (12, "KB per site object, and 1 GB more of search shards"),
}
# ms of wall time per call (the function waits on it); rough figures for calls inside a region.
CALL_MS = {"dynamodb": 8, "s3": 25, "sqs": 12, "ses": 80}
# Capacity units per call, by operation: the bench counts calls, not units. Items are small (a story
# about 3 KB, a listing entry under 1 KB); transactions cost double; index writes are counted in.
UNITS = {
    "GetItem": ("rru", 1),
    "BatchGetItem": ("rru", 3),
    "Query": ("rru", 3),
    "PutItem": ("wru", 2),
    "UpdateItem": ("wru", 2),
    "DeleteItem": ("wru", 1),
    "BatchWriteItem": ("wru", 10),
    "TransactWriteItems": ("wru", 10),
}
MEMORY_GB = {"api": 1.0, "stream": 1.0, "render": 1.0, "mail": 1.0, "search": 4.0}


def a(name: str) -> float:
    return ASSUMED[name][0]


def p(name: str) -> float:
    return PRICES[name][0]


def measured_calls(path: Path = BENCHMARKS) -> dict[str, Counter]:
    """Calls by operation, from the last `python -m bench` (section calls)."""
    doc = json.loads(path.read_text(encoding="utf-8"))
    section = next(s for s in doc["sections"] if s["name"] == "calls")
    return {op: Counter(v) for op, v in section["data"].items() if isinstance(v, dict)}


# (operation in the bench, times a month, the function that runs it, invocations per time)
def operations() -> list[tuple[str, float, str, float]]:
    n = SCALE["new_per_day"] * DAYS
    e = a("with_email")
    per_job = 1 / a("jobs_per_invocation")
    return [
        ("submit", n, "api", 1),
        ("submit_stream", n, "stream", 1),
        ("author_confirmation", n * e, "mail", per_job),
        ("moderate_publish", n, "stream", 2),  # the moderator's request and the stream batch
        ("render_story_pages", n, "render", 12 * per_job),
        ("author_published", n * e, "mail", per_job),
        ("alert_fanout", n, "mail", per_job),
        ("staff_alert_per_recipient", n * SCALE["alerts_per_story"], "mail", per_job),
        ("staff_read", n * a("reads_per_story"), "api", 1),
        ("staff_read_effects", n, "render", 8 * per_job),  # the first read's effects
        ("staff_response", n * a("responses_per_story"), "api", 1),
        ("staff_response_effects", n * a("responses_per_story"), "render", 9 * per_job),
        ("author_reply", n * a("replies_per_story"), "api", 1),
    ]


def bill(calls: dict[str, Counter]) -> tuple[list[tuple[str, float, str]], dict[str, float]]:
    """The bill's lines (item, dollars a month, how) and the totals behind them."""
    n = SCALE["new_per_day"] * DAYS
    t: Counter = Counter()
    gb_s: Counter = Counter()
    for op, times, function, invocations in operations():
        counts = calls.get(op)
        if counts is None:
            raise SystemExit(f"docs/benchmarks.json has no calls for {op!r}: run `python -m bench --only calls`")
        ms = a("ms_per_invocation") * invocations
        for key, k in counts.items():
            service, name = key.split(".")
            ms += CALL_MS.get(service, 10) * k
            if service == "dynamodb" and name in UNITS:
                unit, per = UNITS[name]
                t[unit] += per * k * times
            elif service == "s3":
                t["s3_put" if name in ("PutObject", "ListObjectsV2", "CopyObject") else "s3_get"] += k * times
            elif service == "sqs":
                t["sqs"] += k * times
            elif service == "ses":
                t["emails"] += k * times
        t["invocations"] += invocations * times
        gb_s[function] += (ms + a("cold_share") * a("cold_ms") * invocations) / 1000 * MEMORY_GB[function] * times
        if function == "api":
            t["api_requests"] += times
    # Workers take their jobs off the queues: one receive and one delete per batch.
    t["sqs"] += 2 * (t["invocations"] - t["api_requests"])
    # The moderation screen, and the API's other requests (the finder, sign-ups).
    extra = n * (a("moderation_views_per_story") + a("api_requests_per_story"))
    t["api_requests"] += extra
    t["rru"] += 5 * n * a("moderation_views_per_story") + 4 * n * a("api_requests_per_story")
    gb_s["api"] += extra * (a("ms_per_invocation") + 5 * CALL_MS["dynamodb"]) / 1000 * MEMORY_GB["api"]
    t["invocations"] += extra
    # The search function: at most one hot-shard rebuild per debounce window that saw a change.
    windows = DAYS * 86400 / a("debounce_s")
    per_window = n / windows
    rebuilds = windows * (1 - math.exp(-per_window))
    shard_s = a("shard_stories") * a("pagefind_ms_per_story") / 1000 + 2
    gb_s["search"] += rebuilds * shard_s * MEMORY_GB["search"]
    t["invocations"] += rebuilds
    t["rru"] += rebuilds * a("shard_rrus")
    t["s3_put"] += rebuilds * a("shard_puts")
    t["sqs_fifo"] += n + 3 * rebuilds
    # The public: CloudFront, S3 behind it, and searches.
    views = SCALE["page_views"]
    searches = views * a("search_share")
    cf_requests = views * a("requests_per_view") + searches * a("search_requests")
    cf_gb = (views * a("kb_per_view") + searches * a("search_kb")) / 1e6
    t["s3_get"] += views * a("origin_miss") + searches * a("search_requests") * a("origin_miss")
    ddb_gb = SCALE["stories"] * a("kb_per_item_story") / 1e6
    s3_gb = a("objects") * a("kb_per_object") / 1e6 + 1
    lambda_gb_s = sum(gb_s.values())

    lines = [
        (
            "DynamoDB writes (on-demand WRU)",
            t["wru"] * p("ddb_wru"),
            f"{t['wru'] / 1e6:.2f} million WRU",
        ),
        ("DynamoDB reads (on-demand RRU)", t["rru"] * p("ddb_rru"), f"{t['rru'] / 1e6:.2f} million RRU"),
        ("DynamoDB storage", ddb_gb * p("ddb_gb_month"), f"{ddb_gb:.1f} GB"),
        (
            "Lambda duration (Arm)",
            lambda_gb_s * p("lambda_gb_s"),
            f"{lambda_gb_s:,.0f} GB-s: "
            + ", ".join(f"{k} {v:,.0f}" for k, v in sorted(gb_s.items(), key=lambda kv: -kv[1])),
        ),
        ("Lambda requests", t["invocations"] * p("lambda_request"), f"{t['invocations']:,.0f} invocations"),
        ("API Gateway (REST)", t["api_requests"] * p("apigw_request"), f"{t['api_requests']:,.0f} requests"),
        ("S3 PUT and LIST", t["s3_put"] * p("s3_put"), f"{t['s3_put']:,.0f} requests"),
        ("S3 GET and HEAD", t["s3_get"] * p("s3_get"), f"{t['s3_get']:,.0f} requests"),
        ("S3 storage", s3_gb * p("s3_gb_month"), f"{s3_gb:.1f} GB"),
        ("SES", t["emails"] * p("ses_email"), f"{t['emails']:,.0f} emails"),
        (
            "SQS",
            t["sqs"] * p("sqs_request") + t["sqs_fifo"] * p("sqs_fifo_request"),
            f"{t['sqs']:,.0f} standard and {t['sqs_fifo']:,.0f} FIFO requests",
        ),
        ("CloudFront requests", cf_requests * p("cf_request"), f"{cf_requests:,.0f} HTTPS requests"),
        ("CloudFront data out", cf_gb * p("cf_gb"), f"{cf_gb:,.0f} GB"),
    ]
    totals = {
        "stories_a_month": n,
        "search_rebuilds": rebuilds,
        "searches": searches,
        "lambda_gb_s": lambda_gb_s,
        "total": sum(d for _, d, _ in lines),
    }
    return lines, totals


def per_story(calls: dict[str, Counter]) -> list[tuple[str, float, int]]:
    """(operation, times per new story, calls each) for the document."""
    n = SCALE["new_per_day"] * DAYS
    return [(op, times / n, sum(calls[op].values())) for op, times, _, _ in operations()]


def document(calls: dict[str, Counter], measured_at: str) -> str:
    lines, totals = bill(calls)
    total = totals["total"]
    ranked = sorted(lines, key=lambda line: -line[1])
    dominant = [name for name, dollars, _ in ranked if dollars >= 0.1 * total][:4]
    out = [
        "# What FeedForward costs on AWS at Care Opinion's scale",
        "",
        "Written by `python -m bench.cost` (run by `make bench`) from the AWS calls per operation that `python -m bench` "
        f"last measured ({measured_at}) and the public prices for Europe (London), eu-west-2, listed below. "
        "Do not edit by hand.",
        "",
        f"**About ${total:,.0f} a month**, at list prices without free tiers, for "
        f"{SCALE['stories']:,} stories, {SCALE['new_per_day']} new a day ({totals['stories_a_month']:,.0f} a month), "
        f"{SCALE['subscribed_staff']:,} subscribed staff, {SCALE['alerts_per_story']} alerts a story and "
        f"{SCALE['page_views']:,} page views a month. The dominant items: {', '.join(dominant)}.",
        "",
        "| item | $ a month | share | what |",
        "|---|---|---|---|",
    ]
    out += [f"| {name} | {dollars:,.2f} | {dollars / total:.0%} | {how} |" for name, dollars, how in ranked]
    out += [
        f"| **total** | **{total:,.2f}** | | |",
        "",
        "The always-free tiers (Lambda's 1 million requests and 400,000 GB-s, CloudFront's 1 TB and 10 million "
        "requests, DynamoDB's 25 GB) are left out; they would take most of the Lambda and CloudFront lines away. "
        "CloudWatch (logs, metrics, alarms, the dashboard), Cognito, KMS, data transfer between services, and "
        "the letters outside one story's life (digests, the ladder's reminders, board reports, sign-ups) are not "
        "counted.",
        "",
        "## Operations, per new story",
        "",
        "The calls are the bench's (docs/benchmarks.md, AWS calls per operation), each operation measured once; "
        "how often each happens per new story is an assumption (below).",
        "",
        "| operation | times per new story | AWS calls each |",
        "|---|---|---|",
    ]
    out += [f"| {op} | {times:g} | {k} |" for op, times, k in per_story(calls)]
    out += [
        "",
        f"Search: at most one hot-shard rebuild per {a('debounce_s'):.0f} s that saw a change: "
        f"{totals['search_rebuilds']:,.0f} a month; {totals['searches']:,.0f} searches a month.",
        "",
        "## Assumptions",
        "",
        "| name | value | what |",
        "|---|---|---|",
    ]
    out += [f"| {k} | {v:g} | {why} |" for k, (v, why) in ASSUMED.items()]
    out += [
        "",
        "Wall time per call, ms (the function waits for it): "
        + ", ".join(f"{k} {v}" for k, v in CALL_MS.items())
        + ". Capacity units per DynamoDB call: "
        + ", ".join(f"{k} {n} {u.upper()}" for k, (u, n) in UNITS.items())
        + ". Memory (GB): "
        + ", ".join(f"{k} {v:g}" for k, v in MEMORY_GB.items())
        + ".",
        "",
        f"## Prices used (eu-west-2, as listed in {PRICES_DATE})",
        "",
        "| price | $ | per | source |",
        "|---|---|---|---|",
    ]
    out += [f"| {k} | {v:.10g} | {per} | {src} |" for k, (v, per, src) in PRICES.items()]
    return "\n".join(out) + "\n"


def main() -> int:
    if not BENCHMARKS.exists():
        print("docs/benchmarks.json is missing: run `python -m bench` first", file=sys.stderr)
        return 1
    doc = json.loads(BENCHMARKS.read_text(encoding="utf-8"))
    OUT.write_text(document(measured_calls(), f"{doc.get('date', '?')}, commit {doc.get('commit', '?')}"), "utf-8")
    print(f"Wrote {OUT.relative_to(ROOT)}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
