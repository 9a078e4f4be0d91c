"""Cold start: `import app` against a bare `import boto3, chalice`, each in a fresh process.

Three places to import from, each against its own baseline, all interleaved in one run:
  venv     the repository, with the virtualenv (bytecode cached, as on a developer's machine);
  zip      the deployment package as chalice builds it (app.py, chalicelib/, chalice's runtime and
           the site-packages of requirements.txt), unpacked, with no .pyc: what Lambda gets
           from a plain `chalice package`. Run with -B, as /var/task is read-only;
  zip+pyc  the same package precompiled (compileall, unchecked-hash).
boto3 itself comes from the runtime in Lambda (here: the virtualenv, precompiled) in both.
"""

from __future__ import annotations

import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import zipfile
from collections import defaultdict
from pathlib import Path
from typing import Any

from .budgets import COLD_START_RATIO
from .env import ROOT, bar
from .report import Section, fmt, table

APP = "import app"
BASELINE = "import boto3, chalice"
RUNTIME_PROVIDED = {"boto3", "botocore", "s3transfer", "jmespath", "python-dateutil", "six", "urllib3"}


# ---- the package -------------------------------------------------------------------------------------


def requirement_closure(requirements: Path) -> list[Any]:
    """The installed distributions that requirements.txt pulls in, extras and markers included."""
    from importlib.metadata import PackageNotFoundError, distribution

    from packaging.requirements import Requirement

    todo: list[tuple[str, set[str]]] = []
    for line in requirements.read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line and not line.startswith("-"):
            req = Requirement(line)
            todo.append((req.name, set(req.extras)))
    seen: dict[str, Any] = {}
    extras_seen: dict[str, set[str]] = defaultdict(set)
    while todo:
        name, extras = todo.pop()
        key = name.lower().replace("_", "-")
        if key in seen and extras <= extras_seen[key]:
            continue
        try:
            dist = distribution(name)
        except PackageNotFoundError:
            continue
        seen[key] = dist
        extras_seen[key] |= extras
        for spec in dist.requires or []:
            req = Requirement(spec)
            envs = [{"extra": e} for e in (extras or {""})]
            if req.marker is None or any(req.marker.evaluate(e) for e in envs):
                todo.append((req.name, set(req.extras)))
    return [d for k, d in seen.items() if k not in RUNTIME_PROVIDED]


def build_package(out_dir: Path) -> tuple[Path, int]:
    """A deployment zip as chalice makes it, from the installed distributions (no network)."""
    import chalice
    import chalice.app

    zip_path = out_dir / "deployment.zip"
    with zipfile.ZipFile(zip_path, "w", zipfile.ZIP_DEFLATED) as z:
        for dist in requirement_closure(ROOT / "requirements.txt"):
            for f in dist.files or []:
                parts = Path(str(f)).parts
                if ".." in parts or "__pycache__" in parts or str(f).endswith(".pyc") or parts[0] == "bin":
                    continue
                src = Path(dist.locate_file(f))
                if src.is_file():
                    z.write(src, str(f))
        z.write(chalice.app.__file__.replace(".pyc", ".py"), "chalice/app.py")
        z.write(chalice.__file__.replace(".pyc", ".py"), "chalice/__init__.py")
        z.write(ROOT / "app.py", "app.py")
        for src in sorted((ROOT / "chalicelib").rglob("*")):
            if src.is_file() and "__pycache__" not in src.parts and src.suffix != ".pyc":
                z.write(src, str(src.relative_to(ROOT)))
    return zip_path, zip_path.stat().st_size


def real_package() -> dict[str, Any] | None:
    """What `make package` built, if it has (infra/ owns it): its size and bytecode. It is built for
    Lambda's arm64 Python 3.13 (aarch64 wheels, 3.13 bytecode), so it cannot be imported here."""
    candidates = [c for c in ROOT.glob("build/*/deployment.zip") if c.stat().st_size > 0]
    if not candidates:
        return None
    path = max(candidates, key=lambda p: p.stat().st_mtime)
    with zipfile.ZipFile(path) as z:
        names = z.namelist()
    return {
        "path": str(path.relative_to(ROOT)),
        "mb": round(path.stat().st_size / 1e6, 1),
        "py": sum(n.endswith(".py") for n in names),
        "pyc": sum(n.endswith(".pyc") for n in names),
    }


def unpack(zip_path: Path, dest: Path, compile_: bool) -> Path:
    with zipfile.ZipFile(zip_path) as z:
        z.extractall(dest)
    if compile_:
        subprocess.run(
            [sys.executable, "-m", "compileall", "-q", "--invalidation-mode", "unchecked-hash", str(dest)], check=True
        )
    return dest


# ---- timing --------------------------------------------------------------------------------------------


def clean_env() -> dict[str, str]:
    keep = ("PATH", "HOME", "LANG", "LC_ALL", "TMPDIR")
    return {k: os.environ[k] for k in keep if k in os.environ}


def run_once(code: str, cwd: Path, flags: list[str]) -> tuple[float, float]:
    """(wall time, CPU time: user + system) of one fresh process, in seconds."""
    import resource

    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    subprocess.run(
        [sys.executable, *flags, "-c", code],
        cwd=cwd,
        env=clean_env(),
        check=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def import_costs(cwd: Path, flags: list[str], code: str, runs: int) -> tuple[dict[str, float], dict[str, float]]:
    """From -X importtime, median over runs: (self time in ms of each top-level package, cumulative
    time in ms of each module the first imported module imports itself)."""
    per_run: list[dict[str, float]] = []
    direct_runs: list[dict[str, float]] = []
    for _ in range(runs):
        out = subprocess.run(
            [sys.executable, *flags, "-X", "importtime", "-c", code],
            cwd=cwd,
            env=clean_env(),
            capture_output=True,
            text=True,
            check=True,
        ).stderr
        totals: dict[str, float] = defaultdict(float)
        direct: dict[str, float] = {}
        pending: dict[str, float] = {}  # importtime prints a module's imports before the module itself
        first = code.split()[1].rstrip(",")
        for line in out.splitlines():
            m = re.match(r"import time:\s+(\d+) \|\s+(\d+) \|( *)(\S+)", line)
            if not m:
                continue
            totals[m.group(4).split(".")[0]] += int(m.group(1)) / 1000
            depth = (len(m.group(3)) - 1) // 2
            if depth == 1:
                pending[m.group(4)] = int(m.group(2)) / 1000
            elif depth == 0:
                if m.group(4) == first:
                    direct = dict(pending)
                pending = {}
        per_run.append(totals)
        direct_runs.append(direct)
    names = set().union(*per_run)
    direct_names = set().union(*direct_runs)
    return (
        {n: statistics.median(r.get(n, 0.0) for r in per_run) for n in names},
        {n: statistics.median(r.get(n, 0.0) for r in direct_runs) for n in direct_names},
    )


def modules_of(cwd: Path, flags: list[str], code: str) -> set[str]:
    out = subprocess.run(
        [sys.executable, *flags, "-c", f"{code}; import sys; print(' '.join(sys.modules))"],
        cwd=cwd,
        env=clean_env(),
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return {m.split(".")[0] for m in out.split()}


def run(quick: bool = False) -> Section:
    section = Section("cold_start", "Cold start", other_figures=False)
    # A median of fifteen, as issue 7 asks: fewer let one busy moment move the ratio.
    rounds, warmup = (5, 1) if quick else (15, 2)
    tmp = Path(tempfile.mkdtemp(prefix="ff-bench-cold-"))
    try:
        real = real_package()
        zip_path, size = build_package(tmp)
        source = (
            "built here as chalice builds it (app.py, chalicelib/, chalice's runtime, the site-packages of "
            f"requirements.txt), {size / 1e6:.1f} MB"
        )
        if real:
            source += (
                f". `make package` has built `{real['path']}` ({real['mb']} MB, {real['pyc']:,} .pyc for "
                f"{real['py']:,} .py), but for Lambda's arm64 Python 3.13, so it cannot be imported on this "
                "machine; this one has the same layout, from this machine's wheels"
            )
        else:
            source += "; `make package` had built no zip"
        variants = {
            "venv": (ROOT, []),
            "zip": (unpack(zip_path, tmp / "plain", False), ["-B"]),
            "zip+pyc": (unpack(zip_path, tmp / "compiled", True), ["-B"]),
        }
        times: dict[tuple[str, str], list[float]] = defaultdict(list)
        cpu: dict[tuple[str, str], list[float]] = defaultdict(list)
        with bar("cold starts", total=(rounds + warmup) * len(variants) * 2, unit=" processes") as b:
            for r in range(rounds + warmup):
                # Interleaved, and the order turned each round, so drift in the machine's load hits both sides.
                order = list(variants.items())
                if r % 2:
                    order.reverse()
                for name, (cwd, flags) in order:
                    pair = [("app", APP), ("base", BASELINE)]
                    if (r // 2) % 2:
                        pair.reverse()
                    for kind, code in pair:
                        t, c = run_once(code, cwd, flags)
                        if r >= warmup:
                            times[(name, kind)].append(t)
                            cpu[(name, kind)].append(c)
                        b.update()
        rows = []
        labels = {
            "venv": "from the repository (virtualenv)",
            "zip": "from the package, no bytecode",
            "zip+pyc": "from the package, precompiled",
        }
        for name in variants:
            app_ms = statistics.median(times[(name, "app")]) * 1000
            base_ms = statistics.median(times[(name, "base")]) * 1000
            ratio = app_ms / base_ms
            budget = COLD_START_RATIO
            note = ""
            if name == "zip":
                budget = None
                note = "what an uncompiled package would cost; the budget applies to the precompiled one"
            section.add(
                f"cold_start.{name}.ratio",
                f"`import app` ÷ `import boto3, chalice`, {labels[name]}",
                round(ratio, 3),
                "×",
                budget,
                note,
            )
            cpu_ratio = statistics.median(cpu[(name, "app")]) / statistics.median(cpu[(name, "base")])
            section.add(
                f"cold_start.{name}.cpu_ratio",
                f"the same in CPU time (user + system), {labels[name]}",
                round(cpu_ratio, 3),
                "×",
                note="less disturbed by other work on the machine than wall time",
            )
            section.add(f"cold_start.{name}.app_ms", f"`import app`, {labels[name]} (median)", round(app_ms, 1), "ms")
            section.add(
                f"cold_start.{name}.baseline_ms",
                f"`import boto3, chalice`, {labels[name]} (median)",
                round(base_ms, 1),
                "ms",
            )
            rows.append(
                [
                    labels[name],
                    fmt(app_ms, "ms"),
                    fmt(base_ms, "ms"),
                    fmt(ratio, "×"),
                    fmt(cpu_ratio, "×"),
                    f"{min(times[(name, 'app')]) * 1000:.0f}–{max(times[(name, 'app')]) * 1000:.0f} ms",
                ]
            )
        section.add("cold_start.package_mb", "deployment package size", round(size / 1e6, 1), "MB")

        costs, direct = import_costs(ROOT, [], APP, 3)
        base_costs, _ = import_costs(ROOT, [], BASELINE, 3)
        app_mods, base_mods = modules_of(ROOT, [], APP), modules_of(ROOT, [], BASELINE)
        top = sorted(costs.items(), key=lambda kv: -kv[1])[:5]
        extra = sorted(((n, c) for n, c in costs.items() if n not in base_mods), key=lambda kv: -kv[1])[:5]
        section.data = {
            "runs": {f"{k[0]}:{k[1]}": [round(t * 1000, 1) for t in v] for k, v in times.items()},
            "import_costs_ms": {n: round(c, 1) for n, c in sorted(costs.items(), key=lambda kv: -kv[1])[:25]},
            "baseline_import_costs_ms": {
                n: round(c, 1) for n, c in sorted(base_costs.items(), key=lambda kv: -kv[1])[:10]
            },
            "app_direct_imports_ms": {n: round(c, 1) for n, c in sorted(direct.items(), key=lambda kv: -kv[1])},
            "package": str(source),
            "make_package": real,
        }
        imports_boto3 = "boto3" in app_mods
        section.details = "\n".join(
            [
                f"Wall time of `python -c '{APP}'` and of `python -c '{BASELINE}'`, each in a fresh process, median of "
                f"{rounds} runs after {warmup} warm-up rounds, the two interleaved (and their order alternated) so that a "
                "change in the machine's load hits both. The package is " + source + ". It is "
                "unpacked and imported with `-B`, as Lambda's /var/task is read-only, so nothing is compiled on the way; "
                "the precompiled copy is compiled as `make package` does it (compileall, unchecked-hash).",
                "",
                table(
                    [
                        "imported",
                        "`import app`",
                        "`import boto3, chalice`",
                        "ratio (budget)",
                        "ratio of CPU time",
                        "app: fastest–slowest",
                    ],
                    rows,
                ),
                "",
                "The budget is on wall time, as a cold start is felt; the CPU-time ratio beside it moves less when other "
                "work shares the machine, so when the two disagree, the machine was busy.",
                "",
                f"`import app` {'imports' if imports_boto3 else 'does not import'} boto3: clients are made on first use "
                "(chalicelib/core/aws.py), so a request that needs AWS pays for boto3 then, and the baseline is the floor any "
                "handler that uses AWS pays anyway.",
                "",
                "The five largest costs of `import app` (`-X importtime`, self time summed per top-level package, "
                "median of several runs; importtime's own overhead inflates every figure a little):",
                "",
                table(
                    ["package", "ms", "in the baseline too?"],
                    [[f"`{n}`", f"{c:.0f}", "yes" if n in base_mods else "no"] for n, c in top],
                ),
                "",
                "The largest costs that the baseline does not have: "
                + ", ".join(f"`{n}` {c:.0f} ms" for n, c in extra)
                + ".",
                "",
                "Where they come from — what `app.py` imports at module level, with everything each pulls in "
                "(cumulative, so nested imports count once, under the first module that needs them):",
                "",
                table(
                    ["imported by app.py", "ms"],
                    [[f"`{n}`", f"{c:.0f}"] for n, c in sorted(direct.items(), key=lambda kv: -kv[1])[:5]],
                ),
            ]
        )
        return section
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
