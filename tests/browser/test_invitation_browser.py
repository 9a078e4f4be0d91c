"""An invitation's short link in a real browser on a phone (issue 19), on the local stack.

A responder of Northbridge (an address at a domain that grants it) signs up and confirms, makes an
invitation from their manage link, and a patient opens its short link on the site: the static server
sends them to the form with the ward chosen and "… asked for your story"; they tell their story, and it
reaches the moderators routed and tagged. The form page passes axe on a 390×844 screen and vnu.
"""

from __future__ import annotations

import os
import re
import uuid
from datetime import date

import pytest
import requests

from tests.support.live import CHROMIUM, wait_for
from tests.support.screen import moderator_headers, sign_in_on_screen
from tests.support.vnu import JAR, vnu_errors

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(
        not os.path.exists(CHROMIUM), reason="Debian's chromium is not installed (make test installs it)"
    ),
]

PHONE = {"viewport": {"width": 390, "height": 844}, "is_mobile": True, "has_touch": True, "device_scale_factor": 3}
ORGANISATION, WARD = "northbridge-teaching-hospitals", "northbridge-general-ward-7"


def axe_violations(page) -> list[str]:
    from axe_playwright_python.sync_playwright import Axe

    results = Axe().run(page)
    return [f"{v['id']}: {v['help']}" for v in results.response["violations"]]


def manage_link(stack, email: str) -> str:
    """Sign up for alerts with a responder's address, confirm from the emulator's mail, and return the
    manage link the confirmation page gives."""
    from local.mailbox import Inbox

    signup = {
        "name": "Priya Shah",
        "display_name": "Priya, Ward Manager",
        "role": "Ward Manager",
        "organisation": ORGANISATION,
        "email": email,
        "service": WARD,
    }
    assert requests.post(f"{stack.api}subscriptions", json=signup, timeout=30).status_code == 202

    def confirm_link():
        for mail in Inbox(stack.aws).messages():
            found = re.search(r"https?://\S+/api/subscriptions/confirm/[A-Za-z0-9_-]{43}", mail.text)
            if email in " ".join(mail.to) and found:
                return found.group(0)
        return None

    page = requests.post(wait_for(confirm_link, 60), data={}, timeout=30).text
    found = re.search(r'href="(https?://[^"]+/api/subscriptions/manage/[A-Za-z0-9_-]{43})"', page)
    assert found, page[:2000]
    return found.group(1)


def test_a_patient_opens_an_invitation_and_sends_their_story(stack, browser, tmp_path):
    run = uuid.uuid4().hex[:6]
    manage = manage_link(stack, f"priya.shah.{run}@pals.northbridge.nhs.example")
    made = requests.post(f"{manage}/invitations", json={"service": WARD, "tags": ["discharge"]}, timeout=30)
    assert made.status_code == 201, made.text
    invitation = made.json()
    assert invitation["url"] == f"{stack.site}i/{invitation['code']}"

    ctx = browser.new_context(**PHONE)
    foreign: list[str] = []
    ctx.on(
        "request",
        lambda r: foreign.append(r.url) if not r.url.startswith(("http://127.0.0.1", "data:", "about:")) else None,
    )
    page = ctx.new_page()
    page.goto(invitation["url"])  # the site's short link, redirected to the API's form
    assert "/api/i/" in page.url
    assert "asked for your story" in page.locator("main").inner_text()
    assert page.locator("#services").input_value() == WARD
    assert axe_violations(page) == []
    widths = page.evaluate("[document.documentElement.scrollWidth, document.documentElement.clientWidth]")
    assert widths[0] <= widths[1]
    if JAR is not None:
        assert vnu_errors({"invited.html": page.content()}, tmp_path) == ""

    title = f"Asked on the ward {run}"
    today = date.today()
    page.fill("#title", title)
    page.fill("#story", "The nurse gave me a card as I left the ward.\nShe explained my tablets twice, slowly.")
    page.fill("#experience_month", str(today.month))
    page.fill("#experience_year", str(today.year))
    page.check("input[name=role][value=patient]")
    page.fill("#pseudonym", "Card holder")
    page.check("#consent")
    page.click("#send")
    page.wait_for_url(re.compile(r"/thank-you/\?ref="))
    assert foreign == []
    ctx.close()

    headers = moderator_headers(stack.api)

    def pending():
        stories = requests.get(f"{stack.api}moderation/queue", headers=headers, timeout=30).json()["stories"]
        return next((s for s in stories if s["title"] == title), None)

    story = wait_for(pending, 30)
    assert (story["route"], story["invitation"], story["tags"], story["services"]) == (
        "invitation",
        invitation["code"],
        ["discharge"],
        [WARD],
    )
    counted = wait_for(lambda: "<dt>Stories brought in</dt><dd>1</dd>" in requests.get(manage, timeout=30).text, 30)
    assert counted


def test_a_moderator_enters_a_phone_story_on_the_screen(stack, browser):
    run = uuid.uuid4().hex[:6]
    ctx = browser.new_context(**PHONE)
    page = ctx.new_page()
    sign_in_on_screen(page, stack.api)
    page.click("#take-link")
    page.wait_for_selector("#view-take:not([hidden])")
    assert axe_violations(page) == []

    title = f"Told on the phone {run}"
    page.check("#take-route-phone")
    page.fill("#take-title", title)
    page.fill("#take-story", "She phoned because she has no computer.\nThe ward staff were kind to her husband.")
    page.fill("#take-pseudonym", "A caller")
    page.fill("#take-find", "ward 7 northbridge")
    page.click("#take-find-button")
    page.wait_for_selector(f"#take-services option[value='{WARD}']", state="attached")
    page.select_option("#take-services", WARD)
    page.click("#take-send")  # no tick yet: refused, naming it
    page.wait_for_selector("#take-summary:not([hidden])")
    assert "Agreement" in page.locator("#take-summary").inner_text()
    assert page.locator("#take-consent-error").is_visible()
    assert axe_violations(page) == []
    page.check("#take-consent")
    page.click("#take-send")
    page.wait_for_selector("#view-queue:not([hidden])")
    ctx.close()

    stories = requests.get(f"{stack.api}moderation/queue", headers=moderator_headers(stack.api), timeout=30).json()[
        "stories"
    ]
    story = next(s for s in stories if s["title"] == title)
    assert story["route"] == "phone" and story["entered_by"]["kind"] == "moderator"
    assert story["services"] == [WARD]
