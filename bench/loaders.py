"""Bulk loaders for the bench: big sites written straight to the table, without the API.

They use the store's own key helpers, so the items are the ones the request paths write; they
skip the transactions and checks those paths make, so they are for bench/ only, on new data.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any


def put_subscribers(store: Any, people: Iterable[tuple[dict[str, Any], Iterable[dict[str, Any]]]]) -> int:
    """Write subscribers (profile, and the pointer from their address) with their subscriptions,
    25 items per BatchWriteItem: each is (profile, subscriptions). The items create_subscriber
    and put_subscription write, without their transaction: for bench/ only, on new addresses."""
    # Imported here, as bench/ does everywhere: after bench.env has set up the environment.
    from chalicelib.store import email_hash, to_item, watch_keys

    writes = []
    for profile, subscriptions in people:
        pointer = {"PK": f"EMAIL#{email_hash(profile['email'])}", "SK": "SUBSCRIBER", "subscriber_id": profile["id"]}
        writes.append({"PutRequest": {"Item": to_item(pointer)}})
        writes.append(
            {"PutRequest": {"Item": to_item({"PK": f"SUBSCRIBER#{profile['id']}", "SK": "PROFILE", **profile})}}
        )
        for sub in subscriptions:
            item = {"PK": f"SUBSCRIBER#{sub['subscriber_id']}", "SK": f"SUB#{sub['id']}", **sub}
            if sub.get("status") == "active":
                item |= watch_keys(sub)
            writes.append({"PutRequest": {"Item": to_item(item)}})
    store._batch_write(writes)
    return len(writes)
