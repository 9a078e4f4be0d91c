"""The whole conversation in a real browser, from the local stack's mailbox page (issue 3).

One stack (`python -m local.run --no-seed`) for the module. A member of staff signs up on the
site and confirms from the mailbox; an author tells a story on the form; a moderator publishes
it; the staff member follows the alert's read-and-respond link from the mailbox, says they have
read it and responds with a planned change; the story page shows all of it; the author is told,
follows their private link from the mailbox and replies; once the reply is published the staff
member is told. Pages are checked with axe on a phone screen; then one-click unsubscribe
(RFC 8058, no cookie) kills the read-and-respond link.
"""

from __future__ import annotations

import os
import re
import uuid
from datetime import date

import pytest
import requests

from tests.support.live import CHROMIUM, wait_for

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(
        not os.path.exists(CHROMIUM), reason="Debian's chromium is not installed (make test installs it)"
    ),
]

PHONE = {"viewport": {"width": 390, "height": 844}, "is_mobile": True, "has_touch": True, "device_scale_factor": 3}
ORGANISATION, SUBSCRIBED = "northbridge-teaching-hospitals", "northbridge-general"  # the hospital, so every ward in it
STORY_SERVICE = "northbridge-general-ward-7"


def axe_violations(page) -> list[str]:
    from axe_playwright_python.sync_playwright import Axe

    results = Axe().run(page)
    return [
        f"{v['id']}: {v['help']} ({', '.join(n['target'][0] for n in v['nodes'][:3])})"
        for v in results.response["violations"]
    ]


def phone_check(page) -> None:
    """axe finds nothing, and nothing is wider than the phone's screen."""
    assert axe_violations(page) == []
    widths = page.evaluate("[document.documentElement.scrollWidth, document.documentElement.clientWidth]")
    assert widths[0] <= widths[1], f"{page.url} is {widths[0]} px wide on a {widths[1]} px screen"


def moderator_auth(stack) -> dict[str, str]:
    from local.resources import DEMO_MODERATOR
    from local.totp import sign_in

    signed_in = sign_in(stack.api, DEMO_MODERATOR["username"], DEMO_MODERATOR["password"])
    return {"Authorization": f"Bearer {signed_in['id_token']}"}


def open_mail(page, stack, to: str, subject: str, timeout: float = 60):
    """From the mailbox page, open the newest email to `to` whose subject contains `subject`."""

    def find():
        page.goto(stack.mail)
        link = page.locator("tbody tr", has_text=to).locator("a", has_text=subject)
        return link.first if link.count() else None

    wait_for(find, timeout).click()
    page.wait_for_url("**/message/**")
    assert subject in page.locator("h1").inner_text()
    return page


def follow(page, href_part: str):
    """Click the first link in the open email whose address contains `href_part`; it opens in a new tab."""
    link = page.locator(f"main > ul a[href*='{href_part}']").first
    with page.context.expect_page() as opened:
        link.click()
    new = opened.value
    new.wait_for_load_state()
    return new, link.get_attribute("href")


def raw_headers(stack, to: str, subject: str) -> dict[str, str]:
    """The headers of the newest raw message to `to` with `subject`, as the emulator's SES kept them."""
    from local.mailbox import Inbox

    mail = next(m for m in Inbox(stack.aws).messages() if to in " ".join(m.to) and subject in m.subject)
    return {k.lower(): v for k, v in mail.headers}


def test_the_whole_loop_from_the_mailbox(stack, browser):
    run = uuid.uuid4().hex[:6]
    staff = f"sam.patel.{run}@pals.northbridge.nhs.example"  # a domain that grants responder
    author = f"loop.author.{run}@example.org"
    title = f"Ward 7 listened to me {run}"
    ctx = browser.new_context(**PHONE)
    foreign: list[str] = []
    ctx.on(
        "request",
        lambda r: foreign.append(r.url) if not r.url.startswith(("http://127.0.0.1", "data:", "about:")) else None,
    )
    page = ctx.new_page()

    # ---- a member of staff signs up on the site, and confirms from the mailbox ----
    page.goto(stack.site)
    page.click("footer a:has-text('Get alerts for your service')")
    page.wait_for_url("**/subscribe/")
    assert page.locator("h1").inner_text() == "Get alerts about stories"
    phone_check(page)
    page.fill("#name", "Sam Patel")
    page.fill("#display_name", "Sam, Ward Sister")
    page.fill("#role", "Ward Sister")
    page.select_option("#organisation", ORGANISATION)
    page.fill("#email", staff)
    page.select_option("#service", SUBSCRIBED)
    page.click("#subscribe")
    page.wait_for_url("**/subscribe/check-your-email/")

    open_mail(page, stack, staff, "Confirm your FeedForward alerts")
    phone_check(page)  # the mailbox itself works on a phone
    confirm, _ = follow(page, "/api/subscriptions/confirm/")
    assert confirm.locator("h1").inner_text() == "Confirm your alerts"
    confirm.click("button:has-text('Confirm my alerts')")
    confirm.wait_for_selector("h1:has-text('Your alerts are on')")
    phone_check(confirm)
    confirm.close()

    # ---- an author tells a story on the form ----
    today = date.today()
    page.goto(stack.site + "tell-your-story/")
    page.fill("#title", title)
    page.fill("#story", "I was on Ward 7 after my heart attack.\nThe night nurse sat with me when I could not sleep.")
    page.fill("#improve", "Nobody told me when the consultant would come round.")
    page.check("input[name=feelings][value=reassured]")
    page.fill("#experience_month", str(today.month))
    page.fill("#experience_year", str(today.year))
    page.locator("select[name=services]").first.select_option(STORY_SERVICE)
    page.check("input[name=role][value=patient]")
    page.fill("#pseudonym", "Night owl")
    page.fill("#email", author)
    page.check("#consent")
    page.click("#send")
    page.wait_for_url(re.compile(r"/thank-you/\?ref="))

    # ---- a moderator publishes it (the moderation API, with a real Cognito token) ----
    auth = moderator_auth(stack)

    def pending_story():
        stories = requests.get(f"{stack.api}moderation/queue", headers=auth, timeout=30).json()["stories"]
        return next((s for s in stories if s["title"] == title), None)

    story = wait_for(pending_story, 30)
    decision = {
        "action": "publish",
        "version": story["version"],
        "criticality": 2,
        "tags": ["communication"],
        "note": "",
    }
    resp = requests.post(
        f"{stack.api}moderation/stories/{story['id']}/decision", json=decision, headers=auth, timeout=30
    )
    assert resp.status_code == 200, resp.text
    story_url = f"{stack.site}stories/{story['id']}/"

    # ---- in the mailbox: the author confirms the address (fixed words, issue 18), then gets the link ----
    open_mail(page, stack, author, "Is this your email address?")
    assert title not in page.content() and "/api/my/" not in page.content()
    confirm, _ = follow(page, "/api/confirm/")
    confirm.click("button[type=submit]")
    confirm.wait_for_selector("h1:has-text('your address is confirmed')")
    open_mail(page, stack, author, f"We have your story: {title}")
    assert "/api/my/" in page.content()
    open_mail(page, stack, staff, f"New story about Ward 7 (Cardiology): {title}")
    respond, respond_link = follow(page, "/api/respond/")
    assert respond.locator("h1").inner_text() == title
    assert "Sam, Ward Sister" in respond.locator(".respond-as").inner_text()
    phone_check(respond)

    # ---- "I have read this", then a response that plans a change ----
    respond.click("#mark-read")
    respond.wait_for_selector("#read :text('You read this story on')")
    respond.fill("#text", "Thank you for telling us. I am sorry nobody told you when to expect the consultant.")
    respond.check("#change-planned")
    respond.fill("#change_description", "The ward round time will be written on the board by every bed.")
    respond.click("#send-response")
    # A responder's first responses are checked by a moderator before they are public.
    respond.wait_for_selector("#sent:has-text('Your response is waiting for a moderator')")
    assert "your first responses on FeedForward are checked" in respond.locator("#sent").inner_text()
    phone_check(respond)
    items = requests.get(f"{stack.api}moderation/queue?status=replies", headers=auth, timeout=30).json()["items"]
    held = next(i for i in items if i["story_id"] == story["id"] and i["item"] == "response")
    assert "one of this responder's first responses" in held["flag_words"]
    resp = requests.post(
        f"{stack.api}moderation/stories/{story['id']}/responses/{held['id']}/decision",
        json={"action": "publish", "note": ""},
        headers=auth,
        timeout=30,
    )
    assert resp.status_code == 200, resp.text

    # ---- the public story page: read by, the response, the progress ----
    def story_page_done():
        text = requests.get(story_url, timeout=10).text
        steps = re.findall(r'progress__step--done"[^>]*>\s*<span class="progress__label">([^<]+)<', text)
        return "written on the board by every bed" in text and "Change planned" in steps

    wait_for(story_page_done, 60)
    page.goto(story_url + "?after-response")  # pages are cached for a minute: a new address, as a reader's would be
    receipts = page.locator(".receipts li").all_inner_texts()
    # Said once (issue 20): the display name holds the job title, so it is not repeated.
    assert any(r.startswith("Read by Sam, Ward Sister, Northbridge General Hospital —") for r in receipts), receipts
    done = [s.split("\n")[0] for s in page.locator(".progress__step--done").all_inner_texts()]
    assert done == ["Published", "Read by staff", "Responded to", "Change planned"], done
    assert page.locator(".change-callout--planned").inner_text().startswith("Change planned:")
    assert staff not in page.content() and author not in page.content()
    phone_check(page)

    # ---- the author is told, follows the private link from the mailbox, and replies ----
    open_mail(page, stack, author, f"Staff have read your story: {title}")
    assert "Sam, Ward Sister" in page.content() and "/api/my/" in page.content()
    open_mail(page, stack, author, f"A reply to your story: {title}")
    assert "Sam, Ward Sister" in page.content()
    private, private_link = follow(page, "/api/my/")
    assert "written on the board by every bed" in private.content()
    phone_check(private)
    private.fill("#reply-text", "Thank you, that would have helped me a lot.")
    private.click("button:has-text('Send your reply')")
    private.wait_for_selector(".author-notice:has-text('Your reply will appear once a moderator has checked it')")
    phone_check(private)

    # ---- a moderator publishes the reply; the staff member is told ----
    items = requests.get(f"{stack.api}moderation/queue?status=replies", headers=auth, timeout=30).json()["items"]
    reply = next(i for i in items if i["story_id"] == story["id"] and i["item"] == "reply")
    resp = requests.post(
        f"{stack.api}moderation/stories/{story['id']}/replies/{reply['id']}/decision",
        json={"action": "publish", "note": ""},
        headers=auth,
        timeout=30,
    )
    assert resp.status_code == 200, resp.text
    open_mail(page, stack, staff, f"The author replied: {title}")
    assert "that would have helped me a lot" in page.content()
    again, _ = follow(page, "/api/respond/")
    assert "that would have helped me a lot" in again.content()  # the conversation, with the reply
    again.close()
    wait_for(lambda: "that would have helped me a lot" in requests.get(story_url, timeout=10).text, 60)
    assert foreign == []
    ctx.close()

    # ---- one-click unsubscribe from the alert's List-Unsubscribe header: no cookie, no page ----
    headers = raw_headers(stack, staff, f"New story about Ward 7 (Cardiology): {title}")
    assert headers["list-unsubscribe-post"] == "List-Unsubscribe=One-Click"
    unsubscribe = re.fullmatch(r"<(https?://[^>]+)>", headers["list-unsubscribe"].strip()).group(1)
    assert requests.get(respond_link, timeout=10).status_code == 200
    resp = requests.post(
        unsubscribe,
        data="List-Unsubscribe=One-Click",
        timeout=10,
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert resp.status_code == 200, resp.text
    assert requests.get(respond_link, timeout=10).status_code == 404
    assert (
        requests.post(
            f"{respond_link}/read", data="", timeout=10, headers={"Content-Type": "application/x-www-form-urlencoded"}
        ).status_code
        == 404
    )
    assert requests.get(private_link, timeout=10).status_code == 200  # the author's link is not the staff member's


# ---- organisations: an outsider asks to join; the lead approves from the mailbox ----------------------

DESKTOP = {"viewport": {"width": 1280, "height": 900}}
LEAD = "helen.marsh@northbridge.nhs.example"  # named a lead of Northbridge in data/directory.json


def test_an_outsider_asks_to_join_and_the_lead_approves_from_the_mailbox(stack, browser):
    run = uuid.uuid4().hex[:6]
    outsider = f"locum.{run}@nursing-agency.example"
    for size in (PHONE, DESKTOP):
        ctx = browser.new_context(**size)
        page = ctx.new_page()
        if size is PHONE:
            # ---- the outsider signs up: the answer is the same as anyone's; the leads will decide ----
            page.goto(stack.site + "subscribe/")
            page.fill("#name", "Lou Locum")
            page.fill("#role", "Agency nurse")
            page.select_option("#organisation", ORGANISATION)
            page.fill("#email", outsider)
            page.select_option("#service", SUBSCRIBED)
            page.click("#subscribe")
            page.wait_for_url("**/subscribe/check-your-email/")
            open_mail(page, stack, outsider, "Confirm your FeedForward alerts")
            confirm, _ = follow(page, "/api/subscriptions/confirm/")
            confirm.click("button:has-text('Confirm my alerts')")
            confirm.wait_for_selector("h1:has-text('your organisation’s leads will decide')")
            phone_check(confirm)
            # ---- the lead asks for their link on the API's page ----
            page.goto(stack.api + "organisation")
            phone_check(page)
            page.fill("#email", LEAD)
            page.click("button:has-text('Email me the link')")
            page.wait_for_selector("h1:has-text('Check your email')")
            phone_check(page)
        # ---- from the request's email, the lead opens the organisation's page ----
        open_mail(page, stack, LEAD, "Lou Locum asks to join")
        org, _ = follow(page, "/api/organisation/")
        assert "Asking to join" in org.content() and outsider in org.content()
        # The organisation's report (issue 15): axe finds nothing there either, on both screens.
        report = org.context.new_page()
        report.goto(org.url.split("?")[0].split("#")[0] + "/report")
        assert report.locator("h1").count() == 1
        if size is PHONE:
            phone_check(report)
        else:
            assert axe_violations(report) == []
        report.close()
        if size is PHONE:
            phone_check(org)
            org.close()
            ctx.close()
            continue
        assert axe_violations(org) == []
        card = org.locator(".member", has_text=outsider)
        card.locator("select[name=access]").select_option("responder")
        card.locator("button:has-text('Approve')").click()
        org.wait_for_selector(".status-panel:has-text('Approved')")
        assert axe_violations(org) == []
        open_mail(page, stack, outsider, "You are a member of Northbridge")
        assert "responder" in page.content()
        ctx.close()


# ---- the moderation screen: a first sign-in on a pool that requires an authenticator app ----------


def totp_now(key: str) -> str:
    """The code an authenticator app shows now (not too close to the end of its 30 seconds)."""
    import time

    from local.totp import code

    if 30 - time.time() % 30 < 3:  # not a timing test: keeps the code and moto's check in one step
        time.sleep(30 - time.time() % 30 + 0.2)
    return code(key)


def test_a_new_moderator_sets_up_an_authenticator_app_on_the_screen(stack, browser):
    from local.resources import NEW_MODERATOR
    from local.totp import code

    ctx = browser.new_context(**PHONE)
    page = ctx.new_page()
    page.goto(f"{stack.api}moderate")
    page.fill("#username", NEW_MODERATOR["username"])
    page.fill("#password", NEW_MODERATOR["password"])
    page.click("#sign-in-form button[type=submit]")

    # The temporary password first: a new one, of at least 12 characters.
    page.wait_for_selector("#sign-in-heading:has-text('Choose a new password')")
    assert "At least 12 characters" in page.locator("#answer-hint").inner_text()
    assert page.locator("#mfa-setup").is_hidden()
    page.fill("#answer", "Chosen-pass-2026!")
    page.click("#challenge-form button[type=submit]")

    # Then the app: the key as text, a link for the app, and a field for its first code.
    page.wait_for_selector("#sign-in-heading:has-text('Set up your authenticator app')")
    secret = page.locator("#mfa-secret").inner_text().strip()
    assert re.fullmatch(r"[A-Za-z2-7]{8,}", secret), secret
    uri = page.locator("#mfa-uri").get_attribute("href")
    assert uri.startswith("otpauth://totp/FeedForward:") and f"secret={secret}" in uri
    assert page.locator("#mfa-uri").inner_text() == "Open in your authenticator app"
    # And a QR code to scan, drawn on the screen as inline SVG.
    assert page.locator("#mfa-qr").is_visible()
    assert page.locator("#mfa-qr").get_attribute("viewBox") and page.locator("#mfa-qr-path").get_attribute("d")
    assert page.locator("#mfa-qr").bounding_box()["width"] >= 150
    assert page.locator("#answer").get_attribute("autocomplete") == "one-time-code"
    phone_check(page)

    # A wrong code: the error is next to the field, and the same step can be tried again.
    import time

    page.fill("#answer", code(secret, time.time() + 300))
    page.click("#challenge-form button[type=submit]")
    page.wait_for_selector("#answer-error:not([hidden])")
    assert "not right" in page.locator("#answer-error").inner_text()
    assert page.locator("#mfa-secret").inner_text().strip() == secret
    phone_check(page)
    # Letters are refused before anything is sent.
    page.fill("#answer", "12ab56")
    page.click("#challenge-form button[type=submit]")
    assert "6-digit code" in page.locator("#answer-error").inner_text()

    # The right code, typed as the app shows it ("123 456"): signed in, and the key is gone from the page.
    now = totp_now(secret)
    page.fill("#answer", f"{now[:3]} {now[3:]}")
    page.click("#challenge-form button[type=submit]")
    page.wait_for_selector("#view-queue:not([hidden])")
    assert page.locator("#mfa-secret").inner_text() == ""
    assert page.locator("#mfa-qr-path").count() == 0
    kept = page.evaluate("JSON.stringify([Object.entries(sessionStorage), Object.entries(localStorage)])")
    assert secret not in kept and secret not in page.content()

    # From now on: the password, then the app's code.
    page.click("#sign-out")
    page.fill("#username", NEW_MODERATOR["username"])
    page.fill("#password", "Chosen-pass-2026!")
    page.click("#sign-in-form button[type=submit]")
    page.wait_for_selector("#sign-in-heading:has-text('Enter your security code')")
    assert page.locator("#mfa-setup").is_hidden()
    page.fill("#answer", totp_now(secret))
    page.click("#challenge-form button[type=submit]")
    page.wait_for_selector("#view-queue:not([hidden])")
    ctx.close()


def test_the_screen_marks_likely_identifying_details_in_a_pending_story(stack, browser):
    from local.resources import DEMO_MODERATOR
    from local.totp import emulator_key
    from tests.support.factories import story_body

    text = "My husband Peter Wright was seen on 3 March 2025.\nRing me on 07700 900123 if you need to."
    resp = requests.post(
        f"{stack.api}stories",
        timeout=30,
        json=story_body(story=text, services=[STORY_SERVICE], title="Checking the marks"),
    )
    assert resp.status_code == 201, resp.text
    story_id = resp.json()["id"]
    ctx = browser.new_context(viewport={"width": 1280, "height": 900})
    page = ctx.new_page()
    page.goto(f"{stack.api}moderate")
    page.fill("#username", DEMO_MODERATOR["username"])
    page.fill("#password", DEMO_MODERATOR["password"])
    page.click("#sign-in-form button[type=submit]")
    # The pool requires an authenticator app: the demo moderator's code comes next.
    page.wait_for_selector("#sign-in-heading:has-text('Enter your security code')")
    page.fill("#answer", totp_now(emulator_key()))
    page.click("#challenge-form button[type=submit]")
    page.wait_for_selector("#view-queue:not([hidden])")
    page.goto(f"{stack.api}moderate#story/{story_id}")
    page.wait_for_selector("#story-findings:not([hidden])")
    marks = page.locator("#story-findings mark")
    assert [marks.nth(i).text_content() for i in range(marks.count())] == [
        "Peter Wright (a person’s full name)",
        "3 March 2025 (an exact date)",
        "07700 900123 (a phone number)",
    ]
    assert "Check before publishing" in page.locator("#story-findings").inner_text()
    assert page.locator("#title-findings").count() == 0 or page.locator("#title-findings").is_hidden()
    assert axe_violations(page) == []
    ctx.close()
