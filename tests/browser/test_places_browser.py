"""Browsing by place and filtering in a real browser (Debian's chromium, a 390×844 phone, JavaScript off)
against `make run` (issue 20): the home page's "find stories near" form leads to the town's page, a
misspelt town to suggestions; a service page's "Not yet responded to" link opens its stories filtered,
and the filter page's own links change the filter. axe 0 violations and vnu 0 errors on every page opened."""

from __future__ import annotations

import os
import uuid
from datetime import date

import pytest
import requests

from tests.support.live import CHROMIUM, wait_for
from tests.support.screen import moderator_headers
from tests.support.vnu import needs_vnu, vnu_errors

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(not os.path.exists(CHROMIUM), reason="Debian's chromium is not installed"),
    needs_vnu,
]

PHONE = {"viewport": {"width": 390, "height": 844}, "is_mobile": True, "has_touch": True, "device_scale_factor": 3}
# In Northbridge (NB1), as data/directory.json says; a ward no other test on the shared stack tells stories
# about, so that its "Responded to" filter lists nothing of theirs.
WARD = "northbridge-general-ward-21"


def violations(browser, html: str, url: str) -> list[str]:
    """axe's findings on a page. axe is a script, which a context with JavaScript off never runs: the
    same HTML is served at the same address to a page that runs it."""
    from axe_playwright_python.sync_playwright import Axe

    ctx = browser.new_context(**PHONE)
    checker = ctx.new_page()
    checker.route(url, lambda route: route.fulfill(status=200, content_type="text/html", body=html))
    checker.goto(url)
    try:
        return [f"{v['id']}: {v['help']}" for v in Axe().run(checker).response["violations"]]
    finally:
        ctx.close()


def published(stack, title: str, tag: str) -> str:
    today = date.today()
    body = {
        "submission_id": uuid.uuid4().hex,
        "title": title,
        "story": "I came in with a chest infection.\nThe nurses on the ward checked on me all night.",
        "role": "patient",
        "pseudonym": "Breathless",
        "experience_month": today.month,
        "experience_year": today.year,
        "services": [WARD],
        "consent": True,
    }
    resp = requests.post(f"{stack.api}stories", json=body, timeout=30)
    assert resp.status_code == 201, resp.text
    sid = resp.json()["id"]
    decision = {"action": "publish", "version": 1, "criticality": 1, "tags": [tag]}
    auth = moderator_headers(stack.api)
    assert requests.post(f"{stack.api}moderation/stories/{sid}/decision", json=decision, headers=auth, timeout=30).ok
    wait_for(lambda: title in requests.get(f"{stack.site}places/northbridge/", timeout=10).text, 90)
    wait_for(lambda: title in requests.get(f"{stack.site}services/{WARD}/", timeout=10).text, 90)
    return sid


def test_find_stories_near_a_place_and_filter_a_services_stories_on_a_phone(stack, browser, tmp_path):
    title = f"Checked on all night {uuid.uuid4().hex[:6]}"
    tag = f"night-care-{uuid.uuid4().hex[:6]}"
    published(stack, title, tag)
    ctx = browser.new_context(java_script_enabled=False, **PHONE)
    page = ctx.new_page()
    opened: dict[str, str] = {}

    def check(name: str) -> None:
        # The page as served (a browser asks for HTML), for vnu and axe.
        html = requests.get(page.url, headers={"Accept": "text/html"}, timeout=10).text
        opened[name] = html
        assert violations(browser, html, page.url) == [], name

    # The home page's form: a postcode district leads to its town's page.
    page.goto(stack.site)
    check("home.html")
    page.fill("#place", "nb1")
    page.click("button:has-text('Find stories')")
    assert page.url == f"{stack.site}places/northbridge/"
    assert page.locator("h1").inner_text() == "Stories near Northbridge"
    assert page.locator(f"a:has-text('{title}')").count() == 1
    check("town.html")

    # A misspelt town: suggestions, not an error page.
    page.goto(stack.site)
    page.fill("#place", "Northbrige")
    page.click("button:has-text('Find stories')")
    assert page.locator("a:has-text('Northbridge')").first.is_visible()
    check("suggestions.html")
    page.click("a:has-text('Northbridge') >> nth=0")
    assert page.url == f"{stack.site}places/northbridge/"

    # The ward's page lists its story; its plain filter links lead to the filter page.
    page.goto(f"{stack.site}services/{WARD}/")
    check("service.html")
    page.click("a:has-text('Not yet responded to')")
    assert f"/api/public/services/{WARD}/stories?responded=no" in page.url
    assert page.locator(f"a:has-text('{title}')").count() == 1
    check("filtered.html")
    page.click("nav.filter-links a:has-text('Responded to')")
    assert page.locator(f"a:has-text('{title}')").count() == 0
    assert page.get_by_text("No published stories match these filters.").is_visible()
    check("responded.html")
    # The form's choices, sent without JavaScript: the story's tag.
    page.select_option("#responded", "")
    page.select_option("#tag", tag)
    page.click("button:has-text('Show stories')")
    assert f"tag={tag}" in page.url
    assert page.locator(f"a:has-text('{title}')").count() == 1
    check("tagged.html")

    # In Welsh, the form leads to the Welsh town page.
    page.goto(f"{stack.site}cy/")
    page.fill("#place", "Northbridge")
    page.click("button.button--secondary")
    assert page.url == f"{stack.site}cy/places/northbridge/"
    check("town-cy.html")
    ctx.close()
    assert vnu_errors(opened, tmp_path) == ""
