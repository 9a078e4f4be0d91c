"""The links every email to a subscriber carries: one-click unsubscribe (RFC 8058) and the page to
manage their alerts. Each call issues a new capability link, so letters ask for them per person."""

from __future__ import annotations

from contextlib import AbstractContextManager
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from ..core.settings import Settings


class LinkIssuer(Protocol):
    """What views and letters ask of links.Links, named here because views import no flow."""

    def issue(self, purpose: str, story_id: str, subject: str, days: int, **bound: str) -> str: ...
    def held(self) -> AbstractContextManager[None]: ...


def unsubscribe_url(links: LinkIssuer, settings: Settings, subscriber_id: str) -> str:
    """A new one-click unsubscribe link for one person."""
    token = links.issue("unsubscribe", "", subscriber_id, settings.subscriber_link_days, subscriber_id=subscriber_id)
    return f"{settings.api_url}/api/unsubscribe/{token}"


def unsubscribe_headers(links: LinkIssuer, settings: Settings, subscriber_id: str) -> dict[str, str]:
    """RFC 8058 one-click unsubscribe headers for an alert email (issues a new unsubscribe link)."""
    return list_unsubscribe(unsubscribe_url(links, settings, subscriber_id))


def list_unsubscribe(url: str) -> dict[str, str]:
    """The two RFC 8058 headers for an unsubscribe link already issued (e.g. also shown in the body)."""
    return {"List-Unsubscribe": f"<{url}>", "List-Unsubscribe-Post": "List-Unsubscribe=One-Click"}


def manage_url(links: LinkIssuer, settings: Settings, subscriber_id: str) -> str:
    """A new link to the person's page for changing or stopping their alerts."""
    token = links.issue("manage", "", subscriber_id, settings.subscriber_link_days, subscriber_id=subscriber_id)
    return f"{settings.api_url}/api/subscriptions/manage/{token}"


def subscriber_links(links: LinkIssuer, settings: Settings, subscriber_id: str) -> tuple[dict[str, str], str, str]:
    """(RFC 8058 headers, unsubscribe URL, manage URL) for one person."""
    unsubscribe = unsubscribe_url(links, settings, subscriber_id)
    return list_unsubscribe(unsubscribe), unsubscribe, manage_url(links, settings, subscriber_id)
