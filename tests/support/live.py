"""The real `make run` stack, started as a subprocess on free ports, for end-to-end and browser tests."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--headless",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Stack:
    process: subprocess.Popen
    urls: dict[str, str]
    output: list[str] = field(default_factory=list)

    @property
    def site(self) -> str:
        return self.urls["Site"]

    @property
    def api(self) -> str:
        return self.urls["API"]

    @property
    def mail(self) -> str:
        return self.urls["Mail"]

    @property
    def aws(self) -> str:
        return self.urls["AWS"]

    def stop(self, timeout: float = 20) -> int:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                return self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                raise
        return self.process.returncode


def start_stack(*extra_args: str, timeout: float = 150, settings: dict[str, str] | None = None) -> Stack:
    """`settings`: FF_* variables for the stack. A browser fills the story form in well under a second,
    which the form's timing check refuses, so it is off unless a test turns it on (test_form_browser)."""
    env = dict(os.environ)
    env.setdefault("FF_MIN_FORM_SECONDS", "0")
    env.update(settings or {})
    for name in ("SITE", "API", "MAIL", "AWS"):
        env[f"FF_{name}_PORT"] = str(free_port())
    env["PYTHONUNBUFFERED"] = "1"
    proc = subprocess.Popen(
        [sys.executable, "-m", "local.run", *extra_args],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    stack = Stack(proc, {})
    ready = threading.Event()

    def read():
        for line in proc.stdout:
            stack.output.append(line.rstrip("\n"))
            for name in ("Site", "API", "Mail", "AWS"):
                if line.startswith(f"{name}: "):
                    stack.urls[name] = line.split(": ", 1)[1].strip()
            if line.strip() == "Ready.":
                ready.set()

    threading.Thread(target=read, daemon=True).start()
    deadline = time.time() + timeout
    while not ready.is_set():
        if proc.poll() is not None or time.time() > deadline:
            stack.stop()
            raise RuntimeError("the stack did not start:\n" + "\n".join(stack.output[-40:]))
        ready.wait(0.5)
    return stack


def wait_for(check, timeout: float = 30, interval: float = 0.5):
    deadline = time.time() + timeout
    while True:
        result = check()
        if result:
            return result
        if time.time() > deadline:
            raise AssertionError("timed out waiting")
        time.sleep(interval)


def a_service_slug() -> str:
    tree = json.loads((ROOT / "data" / "directory.json").read_text(encoding="utf-8"))

    def leaves(nodes):
        for node in nodes:
            if node.get("children"):
                yield from leaves(node["children"])
            else:
                yield node["slug"]

    return next(leaves(tree))
