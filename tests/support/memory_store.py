"""An in-memory stand-in for the Store's methods that the me-too, limits and links flows use.

The same items as the real Store writes (same keys, same attributes), kept in a dict, with the same
conditional writes and counters, so a flow test that never reads the stream needs no moto. Its
behaviour is pinned to the real Store's by tests/store/test_store_contract.py, which runs the same
assertions against both.
"""

from __future__ import annotations

import copy
import threading
from typing import Any

from chalicelib.store import TTL_ATTRIBUTE, email_hash
from chalicelib.store.partners import partner_item
from chalicelib.store.table import _public


class MemoryStore:
    def __init__(self) -> None:
        self._items: dict[tuple[str, str], dict[str, Any]] = {}
        self._lock = threading.Lock()  # conditional writes are atomic, as DynamoDB's are

    # ---- the table ------------------------------------------------------------------------------

    def _get(self, pk: str, sk: str) -> dict[str, Any] | None:
        item = self._items.get((pk, sk))
        return copy.deepcopy(item) if item is not None else None

    def _put(self, item: dict[str, Any], once: bool = False) -> bool:
        """Write an item (top-level None attributes dropped, as to_item drops them); `once`: only if new."""
        item = {k: copy.deepcopy(v) for k, v in item.items() if v is not None}
        key = (item["PK"], item["SK"])
        with self._lock:
            if once and key in self._items:
                return False
            self._items[key] = item
            return True

    def _begins(self, pk: str, prefix: str) -> list[dict[str, Any]]:
        return [copy.deepcopy(i) for (p, s), i in sorted(self._items.items()) if p == pk and s.startswith(prefix)]

    # ---- stories --------------------------------------------------------------------------------

    def create_story(self, story: dict[str, Any], contact: dict[str, Any] | None) -> None:
        sid = story["id"]
        with self._lock:
            if (f"STORY#{sid}", "STORY") in self._items:
                raise ValueError(f"story {sid} exists")  # the real Store: TransactionCanceledException
        self._put({"PK": f"STORY#{sid}", "SK": "STORY", **story})
        if contact:
            self._put({"PK": f"PRIVATE#{sid}", "SK": "CONTACT", **contact})

    def get_story(self, story_id: str, consistent: bool = False) -> dict[str, Any] | None:
        item = self._get(f"STORY#{story_id}", "STORY")
        return _public(item) if item else None

    # ---- links ----------------------------------------------------------------------------------

    def put_token(self, token_hash: str, token: dict[str, Any], expires_at: int) -> None:
        item = {
            "PK": f"TOKEN#{token_hash}",
            "SK": "TOKEN",
            TTL_ATTRIBUTE: expires_at,
            "expires_at": expires_at,
            **token,
        }
        if not self._put(item, once=True):
            raise KeyError(f"token {token_hash} exists")  # the real Store: ConditionalCheckFailedException

    def get_token(self, token_hash: str) -> dict[str, Any] | None:
        item = self._get(f"TOKEN#{token_hash}", "TOKEN")
        return _public(item) if item else None

    # ---- staff ----------------------------------------------------------------------------------

    def create_subscriber(self, profile: dict[str, Any]) -> bool:
        sid = profile["id"]
        pointer = (f"EMAIL#{email_hash(profile['email'])}", "SUBSCRIBER")
        with self._lock:
            if pointer in self._items or (f"SUBSCRIBER#{sid}", "PROFILE") in self._items:
                return False
        self._put({"PK": pointer[0], "SK": pointer[1], "subscriber_id": sid})
        self._put({"PK": f"SUBSCRIBER#{sid}", "SK": "PROFILE", **profile})
        return True

    def get_subscriber(self, subscriber_id: str, consistent: bool = True) -> dict[str, Any] | None:
        item = self._get(f"SUBSCRIBER#{subscriber_id}", "PROFILE")
        return _public(item) if item else None

    def find_subscriber(self, email: str) -> dict[str, Any] | None:
        pointer = self._get(f"EMAIL#{email_hash(email)}", "SUBSCRIBER")
        return self.get_subscriber(pointer["subscriber_id"]) if pointer else None

    def known_addresses(self, emails: Any) -> set[str]:
        return {e for e in emails if (f"EMAIL#{email_hash(e)}", "SUBSCRIBER") in self._items}

    def create_members(self, members: list[dict[str, Any]]) -> bool:
        """All or none, like the real Store's transaction; False if an address or profile exists."""
        with self._lock:
            for m in members:
                p = m["profile"]
                if (f"EMAIL#{email_hash(p['email'])}", "SUBSCRIBER") in self._items:
                    return False
                if (f"SUBSCRIBER#{p['id']}", "PROFILE") in self._items:
                    return False
            for m in members:
                p, s, g = m["profile"], m["subscription"], m["grant"]
                for item in (
                    {"PK": f"EMAIL#{email_hash(p['email'])}", "SK": "SUBSCRIBER", "subscriber_id": p["id"]},
                    {"PK": f"SUBSCRIBER#{p['id']}", "SK": "PROFILE", **p},
                    {"PK": f"SUBSCRIBER#{p['id']}", "SK": f"SUB#{s['id']}", **s},
                    {"PK": f"ORG#{g['org']}", "SK": f"GRANT#{g['at']}#{g['ref']}"}
                    | {k: v for k, v in g.items() if k not in ("org", "ref")},
                ):
                    self._items[(item["PK"], item["SK"])] = copy.deepcopy(item)
        return True

    def subscriptions_of(self, subscriber_id: str) -> list[dict[str, Any]]:
        return [_public(i) for i in self._begins(f"SUBSCRIBER#{subscriber_id}", "SUB#")]

    def grants(self, slug: str, limit: int = 50) -> list[dict[str, Any]]:
        return [_public(i) for i in reversed(self._begins(f"ORG#{slug}", "GRANT#"))][:limit]

    # ---- directory (only what loading members reads) ---------------------------------------------

    def put_service(self, service: dict[str, Any], search: Any = None) -> str:
        """The service item only: the memory store keeps no children index or search entries."""
        service = {k: v for k, v in service.items() if v is not None}
        current = self._get(f"SERVICE#{service['slug']}", "SERVICE")
        if current and _public(current) == service:
            return "unchanged"
        self._put({"PK": f"SERVICE#{service['slug']}", "SK": "SERVICE", **service})
        return "updated" if current else "created"

    def get_service(self, slug: str) -> dict[str, Any] | None:
        item = self._get(f"SERVICE#{slug}", "SERVICE")
        return _public(item) if item else None

    def get_services(self, slugs: Any) -> dict[str, dict[str, Any]]:
        found = (self._get(f"SERVICE#{s}", "SERVICE") for s in set(slugs))
        return {i["slug"]: _public(i) for i in found if i}

    def put_subscription(self, subscription: dict[str, Any]) -> None:
        self._put(
            {"PK": f"SUBSCRIBER#{subscription['subscriber_id']}", "SK": f"SUB#{subscription['id']}", **subscription}
        )

    def get_subscription(self, subscriber_id: str, subscription_id: str) -> dict[str, Any] | None:
        item = self._get(f"SUBSCRIBER#{subscriber_id}", f"SUB#{subscription_id}")
        return _public(item) if item else None

    # ---- limits ---------------------------------------------------------------------------------

    def count_hit(self, key: str, window: int, expires_at: int) -> int:
        with self._lock:
            item = self._items.setdefault((f"LIMIT#{key}", str(window)), {"PK": f"LIMIT#{key}", "SK": str(window)})
            item["hits"] = item.get("hits", 0) + 1
            item[TTL_ATTRIBUTE] = expires_at
            return item["hits"]

    def first_decision(self, key: str, allowed: bool | None, expires_at: int) -> bool | None:
        if allowed is not None:
            self._put({"PK": f"LIMIT#once#{key}", "SK": "DECISION", "allowed": allowed}, once=True)
        item = self._get(f"LIMIT#once#{key}", "DECISION")
        return bool(item["allowed"]) if item else None

    def hits(self, key: str, window: int) -> int:
        item = self._get(f"LIMIT#{key}", str(window))
        return int(item.get("hits", 0)) if item else 0

    # ---- me too ---------------------------------------------------------------------------------

    def add_me_too(self, story_id: str, me_too: dict[str, Any], email: str | None) -> bool:
        if not self._put({"PK": f"METOO#{story_id}", "SK": me_too["id"], "story_id": story_id, **me_too}, once=True):
            return False
        if email:
            self._put(
                {
                    "PK": f"PRIVATE#{story_id}",
                    "SK": f"METOO#{me_too['id']}",
                    "email": email,
                    "created_at": me_too["created_at"],
                }
            )
        return True

    def count_me_too(self, story_id: str, me_too_id: str) -> bool:
        with self._lock:
            marker = self._items.get((f"METOO#{story_id}", me_too_id))
            story = self._items.get((f"STORY#{story_id}", "STORY"))
            if not marker or marker.get("counted") or story is None:
                return False
            story["me_too_count"] = story.get("me_too_count", 0) + 1
            marker["counted"] = True
            return True

    def me_too_contacts(self, story_id: str) -> list[str]:
        return [i["SK"].split("#", 1)[1] for i in self._begins(f"PRIVATE#{story_id}", "METOO#")]

    def me_too_contact(self, story_id: str, me_too_id: str) -> dict[str, Any] | None:
        item = self._get(f"PRIVATE#{story_id}", f"METOO#{me_too_id}")
        return _public(item) if item else None

    # ---- partners' webhooks ---------------------------------------------------------------------

    def create_partner(self, partner: dict[str, Any]) -> bool:
        return self._put(partner_item(partner), once=True)

    def get_partner(self, partner_id: str) -> dict[str, Any] | None:
        item = self._get(f"PARTNER#{partner_id}", "PARTNER")
        return _public(item) if item else None

    def partners_watching(self, slugs: Any) -> list[dict[str, Any]]:
        wanted = {f"PARTNERS#{s}" for s in slugs}
        with self._lock:
            found = [copy.deepcopy(i) for i in self._items.values() if i.get("GSI1PK") in wanted]
        return [_public(i) for i in sorted(found, key=lambda i: (i["GSI1PK"], i["GSI1SK"]))]

    def count_failure(self, partner_id: str) -> int:
        with self._lock:
            item = self._items[(f"PARTNER#{partner_id}", "PARTNER")]  # KeyError, as the real one refuses
            item["failures"] = item.get("failures", 0) + 1
            return int(item["failures"])

    def clear_failures(self, partner_id: str) -> None:
        with self._lock:
            if (item := self._items.get((f"PARTNER#{partner_id}", "PARTNER"))) is not None:
                item["failures"] = 0

    def pause_partner(self, partner_id: str, at: str) -> bool:
        with self._lock:
            item = self._items.get((f"PARTNER#{partner_id}", "PARTNER"))
            if item is None or item.get("paused_at"):
                return False
            item["paused_at"] = at
            return True

    def resume_partner(self, partner_id: str) -> bool:
        with self._lock:
            item = self._items.get((f"PARTNER#{partner_id}", "PARTNER"))
            if item is None:
                return False
            item["paused_at"], item["failures"] = "", 0
            return True

    def hold_delivery(self, partner_id: str, delivery: dict[str, Any]) -> None:
        self._put({"PK": f"PARTNER#{partner_id}", "SK": f"HELD#{delivery['id']}", "delivery": delivery})

    def held_deliveries(self, partner_id: str, limit: int = 100) -> list[dict[str, Any]]:
        return [dict(i["delivery"]) for i in self._begins(f"PARTNER#{partner_id}", "HELD#")][:limit]

    def release_delivery(self, partner_id: str, delivery_id: str) -> None:
        with self._lock:
            self._items.pop((f"PARTNER#{partner_id}", f"HELD#{delivery_id}"), None)
