"""A subscription as a row: its settings, the key that says two are the same, and loading one row
that an admin vouches for (bulk loading, as from the console): apart from the sign-up flow's requests.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

from .core import clock, ids
from .core.models import SubscriptionRequest
from .core.status import Access, SubscriberStatus
from .membership import grant_entry, record_grant

if TYPE_CHECKING:
    from .store import NewMember, SubscriptionStore


def subscription_settings(req: SubscriptionRequest, svc: dict[str, Any]) -> dict[str, Any]:
    return {
        "service": svc["slug"],
        "service_name": svc["name"],
        "tags": sorted(set(req.tags)),
        "min_criticality": req.min_criticality,
        "frequency": req.frequency.value,
    }


def settings_key(service: str, tags: Iterable[str], min_criticality: Any, frequency: str) -> tuple:
    return (service, tuple(sorted(set(tags))), int(min_criticality or 0), str(frequency))


def load_row(
    store: SubscriptionStore,
    req: SubscriptionRequest,
    org: dict[str, Any],
    svc: dict[str, Any],
    access: Access = Access.READER,
    by: str = "an admin's bulk load",
) -> str:
    """One vouched-for row as an ACTIVE member with `access` and an ACTIVE subscription: "created",
    "updated", "unchanged" or "skipped:<why>" (someone who unsubscribed themselves, a frozen leaver and
    a member of another organisation are left alone). Each grant or change is recorded."""
    now = clock.iso()
    email = str(req.email)
    subscriber: Mapping[str, Any] | None = store.find_subscriber(email)  # or the profile written here
    outcome = "unchanged"
    if subscriber is None:
        profile = _profile(req, org, access, by, now)
        if store.create_subscriber(profile):
            subscriber, outcome = profile, "created"
            record_grant(store, org["slug"], profile, "granted", access, by)
        else:
            subscriber = store.find_subscriber(email)
    if subscriber is None:  # pragma: no cover - removed in between
        raise RuntimeError("a subscriber vanished while loading")
    if subscriber.get("status") in (SubscriberStatus.UNSUBSCRIBED, SubscriberStatus.FROZEN):
        return f"skipped:{subscriber['status']}"
    if subscriber.get("organisation") != org["slug"] and subscriber.get("access"):
        return "skipped:other-organisation"
    if subscriber.get("status") != SubscriberStatus.ACTIVE or subscriber.get("access") != access:
        changes: dict[str, Any] = {"status": SubscriberStatus.ACTIVE, "access": access}
        if subscriber.get("status") != SubscriberStatus.ACTIVE:
            changes |= {"confirmed_at": subscriber.get("confirmed_at") or now}
        if subscriber.get("organisation") != org["slug"]:
            changes |= {"organisation": org["slug"], "organisation_name": org["name"]}
        store.update_subscriber(subscriber["id"], changes | {"granted_at": now, "granted_by": by})
        action = "granted" if not subscriber.get("access") else "changed"
        record_grant(store, org["slug"], subscriber, action, access, by, str(subscriber.get("access", "")))
        outcome = "updated"
    settings = subscription_settings(req, svc)
    wanted = settings_key(req.service, req.tags, req.min_criticality, req.frequency.value)
    mine = [
        s
        for s in store.subscriptions_of(subscriber["id"])
        if s["service"] == svc["slug"] and s.get("status") != SubscriberStatus.UNSUBSCRIBED
    ]
    same = [
        s
        for s in mine
        if settings_key(s["service"], s.get("tags", []), s.get("min_criticality", 0), s.get("frequency", "")) == wanted
    ]
    if any(s.get("status") == SubscriberStatus.ACTIVE for s in same):
        return outcome
    if same or mine:
        target = (same or sorted(mine, key=lambda s: s.get("status") != SubscriberStatus.ACTIVE))[0]
        store.set_subscription_status(
            subscriber["id"], target["id"], SubscriberStatus.ACTIVE, settings | {"confirmed_at": now}
        )
        return "created" if outcome == "created" else "updated"
    store.put_subscription(_subscription(subscriber["id"], settings, now))
    return "created"


def new_member(
    req: SubscriptionRequest, org: dict[str, Any], svc: dict[str, Any], access: Access, by: str
) -> NewMember:
    """What load_row writes for a person the table does not know yet, as one record, so a bulk load
    can write many of them in a few transactions (store.create_members) instead of five calls each."""
    now = clock.iso()
    profile = _profile(req, org, access, by, now)
    return {
        "profile": profile,
        "subscription": _subscription(profile["id"], subscription_settings(req, svc), now),
        "grant": {"org": org["slug"], "at": now, "ref": ids.new_id()} | grant_entry(profile, "granted", access, by),
    }


def _profile(req: SubscriptionRequest, org: dict[str, Any], access: Access, by: str, now: str) -> dict[str, Any]:
    return {
        "id": ids.new_id(),
        "email": str(req.email),
        "name": req.name,
        "display_name": req.display_name or req.name,
        "role": req.role,
        "organisation": org["slug"],
        "organisation_name": org["name"],
        "status": SubscriberStatus.ACTIVE,
        "access": access,
        "created_at": now,
        "confirmed_at": now,
        "granted_at": now,
        "granted_by": by,
        "links_valid_after": "",
        "source": "bulk load",
    }


def _subscription(subscriber_id: str, settings: dict[str, Any], now: str) -> dict[str, Any]:
    return {
        "id": ids.new_id(),
        "subscriber_id": subscriber_id,
        **settings,
        "status": SubscriberStatus.ACTIVE,
        "created_at": now,
        "confirmed_at": now,
        "source": "bulk load",
    }
