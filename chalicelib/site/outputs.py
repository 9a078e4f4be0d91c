"""What a render job produces: objects to put in the site's bucket, and keys to delete.

Page builders (render.py, search.py, widget.py) return these and never touch S3: the render
worker and the full rebuild decide how to write them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ..core import i18n
from .pages import HTML, HTML_CACHE, render_page


@dataclass(frozen=True)
class Put:
    key: str
    body: bytes
    content_type: str
    cache_control: str


@dataclass(frozen=True)
class Delete:
    key: str


Output = Put | Delete


def page(key: str, html: str) -> Put:
    """An HTML page, as every page of the site is served."""
    return Put(key, html.encode("utf-8"), HTML, HTML_CACHE)


def page_path(key: str) -> str | None:
    """A page's address from its key ("stories/x/index.html" -> "/stories/x/"); None for "404.html"."""
    return "/" + key.removesuffix("index.html") if key == "index.html" or key.endswith("/index.html") else None


def localised(key: str, template: str, context: Callable[[], dict[str, Any]]) -> list[Output]:
    """A page in every language: at `key` in English and at cy/`key` in Welsh (issue 19). The context is
    built once per language, so the words views put in it (months, roles, progress) are in that language;
    the store was read before, once."""
    out: list[Output] = []
    for locale in i18n.LOCALES:
        with i18n.using(locale):
            html = render_page(template, page_path=page_path(key), **context())
        out.append(page(i18n.site_key(key, locale), html))
    return out


def gone(key: str) -> list[Output]:
    """A page taken down in every language."""
    return [Delete(i18n.site_key(key, locale)) for locale in i18n.LOCALES]
