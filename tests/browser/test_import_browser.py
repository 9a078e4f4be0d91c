"""Issue 21 in a real browser: a story pulled in from a source not licensed for republication, on the
moderation screen at laptop size. It says where the story came from (the source, the item's id, link and
date) and that the public will never read it; the phone number in it is marked like any story's; once
published the notice says "for staff only", with no link to a public page. axe finds nothing and vnu no
error. The source is served by a real HTTP server on 127.0.0.1 and imported by the admin command, run
against the worker's stack (`local.run --no-seed`)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.feed_server import FeedServer
from tests.support.live import CHROMIUM
from tests.support.screen import sign_in_on_screen
from tests.support.vnu import needs_vnu, vnu_errors

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(
        not os.path.exists(CHROMIUM), reason="Debian's chromium is not installed (make test installs it)"
    ),
]

ROOT = Path(__file__).resolve().parents[2]
LAPTOP = {"viewport": {"width": 1280, "height": 900}}
TITLE = "Moved three times in one night"


def ff(stack, *args: str) -> subprocess.CompletedProcess:
    """python -m tools.ff against the stack, through the environment file it wrote."""
    port = stack.aws.rstrip("/").rsplit(":", 1)[1]
    command = [sys.executable, "-m", "tools.ff", "--env-file", f".local-state/stack-{port}.env", "--no-progress"]
    return subprocess.run([*command, *args], cwd=ROOT, capture_output=True, text=True, timeout=120)


def axe_violations(page) -> list[str]:
    from axe_playwright_python.sync_playwright import Axe

    return [f"{v['id']}: {v['help']}" for v in Axe().run(page).response["violations"]]


@needs_vnu
def test_an_unlicensed_imported_story_says_where_it_came_from_and_is_published_for_staff_only(stack, browser, tmp_path):
    item = {
        "id": "survey-2026-10-021",
        "url": "https://survey.example.org/responses/021",
        "title": TITLE,
        "content_text": "I was moved between bays three times and nobody told my daughter. Ring her on 07700 900123.",
        "date_published": "2026-10-21T18:05:00Z",
    }
    with FeedServer() as server:
        location = server.serve("/survey.json", json.dumps({"version": "1.1", "items": [item]}))
        slug = f"survey-{os.urandom(3).hex()}"
        add = ff(stack, "source-add", slug, "--name", "Ward survey", "--organisation", "northbridge-teaching-hospitals")
        assert add.returncode == 2 and "--kind" in add.stderr  # argparse names what is missing
        add = ff(
            stack,
            *("source-add", slug, "--name", "Ward survey", "--organisation", "northbridge-teaching-hospitals"),
            *("--kind", "json_feed", "--location", location, "--service", "northbridge-general-ward-7"),
        )
        assert add.returncode == 0, add.stderr
        run = ff(stack, "import-source", slug)
        assert run.returncode == 0 and run.stdout.strip().endswith("1 imported, 0 updated, 0 unchanged, 0 refused")

    ctx = browser.new_context(**LAPTOP)
    page = ctx.new_page()
    sign_in_on_screen(page, stack.api)
    page.wait_for_selector("#queue-list li")
    page.locator("#queue-list li", has_text=TITLE).locator("a").click()
    page.wait_for_selector("#story-findings:not([hidden])")
    meta = page.locator("#story-meta").inner_text()
    assert "Another website or service: Ward survey, item survey-2026-10-021" in meta
    assert "https://survey.example.org/responses/021" in meta
    assert "its source is not licensed for republication, so once published only staff see it" in meta
    assert page.locator("#story-findings mark").first.text_content() == "07700 900123 (a phone number)"
    assert axe_violations(page) == []
    pages = {"imported.html": page.content()}

    page.check("#criticality-2")
    page.click("#decision-form button[value=publish]")
    page.wait_for_selector("#notice:has-text('Published for staff only')")
    assert page.locator("#published-link").count() == 0
    assert axe_violations(page) == []
    pages["published.html"] = page.content()
    assert vnu_errors(pages, tmp_path) == ""
    ctx.close()
