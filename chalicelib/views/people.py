"""Staff subscriptions as pages and emails show them: their settings in plain words, and the
links each email to a subscriber carries (a fresh one every time: links.py issues them)."""

from __future__ import annotations

from typing import Any

from ..core.models import CRITICALITY_WORDS
from .story import within

FREQUENCY_WORDS = {
    "immediate": "As soon as each story is published",
    "digest": "A daily digest",
}
STATUS_WORDS = {
    "active": "On",
    "pending": "Waiting for you to confirm it (check your email)",
    "unsubscribed": "Stopped",
}


# ---- words -----------------------------------------------------------------------------------


def criticality_words(n: int) -> str:
    """What a minimum criticality means for the stories someone hears about."""
    n = int(n or 0)
    if n <= 0:
        return "Every story, whatever its criticality"
    if n >= 5:
        return "Only stories rated severely critical (5 out of 5)"
    return f"Stories rated {CRITICALITY_WORDS[n]} or more ({n} or higher out of 5)"


def criticality_choices() -> list[dict[str, str]]:
    out = [{"value": "0", "label": "Every story", "hint": "From 0, not critical, upwards"}]
    for n in range(1, 5):
        out.append({"value": str(n), "label": f"{CRITICALITY_WORDS[n].capitalize()} or more", "hint": f"{n} or higher out of 5"})
    out.append({"value": "5", "label": "Only severely critical stories", "hint": "5 out of 5"})
    return out


def frequency_choices() -> list[dict[str, str]]:
    return [
        {"value": "immediate", "label": FREQUENCY_WORDS["immediate"], "hint": "One email for each story"},
        {"value": "digest", "label": FREQUENCY_WORDS["digest"],
         "hint": "One email each morning listing the stories published the day before, and none on days without any"},
    ]


def join(items: list[str], word: str = "and") -> str:
    """["a", "b", "c"] as "a, b and c" (or another last word)."""
    if len(items) <= 1:
        return "".join(items)
    return ", ".join(items[:-1]) + f" {word} " + items[-1]


def _tags_words(tags: list[str]) -> str:
    if not tags:
        return "Stories on any subject"
    return "Only stories tagged " + join([t for t in tags], "or")


def subscription_view(sub: dict[str, Any], service: dict[str, Any] | None = None) -> dict[str, Any]:
    """One subscription in plain words, for pages and emails."""
    tags = list(sub.get("tags", []))
    return {
        "id": sub["id"],
        "service": sub.get("service", ""),
        "service_name": (service or {}).get("name") or sub.get("service_name", sub.get("service", "")),
        "within": within(service),
        "tags": tags,
        "tags_words": _tags_words(tags),
        "min_criticality": int(sub.get("min_criticality", 0)),
        "criticality_words": criticality_words(sub.get("min_criticality", 0)),
        "frequency": sub.get("frequency", "immediate"),
        "frequency_words": FREQUENCY_WORDS.get(sub.get("frequency", ""), sub.get("frequency", "")),
        "status": sub.get("status", ""),
        "status_words": STATUS_WORDS.get(sub.get("status", ""), sub.get("status", "")),
    }


# ---- the links a subscriber's emails carry ------------------------------------------------------


def unsubscribe_url(links: Any, settings: Any, subscriber_id: str) -> str:
    """A new one-click unsubscribe link for one person."""
    token = links.issue("unsubscribe", "", subscriber_id, settings.subscriber_link_days, subscriber_id=subscriber_id)
    return f"{settings.api_url}/api/unsubscribe/{token}"


def unsubscribe_headers(links: Any, settings: Any, subscriber_id: str) -> dict[str, str]:
    """RFC 8058 one-click unsubscribe headers for an alert email (issues a new unsubscribe link)."""
    return list_unsubscribe(unsubscribe_url(links, settings, subscriber_id))


def list_unsubscribe(url: str) -> dict[str, str]:
    """The two RFC 8058 headers for an unsubscribe link already issued (e.g. also shown in the body)."""
    return {"List-Unsubscribe": f"<{url}>", "List-Unsubscribe-Post": "List-Unsubscribe=One-Click"}


def manage_url(links: Any, settings: Any, subscriber_id: str) -> str:
    """A new link to the person's page for changing or stopping their alerts."""
    token = links.issue("manage", "", subscriber_id, settings.subscriber_link_days, subscriber_id=subscriber_id)
    return f"{settings.api_url}/api/subscriptions/manage/{token}"


def subscriber_links(links: Any, settings: Any, subscriber_id: str) -> tuple[dict[str, str], str, str]:
    """(RFC 8058 headers, unsubscribe URL, manage URL) for one person."""
    unsubscribe = unsubscribe_url(links, settings, subscriber_id)
    return list_unsubscribe(unsubscribe), unsubscribe, manage_url(links, settings, subscriber_id)
