"""The public site's quality bars over EVERY page (issue 4): a realistic site is rendered into the moto bucket
once (tests/support/realistic_site.py), and the HTML pages the API serves are fetched through the chalice test client.

- every HTML page is valid to the Nu HTML Checker (vnu, run once over all of them);
- every feed parses: Atom in feedparser with bozo == 0, JSON Feed with its required fields; sitemaps are XML;
- every page carries a Content-Security-Policy (a <meta> on every page; the API's pages have the header too)
  whose script-src allows no inline script unless hashed, and the page has no inline script, style or handler;
- no page loads anything from another host. Decision: every URL in an attribute (src, href, action, srcset,
  poster, data, formaction) is relative, or on the site or the API; outbound <a> links to other hosts are
  allowed only if listed in OUTBOUND_LINKS (none are intended today: the site never sends readers elsewhere).
"""

from __future__ import annotations

import json
import re
import shutil
import xml.etree.ElementTree as ET
from html.parser import HTMLParser
from urllib.parse import urlencode, urlsplit

import pytest

from chalicelib.site.render import THANKS_KEY
from tests.support.env import API_URL, SITE_URL
from tests.support.vnu import vnu_files

BROWSER = {"Accept": "text/html,application/xhtml+xml;q=0.9,*/*;q=0.8"}
FORM_H = {"Content-Type": "application/x-www-form-urlencoded", **BROWSER}
OUTBOUND_LINKS: set[str] = set()  # hosts a plain <a> may point to; none today
URL_ATTRS = {"src", "href", "action", "srcset", "poster", "data", "formaction", "cite"}


# ---- the site, once for the module ---------------------------------------------------------------


def _text(resp) -> str:
    return resp.body.decode("utf-8") if isinstance(resp.body, bytes) else resp.body


def api_pages(client, pump, info) -> dict[str, dict]:
    """The HTML pages the API serves, as a person's browser gets them: name -> {"status", "headers", "html"}."""
    from chalicelib import wiring
    from chalicelib.core.settings import get_settings
    from chalicelib.views.links import manage_url
    from tests.support import mailbox
    from tests.support.realistic_site import respond_link

    s = get_settings()
    out: dict[str, dict] = {}

    def keep(name, resp):
        out[name] = {"status": resp.status_code, "headers": dict(resp.headers), "html": _text(resp)}

    story = info["conversation"]
    keep("respond", client.http.get(f"/api/respond/{respond_link(story, info['staff'])}", headers=BROWSER))
    keep("author", client.http.get(f"/api/my/{info['author_token']}", headers=BROWSER))
    keep(
        "author-pending",
        client.http.get(f"/api/my/{wiring.links().issue('author', info['pending'], 'author', 30)}", headers=BROWSER),
    )
    keep(
        "form-errors",
        client.http.post("/api/stories", body=urlencode({"title": "Only a title", "feelings": "safe"}), headers=FORM_H),
    )
    signup = {
        "name": "Sam Jones",
        "display_name": "Sam, Ward Sister",
        "role": "Ward Sister",
        "organisation": "riverside-trust",
        "email": "sam.jones@riverside.nhs.example",
        "service": "riverside-general",
        "tags": "",
        "min_criticality": "0",
        "frequency": "immediate",
        "website": "",
    }
    keep(
        "subscribe-errors",
        client.http.post("/api/subscriptions", body=urlencode({**signup, "name": "", "email": "no"}), headers=FORM_H),
    )
    client.http.post("/api/subscriptions", body=urlencode(signup), headers=FORM_H)
    pump.drain()
    mail = mailbox.to(signup["email"])
    assert mail, "the sign-up sent a confirmation email"
    token = re.search(r"/api/subscriptions/confirm/([A-Za-z0-9_-]{43})", mailbox.text_of(mail[-1])).group(1)
    keep("subscribe-confirm", client.http.get(f"/api/subscriptions/confirm/{token}", headers=BROWSER))
    keep("subscribe-confirmed", client.http.post(f"/api/subscriptions/confirm/{token}", body="", headers=FORM_H))
    subscriber = wiring.store().find_subscriber(signup["email"])
    keep("manage", client.http.get(urlsplit(manage_url(wiring.links(), s, subscriber["id"])).path, headers=BROWSER))
    keep("check", client.http.get(f"/api/check/{wiring.links().issue('check', story, 'author', 30)}", headers=BROWSER))
    keep("error-404-link", client.http.get("/api/my/" + "x" * 43, headers=BROWSER))
    keep("error-404-respond", client.http.get("/api/respond/" + "y" * 43, headers=BROWSER))
    keep(
        "error-404-reply",
        client.http.post(
            "/api/my/" + "x" * 43 + "/replies",
            body="text=hi",
            headers={**BROWSER, "Content-Type": "application/x-www-form-urlencoded"},
        ),
    )
    return out


@pytest.fixture(scope="module")
def site():
    from tests.support.realistic_site import bucket_objects, build, moto_site

    with moto_site() as m:
        info = build(m["client"], m["pump"])
        objects = bucket_objects(m["aws"])
        pages = api_pages(m["client"], m["pump"], info)
    html = {k: o["body"].decode("utf-8") for k, o in objects.items() if o["content_type"].startswith("text/html")}
    html.update({f"api:{name}": p["html"] for name, p in pages.items()})
    return {"objects": objects, "api": pages, "html": html, "info": info}


def test_the_realistic_site_has_every_kind_of_page(site):
    keys = set(site["objects"])
    info = site["info"]
    for key in (
        "index.html",
        "tell-your-story/index.html",
        "thank-you/index.html",
        "404.html",
        "subscribe/index.html",
        "services/riverside-ward-7/index.html",
        "tags/nursing/index.html",
        f"stories/{info['conversation']}/index.html",
        "atom.xml",
        "feed.json",
        "sitemap.xml",
    ):
        assert key in keys, key
    assert f"stories/{info['pending']}/index.html" not in keys  # not published
    statuses = {name: p["status"] for name, p in site["api"].items()}
    assert statuses["respond"] == statuses["author"] == statuses["manage"] == 200, statuses
    assert statuses["form-errors"] == 422 and statuses["error-404-link"] == 404, statuses
    for name, p in site["api"].items():
        assert p["headers"].get("Content-Type", "").startswith("text/html"), (name, p["status"], p["html"][:300])


# ---- vnu -----------------------------------------------------------------------------------------


def test_every_html_page_is_valid_to_vnu(site, tmp_path):
    assert shutil.which("java"), "vnu needs java: `make test` installs it (default-jre-headless)"
    files = []
    for name, html in sorted(site["html"].items()):
        path = tmp_path / (re.sub(r"[^A-Za-z0-9._-]", "__", name) + ("" if name.endswith(".html") else ".html"))
        path.write_text(html, encoding="utf-8")
        files.append(str(path))
    assert len(files) >= 30
    errors = vnu_files(*files)
    assert errors == "", errors


# ---- feeds ---------------------------------------------------------------------------------------


def test_every_feed_parses(site):
    import feedparser

    objects, info = site["objects"], site["info"]
    atom = [k for k in objects if k.endswith("atom.xml")]
    json_feeds = [k for k in objects if k.endswith("feed.json")]
    assert len(atom) >= 8 and len(json_feeds) == len(atom)
    for key in atom:
        feed = feedparser.parse(objects[key]["body"])
        assert feed.bozo == 0, (key, feed.get("bozo_exception"))
        assert feed.version == "atom10", key
        assert feed.feed.get("title") and feed.feed.get("id") and feed.feed.get("updated"), key
        for entry in feed.entries:
            assert entry.get("id") and entry.get("title") and entry.get("link", "").startswith(SITE_URL), (key, entry)
    for key in json_feeds:
        feed = json.loads(objects[key]["body"])
        assert feed.get("version", "").startswith("https://jsonfeed.org/version/1"), key
        assert feed.get("title") and isinstance(feed.get("items"), list), key
        for item in feed["items"]:
            assert item.get("id") and (item.get("content_html") or item.get("content_text")), (key, item)
            assert item.get("url", "").startswith(SITE_URL), (key, item)
    home = feedparser.parse(objects["atom.xml"]["body"])
    ids = " ".join(e.link for e in home.entries)
    assert all(sid in ids for sid in info["stories"]) and info["pending"] not in ids
    assert "realistic.author@example.org" not in "".join(o["body"].decode("utf-8", "replace") for o in objects.values())
    for key in [k for k in objects if k.endswith(".xml") and k not in atom]:
        ET.fromstring(objects[key]["body"])  # sitemaps: well-formed XML


# ---- CSP and inline code -------------------------------------------------------------------------


class Page(HTMLParser):
    """What matters in a page for CSP and hosts: its meta CSP, inline scripts and styles, and its URLs."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.csp: list[str] = []
        self.inline_scripts: list[str] = []
        self.problems: list[str] = []
        self.urls: list[tuple[str, str, str]] = []  # (tag, attr, value)
        self._script = None

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "meta" and (a.get("http-equiv") or "").lower() == "content-security-policy":
            self.csp.append(a.get("content") or "")
        if tag == "script":
            self._script = "" if not a.get("src") else None
        if tag == "style":
            self.problems.append("a <style> element")
        for name, value in attrs:
            if name == "style":
                self.problems.append(f"a style attribute on <{tag}>")
            if name.startswith("on"):
                self.problems.append(f"an event handler attribute {name} on <{tag}>")
            if name in URL_ATTRS and value:
                if (value or "").strip().lower().startswith("javascript:"):
                    self.problems.append(f"a javascript: URL on <{tag}>")
                for part in value.split(",") if name == "srcset" else [value]:
                    self.urls.append((tag, name, part.strip().split(" ")[0]))
            if (
                tag == "meta"
                and (a.get("http-equiv") or "").lower() == "refresh"
                and name == "content"
                and "url=" in value.lower()
            ):
                self.urls.append((tag, "refresh", value.lower().split("url=", 1)[1]))

    def handle_data(self, data):
        if self._script is not None:
            self._script += data

    def handle_endtag(self, tag):
        if tag == "script" and self._script is not None:
            if self._script.strip():
                self.inline_scripts.append(self._script)
            self._script = None


def parse(html: str) -> Page:
    p = Page()
    p.feed(html)
    p.close()
    return p


def directives(policy: str) -> dict[str, list[str]]:
    out = {}
    for part in policy.split(";"):
        words = part.split()
        if words:
            out.setdefault(words[0].lower(), words[1:])
    return out


def script_problems(policy: str, inline: list[str]) -> list[str]:
    import base64
    import hashlib

    d = directives(policy)
    sources = d.get("script-src", d.get("default-src"))
    if sources is None:
        return [f"no script-src or default-src in {policy!r}"]
    problems = []
    hashed = [s for s in sources if s.startswith(("'sha256-", "'sha384-", "'sha512-", "'nonce-"))]
    if "'unsafe-inline'" in sources and not hashed:
        problems.append("script-src allows 'unsafe-inline'")
    if "'unsafe-eval'" in sources or "*" in sources or "data:" in sources:
        problems.append(f"script-src is too open: {sources}")
    for code in inline:
        digest = "'sha256-" + base64.b64encode(hashlib.sha256(code.encode()).digest()).decode() + "'"
        if digest not in sources:
            problems.append(f"an inline script whose hash is not in the policy: {code[:60]!r}")
    return problems


def test_every_page_carries_a_csp_with_no_inline_script_unless_hashed(site):
    failures = {}
    for name, html in site["html"].items():
        page = parse(html)
        policies = list(page.csp)
        if name.startswith("api:"):
            header = site["api"][name[4:]]["headers"].get("Content-Security-Policy")
            assert header, f"{name} is served with no Content-Security-Policy header"
            policies.append(header)
        problems = [] if policies else ["no Content-Security-Policy (no <meta http-equiv> and no header)"]
        for policy in policies:
            problems += script_problems(policy, page.inline_scripts)
            if "'unsafe-inline'" in directives(policy).get("style-src", []):
                problems.append("style-src allows 'unsafe-inline'")
        problems += page.problems
        if problems:
            failures[name] = sorted(set(problems))
    assert failures == {}


def test_no_page_references_another_host(site):
    own = {urlsplit(SITE_URL).netloc, urlsplit(API_URL).netloc}
    failures: dict[str, list[str]] = {}
    for name, html in site["html"].items():
        for tag, attr, url in parse(html).urls:
            parts = urlsplit(url)
            if parts.scheme in ("", "http", "https") and not parts.netloc:
                continue  # relative or root-relative: this site
            if parts.scheme in ("mailto", "tel") and tag == "a":
                continue  # not a load: the reader's own mail or phone app
            if parts.scheme == "data" and tag in ("img", "link"):
                continue
            if parts.netloc in own:
                continue
            if tag == "a" and attr == "href" and parts.netloc in OUTBOUND_LINKS:
                continue
            failures.setdefault(name, []).append(f"<{tag} {attr}={url!r}>")
    assert failures == {}


def test_the_form_page_says_what_is_public_and_who_reads_it(site):
    form = site["objects"]["tell-your-story/index.html"]["body"].decode()
    for words in (
        "What will be public",
        "What a moderator will remove",
        "Who will read it",
        "never published",
        "Your email address is never saved",
    ):
        assert words in form, words
    page = parse(form)
    scripts = [u for t, a, u in page.urls if t == "script"]
    assert len(scripts) == 1 and re.fullmatch(r"/assets/form\.[0-9a-f]{12}\.js", scripts[0]), scripts


def test_the_form_and_the_thank_you_page_say_where_to_get_urgent_help_and_how_to_complain(site):
    """Issue 20: people write here in crisis; nothing said where to get urgent help or how to complain."""
    for key in ("tell-your-story/index.html", THANKS_KEY):
        text = site["objects"][key]["body"].decode()
        assert "Need help now?" in text, key
        for number in ('href="tel:999"', 'href="tel:111"', 'href="tel:116123"'):
            assert number in text, (key, number)
        assert "not a formal complaint" in text and "(PALS)" in text, key


def test_every_page_links_to_the_search_page(site):
    """Issue 20: no page linked to the search page; now the header of every page does (the widget,
    shown inside other websites, has no header)."""
    pages = {k: v for k, v in site["html"].items() if not k.endswith("/widget/index.html")}
    words = {"en-GB": "Search", "cy": "Chwilio"}  # the Welsh pages' header in Welsh (issue 19)
    missing = [k for k, html in pages.items() if f'/search/">{words[language(html)]}</a>' not in html]
    assert len(pages) > 20 and missing == []


def language(html: str) -> str:
    return re.search(r'<html lang="([^"]+)"', html).group(1)
