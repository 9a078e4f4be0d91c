"""The moderation screen: one HTML page plus its script and style, served by the API.

The page is a shell; app.js does the work (sign in, the queues, one story, a decision) by
calling the moderation API on the same origin. Its CSP allows no inline script or style,
so everything lives in the two assets. Files are read on first use, never at import.
"""

from __future__ import annotations

import hashlib
from functools import cache, lru_cache
from pathlib import Path
from typing import Any

from chalice import Response

from ..core import templating
from ..core.errors import NotFound
from ..core.labels import CRITICALITY_WORDS, LIMITS, ROLE_LABELS, ROUTE_LABELS, TAKEN_ROUTES, Role
from .http import html_response

ROOT = Path(__file__).resolve().parent.parent
TEMPLATES = ROOT / "templates" / "moderation"
STATIC = ROOT / "static" / "moderation"

ASSETS = {
    "app.js": "text/javascript; charset=utf-8",
    "app.css": "text/css; charset=utf-8",
}
# The screen's own policy: script and style from the API itself, and calls to it only.
CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self' data:; "
    "base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)
CRITICALITY = tuple((n, words.capitalize()) for n, words in enumerate(CRITICALITY_WORDS))


@lru_cache(maxsize=1)
def _environment() -> Any:
    from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

    env = Environment(
        loader=FileSystemLoader(str(TEMPLATES)),
        autoescape=select_autoescape(default=True, default_for_string=True),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    return templating.attach(env, "screen")


def screen_templates() -> tuple[str, Any, list[str]]:
    """The screen's environment and its templates (core/templating.py compiles them for the package)."""
    env = _environment()
    return "screen", env, env.list_templates()


@cache
def _read(name: str) -> str:
    return (STATIC / name).read_text(encoding="utf-8")


@cache
def _version(name: str) -> str:
    return hashlib.sha256(_read(name).encode("utf-8")).hexdigest()[:12]


def page(settings: Any) -> str:
    """The screen's HTML. Assets are linked relative to /api/moderate, so any stage prefix works."""
    return (
        _environment()
        .get_template("screen.html")
        .render(
            stage=getattr(settings, "stage", ""),
            site_url=getattr(settings, "site_url", ""),
            criticality=CRITICALITY,
            routes=[(r, ROUTE_LABELS[r][:1].upper() + ROUTE_LABELS[r][1:]) for r in TAKEN_ROUTES],  # issue 19
            roles=[(r.value, ROLE_LABELS[r.value][:1].upper() + ROLE_LABELS[r.value][1:]) for r in Role],
            limits={f: hi for f, (_lo, hi) in LIMITS.items()},  # the form's limits, so an edit fits what was told
            css_version=_version("app.css"),
            js_version=_version("app.js"),
        )
    )


def asset(name: str) -> tuple[str, str]:
    """(body, content type) of app.js or app.css; anything else is 404."""
    content_type = ASSETS.get(name)
    if content_type is None:
        raise NotFound(f"There is no moderation asset called {name!r}.")
    return _read(name), content_type


def screen_response(settings: Any) -> Response:
    return html_response(page(settings), csp=CSP)


def asset_response(name: str) -> Response:
    body, content_type = asset(name)
    return Response(
        body=body,
        status_code=200,
        headers={"Content-Type": content_type, "Cache-Control": "no-cache", "X-Content-Type-Options": "nosniff"},
    )
