"""Which staff subscriptions a story matches: the rules the alerts' reach and the letters share."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from .status import SubscriberStatus


def about_organisation(organisation: Any, services: Iterable[Mapping[str, Any]]) -> bool:
    """Whether a story with these services is about this organisation (a service's path starts at
    it): only its own members see the story's criticality."""
    return bool(organisation) and any((svc.get("path") or [""])[0] == organisation for svc in services)


def criticality_of(story: Mapping[str, Any]) -> int:
    """A story's criticality, 0 to 5 (0 when unset or unreadable)."""
    try:
        return max(0, min(5, int(story.get("criticality") or 0)))
    except (TypeError, ValueError):
        return 0


def matches(subscription: Mapping[str, Any], story: Mapping[str, Any]) -> bool:
    """An active subscription wants this story: no tags or a shared tag, and critical enough."""
    if subscription.get("status") != SubscriberStatus.ACTIVE:
        return False
    tags = set(subscription.get("tags") or [])
    if tags and not tags & set(story.get("tags") or []):
        return False
    return int(subscription.get("min_criticality") or 0) <= criticality_of(story)


def pick_subscription(
    subscriptions: Sequence[Mapping[str, Any]], story: Mapping[str, Any], services: list[dict[str, Any]]
) -> Mapping[str, Any] | None:
    """The person's subscription a story reached them through: an active one on the path of one of
    its services, preferring one whose filters match, then the most specific service."""
    depth: dict[str, int] = {}
    for svc in services:
        for i, slug in enumerate(svc.get("path", [svc["slug"]])):
            depth[slug] = max(depth.get(slug, 0), i)
    candidates = [s for s in subscriptions if s.get("status") == SubscriberStatus.ACTIVE and s.get("service") in depth]
    if not candidates:
        return None
    return min(
        candidates, key=lambda s: (not matches(s, story), -depth[s["service"]], s.get("created_at", ""), s["id"])
    )
