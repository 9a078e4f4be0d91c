"""`make screenshots`: phone-size pictures of the public site in docs/screenshots/, so a reader can see it
without running it.

The site is the tests' realistic one (tests/support/realistic_site.py: published stories with tags, staff responses,
a change planned and one made, an author reply), rendered in process into moto and served from a temp dir.
The form with its errors is the API's real 422 answer to an incomplete post, served beside it.
Pictures are taken in Debian's chromium at 390×844 (a phone), whole pages, at one pixel per CSS pixel (small files for the repository).
"""

from __future__ import annotations

import functools
import logging
import os
import shutil
import sys
import tempfile
import threading
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlencode

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "docs" / "screenshots"
PHONE = {"viewport": {"width": 390, "height": 844}, "is_mobile": True, "has_touch": True, "device_scale_factor": 1}
SHOTS = [
    # file, path on the served site, what it shows
    (
        "form.png",
        "/tell-your-story/",
        "The tell-your-story form, empty, with JavaScript on (the service finder and the draft note).",
    ),
    (
        "form-errors.png",
        "/_api/form-errors.html",
        "The form sent with only a title: the error summary, and each error by its field (the API's answer, no JavaScript needed).",
    ),
    (
        "story.png",
        "/stories/{conversation}/",
        "A story page with its conversation: progress, read receipts, a response with a change planned, the author's reply.",
    ),
    (
        "service.png",
        "/services/riverside-ward-7/",
        "A service page: its stories, its figures and the stories-per-month chart.",
    ),
    ("home.png", "/", "The home page: the latest stories and the overall figures."),
    (
        "waiting.png",
        "/_api/waiting.html",
        "For staff (issue 20): the stories about a member's services still waiting for a reply, oldest first, "
        "with their due dates, each with a button that makes their own read-and-respond link.",
    ),
]


class _Quiet(SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


def build_site(root: Path) -> dict:
    from tests.support.env import SITE_URL
    from tests.support.realistic_site import bucket_objects, build, moto_site, write_site

    with moto_site() as m:
        info = build(m["client"], m["pump"])
        write_site(bucket_objects(m["aws"]), root)
        resp = m["client"].http.post(
            "/api/stories",
            body=urlencode({"title": "Kind nurses", "feelings": "safe", "services": "riverside-ward-7"}),
            headers={"Content-Type": "application/x-www-form-urlencoded", "Accept": "text/html"},
        )
        assert resp.status_code == 422, resp.status_code
        html = resp.body.decode() if isinstance(resp.body, bytes) else resp.body
        (root / "_api").mkdir(exist_ok=True)
        # The API's pages point at the site's address; here the site is this server.
        (root / "_api" / "form-errors.html").write_text(html.replace(SITE_URL, ""), encoding="utf-8")
        (root / "_api" / "waiting.html").write_text(waiting_page(m["client"]).replace(SITE_URL, ""), encoding="utf-8")
    return info


def waiting_page(client) -> str:
    """The staff page of stories waiting for a reply, for a member who follows the trust: the stories get
    the promise a trust of 5 working days would give them (promise.start, as the stream calls it)."""
    from chalicelib import promise, wiring
    from chalicelib.core.settings import get_settings
    from tests.support.directories import promised_directory
    from tests.support.staff import staff

    store = wiring.store()
    wiring.directory().load(promised_directory())
    stories, _ = store.published_stories("riverside-trust", "0", "~", 100)
    for story in stories:
        promise.start(store, story["id"], dict(story))
    member = staff("nora.nurse@riverside.nhs.example", {"service": "riverside-trust"}, name="Nora Quinn")
    token = wiring.links().issue("manage", "", member, get_settings().subscriber_link_days, subscriber_id=member)
    resp = client.http.get(f"/api/subscriptions/manage/{token}/waiting", headers={"Accept": "text/html"})
    assert resp.status_code == 200, resp.status_code
    return resp.body.decode() if isinstance(resp.body, bytes) else resp.body


def main() -> int:
    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("POWERTOOLS_LOG_LEVEL", "ERROR")
    logging.getLogger("feedforward").setLevel(logging.ERROR)
    from playwright.sync_api import sync_playwright

    from tests.support.live import CHROMIUM, CHROMIUM_ARGS

    if not os.path.exists(CHROMIUM):
        print(f"{CHROMIUM} is missing: `make chromium` installs it.", file=sys.stderr)
        return 1
    root = Path(tempfile.mkdtemp(prefix="ff-screens-"))
    try:
        print("Rendering a realistic site (about 15 s)...")
        info = build_site(root)
        server = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_Quiet, directory=str(root)))
        threading.Thread(target=server.serve_forever, daemon=True).start()
        base = f"http://127.0.0.1:{server.server_address[1]}"
        OUT.mkdir(parents=True, exist_ok=True)
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            ctx = browser.new_context(**PHONE)
            page = ctx.new_page()
            for name, path, _ in SHOTS:
                page.goto(base + path.format(**info), wait_until="networkidle")
                page.screenshot(path=str(OUT / name), full_page=True)
                print(f"  docs/screenshots/{name}")
            browser.close()
        server.shutdown()
        lines = [
            "# Screenshots",
            "",
            "Phone-size (390×844) pictures of the public site, whole pages. `make screenshots` makes them again",
            "(tools/screenshots.py) from the tests' realistic site (tests/support/realistic_site.py).",
            "",
        ]
        lines += [f"- [{name}]({name}): {what}" for name, _, what in SHOTS]
        (OUT / "README.md").write_text("\n".join(lines) + "\n", encoding="utf-8")
        print("  docs/screenshots/README.md")
        return 0
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    raise SystemExit(main())
