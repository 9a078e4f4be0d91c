"""Report a concern in a real browser (Debian's chromium, a 390×844 phone) against `make run` (issue 16):
with JavaScript off and on, from the story page's link to the "what happens next" page, axe 0 on each;
then a moderator decides from the screen's reports queue with the keyboard alone."""

from __future__ import annotations

import os
import uuid
from datetime import date

import pytest
import requests

from tests.support.live import CHROMIUM, a_service_slug, wait_for
from tests.support.screen import moderator_headers, sign_in_on_screen

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(not os.path.exists(CHROMIUM), reason="Debian's chromium is not installed"),
]

PHONE = {"viewport": {"width": 390, "height": 844}, "is_mobile": True, "has_touch": True, "device_scale_factor": 3}


def violations(page) -> list[str]:
    """axe's findings on the page as shown. axe is a script, and evaluate() never returns in a context
    with JavaScript off: there, the same HTML is served at the same address to a page that runs it."""
    from axe_playwright_python.sync_playwright import Axe

    if page.context.browser is not None and not _scripts_run(page):
        html, url = page.content(), page.url
        checker_ctx = page.context.browser.new_context(**PHONE)
        checker = checker_ctx.new_page()
        checker.route(url, lambda route: route.fulfill(status=200, content_type="text/html", body=html))
        checker.goto(url)
        try:
            return [f"{v['id']}: {v['help']}" for v in Axe().run(checker).response["violations"]]
        finally:
            checker_ctx.close()
    return [f"{v['id']}: {v['help']}" for v in Axe().run(page).response["violations"]]


SCRIPTS_OFF: set[int] = set()


def _scripts_run(page) -> bool:
    return id(page.context) not in SCRIPTS_OFF


def published(stack, auth: dict, title: str) -> str:
    today = date.today()
    body = {
        "submission_id": uuid.uuid4().hex,
        "title": title,
        "story": "I came in at night with chest pain.\nThe nurses explained everything.",
        "role": "patient",
        "pseudonym": "Night owl",
        "experience_month": today.month,
        "experience_year": today.year,
        "services": [a_service_slug()],
        "consent": True,
    }
    resp = requests.post(f"{stack.api}stories", json=body, timeout=30)
    assert resp.status_code == 201, resp.text
    sid = resp.json()["id"]
    decision = {"action": "publish", "version": 1, "criticality": 1}
    assert requests.post(f"{stack.api}moderation/stories/{sid}/decision", json=decision, headers=auth, timeout=30).ok
    wait_for(lambda: title in requests.get(f"{stack.site}stories/{sid}/", timeout=10).text, 90)
    return sid


@pytest.fixture(scope="module")
def auth(stack):
    return moderator_headers(stack.api)


@pytest.mark.parametrize("javascript", [False, True], ids=["js-off", "js-on"])
def test_a_story_is_reported_on_a_phone(stack, browser, auth, javascript):
    title = f"Reported story {uuid.uuid4().hex[:6]}"
    sid = published(stack, auth, title)
    ctx = browser.new_context(java_script_enabled=javascript, **PHONE)
    if not javascript:
        SCRIPTS_OFF.add(id(ctx))
    page = ctx.new_page()
    page.goto(f"{stack.site}stories/{sid}/")
    page.click("text=Report a concern")
    page.wait_for_selector("h1:has-text('Report a concern')")
    assert violations(page) == []
    page.click("button:has-text('Send the report')")  # no reason: the page again, with a summary
    assert page.locator(".error-summary").is_visible()
    assert violations(page) == []
    page.check("input[name=reason][value=identifies-someone]")
    page.fill("#explanation", "It names the nurse on the night shift.")
    page.click("button:has-text('Send the report')")
    page.wait_for_selector("h1:has-text('what happens next')")
    assert "not shown to the public" in page.content()
    assert violations(page) == []
    ctx.close()
    # Hidden at once: the story page is the placeholder within a render cycle.
    wait_for(lambda: "being checked by a moderator" in requests.get(f"{stack.site}stories/{sid}/", timeout=10).text, 90)


def tab_to(page, selector: str, most: int = 80) -> None:
    """Press Tab until `selector` has the focus: the keyboard alone reaches it."""
    for _ in range(most):
        if page.evaluate("s => document.activeElement && document.activeElement.matches(s)", selector):
            return
        page.keyboard.press("Tab")
    raise AssertionError(f"Tab never reached {selector}")


def test_a_moderator_decides_a_report_with_the_keyboard_alone(stack, browser, auth):
    title = f"Keyboard case {uuid.uuid4().hex[:6]}"
    sid = published(stack, auth, title)
    resp = requests.post(f"{stack.api}stories/{sid}/concerns/story", json={"reason": "safeguarding"}, timeout=30)
    assert resp.status_code in (200, 201), resp.text
    ctx = browser.new_context(viewport={"width": 1280, "height": 900})
    page = ctx.new_page()
    sign_in_on_screen(page, stack.api, press_enter=True)
    tab_to(page, "#tab-concerns")
    page.keyboard.press("Enter")
    page.wait_for_selector("#view-concerns:not([hidden]) #concern-list li")
    assert violations(page) == []
    tab_to(page, f"#concern-list a[href*='{sid}']")
    page.keyboard.press("Enter")
    page.wait_for_selector("#view-concern:not([hidden]) #concern-reports li")
    assert violations(page) == []
    tab_to(page, "input[name=c-action]")
    # Arrow keys move through a radio group; the first is "dismiss".
    page.keyboard.press("Space")
    tab_to(page, "#concern-form button[type=submit]")
    page.keyboard.press("Enter")
    page.wait_for_selector("#view-concerns:not([hidden])")
    ctx.close()
    wait_for(lambda: title in requests.get(f"{stack.site}stories/{sid}/", timeout=10).text, 90)
