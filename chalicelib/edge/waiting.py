"""The stories waiting for a reply (waiting.py), as a page or JSON from a member's "manage your
alerts" link, and the POST that makes one story's read-and-respond link and goes to it.

Like every page reached from an emailed link, it is never indexed or cached and never passes its
address on.
"""

from __future__ import annotations

from typing import Any

from chalice import Response

from ..site.pages import render_page
from ..views import long_day
from .http import SECURITY_HEADERS, html_response, json_response, page_csp, redirect, wants_html

PRIVATE = {"X-Robots-Tag": "noindex, nofollow"}


def _manage_url(settings: Any, token: str) -> str:
    return f"{settings.api_url.rstrip('/')}/api/subscriptions/manage/{token}"


def page(request: Any, token: str, waiting: Any, settings: Any) -> Response:
    """The list: a page for a browser, the same data as JSON for a program."""
    data = waiting.stories(token)
    if not wants_html(request):
        return json_response(data, headers={**SECURITY_HEADERS, **PRIVATE})
    manage = _manage_url(settings, token)
    stories = [
        s
        | {
            "published_on": long_day(s["published_at"]) if s["published_at"] else "",
            "due_on": long_day(s["due_at"]) if s["due_at"] else "",
            "action": f"{manage}/waiting/{s['id']}",
        }
        for s in data["stories"]
    ]
    html = render_page(
        "waiting.html",
        site_base=settings.site_url.rstrip("/"),
        robots="noindex, nofollow",
        services=data["services"],
        stories=stories,
        complete=data["complete"],
        manage_url=manage,
    )
    return html_response(html, csp=page_csp(settings), headers=PRIVATE)


def respond_link(request: Any, token: str, story_id: str, waiting: Any, settings: Any) -> Response:
    """POST: a new read-and-respond link for one story. A browser goes straight to it (303); a
    program gets its address."""
    raw = waiting.link(token, story_id)
    url = f"{settings.api_url.rstrip('/')}/api/respond/{raw}"
    if not wants_html(request):
        return json_response({"respond_url": url}, status=201, headers={**SECURITY_HEADERS, **PRIVATE})
    return redirect(url)
