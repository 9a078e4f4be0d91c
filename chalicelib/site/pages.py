"""The shared Jinja2 environment, the site's assets, and the small helpers every page uses.

The environment is built on first use (never at import) with autoescaping on for every
template, so any text a person typed is always escaped. Stories are plain text: their
line breaks are kept by `paragraphs` plus CSS `white-space: pre-line`.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable
from datetime import UTC, datetime
from functools import lru_cache
from pathlib import Path
from typing import Any

from ..core import i18n, templating
from ..core.settings import get_settings
from ..views import feeling_label, month_year, role_label

ROOT = Path(__file__).resolve().parent.parent
TEMPLATES = ROOT / "templates"
STATIC = ROOT / "static"

HTML = "text/html; charset=utf-8"
CSS = "text/css; charset=utf-8"
JS = "text/javascript; charset=utf-8"
TEXT = "text/plain; charset=utf-8"

HTML_CACHE = "public, max-age=60"
ASSET_CACHE = "public, max-age=3600"  # assets/site.css: a stable address, short cache
HASHED_CACHE = "public, max-age=31536000, immutable"  # assets/site.<hash>.css: never changes

# ---- assets ---------------------------------------------------------------------------------


class Asset:
    """A file from chalicelib/static, published at a stable key and at a content-hashed key."""

    def __init__(self, name: str, content_type: str):
        self.name = name
        self.content_type = content_type
        self.body = (STATIC / name).read_bytes()
        self.digest = hashlib.sha256(self.body).hexdigest()[:12]
        stem, dot, ext = name.rpartition(".")
        self.key = f"assets/{name}"
        self.hashed_key = f"assets/{stem}.{self.digest}{dot}{ext}"


@lru_cache(maxsize=1)
def assets() -> dict[str, Asset]:
    return {
        "css": Asset("site.css", CSS),
        "form_js": Asset("form.js", JS),
        "subscribe_js": Asset("subscribe.js", JS),  # the sign-up's services narrowed to the organisation
    }


# ---- formatting -----------------------------------------------------------------------------


def _london(moment: datetime) -> datetime:
    try:
        from zoneinfo import ZoneInfo

        return moment.astimezone(ZoneInfo("Europe/London"))
    except Exception:  # no time zone database: UTC is close enough for a date
        return moment.astimezone(UTC)


def long_time(value: Any) -> str:
    """An ISO timestamp as "3:45pm on 3 December 2026" (UK time)."""
    day = long_date(value)
    try:
        moment = _london(datetime.fromisoformat(str(value).replace("Z", "+00:00")))
    except ValueError:
        return day
    hour = moment.hour % 12 or 12
    half = i18n.gettext("am") if moment.hour < 12 else i18n.gettext("pm")
    return i18n.gettext("%(time)s on %(date)s") % {"time": f"{hour}:{moment.minute:02d}{half}", "date": day}


def long_date(value: Any) -> str:
    """An ISO timestamp as "3 December 2026" (UK time). Anything unreadable shows as given."""
    if not value:
        return ""
    try:
        moment = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return str(value)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    moment = _london(moment)
    return f"{moment.day} {i18n.month_name(moment.month)} {moment.year}"


def iso_date(value: Any) -> str:
    """The machine-readable date for <time datetime=...>: YYYY-MM-DD (UK time)."""
    if not value:
        return ""
    try:
        moment = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return ""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return _london(moment).date().isoformat()


def paragraphs(text: Any) -> list[str]:
    """Plain text as paragraphs: blank lines split them, single line breaks stay (CSS pre-line)."""
    value = str(text or "").replace("\r\n", "\n").replace("\r", "\n").strip()
    return [p.strip("\n") for p in value.split("\n\n") if p.strip()]


def join_words(items: Iterable[str]) -> str:
    """["a", "b", "c"] as "a, b and c"."""
    items = [str(i) for i in items]
    if len(items) <= 1:
        return "".join(items)
    return ", ".join(items[:-1]) + i18n.gettext(" and ") + items[-1]


# How soon a moderator reads a new story, as the thank-you page and the private page promise it.
MODERATION_WORKING_DAYS = 2


def reference(story_id: Any) -> str:
    """A story's id as a reference a person can read out: "1M98 TCT7 Z9GJ FN9A5" (form.js does the same)."""
    text = str(story_id or "").upper()
    groups = [text[i : i + 4] for i in range(0, len(text), 4)]
    if len(groups) > 1 and len(groups[-1]) == 1:
        groups[-2:] = [groups[-2] + groups[-1]]
    return " ".join(groups)


def not_yet_said(name: str, *parts: str) -> list[str]:
    """The parts of a byline after the name that it does not already say: a display name of "Nora,
    Staff Nurse" with the role "Staff Nurse" reads "Nora, Staff Nurse", not "Nora, Staff Nurse, Staff
    Nurse" (issue 20). Whole words only ("Nora Nurseworth", "Nurse" is said), case and spacing
    ignored; an empty part is left out."""
    said = " ".join(str(name).lower().split())
    out = []
    for part in parts:
        words = " ".join(str(part or "").lower().split())
        if words and not re.search(rf"(?<!\w){re.escape(words)}(?!\w)", said):
            out.append(str(part).strip())
            said += ", " + words
    return out


# ---- the environment ------------------------------------------------------------------------


@lru_cache(maxsize=1)
def environment() -> Any:
    from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

    env = Environment(
        loader=FileSystemLoader(str(TEMPLATES)),
        # Text is translated as it is rendered, into the language in use (core/i18n.py: i18n.using).
        extensions=["jinja2.ext.i18n"],
        autoescape=select_autoescape(enabled_extensions=("html", "xml"), default_for_string=True, default=True),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.install_gettext_translations(i18n.CURRENT, newstyle=True)  # type: ignore[attr-defined]  # jinja2.ext.i18n adds it
    env.filters.update(
        long_date=long_date,
        long_time=long_time,
        iso_date=iso_date,
        month_year=month_year,
        role_label=role_label,
        feeling_label=feeling_label,
        paragraphs=paragraphs,
        join_words=join_words,
        not_yet_said=not_yet_said,
        reference=reference,
    )
    return templating.attach(env, "site")


def page_templates() -> tuple[str, Any, list[str]]:
    """The pages' environment and its templates (core/templating.py compiles them for the package)."""
    env = environment()
    return "site", env, [n for n in env.list_templates() if n.startswith("pages/")]


def meta_csp() -> str:
    """The policy every page carries in a <meta> (the static site has no headers of its own; the
    API's pages get a header too, and a browser enforces both). No inline script or style at all;
    the form posts to, and the service finder fetches from, the API (another origin when local); a
    form sent again from the API's page of errors is redirected to the site's thank-you page."""
    s = get_settings()
    site, api = s.site_url.rstrip("/"), s.api_url.rstrip("/")
    return (
        f"default-src 'none'; script-src 'self' {site}; style-src 'self' {site}; img-src 'self' {site} data:; "
        f"connect-src 'self' {api}; form-action 'self' {api} {site}; base-uri 'none'"
    )


def switch(page_path: str | None, site_base: str = "") -> dict[str, Any]:
    """The language switch and hreflang alternates of a page at `page_path` (its path in English, "/stories/x/"):
    the same page in every language, the one in use marked. None (a page with no fixed address): no switch."""
    if page_path is None:
        return {}
    here = i18n.current()
    others = [
        {"lang": i18n.LANG_TAGS[loc], "name": i18n.NAMES[loc], "href": f"{site_base}{i18n.prefix(loc)}{page_path}"}
        for loc in i18n.LOCALES
    ]
    return {"alternates": others, "other": [o for o, loc in zip(others, i18n.LOCALES) if loc != here]}


def render_page(
    template: str, *, site_base: str = "", robots: str = "", page_path: str | None = None, **context: Any
) -> str:
    """Render pages/<template> in the language in use (i18n.using).

    site_base is "" for pages on the static site (root-relative links) and the site's
    address for pages the API serves, whose links and stylesheet must point at the site.
    lang_base is where the pages of the language in use live ("/cy" for Welsh), for links to
    the pages that are translated; page_path is this page's own path, for the language switch.
    """
    a = assets()
    # The site's own pages use the content-hashed stylesheet (cached for a year). Pages the
    # API serves use the stable address, which exists whichever deploy rendered the site.
    css = a["css"].hashed_key if not site_base else a["css"].key
    return (
        environment()
        .get_template(f"pages/{template}")
        .render(
            site_base=site_base,
            lang_base=site_base + i18n.prefix(),
            lang=i18n.lang_tag(),
            locale=i18n.current(),
            # A page the API serves may give its own switch (its address in each language, as query strings).
            languages=context.pop("languages", None) or switch(page_path, site_base),
            robots=robots,
            css_url=f"{site_base}/{css}",
            form_js_url=f"{site_base}/{a['form_js'].hashed_key}",
            subscribe_js_url=f"{site_base}/{a['subscribe_js'].hashed_key}",
            csp=context.pop("csp", None) or meta_csp(),
            **context,
        )
    )
