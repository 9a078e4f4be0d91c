"""python -m bench [--only NAME,...] [--quick]: run the measurements, write docs/benchmarks.md and .json,
and print how the figures compare with the previous docs/benchmarks.json.

Each measurement runs in a process of its own (python -m bench --section NAME --out FILE).
Exits 1 if a budget fails or a measurement did not finish.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import subprocess
import sys
import tempfile
import time
import traceback
from datetime import UTC, datetime
from pathlib import Path

from .report import FAIL, NOT_MEASURED, PASS, ROOT, Section, commit, machine, table, write

SECTIONS = {  # name: (module, title), in the order they run
    "cold_start": ("bench.cold_start", "Cold start"),
    "first_call": ("bench.first_call", "First invocations on Python 3.13"),  # issue 17
    "calls": ("bench.calls", "AWS calls per operation"),
    "incremental": ("bench.incremental", "Incremental publishing"),
    "rebuild": ("bench.rebuild", "Full rebuild"),
    "fanout": ("bench.fanout", "Fan-out"),
    "load": ("bench.load", "Load on the local stack"),
    "reports": ("bench.reports", "Reports"),  # issue 15
    "finder": ("bench.finder", "Service finder"),  # issue 20
    "search": ("bench.search", "Search at scale"),  # issue 17
}
MD = ROOT / "docs" / "benchmarks.md"
JSON = ROOT / "docs" / "benchmarks.json"


def child(name: str, out: Path, quick: bool) -> int:
    """Run one measurement in this process and write its Section as JSON."""
    from .env import quiet

    quiet()
    module, title = SECTIONS[name]
    try:
        section = importlib.import_module(module).run(quick=quick)
    except Exception:  # noqa: BLE001 - reported in the document, and by the exit status
        section = Section(name, title, error=traceback.format_exc())
        print(section.error, file=sys.stderr)
    out.write_text(json.dumps(section.to_json()), encoding="utf-8")
    return 0


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        prog="python -m bench", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--only", help=f"comma-separated measurements to run, of: {', '.join(SECTIONS)}")
    p.add_argument(
        "--quick",
        action="store_true",
        help="fewer runs and smaller sites: a quick look, not for the record (leaves docs/ alone)",
    )
    p.add_argument("--no-write", action="store_true", help="print the figures; leave docs/ alone")
    p.add_argument("--section", help=argparse.SUPPRESS)
    p.add_argument("--out", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    os.chdir(ROOT)
    args.no_write = args.no_write or args.quick
    if args.section:
        return child(args.section, Path(args.out), args.quick)

    names = [n.strip() for n in args.only.split(",")] if args.only else list(SECTIONS)
    unknown = [n for n in names if n not in SECTIONS]
    if unknown:
        p.error(f"unknown measurement(s): {', '.join(unknown)}; choose from {', '.join(SECTIONS)}")
    started = time.time()
    run = {
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "commit": commit(),
        "machine": machine(),
        "quick": args.quick,
    }
    sections: list[Section] = []
    with tempfile.TemporaryDirectory(prefix="ff-bench-") as tmp:
        for name in names:
            module, title = SECTIONS[name]
            print(f"{title} ...", file=sys.stderr, flush=True)
            out = Path(tmp) / f"{name}.json"
            t0 = time.time()
            cmd = [sys.executable, "-m", "bench", "--section", name, "--out", str(out)] + (
                ["--quick"] if args.quick else []
            )
            # The handlers' own stdout (powertools' metrics and log lines) is not the bench's output.
            proc = subprocess.run(cmd, cwd=ROOT, stdout=subprocess.DEVNULL)
            if out.exists():
                section = Section.from_json(json.loads(out.read_text(encoding="utf-8")))
            else:
                section = Section(name, title, error=f"the measurement's process exited with status {proc.returncode}")
            sections.append(section)
            statuses = [m.status for m in section.metrics]
            summary = ", ".join(f"{statuses.count(s)} {s}" for s in (PASS, FAIL, NOT_MEASURED) if statuses.count(s))
            print(
                f"{title}: {summary or 'no budgets'}{'; did not finish' if section.error else ''} ({time.time() - t0:.0f} s)",
                file=sys.stderr,
                flush=True,
            )
    run["seconds"] = round(time.time() - started, 1)

    rows = []
    for s in sections:
        for m in s.metrics:
            if m.budget is not None or m.value is None:
                from .report import fmt

                rows.append([s.title, m.label, fmt(m.value, m.unit), m.budget.text() if m.budget else "—", m.status])
    print("\n" + table(["", "figure", "measured", "budget", "result"], rows) + "\n")
    if args.only and not args.no_write:
        # A partial run keeps the other measurements' last figures, so the document stays whole.
        sections = merge_with_previous(sections)
    if not args.no_write:
        comparison = write(run, sections, MD, JSON)
        if comparison:
            print(
                "Compared with the previous run:\n\n" + table(["figure", "before", "now", "change"], comparison) + "\n"
            )
        else:
            print("No previous docs/benchmarks.json to compare with.\n")
        print(f"Wrote {MD.relative_to(ROOT)} and {JSON.relative_to(ROOT)}.")
    failed = [r for r in rows if r[4] == FAIL]
    broken = [s.title for s in sections if s.error]
    if failed or broken:
        print(
            f"{len(failed)} budget(s) failed" + (f"; did not finish: {', '.join(broken)}" if broken else "") + ".",
            file=sys.stderr,
        )
        return 1
    return 0


def merge_with_previous(sections: list[Section]) -> list[Section]:
    if not JSON.exists():
        return sections
    try:
        previous = {
            s["name"]: Section.from_json(s) for s in json.loads(JSON.read_text(encoding="utf-8")).get("sections", [])
        }
    except (ValueError, KeyError, TypeError):
        return sections
    fresh = {s.name: s for s in sections}
    merged = [fresh.get(name) or previous.get(name) for name in SECTIONS]
    note = "*(Not re-measured in this run: figures from the previous run.)*"
    for s in merged:
        if s is not None and s.name not in fresh and not s.details.startswith(note):
            s.details = f"{note}\n\n{s.details}"
    return [s for s in merged if s is not None]


if __name__ == "__main__":
    sys.exit(main())
