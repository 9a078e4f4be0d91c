"""Figures, their budgets, and the two outputs: docs/benchmarks.md for people, docs/benchmarks.json for a later run."""

from __future__ import annotations

import json
import os
import platform
import subprocess
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from .budgets import Budget

ROOT = Path(__file__).resolve().parents[1]
PASS, FAIL, INFO, NOT_MEASURED = "pass", "FAIL", "info", "not yet measured"


@dataclass
class Metric:
    id: str  # stable across runs: what a later run is compared on
    label: str
    value: float | int | None
    unit: str = ""
    budget: Budget | None = None
    note: str = ""

    @property
    def status(self) -> str:
        if self.value is None:
            return NOT_MEASURED
        if self.budget is None:
            return INFO
        return PASS if self.budget.check(self.value) else FAIL


@dataclass
class Section:
    name: str
    title: str
    metrics: list[Metric] = field(default_factory=list)
    details: str = ""  # markdown shown under the section's heading
    data: dict[str, Any] = field(default_factory=dict)  # raw figures kept in the JSON
    error: str = ""
    other_figures: bool = True  # list the figures without a budget under the details (unless they show them)

    def add(self, *args: Any, **kwargs: Any) -> Metric:
        m = Metric(*args, **kwargs)
        self.metrics.append(m)
        return m

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "title": self.title,
            "metrics": [asdict(m) | {"status": m.status} for m in self.metrics],
            "details": self.details,
            "data": self.data,
            "error": self.error,
            "other_figures": self.other_figures,
        }

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> Section:
        metrics = [
            Metric(
                **(
                    {k: v for k, v in m.items() if k != "status"}
                    | {"budget": Budget(**m["budget"]) if m.get("budget") else None}
                )
            )
            for m in d["metrics"]
        ]
        return cls(
            d["name"],
            d["title"],
            metrics,
            d.get("details", ""),
            d.get("data", {}),
            d.get("error", ""),
            d.get("other_figures", True),
        )


# ---- formatting -----------------------------------------------------------------------------------


def fmt(value: Any, unit: str = "") -> str:
    if value is None:
        return "—"
    if isinstance(value, float):
        if unit == "×":
            text = f"{value:.2f}"
        elif abs(value) >= 100:
            text = f"{value:,.0f}"
        elif abs(value) >= 10:
            text = f"{value:.1f}"
        else:
            text = f"{value:.2f}"
    elif isinstance(value, int):
        text = f"{value:,}"
    else:
        text = str(value)
    if not unit:
        return text
    return f"{text}{unit}" if unit in ("×", "%") else f"{text} {unit}"


def table(header: list[str], rows: list[list[Any]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(str(c).replace("|", "\\|") for c in row) + " |" for row in rows]
    return "\n".join(lines)


# ---- the machine and the run ----------------------------------------------------------------------


def machine() -> dict[str, Any]:
    cpu = platform.processor() or ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem = None
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal"):
                mem = round(int(line.split()[1]) / 1024 / 1024, 1)
    except OSError:
        pass
    try:
        load = os.getloadavg()[0]
    except OSError:
        load = None
    versions = {}
    for dist in ("boto3", "chalice", "moto", "aws-lambda-powertools", "pydantic", "jinja2"):
        try:
            from importlib.metadata import version

            versions[dist] = version(dist)
        except Exception:  # noqa: BLE001 - a missing package just goes unreported
            pass
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "memory_gb": mem,
        "load_at_start": round(load, 2) if load is not None else None,
        "os": f"{platform.system()} {platform.release()}",
        "python": platform.python_version(),
        "packages": versions,
    }


def commit() -> str:
    try:
        head = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True, check=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"], cwd=ROOT, capture_output=True, text=True
        ).stdout.strip()
        return head + (" with uncommitted changes" if dirty else "")
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


# ---- comparison with a previous run -------------------------------------------------------------


def flat(sections: list[Section]) -> dict[str, Metric]:
    return {m.id: m for s in sections for m in s.metrics}


def compare(previous: dict[str, Any], sections: list[Section]) -> list[list[str]]:
    """Rows (figure, before, now, change) for every figure both runs measured."""
    before = {}
    for s in previous.get("sections", []):
        for m in s.get("metrics", []):
            before[m["id"]] = m
    rows = []
    for mid, m in flat(sections).items():
        old = before.get(mid)
        if not old or old.get("value") is None or m.value is None:
            continue
        change = ""
        if isinstance(old["value"], (int, float)) and old["value"]:
            change = f"{(m.value - old['value']) / abs(old['value']) * 100:+.0f}%"
        elif old["value"] == m.value:
            change = "same"
        flip = "" if old.get("status") == m.status else f" ({old.get('status')} → {m.status})"
        rows.append([m.label, fmt(old["value"], m.unit), fmt(m.value, m.unit), change + flip])
    return rows


# ---- writing --------------------------------------------------------------------------------------


def render_markdown(run: dict[str, Any], sections: list[Section], comparison: list[list[str]] | None) -> str:
    m = run["machine"]
    pk = ", ".join(f"{k} {v}" for k, v in m["packages"].items())
    out = [
        "# Benchmarks",
        "",
        "Written by `make bench` (the code is in `bench/`; every budget, with the reason for its number, is in "
        "`bench/budgets.py`). Figures come from one run on one machine. Ratios are measured side by side in the "
        "same run, so they are what to compare across machines; absolute times are for this machine only, "
        "and the emulator (moto) is far slower than AWS. `docs/benchmarks.json` holds the same figures for the "
        "next run to compare with.",
        "",
        f"- **Date:** {run['date']}",
        f"- **Commit:** {run['commit']}",
        f"- **Machine:** {m['cpu']}, {m['cores']} cores, {m['memory_gb']} GB, {m['os']}; load average "
        f"{m['load_at_start']} at the start (other work on the machine makes times noisy)",
        f"- **Software:** Python {m['python']}; {pk}",
        f"- **Took:** {run['seconds']:.0f} s",
        "",
        "## Summary",
        "",
    ]
    rows = []
    for s in sections:
        for metric in s.metrics:
            if metric.budget is None and metric.value is not None:
                continue
            rows.append(
                [
                    s.title,
                    metric.label,
                    fmt(metric.value, metric.unit),
                    metric.budget.text() if metric.budget else "—",
                    f"**{metric.status}**" if metric.status == FAIL else metric.status,
                ]
            )
    out += [table(["", "figure", "measured", "budget", "result"], rows), ""]
    failed = [r for r in rows if "FAIL" in r[4]]
    missing = [r for r in rows if r[4] == NOT_MEASURED]
    out.append(
        f"{len(rows) - len(failed) - len(missing)} of {len(rows)} budgets pass"
        + (f"; {len(failed)} fail" if failed else "")
        + (f"; {len(missing)} not yet measured" if missing else "")
        + "."
    )
    out.append("")
    for s in sections:
        out += [f"## {s.title}", ""]
        if s.error:
            out += [
                f"This measurement did not finish: `{s.error.strip().splitlines()[-1] if s.error.strip() else 'error'}`",
                "",
            ]
        if s.details:
            out += [s.details.strip(), ""]
        info = [
            [mm.label, fmt(mm.value, mm.unit), mm.note]
            for mm in s.metrics
            if mm.budget is None and mm.value is not None
        ]
        if info and s.other_figures:
            out += ["Other figures:", "", table(["figure", "measured", "note"], info), ""]
    if comparison:
        out += ["## Compared with the previous run", "", table(["figure", "before", "now", "change"], comparison), ""]
    return "\n".join(out).rstrip() + "\n"


def write(run: dict[str, Any], sections: list[Section], md_path: Path, json_path: Path) -> list[list[str]] | None:
    previous = None
    if json_path.exists():
        try:
            previous = json.loads(json_path.read_text(encoding="utf-8"))
        except ValueError:
            previous = None
    comparison = compare(previous, sections) if previous else None
    if comparison is not None and previous:
        run = run | {"previous": {"date": previous.get("date"), "commit": previous.get("commit")}}
    doc = run | {"sections": [s.to_json() for s in sections]}
    json_path.write_text(json.dumps(doc, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    md_path.write_text(render_markdown(run, sections, comparison), encoding="utf-8")
    return comparison
