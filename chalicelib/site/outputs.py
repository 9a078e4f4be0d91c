"""What a render job produces: objects to put in the site's bucket, and keys to delete.

Page builders (render.py, search.py, widget.py) return these and never touch S3: the render
worker and the full rebuild decide how to write them.
"""

from __future__ import annotations

from dataclasses import dataclass

from .pages import HTML, HTML_CACHE


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
