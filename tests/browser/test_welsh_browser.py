"""The Welsh site in chromium at a phone size (issue 19): every public page type as the renderer writes it under
cy/ (tests/support/welsh_site.py), served from a temp dir with its stylesheet and script, has axe 0 violations;
its "English" link opens the same page in English, whose "Cymraeg" link comes back."""

from __future__ import annotations

import functools
import os
import shutil
import tempfile
import threading
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from chalicelib.site.pages import assets
from tests.support.live import CHROMIUM
from tests.support.welsh_site import PAGE_TYPES, build

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(
        not os.path.exists(CHROMIUM), reason="Debian's chromium is not installed (make test installs it)"
    ),
]

PHONE = {"viewport": {"width": 390, "height": 844}, "is_mobile": True, "has_touch": True, "device_scale_factor": 3}


class _Quiet(SimpleHTTPRequestHandler):
    def log_message(self, *args):  # the test output is for failures
        pass


@pytest.fixture(scope="module")
def base():
    root = Path(tempfile.mkdtemp(prefix="ff-welsh-"))
    for key, html in build().items():
        (root / key).parent.mkdir(parents=True, exist_ok=True)
        (root / key).write_text(html, encoding="utf-8")
    for asset in assets().values():
        for key in (asset.key, asset.hashed_key):
            (root / key).parent.mkdir(parents=True, exist_ok=True)
            (root / key).write_bytes(asset.body)
    server = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_Quiet, directory=str(root)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    shutil.rmtree(root, ignore_errors=True)


def axe_violations(page) -> list[str]:
    from axe_playwright_python.sync_playwright import Axe

    results = Axe().run(page)
    return [
        f"{v['id']}: {v['help']} ({', '.join(str(n['target'][0]) for n in v['nodes'][:3])})"
        for v in results.response["violations"]
    ]


def test_every_welsh_page_type_passes_axe_and_switches_to_the_same_page_in_english(base, browser):
    ctx = browser.new_context(**PHONE)
    page = ctx.new_page()
    for name, key in PAGE_TYPES.items():
        page.goto(f"{base}/cy/{key.removesuffix('index.html')}")
        assert page.locator("html").get_attribute("lang") == "cy", name
        assert axe_violations(page) == [], name
        if key == "404.html":
            continue  # served for any address: no switch
        page.click("a.language-switch")
        assert page.url == f"{base}/{key.removesuffix('index.html')}", name
        assert page.locator("html").get_attribute("lang") == "en-GB", name
        page.click("a.language-switch")
        assert page.url == f"{base}/cy/{key.removesuffix('index.html')}", name
    ctx.close()


def test_the_welsh_form_links_the_story_it_came_from_on_the_welsh_site(base, browser):
    ctx = browser.new_context(**PHONE)
    page = ctx.new_page()
    for prefix in ("/cy", ""):
        page.goto(f"{base}{prefix}/tell-your-story/?related=0123456789abcdefg")
        assert page.locator("input[name=related_story]").input_value() == "0123456789abcdefg"
        assert page.locator("#related-link").get_attribute("href") == f"{prefix}/stories/0123456789abcdefg/"
    ctx.close()


def test_the_welsh_forms_script_writes_in_welsh(base, browser):
    ctx = browser.new_context(**PHONE)
    page = ctx.new_page()
    page.goto(f"{base}/cy/tell-your-story/")
    assert page.locator("label[for=service-search]").inner_text() == "Dod o hyd i wasanaeth"
    page.fill("#story", "Helo yno")
    assert page.locator("#story-count").inner_text() == "2 air, 29,992 nod ar ôl"
    page.goto(f"{base}/tell-your-story/")
    assert page.locator("label[for=service-search]").inner_text() == "Find a service"
    page.fill("#story", "Hello there")
    assert page.locator("#story-count").inner_text() == "2 words, 29,989 characters left"
    ctx.close()
