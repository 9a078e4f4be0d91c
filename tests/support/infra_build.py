"""The AWS package tests/infra checks (`make package` under .venv-package, then infra/expand.py under
.venv-iac), built once per test run and started in the background as soon as infra tests are collected.

Most of a build is waiting (chalice package asks the package index for every wheel: minutes of wall time
for under half a minute of CPU), so a worker that waited for it in the infra tests' fixture sat idle, and
the other worker, waiting on the same lock, sat idle too. Started at collection, the build runs while the
workers run other tests; the fixture then takes the lock, which the build holds until it is done, and finds
it made. A build that failed is made again in the fixture, so that its output is the test's failure.

    python -m tests.support.infra_build DIR    (what the background process runs; DIR/prod when done)
"""

from __future__ import annotations

import fcntl
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
PACKAGE_PYTHON = ROOT / ".venv-package" / "bin" / "python"
IAC_BIN = ROOT / ".venv-iac" / "bin"
STAGE = "prod"
INFRA_TESTS = "tests/infra/test_infra.py"

_started: list[subprocess.Popen] = []


def run(cmd: list[Any], timeout: int = 900) -> subprocess.CompletedProcess:
    return subprocess.run([str(c) for c in cmd], cwd=ROOT, capture_output=True, text=True, timeout=timeout)


def build(into: Path) -> tuple[Path, str]:
    """Package into `into`/prod and expand the SAM template: (the folder, "" or what went wrong)."""
    for tool in (PACKAGE_PYTHON, IAC_BIN / "python"):
        if not tool.exists():
            return into / STAGE, f"{tool} is missing: `make test` makes .venv-package and .venv-iac"
    out = into / STAGE
    done = run([PACKAGE_PYTHON, "-m", "tools.package", "build", "--stage", STAGE, "--out", out])
    if done.returncode != 0:
        return out, done.stdout + done.stderr
    done = run([IAC_BIN / "python", ROOT / "infra" / "expand.py", out / "sam.json", out / "expanded.json"])
    return out, "" if done.returncode == 0 else done.stdout + done.stderr


def shared_dir(config: Any) -> Path:
    """One folder per test run that every xdist worker sees: the run's base temp (a worker's is below it)."""
    base = config._tmp_path_factory.getbasetemp()
    return base.parent if hasattr(config, "workerinput") else base


def built(into: Path) -> bool:
    return (into / "infra-build" / STAGE / "expanded.json").exists()


def build_locked(into: Path) -> tuple[Path, str]:
    """Under the run's lock: the build made once (by whoever comes first), or why it failed."""
    with open(into / "infra-build.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if built(into):
            return into / "infra-build" / STAGE, ""
        return build(into / "infra-build")


def start(config: Any, items: list[Any]) -> None:
    """After collection (and -k, -m): when infra tests were collected, start the build (once per run, by
    the first worker)."""
    if not any(INFRA_TESTS in item.nodeid for item in items):
        return
    into = shared_dir(config)
    try:
        os.close(os.open(into / "infra-build.started", os.O_CREAT | os.O_EXCL | os.O_WRONLY))
    except FileExistsError:
        return
    _started.append(
        subprocess.Popen(
            [sys.executable, "-m", "tests.support.infra_build", str(into)],
            cwd=ROOT,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
    )


def finish(interrupted: bool) -> None:
    """At the end of a worker's session: the build it started is done (another worker may still wait for
    it), or stopped if the run was interrupted."""
    for proc in _started:
        if interrupted:
            proc.terminate()
        proc.wait()


if __name__ == "__main__":
    build_locked(Path(sys.argv[1]))
