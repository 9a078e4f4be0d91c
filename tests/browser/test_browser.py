"""The form in a real browser (Debian's chromium through Playwright) on a phone screen, against `make run`."""

from __future__ import annotations

import os
import re
from datetime import date

import pytest

from tests.support.live import CHROMIUM

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(
        not os.path.exists(CHROMIUM), reason="Debian's chromium is not installed (make test installs it)"
    ),
]

PHONE = {"viewport": {"width": 390, "height": 844}, "is_mobile": True, "has_touch": True, "device_scale_factor": 3}


def axe_violations(page) -> list[str]:
    from axe_playwright_python.sync_playwright import Axe

    results = Axe().run(page)
    return [f"{v['id']}: {v['help']}" for v in results.response["violations"]]


def fill_form(page, service_label_contains: str = "Ward"):
    today = date.today()
    page.fill("#title", "Calm and kind in the night")
    page.fill("#story", "I came in with a bad asthma attack.\nThe team were calm and explained every step.")
    page.fill("#good", "The nurse stayed with me.")
    page.check("input[name=feelings][value=reassured]")
    page.fill("#experience_month", str(today.month))
    page.fill("#experience_year", str(today.year))
    select = page.locator("select[name=services]").first
    options = select.locator("option")
    values = [options.nth(i).get_attribute("value") for i in range(options.count())]
    labels = [options.nth(i).inner_text() for i in range(options.count())]
    choice = next(v for v, label in zip(values, labels) if v and service_label_contains.lower() in label.lower())
    select.select_option(choice)
    page.check("input[name=role][value=patient]")
    page.fill("#pseudonym", "Wheezy in the night")
    page.fill("#email", "browser.author@example.org")
    page.check("#consent")


def mail_count(stack, page) -> str:
    page.goto(stack.mail)
    return page.content()


@pytest.mark.parametrize("javascript", [True, False], ids=["js-on", "js-off"])
def test_a_story_can_be_told_on_a_phone(stack, browser, javascript):
    ctx = browser.new_context(java_script_enabled=javascript, **PHONE)
    page = ctx.new_page()
    foreign = []
    page.on("request", lambda r: foreign.append(r.url) if not r.url.startswith(("http://127.0.0.1", "data:")) else None)
    page.goto(stack.site + "tell-your-story/")
    assert page.locator("h1").inner_text() == "Tell your story"
    if javascript:
        assert axe_violations(page) == []
    fill_form(page)
    page.click("button[type=submit]")
    page.wait_for_url(re.compile(r"/thank-you/\?ref="))
    assert "thank" in page.locator("h1").inner_text().lower()
    assert foreign == []
    ctx.close()


def test_errors_are_summarised_and_link_to_their_fields(stack, browser):
    ctx = browser.new_context(java_script_enabled=False, **PHONE)
    page = ctx.new_page()
    page.goto(stack.site + "tell-your-story/")
    page.fill("#title", "Only a title")
    page.click("button[type=submit]")
    summary = page.locator(".error-summary")
    assert summary.is_visible()
    links = summary.locator("a")
    assert links.count() >= 4
    assert page.locator("#title").input_value() == "Only a title"
    hrefs = [links.nth(i).get_attribute("href") for i in range(links.count())]
    for href in hrefs:
        assert page.locator(href).count() == 1, href
    ctx.close()
    # With JavaScript on, axe checks the page with errors as well.
    ctx = browser.new_context(**PHONE)
    page = ctx.new_page()
    page.goto(stack.site + "tell-your-story/")
    page.fill("#title", "Only a title")
    page.click("button[type=submit]")
    page.wait_for_selector(".error-summary")
    assert axe_violations(page) == []
    ctx.close()
