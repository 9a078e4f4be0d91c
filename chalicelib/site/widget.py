"""The embeddable widget: for every service a small page made to sit in another site's iframe,
with the service's latest stories, and the copy-paste snippet the service page shows.

Built by the service render job from what it has already read (the service and the first page of
its listing), so the widget costs no extra read. Links open the story on our site in a new tab.
Framing: CloudFront lets any site frame /services/*/widget/* and no other page (infra/template.yaml);
the page itself has no script at all.
"""

from __future__ import annotations

from typing import Any

from . import pages
from .outputs import Delete, Output
from .outputs import page as html_page

WIDGET_KEY = "services/{}/widget/index.html"
STORIES = 5
HEIGHT = 400  # the iframe's height in the snippet (CSS pixels)


def widget_path(slug: str) -> str:
    return f"/services/{slug}/widget/"


def snippet(site_url: str, service: dict[str, Any]) -> str:
    """The iframe HTML a site pastes to show this service's latest stories (escaped by the template)."""
    from markupsafe import escape

    src = f"{site_url.rstrip('/')}{widget_path(service['slug'])}"
    title = f"Latest stories about {service['name']} on FeedForward"
    return (
        f'<iframe src="{escape(src)}" title="{escape(title)}" width="100%" height="{HEIGHT}" loading="lazy"></iframe>'
    )


def page(service: dict[str, Any], stories: list[dict[str, Any]]) -> str:
    """The widget page: the service's name, its latest stories (listing entries as
    views.listing_entry_view shows them), and a way to tell a story."""
    return pages.render_page(
        "widget.html",
        robots="noindex",
        service={"slug": service["slug"], "name": service["name"]},
        stories=stories[:STORIES],
    )


def outputs(slug: str, service: dict[str, Any] | None, stories: list[dict[str, Any]]) -> list[Output]:
    """The widget's objects for the service render job: a Put, or a Delete once the service is gone."""
    key = WIDGET_KEY.format(slug)
    if not service:
        return [Delete(key)]
    return [html_page(key, page(service, stories))]
