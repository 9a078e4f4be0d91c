"""End to end: the real one-machine stack (`python -m local.run --no-seed`) on free ports.

A story goes in over HTTP, a moderator publishes it, the pump renders its page into the bucket,
the static server serves it, the mailbox shows the author's email, and the author's address
appears in no public object. Then Ctrl-C stops everything cleanly.
"""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from datetime import date
from pathlib import Path

import pytest
import requests

from local import totp
from tests.support.live import a_service_slug

ROOT = Path(__file__).resolve().parents[2]
READY_TIMEOUT = 90
PORT_VARS = ("FF_SITE_PORT", "FF_API_PORT", "FF_MAIL_PORT", "FF_AWS_PORT")
MODERATOR = {"username": "moderator@feedforward.example", "password": "Moderate-2026!"}

pytestmark = pytest.mark.e2e


def free_ports(n: int) -> list[int]:
    socks = []
    try:
        for _ in range(n):
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.bind(("127.0.0.1", 0))
            socks.append(s)
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


def stack_env(ports: dict[str, int]) -> dict[str, str]:
    # A clean environment: nothing from the caller may point the stack at real AWS or another stack.
    env = {k: v for k, v in os.environ.items() if not k.startswith(("FF_", "AWS_"))}
    env.update({k: str(v) for k, v in ports.items()})
    env["PYTHONUNBUFFERED"] = "1"
    return env


class Stack:
    """`python -m local.run` as a subprocess, its output collected line by line."""

    def __init__(self, env: dict[str, str], *args: str):
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "local.run", *args],
            cwd=ROOT,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            errors="replace",
        )
        self.lines: list[str] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.append(line.rstrip("\n"))

    @property
    def output(self) -> str:
        return "\n".join(self.lines)

    def wait_for_line(self, text: str, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if any(line.strip() == text for line in self.lines):
                return
            if self.proc.poll() is not None:
                self._reader.join(timeout=2)
                pytest.fail(f"local.run exited with {self.proc.returncode} before {text!r}:\n{self.output[-5000:]}")
            time.sleep(0.2)
        pytest.fail(f"local.run did not print {text!r} within {timeout} s:\n{self.output[-5000:]}")

    def address(self, label: str) -> str:
        for line in self.lines:
            if line.startswith(f"{label}: "):
                return line[len(label) + 2 :].strip()
        pytest.fail(f"local.run printed no {label!r} line:\n{self.output}")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)  # let it stop chalice local and the servers
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)


@pytest.fixture
def stack():
    ports = dict(zip(PORT_VARS, free_ports(4)))
    s = Stack(stack_env(ports), "--no-seed")
    s.ports = ports  # type: ignore[attr-defined]
    try:
        yield s
    finally:
        s.stop()


def poll(check, timeout: float, what: str, interval: float = 0.5):
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = check()
        if last:
            return last
        time.sleep(interval)
    pytest.fail(f"Timed out after {timeout} s waiting for {what}")


def test_story_goes_from_form_to_page_and_mailbox_and_stack_stops_cleanly(stack):
    stack.wait_for_line("Ready.", READY_TIMEOUT)
    site, api, mail, aws = (stack.address(x) for x in ("Site", "API", "Mail", "AWS"))
    ports = stack.ports
    assert site == f"http://127.0.0.1:{ports['FF_SITE_PORT']}/"
    assert api == f"http://127.0.0.1:{ports['FF_API_PORT']}/api/"
    assert mail == f"http://127.0.0.1:{ports['FF_MAIL_PORT']}/"
    assert aws == f"http://127.0.0.1:{ports['FF_AWS_PORT']}"
    assert (
        f"{api}moderate" in stack.output
        and MODERATOR["username"] in stack.output
        and MODERATOR["password"] in stack.output
    )
    assert stack.lines[-1].strip() == "Ready."

    # The home page, from the bucket through the static server.
    home = requests.get(site, timeout=10)
    assert home.status_code == 200
    assert home.headers["Content-Type"].startswith("text/html")

    # An author tells a story over the API.
    author = f"e2e.author.{uuid.uuid4().hex[:8]}@example.org"
    title = f"Calm and kind care at night {uuid.uuid4().hex[:6]}"
    today = date.today()
    body = {
        "submission_id": uuid.uuid4().hex,
        "title": title,
        "story": "I came in at night with chest pain.\n\nThe nurses explained everything and stayed calm.",
        "good": "They listened.",
        "improve": "The wait for a bed was long.",
        "feelings": ["listened-to", "reassured"],
        "role": "patient",
        "pseudonym": "Night owl",
        "experience_month": today.month,
        "experience_year": today.year,
        "services": [a_service_slug()],
        "email": author,
        "consent": True,
    }
    resp = requests.post(f"{api}stories", json=body, timeout=30)
    assert resp.status_code == 201, resp.text
    story_id = resp.json()["id"]

    # The demo moderator signs in and publishes it. The pool requires an authenticator app, as on
    # AWS: the password alone brings no token, only the question for the app's code.
    resp = requests.post(f"{api}moderation/sign-in", json=MODERATOR, timeout=30)
    assert resp.status_code == 200, resp.text
    assert resp.json()["challenge"] == "SOFTWARE_TOKEN_MFA" and "id_token" not in resp.json()
    auth = {"Authorization": f"Bearer {totp.sign_in(api, **MODERATOR)['id_token']}"}
    resp = requests.get(f"{api}moderation/stories/{story_id}", headers=auth, timeout=30)
    assert resp.status_code == 200, resp.text
    version = resp.json()["story"]["version"]
    decision = {"action": "publish", "version": version, "criticality": 1, "tags": ["nursing"], "note": ""}
    resp = requests.post(f"{api}moderation/stories/{story_id}/decision", json=decision, headers=auth, timeout=30)
    assert resp.status_code == 200, resp.text

    # The pump renders the story page; the static server serves it.
    def story_page():
        r = requests.get(f"{site}stories/{story_id}/", timeout=10)
        return r if r.status_code == 200 and title in r.text else None

    page = poll(story_page, 30, f"the story page {site}stories/{story_id}/")
    assert page.headers["Content-Type"].startswith("text/html")
    assert author not in page.text
    # Without the slash it redirects to the clean URL; a missing page is the site's 404 page.
    r = requests.get(f"{site}stories/{story_id}", timeout=10, allow_redirects=False)
    assert r.status_code in (301, 302, 308) and r.headers["Location"].endswith(f"/stories/{story_id}/")
    assert requests.get(f"{site}no-such-page/", timeout=10).status_code == 404

    # Search: the search worker built the month's shard; the manifest names it and the site serves it.
    def searchable():
        r = requests.get(f"{site}pagefind/shards.json", timeout=10)
        bundles = [s["bundle"] for s in r.json()["shards"] if s["bundle"]] if r.status_code == 200 else []
        entry = requests.get(f"{site}{bundles[0].lstrip('/')}pagefind-entry.json", timeout=10) if bundles else None
        return entry.json() if entry is not None and entry.status_code == 200 else None

    entry = poll(searchable, 60, "the search shard of the published story")
    assert sum(lang["page_count"] for lang in entry["languages"].values()) >= 1

    # The demo partner's receiver, on the mailbox's port, got the publication, its signature verified
    # by the documented recipe (issue 21), with nothing of the author's in it.
    assert f"Webhooks: {mail}webhooks" in stack.output

    def delivered():
        r = requests.get(f"{mail}webhooks.json", timeout=10)
        got = [d for d in r.json() if d["event"] == "story.published" and story_id in json.dumps(d["body"])]
        return got or None

    hook = poll(delivered, 30, "the webhook delivery of the publication")[0]
    assert hook["verified"] is True and hook["receiver"] == "demo"
    assert author not in json.dumps(hook)
    assert "Signature verified" in requests.get(f"{mail}webhooks", timeout=10).text
    assert 'href="/webhooks"' in requests.get(mail, timeout=10).text  # the mailbox leads to it

    # The mailbox lists the author's confirmation email, and it opens.
    def mail_to_author():
        r = requests.get(mail, timeout=10)
        return r.text if r.status_code == 200 and author in r.text else None

    def mine() -> list[str]:
        listing = requests.get(mail, timeout=10).text
        links = re.findall(r'href="(/message/[^"]+)"', listing)
        opened = [requests.get(mail.rstrip("/") + href, timeout=10).text for href in links]
        return [m for m in opened if author in m]

    poll(mail_to_author, 30, f"an email to {author} in the mailbox")
    first = mine()
    assert first, "no message page shows the author's address"
    # The first email asks, in fixed words, whether the address is the author's (issue 18): no title, no link.
    assert not any(title in m for m in first) and not any("/api/my/" in m for m in first)
    confirm = re.search(r'(http://[^"\s<]+/api/confirm/[A-Za-z0-9_-]{43})', first[0])
    assert confirm, "the first email has no confirm link"
    assert requests.post(confirm.group(1), timeout=10).status_code == 200
    receipt = poll(
        lambda: [m for m in mine() if title in m and "/api/my/" in m] or None, 30, "the private link, once confirmed"
    )
    assert receipt, "no email to the author mentions the story's title"

    # The author's address is in no public object.
    import boto3

    s3 = boto3.client(
        "s3", endpoint_url=aws, region_name="eu-west-2", aws_access_key_id="local", aws_secret_access_key="local"
    )
    keys = [
        o["Key"]
        for p in s3.get_paginator("list_objects_v2").paginate(Bucket="feedforward-site")
        for o in p.get("Contents", [])
    ]
    assert f"stories/{story_id}/index.html" in keys
    leaked = [k for k in keys if author.encode() in s3.get_object(Bucket="feedforward-site", Key=k)["Body"].read()]
    assert leaked == [], f"the author's email address is in {leaked}"

    # Ctrl-C stops everything, cleanly.
    stack.proc.send_signal(signal.SIGINT)
    try:
        code = stack.proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        pytest.fail(f"local.run did not stop within 15 s of SIGINT:\n{stack.output[-3000:]}")
    assert code == 0, stack.output[-3000:]
    for var in PORT_VARS:
        with pytest.raises(requests.ConnectionError):
            requests.get(f"http://127.0.0.1:{ports[var]}/", timeout=2)


def test_a_port_in_use_stops_it_with_a_message_naming_the_port():
    ports = dict(zip(PORT_VARS, free_ports(4)))
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as taken:
        taken.bind(("127.0.0.1", ports["FF_API_PORT"]))
        taken.listen(1)
        result = subprocess.run(
            [sys.executable, "-m", "local.run", "--no-seed"],
            cwd=ROOT,
            env=stack_env(ports),
            capture_output=True,
            text=True,
            timeout=60,
        )
    out = result.stdout + result.stderr
    assert result.returncode != 0, out
    assert str(ports["FF_API_PORT"]) in out and "FF_API_PORT" in out, out
    assert "Ready." not in out
