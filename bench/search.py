"""Search at scale: Pagefind's cost for 1,000, 10,000 and 50,000 synthetic stories, what a query
downloads through the shard design, and the hot shard's rebuild after one publication at two site sizes.

- The stories' text has a realistic vocabulary: 30,000 words drawn by Zipf's law (s = 1.07), about
  170 words a story, as measured for stack-facts.md.
- Index build: Pagefind's binary on the stories' pages, as the search worker runs it (site/search.py);
  its time and its peak memory (the child's maxrss).
- Bytes per query: the site's stories spread over months at Care Opinion's rate (9,000 a month, the
  current month full: the largest hot shard), laid out in shards (core/shards.py), each built and served with
  the manifest and the search page; chromium runs queries of common, middling and rare words in
  a fresh context each (nothing cached) and every /pagefind/ response body is counted.
- Hot-shard rebuild: a site of 1,000 and one of 10,000 stories (moto, in process), each with the
  same 300 stories in the current month; every shard built once, then one more story published in
  the current month and the search worker's job run: its AWS calls and time at both sizes.
"""

from __future__ import annotations

import bisect
import itertools
import json
import os
import random
import shutil
import subprocess
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from .budgets import SEARCH_QUERY_KB, SEARCH_REBUILD_RATIO
from .env import bar
from .report import Section, fmt, table

# 27,000: three full months at Care Opinion's rate, the current one (the largest hot shard) and two
# closed: the most a query searches by default.
SIZES = (1_000, 10_000, 27_000, 50_000)
QUICK_SIZES = (1_000, 5_000)
VOCABULARY = 30_000
ZIPF_S = 1.07
PER_MONTH = 9_000  # Care Opinion: about 300 stories a day
HOT_STORIES = 300  # the current month's stories in the rebuild comparison
REBUILD_SIZES = (1_000, 10_000)


# ---- synthetic text ----------------------------------------------------------------------------


class Text:
    """Words drawn by Zipf's law from a made-up vocabulary (no real word: nothing matches by chance)."""

    def __init__(self, seed: int = 11):
        self.rng = random.Random(seed)
        syllables = [c + v for c in "bcdfghjklmnprstvwz" for v in ("a", "e", "i", "o", "u", "ai", "ou")]
        words: set[str] = set()
        while len(words) < VOCABULARY:
            words.add("".join(self.rng.choice(syllables) for _ in range(self.rng.choice((2, 2, 3, 3, 4)))))
        self.words = sorted(sorted(words), key=lambda w: self.rng.random())  # rank order: words[0] the commonest
        weights = [1 / (rank**ZIPF_S) for rank in range(1, VOCABULARY + 1)]
        self.cumulative = list(itertools.accumulate(weights))

    def draw(self, n: int) -> str:
        total = self.cumulative[-1]
        idx = (bisect.bisect_left(self.cumulative, self.rng.random() * total) for _ in range(n))
        return " ".join(self.words[min(i, VOCABULARY - 1)] for i in idx)

    def story(self, i: int, published_at: str) -> dict[str, Any]:
        return {
            "id": f"b{i:07d}",
            "title": self.draw(6).capitalize(),
            "story": self.draw(self.rng.randint(80, 160)).capitalize() + ".",
            "good": self.draw(15).capitalize() + ".",
            "improve": self.draw(15).capitalize() + ".",
            "services": [],
            "tags": [],
            "published_at": published_at,
        }


def stories(n: int, text: Text, now: datetime) -> list[dict[str, Any]]:
    """n stories, newest first, at PER_MONTH a month, the current month full (its last day: the
    largest hot shard, so the most a query downloads)."""
    out = []
    hot = min(n, PER_MONTH)
    first_of_month = now.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    for i in range(n):
        if i < hot:
            moment = first_of_month + timedelta(seconds=int((hot - i) * 27 * 86400 / hot))
        else:
            k = i - hot
            month_back = 1 + k // PER_MONTH
            first = (first_of_month - timedelta(days=31 * month_back - 15)).replace(day=1, hour=12)
            moment = first + timedelta(seconds=int((k % PER_MONTH) * 27 * 86400 / PER_MONTH))
        out.append(text.story(i, moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")))
    return out


# ---- Pagefind's own cost -----------------------------------------------------------------------


def build(recs: list[dict[str, Any]], out: Path) -> dict[str, float]:
    """Run the binary as build_index() does, into `out`; its seconds and peak memory (MB)."""
    from chalicelib.site.search import LANGUAGE, executable, record_html

    with tempfile.TemporaryDirectory(prefix="bench-pagefind-") as tmp:
        for r in recs:
            path = Path(tmp + r["url"]) / "index.html"
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(record_html(r), encoding="utf-8")
        t0 = time.perf_counter()
        proc = subprocess.Popen(
            [executable(), "--site", tmp, "--output-path", str(out), "--force-language", LANGUAGE],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        _, status, usage = os.wait4(proc.pid, 0)
        seconds = time.perf_counter() - t0
        if status != 0:
            raise RuntimeError(f"pagefind failed: {proc.stderr.read().decode()[-2000:] if proc.stderr else ''}")
    meta = sum(p.stat().st_size for p in out.glob("*.pf_meta"))
    index = sum(p.stat().st_size for p in (out / "index").glob("*"))
    return {"seconds": seconds, "mb": usage.ru_maxrss / 1024, "meta_bytes": meta, "index_bytes": index}


def records_of(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    from chalicelib.site.search import record

    return [record(s, {}) for s in items]


# ---- what a query downloads ----------------------------------------------------------------------


def site_of(items: list[dict[str, Any]], current: str, root: Path, limit: int) -> list[dict[str, Any]]:
    """The shards of these stories built under root/pagefind/, the manifest, and the search page."""
    from chalicelib.core import shards
    from chalicelib.site import pages, search

    by_month: dict[str, list[dict[str, Any]]] = {}
    for s in items:
        by_month.setdefault(s["published_at"][:7], []).append(s)
    layout = shards.plan([], {m: len(v) for m, v in by_month.items()}, current, limit)
    entries = []
    for shard in layout:
        recs = records_of([s for m in shard["months"] for s in by_month.get(m, [])])
        bundle = ""
        if recs:
            out = root / "pagefind" / shard["id"]
            build(recs, out)
            for p in list(out.rglob("*")):
                if p.is_file() and not search._wanted(str(p.relative_to(out))):
                    p.unlink()
            bundle = f"/pagefind/{shard['id']}/"
        entries.append({**shard, "bundle": bundle})
    (root / "pagefind" / "shards.json").write_text(json.dumps({"version": 1, "shards": entries}))
    for put in search.page_outputs():
        (root / put.key).parent.mkdir(parents=True, exist_ok=True)
        (root / put.key).write_bytes(put.body)
    for asset in pages.assets().values():
        (root / asset.hashed_key).parent.mkdir(parents=True, exist_ok=True)
        (root / asset.hashed_key).write_bytes(asset.body)
    return entries


def query_bytes(root: Path, queries: list[str]) -> dict[str, dict[str, int]]:
    """Each query in a fresh chromium context: the bytes of every /pagefind/ response, and the results."""
    from playwright.sync_api import sync_playwright

    from tests.site.test_search import _serve
    from tests.support.live import CHROMIUM, CHROMIUM_ARGS

    server = _serve(str(root))
    base = f"http://127.0.0.1:{server.server_address[1]}"
    out: dict[str, dict[str, int]] = {}
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            for q in queries:
                context = browser.new_context()
                page = context.new_page()
                got: list[tuple[str, int]] = []
                page.on(
                    "requestfinished",
                    lambda r, got=got: (
                        got.append((r.url, r.sizes()["responseBodySize"])) if "/pagefind/" in r.url else None
                    ),
                )
                page.goto(f"{base}/search/?q={q}")
                page.wait_for_selector("#search-status:has-text('found')", timeout=60000)
                page.wait_for_timeout(300)  # the last responses' events
                runtime = sum(n for u, n in got if u.endswith((".js", ".pagefind")))
                out[q] = {
                    "bytes": sum(n for _, n in got),
                    "runtime": runtime,
                    "files": len(got),
                    "results": page.locator("#search-results li").count(),
                }
                context.close()
            browser.close()
    finally:
        server.shutdown()
    return out


def pick_queries(text: Text) -> list[str]:
    w = text.words
    return [w[5], w[300], w[5000], f"{w[40]}+{w[900]}"]


# ---- the hot shard's rebuild through the store ---------------------------------------------------


def rebuild_after_one(n: int) -> dict[str, Any]:
    from chalicelib import wiring
    from chalicelib.changes import listing_entry
    from chalicelib.core import clock
    from chalicelib.core.jobs import SearchJob
    from chalicelib.store import EVERYTHING, month_list

    from .env import aws_in_process, fake_story, load_directory, seed_published

    with aws_in_process() as aws:
        services = load_directory()
        seed_published(n - HOT_STORIES, services, desc=f"seeding {n:,} stories")
        rng = random.Random(5)
        ward = next(iter(sorted(s for s, v in services.items() if len(v["path"]) >= 3)))
        now = clock.now()

        def publish(count: int, start: int) -> None:
            rows = []
            for i in range(count):
                at = (now.replace(day=1, hour=0) + timedelta(minutes=start + i)).isoformat(timespec="milliseconds")
                story = fake_story(rng, ward, at.replace("+00:00", "Z"))
                rows.append((story, listing_entry(story), [EVERYTHING, month_list(story["published_at"][:7])]))
            wiring.store().put_published(rows)

        publish(HOT_STORIES, 0)
        index = wiring.search_index()
        t0 = time.perf_counter()
        index.write(index.rebuild_all())
        full = time.perf_counter() - t0
        publish(1, HOT_STORIES)
        from chalicelib.site import search

        pagefind = {"seconds": 0.0}
        real_build = search.build_index

        def timed(recs: list[dict[str, Any]]) -> dict[str, bytes]:
            t = time.perf_counter()
            try:
                return real_build(recs)
            finally:
                pagefind["seconds"] += time.perf_counter() - t

        search.build_index = timed
        try:
            t0 = time.perf_counter()
            calls = aws.search_each([SearchJob(month=now.strftime("%Y-%m"))])
            took = time.perf_counter() - t0
        finally:
            search.build_index = real_build
        shards = json.loads(index._publisher.read("pagefind/shards.json"))["shards"]
    return {
        "calls": calls,
        "seconds": took,
        "pagefind_seconds": pagefind["seconds"],
        "full_seconds": full,
        "shards": len(shards),
        "s3_reads": calls.of("s3", frozenset({"GetObject", "HeadObject", "ListObjectsV2"})),
    }


# ---- the section ------------------------------------------------------------------------------


def run(quick: bool = False) -> Section:
    from chalicelib.core import clock
    from chalicelib.core.shards import SHARD_LIMIT

    section = Section("search", "Search at scale")
    text = Text()
    now = clock.now()
    current = now.strftime("%Y-%m")
    sizes = QUICK_SIZES if quick else SIZES
    queries = pick_queries(text)
    rows = []
    chromium = Path("/usr/bin/chromium").exists()
    # Four steps a size (the stories, one index, the shards, the queries), then the two rebuilds.
    progress = bar("search at scale", total=4 * len(sizes) + 2, unit=" steps")

    def step(done: str) -> None:
        progress.set_postfix_str(done)
        progress.update()

    for n in sizes:
        t0 = time.perf_counter()
        items = stories(n, text, now)
        generated = time.perf_counter() - t0
        step(f"{n:,} stories made")
        with tempfile.TemporaryDirectory(prefix="bench-search-") as tmp:
            one = build(records_of(items), Path(tmp) / "one")
            shutil.rmtree(Path(tmp) / "one")
            step(f"{n:,}: one index")
            site = Path(tmp) / "site"
            layout = site_of(items, current, site, SHARD_LIMIT)
            step(f"{n:,}: shards")
            asked = query_bytes(site, queries) if chromium else {}
            step(f"{n:,}: queries")
        worst = max((a["bytes"] for a in asked.values()), default=None)
        section.add(
            f"search.build.{n}.seconds", f"Pagefind index of {n:,} stories, one run", round(one["seconds"], 2), "s"
        )
        section.add(f"search.build.{n}.memory", f"Pagefind's peak memory, {n:,} stories", round(one["mb"]), "MB")
        section.add(
            f"search.query.{n}.kb",
            f"bytes a query downloads (the worst of {len(queries)}, nothing cached), {n:,} stories in shards",
            round(worst / 1024, 1) if worst is not None else None,
            "KB",
            SEARCH_QUERY_KB,
            note="" if chromium else "chromium is not installed",
        )
        bundles = [s for s in layout if s["bundle"]]
        rows.append(
            [
                f"{n:,}",
                f"{one['seconds']:.1f} s",
                f"{one['mb']:.0f} MB",
                f"{one['meta_bytes'] / 1024:.0f} KB",
                f"{len(bundles)} ({', '.join(str(s['stories']) for s in bundles)})",
                fmt(worst / 1024 if worst else None, " KB"),
                ", ".join(f"{a['results']}" for a in asked.values()),
            ]
        )
        section.data[f"build_{n}"] = one | {"generate_seconds": generated}
        section.data[f"queries_{n}"] = asked
    section.details = (
        "Pagefind 1.5.2 on synthetic stories (30,000-word vocabulary, Zipf s = 1.07, about 170 words a story). "
        '"One run" indexes every story in one bundle, as the single index did; the shards hold '
        f"the current month (hot) and closed months in frozen shards of at most {SHARD_LIMIT:,} stories. "
        "A query searches the hot shard (here the whole current month, its largest) and the newest frozen "
        "one (older ones on request) and "
        "downloads Pagefind's loader, worker and WebAssembly once (about 158 KB before compression), "
        "then each shard's entry and meta, the index chunks of its words and the fragments of the "
        "results it shows.\n\n"
        + table(
            ["stories", "one run", "peak memory", "pf_meta (one run)", "shards (stories)", "a query", "results"],
            rows,
        )
    )
    rebuilt = []
    for n in (1_000, 3_000) if quick else REBUILD_SIZES:
        rebuilt.append(rebuild_after_one(n))
        step(f"hot rebuild at {n:,}")
    progress.close()
    small, large = rebuilt
    a, b = small["calls"], large["calls"]
    big_n = 3_000 if quick else REBUILD_SIZES[1]
    for key, label, x, y in [
        ("items_files", "DynamoDB reads + S3 reads and writes", a.ddb_reads + a.of("s3"), b.ddb_reads + b.of("s3")),
        ("all_calls", "all AWS calls", a.total, b.total),
    ]:
        section.add(
            f"search.hot_rebuild.{key}.ratio",
            f"hot-shard rebuild after one publication: {label}, {big_n:,} stories ÷ {REBUILD_SIZES[0]:,}",
            round(y / x, 3) if x else None,
            "×",
            SEARCH_REBUILD_RATIO if key == "items_files" else None,
            note=f"{x} at {REBUILD_SIZES[0]:,}, {y} at {big_n:,}: " + b.breakdown(),
        )
    section.add(
        "search.hot_rebuild.pagefind_seconds.ratio",
        f"hot-shard rebuild after one publication: Pagefind's time, {big_n:,} stories ÷ {REBUILD_SIZES[0]:,}",
        round(large["pagefind_seconds"] / small["pagefind_seconds"], 2),
        "×",
        note=f"{small['pagefind_seconds']:.2f} s and {large['pagefind_seconds']:.2f} s for the "
        f"{HOT_STORIES + 1} stories of the hot shard",
    )
    section.add(
        "search.hot_rebuild.seconds.ratio",
        f"hot-shard rebuild after one publication: all its time, {big_n:,} stories ÷ {REBUILD_SIZES[0]:,}",
        round(large["seconds"] / small["seconds"], 2),
        "×",
        note=f"{small['seconds']:.2f} s and {large['seconds']:.2f} s, the same calls at both sizes: moto "
        "answers a Query in time that grows with the table, DynamoDB does not "
        f"(the first build of every shard took {small['full_seconds']:.1f} s and {large['full_seconds']:.1f} s)",
    )
    section.data["rebuild"] = {
        str(REBUILD_SIZES[0]): {k: v for k, v in small.items() if k != "calls"} | {"calls": dict(a.counts)},
        str(big_n): {k: v for k, v in large.items() if k != "calls"} | {"calls": dict(b.counts)},
    }
    return section
