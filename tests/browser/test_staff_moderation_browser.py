"""Issue 20 in a real browser, where a browser is needed: the sign-up's services narrowed to the chosen
organisation (a script), and the moderation screen at laptop size (urgent stories first, names not
slugs, live identifying-details marks that follow the edits, services corrected, tag suggestions,
a message to the author, the published page's link). One stack (`local.run --no-seed`) for the module;
axe finds nothing and vnu no error on each page opened."""

from __future__ import annotations

import os
import re
from datetime import date

import pytest
import requests

from tests.support.live import CHROMIUM, wait_for
from tests.support.screen import sign_in_on_screen
from tests.support.vnu import needs_vnu, vnu_errors

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(
        not os.path.exists(CHROMIUM), reason="Debian's chromium is not installed (make test installs it)"
    ),
]

PHONE = {"viewport": {"width": 390, "height": 844}, "is_mobile": True, "has_touch": True, "device_scale_factor": 3}
LAPTOP = {"viewport": {"width": 1280, "height": 900}}
WARD = "northbridge-general-ward-7"
AUTHOR = "worried.author@example.org"


def axe_violations(page) -> list[str]:
    from axe_playwright_python.sync_playwright import Axe

    results = Axe().run(page)
    return [
        f"{v['id']}: {v['help']} ({', '.join(n['target'][0] for n in v['nodes'][:3])})"
        for v in results.response["violations"]
    ]


def tell(stack, title: str, story: str, email: str | None = None) -> str:
    today = date.today()
    body = {
        "title": title,
        "story": story,
        "good": "",
        "improve": "",
        "feelings": [],
        "role": "patient",
        "pseudonym": "A patient",
        "experience_month": today.month,
        "experience_year": today.year,
        "services": [WARD],
        "consent": True,
        "submission_id": os.urandom(8).hex(),
        **({"email": email} if email else {}),
    }
    resp = requests.post(f"{stack.api}stories", json=body, timeout=30)
    assert resp.status_code == 201, resp.text
    return resp.json()["id"]


def confirm_address(page, stack) -> None:
    """The author confirms their address from the first email, as they would (issue 18)."""

    def find():
        page.goto(stack.mail)
        link = page.locator("tbody tr", has_text=AUTHOR).locator("a", has_text="Confirm")
        return link.first if link.count() else None

    wait_for(find, 60).click()
    page.wait_for_url("**/message/**")
    href = page.locator("main a[href*='/api/confirm/']").first.get_attribute("href")
    page.goto(href)
    page.click("form button[type=submit]")


@needs_vnu
def test_the_sign_up_lists_only_the_chosen_organisations_services(stack, browser, tmp_path):
    page = browser.new_context(**PHONE).new_page()
    page.goto(f"{stack.site}subscribe/")
    everything = page.locator("#service option").count()
    page.select_option("#organisation", "fernvale-health")
    groups = page.locator("#service optgroup")
    assert groups.count() == 1 and groups.first.get_attribute("label").startswith("Fernvale")
    options = page.locator("#service option").count()
    assert 1 < options < everything
    page.select_option("#service", "fernvale-crisis-team")
    # Another organisation: the chosen service is not offered any more, so none is chosen.
    page.select_option("#organisation", "northbridge-teaching-hospitals")
    assert page.locator("#service").input_value() == ""
    assert page.locator("#service option[value='fernvale-crisis-team']").count() == 0
    assert "Waiting times, Discharge" in page.locator("#tags-hint").inner_text()
    assert axe_violations(page) == []
    assert vnu_errors({"subscribe.html": page.content()}, tmp_path) == ""
    page.context.close()


@needs_vnu
def test_the_moderation_screen_puts_people_first(stack, browser, tmp_path):
    from local.resources import DEMO_MODERATOR
    from local.totp import sign_in

    # A story published earlier with a tag, so the tag is in use.
    auth = {
        "Authorization": f"Bearer {sign_in(stack.api, DEMO_MODERATOR['username'], DEMO_MODERATOR['password'])['id_token']}"
    }
    earlier = tell(stack, "Tagged before", "The ward spoke Welsh with my nan, which meant a lot.")
    decision = {"action": "publish", "version": 1, "criticality": 0, "tags": ["welsh-language"]}
    assert requests.post(
        f"{stack.api}moderation/stories/{earlier}/decision", json=decision, headers=auth, timeout=30
    ).ok
    calm = tell(stack, "A calm night on the ward", "The night staff were kind and the ward was quiet.")
    urgent = tell(
        stack,
        "Please read this one",
        "After the diagnosis I wanted to end my life. Ring me on 07700 900123.",
        email=AUTHOR,
    )
    ctx = browser.new_context(**LAPTOP)
    page = ctx.new_page()
    confirm_address(page, stack)

    sign_in_on_screen(page, stack.api)

    # The queue: the urgent story first, saying why, with the ward's name (not its slug).
    page.wait_for_selector("#queue-list li")
    first = page.locator("#queue-list li").first
    assert "Please read this one" in first.inner_text()
    assert "Urgent: self-harm or suicide" in first.locator(".urgent-flag").inner_text()
    queue_text = page.locator("#queue-list").inner_text()
    assert "Ward 7 (Cardiology)" in queue_text and WARD not in queue_text
    assert queue_text.index("Please read this one") < queue_text.index("A calm night on the ward")
    assert calm
    assert "urgent first" in page.locator("#queue-summary").inner_text()
    assert axe_violations(page) == []
    pages = {"queue.html": page.content()}

    # One story: the urgent panel, and marks that follow the edits.
    first.locator("a").click()
    page.wait_for_selector("#story-urgent:not([hidden])")
    page.wait_for_selector("#story-findings:not([hidden])")
    assert page.locator("#story-findings mark").first.text_content() == "07700 900123 (a phone number)"
    page.fill("#story", "After the diagnosis I wanted to end my life. Ring the ward.")
    page.wait_for_selector("#story-findings", state="hidden")
    page.fill("#story", "After the diagnosis I wanted to end my life. Ask Mrs Joan Smith on the ward.")
    page.wait_for_selector("#story-findings:not([hidden]) mark")
    assert "Joan Smith" in page.locator("#story-findings mark").first.text_content()
    assert "(as the text is now)" in page.locator("#story-findings").inner_text()
    page.fill("#story", "After the diagnosis I wanted to end my life. The ward helped.")
    page.wait_for_selector("#story-findings", state="hidden")

    # Services: untick the ward, find and add the right one.
    assert page.locator("#story-services label").first.inner_text().startswith("Ward 7 (Cardiology)")
    page.fill("#service-find", "ward 12")
    page.wait_for_selector("#service-found button")
    page.locator("#service-found button", has_text="Ward 12").first.click()
    page.locator("#story-services input").first.uncheck()
    assert page.locator("#story-services input:checked").count() == 1

    # Tags: the ones in use are suggested as the moderator types.
    page.fill("#tags", "wel")
    page.wait_for_selector("#tag-suggestions:not([hidden])")
    page.locator("#tag-suggestion-list button", has_text="welsh language").click()
    assert page.locator("#tags").input_value() == "welsh language, "

    # A message to the author: sent through the platform, the address never shown.
    page.fill("#message", "Are you safe now? Is there anything we can do?")
    page.click("#message-form button[type=submit]")
    page.wait_for_selector("#story-messages li")
    assert "Are you safe now?" in page.locator("#story-messages").inner_text()
    assert AUTHOR not in page.content()
    assert axe_violations(page) == []
    pages["story.html"] = page.content()

    # Publish: the notice links to the story's page on the site.
    page.fill("#story", "After the diagnosis I wanted to end my life. The ward helped.")
    page.check("#criticality-3")
    page.fill("#tags", "welsh language")
    page.click("#decision-form button[value=publish]")
    page.wait_for_selector("#published-link")
    href = page.locator("#published-link").get_attribute("href")
    assert re.fullmatch(rf"{re.escape(stack.site)}stories/{urgent}/", href), href
    story = requests.get(f"{stack.api}moderation/stories/{urgent}", headers=auth, timeout=30).json()["story"]
    assert story["services"] == ["northbridge-general-ward-12"] and story["tags"] == ["welsh-language"]
    assert axe_violations(page) == []
    pages["published.html"] = page.content()
    assert vnu_errors(pages, tmp_path) == ""
    ctx.close()
