"""The form's service finder (issue 20): how often it finds the service a person means, and what a
search costs, on the demo directory and at Care Opinion's size.

The labelled queries are things people type (abbreviations, typos, no apostrophes, a town and a
ward, US spellings), each with the service meant in data/directory.json. They were written before
the finder was built and split, every other one, into a tuning set (bench/data/finder_tuning.json:
the synonyms and weights were tuned on these) and a held-out report set (finder_report.json: never
tuned on). The budget is on the report set.

1. The demo directory (92 services) with data/service_synonyms.json, loaded into moto in process
   through the directory flow; every query through GET /api/services, its AWS calls counted with
   the botocore hook (the first search also reads the vocabulary).
2. The same flow at 10,000 services: the demo directory among 9,900 generated ones that share its
   names (every hospital has an A&E and a Ward 12), held in an in-memory index with the store's
   keys and order (moto would hold ~375,000 index items), its calls counted at the store.
"""

from __future__ import annotations

import json
import random
import time
from bisect import bisect_left
from collections import Counter
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from .budgets import FINDER_CALLS, FINDER_TOP3
from .env import DIRECTORY_FILE, aws_in_process
from .report import Section, table

DATA = Path(__file__).resolve().parent / "data"
SYNONYMS_FILE = DIRECTORY_FILE.with_name("service_synonyms.json")
SETS = ("report", "tuning")
SCALE = 10_000


def labelled(name: str) -> list[dict[str, str]]:
    queries: list[dict[str, str]] = json.loads((DATA / f"finder_{name}.json").read_text(encoding="utf-8"))["queries"]
    return queries


def score(results: Mapping[str, list[str]], queries: Sequence[Mapping[str, str]]) -> dict[str, Any]:
    top1 = sum(1 for q in queries if results[q["q"]][:1] == [q["expect"]])
    top3 = sum(1 for q in queries if q["expect"] in results[q["q"]][:3])
    misses = [
        f"{q['q']} → {', '.join(results[q['q']][:3]) or 'nothing'}"
        for q in queries
        if q["expect"] not in results[q["q"]][:3]
    ]
    return {"n": len(queries), "top1": 100 * top1 / len(queries), "top3": 100 * top3 / len(queries), "misses": misses}


# ---- 1. the demo directory, in moto --------------------------------------------------------------------


def measure_demo() -> dict[str, Any]:
    from chalicelib import wiring

    out: dict[str, Any] = {}
    with aws_in_process() as aws:
        tree = json.loads(DIRECTORY_FILE.read_text(encoding="utf-8"))
        wiring.directory().load(tree, synonyms=json.loads(SYNONYMS_FILE.read_text(encoding="utf-8")))
        calls: list[int] = []
        ops: Counter[str] = Counter()
        for name in SETS:
            results: dict[str, list[str]] = {}
            for q in labelled(name):
                with aws.counter.measure() as c:
                    resp = aws.app_client.http.get("/api/services?q=" + _quote(q["q"]))
                assert resp.status_code == 200, resp.body
                results[q["q"]] = [s["slug"] for s in json.loads(resp.body)["services"]]
                calls.append(c.total)
                ops.update(c.counts)
            out[name] = score(results, labelled(name))
        out["calls_max"], out["calls_mean"], out["ops"] = max(calls), sum(calls) / len(calls), dict(ops)
        out["first_calls"] = calls[0]
    return out


def _quote(q: str) -> str:
    from urllib.parse import quote

    return quote(q, safe="")


# ---- 2. at 10,000 services, in memory -------------------------------------------------------------------


class IndexInMemory:
    """The directory store's finder methods over dicts, with its keys and order: each partition sorted by
    the entry's path, a Query's Limit, begins_with for a subtree. Counts its calls as the store makes them
    (one Query per search_services, one GetItem per get_finder)."""

    def __init__(self) -> None:
        self.partitions: dict[str, list[tuple[str, dict[str, Any]]]] = {}
        self.finder: dict[str, Any] | None = None
        self.calls: Counter[str] = Counter()
        self._sorted = False

    def put_service(self, service: dict[str, Any], search: Mapping[str, list[str]] | None = None) -> str:
        from chalicelib.core.finder import index_keys

        assert search is not None
        sk = "PATH#" + "/".join(service["path"])
        entry = {
            "slug": service["slug"],
            "name": service["name"],
            "kind": service["kind"],
            "trail": service.get("trail", []),
            "depth": len(service["path"]),
            **search,
        }
        for key in index_keys(search):
            self.partitions.setdefault(key, []).append((sk, entry))
        self._sorted = False
        return "created"

    def put_organisation(self, slug: str, settings: dict[str, Any]) -> None:
        pass

    def put_finder(self, data: dict[str, Any]) -> None:
        self.finder = data

    def get_finder(self) -> dict[str, Any] | None:
        self.calls["GetItem"] += 1
        return self.finder

    def search_services(self, key: str, limit: int, within: Sequence[str] | None = None) -> list[dict[str, Any]]:
        self.calls["Query"] += 1
        if not self._sorted:
            for page in self.partitions.values():
                page.sort(key=lambda se: se[0])
            self._sorted = True
        page = self.partitions.get(key, [])
        if not within:
            return [e for _, e in page[:limit]]
        below = "PATH#" + "/".join(within) + "/"
        i = bisect_left(page, below, key=lambda se: se[0])
        out = []
        for sk, e in page[i:]:
            if not sk.startswith(below) or len(out) >= limit:
                break
            out.append(e)
        return out


TOWNS = [
    a + b
    for a in "Ash Bel Brad Carl Dun East Elm Fair Glen Hart High Kings Lang Long Mar New Oak Ports Queens "
    "Red Rose Salt South Stan Stone Thorn Wal West Whit Wood".split()
    for b in "bridge bury by field ford ham ley mouth port stead ton wick worth dale minster combe".split()
    if a + b != "Northbridge"
]  # the demo's own town stays one place
SPECIALTIES = (
    "Cardiology",
    "Respiratory",
    "Stroke Unit",
    "Care of Older People",
    "General Surgery",
    "Trauma and Orthopaedics",
    "Acute Medicine",
    "Gastroenterology",
    "Renal",
    "Haematology",
)
HOSPITAL_UNITS = (
    "Emergency Department (A&E)",
    "Children's Emergency Department",
    "Acute Medical Unit",
    "Coronary Care Unit",
    "Intensive Care Unit",
    "Maternity Unit",
    "Labour Ward",
    "Postnatal Ward",
    "Neonatal Unit",
    "Antenatal Clinic",
    "Outpatients",
    "Fracture Clinic",
    "Eye Clinic",
    "Radiology (X-ray, CT and MRI)",
    "Day Surgery Unit",
    "Theatres and Recovery",
    "Breast Clinic",
    "Diabetes and Endocrine Clinic",
    "Ear, Nose and Throat Clinic",
    "Chemotherapy Day Unit",
)
MENTAL_HEALTH = (
    "Community Mental Health Team",
    "Crisis Resolution and Home Treatment Team",
    "Talking Therapies",
    "Early Intervention in Psychosis",
    "Perinatal Mental Health Service",
    "Eating Disorders Team",
    "District Nursing",
    "Community Podiatry",
    "Speech and Language Therapy",
    "Health Visiting",
)
STREETS = (
    "Castle Street",
    "Church Lane",
    "High Street",
    "Station Road",
    "Park View",
    "Mill Lane",
    "Market Place",
    "Victoria Road",
    "The Green",
    "Abbey Road",
)
PRACTICES = ("Surgery", "Medical Centre", "Practice", "Health Centre", "Medical Practice", "Family Practice")


def generated_directory(n: int, seed: int = 20) -> list[dict[str, Any]]:
    """About n services, named as real ones are: many hospitals with the same units, many GP surgeries."""
    rng = random.Random(seed)
    towns = rng.sample(TOWNS, len(TOWNS))
    tree: list[dict[str, Any]] = []
    count = 0

    def node(slug: str, name: str, kind: str, children: list[dict[str, Any]] | None = None) -> dict[str, Any]:
        nonlocal count
        count += 1
        return {"slug": slug, "name": name, "kind": kind, "children": children or []}

    t = 0
    while count < n:
        town = towns[t % len(towns)] + ("" if t < len(towns) else f" {t // len(towns) + 1}")
        slug = town.lower().replace(" ", "-")
        t += 1
        if t % 3:
            hospitals = []
            for h, kind_name in enumerate(("General Hospital", "Community Hospital")):
                units = [
                    node(f"{slug}-{h}-ward-{w}", f"Ward {w} ({SPECIALTIES[w % len(SPECIALTIES)]})", "ward")
                    for w in rng.sample(range(1, 40), 12)
                ]
                units += [
                    node(f"{slug}-{h}-u{u}", name, "department")
                    for u, name in enumerate(HOSPITAL_UNITS)
                    if rng.random() < 0.7
                ]
                hospitals.append(node(f"{slug}-{h}", f"{town} {kind_name}", "hospital", units))
            tree.append(node(f"{slug}-trust", f"{town} Hospitals NHS Foundation Trust", "trust", hospitals))
        else:
            pcns = []
            for p in range(5):
                practices = [
                    node(
                        f"{slug}-pcn{p}-gp{g}",
                        f"{rng.choice(STREETS)} {rng.choice(PRACTICES)}"
                        if g % 2
                        else f"{towns[(t + g) % len(towns)]} {rng.choice(PRACTICES)}",
                        "practice",
                    )
                    for g in range(14)
                ]
                pcns.append(
                    node(
                        f"{slug}-pcn{p}",
                        f"{town} {('North', 'South', 'East', 'West', 'Central')[p]} Primary Care Network",
                        "pcn",
                        practices,
                    )
                )
            teams = [node(f"{slug}-mh{m}", f"{town} {name}", "team") for m, name in enumerate(MENTAL_HEALTH)]
            tree.append(node(f"{slug}-icb", f"NHS {town} (GP practices)", "icb", pcns))
            tree.append(node(f"{slug}-mh", f"{town} Mental Health and Community NHS Trust", "trust", teams))
    return tree


def measure_scale(n: int) -> dict[str, Any]:
    from chalicelib.core.finder import Synonyms
    from chalicelib.directory import Directory, flatten
    from chalicelib.store.directory import encode_finder

    demo = json.loads(DIRECTORY_FILE.read_text(encoding="utf-8"))
    generated = generated_directory(n - len(flatten(demo)))
    tree = demo + generated
    store = IndexInMemory()
    directory = Directory(store)  # type: ignore[arg-type] - the finder's part of the store, in memory
    synonyms = json.loads(SYNONYMS_FILE.read_text(encoding="utf-8"))
    t0 = time.perf_counter()
    directory.load(tree, synonyms=synonyms)
    load_seconds = time.perf_counter() - t0
    out: dict[str, Any] = {"services": len(flatten(tree)), "load_seconds": load_seconds}
    worst, spent, searches = 0, 0.0, 0
    for name in SETS:
        results = {}
        for q in labelled(name):
            before = sum(store.calls.values())
            t0 = time.perf_counter()
            results[q["q"]] = [s["slug"] for s in directory.search(q["q"])]
            spent += time.perf_counter() - t0
            searches += 1
            worst = max(worst, sum(store.calls.values()) - before)
        queries = labelled(name)
        out[name] = score(results, queries)
        placed = [q for q in queries if "place" in q["kind"]]
        out[name + "_placed"] = score(results, placed)
    sizes = sorted(len(p) for p in store.partitions.values())
    out |= {
        "calls_max": worst,
        "ms_per_search": 1000 * spent / searches,
        "finder_bytes": len(encode_finder(store.finder or {})),
        "words": len((store.finder or {}).get("df", {})),
        "index_items": sum(sizes),
        "partitions": len(sizes),
        "biggest_partition": sizes[-1],
        "synonym_groups": len(Synonyms.parse(synonyms).groups),
    }
    return out


# ---- the section ------------------------------------------------------------------------------------


def run(quick: bool = False) -> Section:
    section = Section("finder", "Service finder", other_figures=False)
    demo = measure_demo()
    scale = measure_scale(2_000 if quick else SCALE)
    report, tuning = demo["report"], demo["tuning"]
    section.add(
        "finder.report.top3",
        f"top-3 accuracy, held-out report set ({report['n']} queries)",
        round(report["top3"], 1),
        "%",
        FINDER_TOP3,
    )
    section.add(
        "finder.report.top1",
        f"top-1 accuracy, held-out report set ({report['n']} queries)",
        round(report["top1"], 1),
        "%",
    )
    section.add(
        "finder.tuning.top3", f"top-3 accuracy, tuning set ({tuning['n']} queries)", round(tuning["top3"], 1), "%"
    )
    section.add(
        "finder.tuning.top1", f"top-1 accuracy, tuning set ({tuning['n']} queries)", round(tuning["top1"], 1), "%"
    )
    section.add(
        "finder.calls",
        "AWS calls per search, most (92 services)",
        demo["calls_max"],
        "",
        FINDER_CALLS,
        note=", ".join(f"{k.split('.')[1]} {v}" for k, v in sorted(demo["ops"].items())),
    )
    section.add("finder.scans", "Scans made by the searches", demo["ops"].get("dynamodb.Scan", 0), "")
    n = scale["services"]
    section.add("finder.scale.calls", f"calls per search, most ({n:,} services)", scale["calls_max"], "", FINDER_CALLS)
    section.add(
        "finder.scale.report.top3",
        f"top-3 accuracy at {n:,} services, report set",
        round(scale["report"]["top3"], 1),
        "%",
    )
    section.add(
        "finder.scale.placed.top3",
        f"top-3 accuracy at {n:,} services, report-set queries that name a place",
        round(scale["report_placed"]["top3"], 1),
        "%",
    )
    section.add(
        "finder.scale.item_bytes",
        f"the finder item at {n:,} services (gzipped; an item may hold 400 KB)",
        scale["finder_bytes"],
        "bytes",
    )
    section.add(
        "finder.scale.ms",
        f"CPU per search at {n:,} services (ranking and typo correction, no I/O)",
        round(scale["ms_per_search"], 2),
        "ms",
    )
    rows = [
        [
            name,
            demo[name]["n"],
            f"{demo[name]['top1']:.1f}%",
            f"{demo[name]['top3']:.1f}%",
            f"{scale[name]['top3']:.1f}%",
            f"{scale[name + '_placed']['top3']:.1f}% of {scale[name + '_placed']['n']}",
        ]
        for name in SETS
    ]
    misses = [f"- {m}" for m in report["misses"]] or ["- none"]
    section.data = {"demo": {k: v for k, v in demo.items() if k != "ops"}, "scale": scale}
    section.details = "\n".join(
        [
            "Labelled queries people type (abbreviations, typos, no apostrophes, a town and a ward, US spellings), each "
            "with the service meant; written before the finder was built and split every other one into a tuning set "
            "(`bench/data/finder_tuning.json`, tuned on) and a held-out report set (`bench/data/finder_report.json`, never "
            "tuned on). Each query goes through `GET /api/services` on the demo directory (92 services, "
            f"`data/service_synonyms.json`: {scale['synonym_groups']} groups) in moto; a hit is the expected service among "
            "the first one or three answers.",
            "",
            table(["set", "queries", "top-1", "top-3", f"top-3 at {n:,}", f"top-3 at {n:,}, naming a place"], rows),
            "",
            f"Calls per search: at most {demo['calls_max']} (mean {demo['calls_mean']:.2f}); the first search also reads the "
            "finder item (GetItem), then a warm process keeps it five minutes. Each search reads at most three prefix-index "
            "partitions (the rarest of its words, one Query each) and one more within the place it names when a "
            "partition was cut short at 100 entries; never a Scan (docs/data-model.md).",
            "",
            f"At {n:,} services (the demo directory among generated trusts, hospitals, GP practices and teams that share "
            f"its names: every hospital has an A&E and a Ward 12), in an in-memory index with the store's keys and order: "
            f"{scale['index_items']:,} index entries in {scale['partitions']:,} partitions (the biggest "
            f"{scale['biggest_partition']:,}), a vocabulary of {scale['words']:,} words in a {scale['finder_bytes']:,}-byte "
            f"item, at most {scale['calls_max']} calls and {scale['ms_per_search']:.2f} ms of CPU per search. A query "
            'without a place ("a&e") then has a hundred right answers, so the figure that matters there is the one for '
            "queries that name a place.",
            "",
            "Report-set queries whose service was not in the first three (92 services):",
            "",
            *misses,
        ]
    )
    return section
