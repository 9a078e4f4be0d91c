"""The tell-your-story form in chromium at a phone size (issue 20), on a small copy of the static site: the form
and the thank-you page as the site renders them, with their CSS and form.js, served from a temp dir. The API is
played by Playwright (a 303 to the thank-you page, as the real one answers a good story), so no stack is needed.

- a long story is taken whole (no maxlength cuts it); the count warns before the limit and says how much is over;
- after sending, the thank-you page gives a reference and a timescale, and the back button brings an empty
  form: nothing to send again, no draft put back;
- the chosen service shows whole, below the list; the form with one service chosen (the service pages'
  "Tell your story about this service") has it chosen with JavaScript off.
Each page opened is checked with axe (0 violations) and vnu (0 errors).
"""

from __future__ import annotations

import functools
import os
import re
import shutil
import tempfile
import threading
from datetime import date
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import SimpleNamespace
from urllib.parse import parse_qs

import pytest

from tests.support.live import CHROMIUM, wait_for
from tests.support.vnu import needs_vnu, vnu_errors

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(
        not os.path.exists(CHROMIUM), reason="Debian's chromium is not installed (make test installs it)"
    ),
    needs_vnu,
]

PHONE = {"viewport": {"width": 390, "height": 844}, "is_mobile": True, "has_touch": True, "device_scale_factor": 3}
API = "https://api.test"
WARD = "northbridge-general-medicine-ward-12"
WARD_TRAIL = "Northbridge General Hospital › Medicine › Ward 12 (Respiratory)"
GROUPS = [
    {
        "label": "Northbridge NHS Trust",
        "options": [
            {"value": "northbridge", "label": "Northbridge NHS Trust (the whole organisation)"},
            {"value": "northbridge-general", "label": "Northbridge General Hospital"},
            {"value": "northbridge-general-medicine", "label": "Northbridge General Hospital › Medicine"},
            {"value": WARD, "label": WARD_TRAIL},
        ],
    }
]
DRAFT = "feedforward:story-draft"
STORY_ID = "1m98tct7z9gjfn9a5"
THANKS = re.compile(r"/thank-you/\?ref=")


class _Quiet(SimpleHTTPRequestHandler):
    def log_message(self, *args):  # the test output is for failures
        pass


@pytest.fixture(scope="module")
def site():
    from chalicelib.site.forms import form_context, form_for_service_pages
    from chalicelib.site.pages import assets, render_page

    root = Path(tempfile.mkdtemp(prefix="ff-form-"))
    server = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_Quiet, directory=str(root)))
    base = f"http://127.0.0.1:{server.server_address[1]}"
    settings = SimpleNamespace(api_url=API, site_url=base)
    csp = (
        f"default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        f"connect-src 'self' {API}; form-action 'self' {API}; base-uri 'none'"
    )
    for asset in assets().values():
        for key in (asset.key, asset.hashed_key):
            (root / key).parent.mkdir(parents=True, exist_ok=True)
            (root / key).write_bytes(asset.body)
    pages = {
        "tell-your-story/index.html": render_page(
            "form.html", csp=csp, **form_context({}, [], GROUPS, settings, script=True)
        ),
        "thank-you/index.html": render_page("thank_you.html", csp=csp, days=2, moderators_email="mod@example.org"),
    }
    pages.update(form_for_service_pages(GROUPS, settings))
    for key, html in pages.items():
        (root / key).parent.mkdir(parents=True, exist_ok=True)
        (root / key).write_text(html, encoding="utf-8")
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield SimpleNamespace(base=base, form=f"{base}/tell-your-story/", thanks=f"{base}/thank-you/")
    server.shutdown()
    shutil.rmtree(root, ignore_errors=True)


def axe_violations(page) -> list[str]:
    from axe_playwright_python.sync_playwright import Axe

    results = Axe().run(page)
    return [
        f"{v['id']}: {v['help']} ({', '.join(str(n['target'][0]) for n in v['nodes'][:3])})"
        for v in results.response["violations"]
    ]


def checked(page, name: str, tmp_path: Path) -> None:
    """axe and vnu on the page as it is now."""
    assert axe_violations(page) == [], name
    assert vnu_errors({f"{name}.html": page.content()}, tmp_path) == ""


def the_api(page, site) -> list[dict[str, list[str]]]:
    """Answer the form as the API answers a good story; what it was sent, one dict a story."""
    sent: list[dict[str, list[str]]] = []

    def answer(route):
        sent.append(parse_qs(route.request.post_data or "", keep_blank_values=True))
        route.fulfill(status=303, headers={"Location": f"{site.thanks}?ref={STORY_ID}"})

    page.route(f"{API}/api/stories", answer)
    return sent


def fill(page, title: str, story: str = "The nurses were calm and explained every step of the night.") -> None:
    today = date.today()
    page.fill("#title", title)
    page.fill("#story", story)
    page.fill("#experience_month", str(today.month))
    page.fill("#experience_year", str(today.year))
    page.locator("select[name=services]").first.select_option(WARD)
    page.check("input[name=role][value=patient]")
    page.fill("#pseudonym", "Night owl")
    page.check("#consent")


def a_long_story(words: int) -> str:
    line = "The night staff on the ward were kind and patient, and I am grateful for the care, and"
    out = []
    while len(" ".join(out).split()) < words:
        out.append(line)
    return " ".join(" ".join(out).split()[:words]) + "."


def test_a_long_story_is_taken_whole_and_the_count_warns_before_the_limit(site, browser, tmp_path):
    ctx = browser.new_context(**PHONE)
    page = ctx.new_page()
    sent = the_api(page, site)
    page.goto(site.form)
    hint = page.locator("#story-hint").inner_text()
    assert "up to 30,000 characters (about 5,000 words)" in hint
    story = a_long_story(5000)
    assert 24_000 < len(story) < 27_000 and len(story) > 8_000  # cut at 8,000 before
    fill(page, "A long night, told in full", story)
    # Nothing cut: every character is in the box, and the count says how many are left.
    assert len(page.locator("#story").input_value()) == len(story)
    count = page.locator("#story-count")
    assert count.inner_text().startswith("5,000 words, ")
    # Near the limit, the count says so plainly before it is reached.
    near = story + " " + "x" * (28_000 - len(story) - 1)
    page.fill("#story", near)
    assert count.inner_text() == "5,001 words. You have 2,000 characters left, of 30,000."
    assert "word-count--near" in count.get_attribute("class")
    # Past it: how much is over, in the error colour; still nothing cut, and nothing is lost.
    page.fill("#story", near + "y" * 2_500)
    assert "500 characters too many" in count.inner_text()
    assert "error-message" in count.get_attribute("class")
    assert len(page.locator("#story").input_value()) == 30_500
    checked(page, "form-over-the-limit", tmp_path)
    # A story within the limit is sent whole.
    page.fill("#story", story)
    page.click("#send")
    page.wait_for_url(THANKS)
    assert sent[-1]["story"] == [story]
    ctx.close()


def test_after_sending_the_back_button_brings_an_empty_form_and_no_draft(site, browser, tmp_path):
    ctx = browser.new_context(**PHONE)
    page = ctx.new_page()
    sent = the_api(page, site)
    page.goto(site.form)
    fill(page, "Told once on a ward tablet")
    sid = page.locator("input[name=submission_id]").input_value()
    page.click("#send")
    page.wait_for_url(THANKS)
    assert len(sent) == 1 and sent[0]["submission_id"] == [sid]
    # A reference to quote, and when a moderator will have read it.
    assert page.locator("#story-reference").inner_text() == "Your reference\n1M98 TCT7 Z9GJ FN9A5"
    assert "within 2 working days" in page.locator("main").inner_text()
    checked(page, "thank-you", tmp_path)
    page.go_back()
    page.wait_for_url(site.form)
    # Whether the browser kept the page as it was or loaded it again, the answers are gone.
    wait_for(lambda: page.locator("#title").input_value() == "", timeout=5, interval=0.1)
    assert page.locator("#story").input_value() == ""
    assert page.locator("#pseudonym").input_value() == ""
    assert page.locator("select[name=services]").first.input_value() == ""
    assert not page.locator("#consent").is_checked()
    assert page.locator("input[name=submission_id]").input_value() not in ("", sid)
    assert page.evaluate(f"sessionStorage.getItem('{DRAFT}')") is None
    assert "put back" not in page.locator("#draft-status").inner_text()
    checked(page, "form-after-back", tmp_path)
    # Reloaded, or opened again in this tab: still nothing to offer the next person.
    page.reload()
    assert page.locator("#title").input_value() == ""
    assert "put back" not in page.locator("#draft-status").inner_text()
    # Sending from here sends nothing of the story already sent.
    page.click("#send")
    page.wait_for_url(THANKS)
    assert sent[-1]["title"] == [""] and sent[-1]["submission_id"] != [sid]
    ctx.close()


def test_the_chosen_service_shows_whole_below_its_list(site, browser, tmp_path):
    ctx = browser.new_context(**PHONE)
    page = ctx.new_page()
    page.goto(site.form)
    chosen = page.locator("#services-chosen")
    assert chosen.is_hidden()
    page.locator("select[name=services]").first.select_option(WARD)
    assert chosen.inner_text() == f"Chosen: {WARD_TRAIL}"
    # Whole on a phone: it wraps inside the screen, where the select's own text is cut short.
    box = chosen.bounding_box()
    assert box["x"] >= 0 and box["x"] + box["width"] <= 390
    assert chosen.evaluate("el => el.scrollWidth <= el.clientWidth")
    checked(page, "form-chosen", tmp_path)
    page.locator("select[name=services]").first.select_option("")
    assert chosen.is_hidden()
    ctx.close()


def test_tell_your_story_about_this_service_chooses_it_without_javascript(site, browser, tmp_path):
    ctx = browser.new_context(java_script_enabled=False, **PHONE)
    page = ctx.new_page()
    page.goto(f"{site.base}/tell-your-story/{WARD}/")
    assert page.locator("select[name=services]").first.input_value() == WARD
    assert page.locator("#services-chosen").inner_text() == f"Chosen: {WARD_TRAIL}"
    assert vnu_errors({"form-for-a-service.html": page.content()}, tmp_path) == ""
    ctx.close()
    # axe runs as a script: the same page, with JavaScript on (which keeps the choice).
    ctx = browser.new_context(**PHONE)
    page = ctx.new_page()
    page.goto(f"{site.base}/tell-your-story/{WARD}/")
    assert page.locator("select[name=services]").first.input_value() == WARD
    assert axe_violations(page) == []
    ctx.close()
