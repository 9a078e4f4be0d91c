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

from chalicelib.core.errors import Conflict
from chalicelib.store import TTL_ATTRIBUTE, email_hash
from chalicelib.store.partners import WATCHED_ITEM, partner_item, watched_slugs
from chalicelib.store.table import _public
from tests.support.memory_sources import MemorySources


class MemoryStore(MemorySources):
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

    def put_tokens(self, tokens: Any) -> None:
        for token_hash, token, expires_at in tokens:
            self.put_token(token_hash, token, expires_at)

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

    def get_holder(self, subscriber_id: str, subscription_id: str) -> tuple[Any, Any]:
        return self.get_subscriber(subscriber_id), self.get_subscription(subscriber_id, subscription_id)

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

    # ---- the thread, and concerns about what is published (issue 16) ------------------------------

    def put_response(self, story_id: str, response: dict[str, Any]) -> None:
        self._put({"PK": f"STORY#{story_id}", "SK": f"RESPONSE#{response['id']}", "story_id": story_id, **response})

    def put_reply(self, story_id: str, reply: dict[str, Any]) -> None:
        self._put({"PK": f"STORY#{story_id}", "SK": f"REPLY#{reply['id']}", "story_id": story_id, **reply})

    def get_thread_item(self, story_id: str, kind: str, item_id: str) -> dict[str, Any] | None:
        item = self._get(f"STORY#{story_id}", f"{kind.upper()}#{item_id}")
        return _public(item) | {"item": kind} if item else None

    def audit_trail(self, story_id: str) -> list[dict[str, Any]]:
        return [_public(i) for i in self._begins(f"PRIVATE#{story_id}", "AUDIT#")]

    def get_case(self, story_id: str, target: str) -> dict[str, Any] | None:
        item = self._get(f"PRIVATE#{story_id}", f"CASE#{target}")
        return _public(item) if item else None

    def get_concern(self, story_id: str, target: str, report_id: str) -> dict[str, Any] | None:
        item = self._get(f"PRIVATE#{story_id}", f"CONCERN#{target}#{report_id}")
        return _public(item) if item else None

    def _item_key(self, case: dict[str, Any]) -> tuple[str, str]:
        kind = case["kind"]
        return f"STORY#{case['story_id']}", "STORY" if kind == "story" else f"{kind.upper()}#{case.get('item_id', '')}"

    def _case_ok(self, case: dict[str, Any], expected: int, must_be_open: bool = False) -> bool:
        there = self._items.get((f"PRIVATE#{case['story_id']}", f"CASE#{case['target']}"))
        if not expected:
            return there is None
        return bool(there) and there.get("version") == expected and (not must_be_open or there.get("state") == "open")

    def _apply(self, case: dict[str, Any], changes: dict[str, Any]) -> None:
        """The reported item's change, as the real Store's update (a story's version moves on)."""
        item = self._items[self._item_key(case)]
        sets = dict(changes)
        queued_at = sets.pop("queued_at", "")
        if case["kind"] == "story":
            item["version"] = item.get("version", 0) + 1
            item.pop("GSI1PK", None)
            item.pop("GSI1SK", None)
            if sets.get("status") == "held":
                item |= {"GSI1PK": "QUEUE#held", "GSI1SK": f"{queued_at}#{case['story_id']}"}
        item.update(copy.deepcopy(sets))

    def _count(self, counts: dict[str, int]) -> None:
        counter = self._items.setdefault(("FIGURES#concerns", "COUNTER"), {"PK": "FIGURES#concerns", "SK": "COUNTER"})
        for k, v in counts.items():
            if v:
                counter[k] = counter.get(k, 0) + v

    def file_concern(
        self,
        case: dict[str, Any],
        expected_version: int,
        report: dict[str, Any],
        email: str | None,
        hide: dict[str, Any] | None,
        counts: dict[str, int],
    ) -> bool:
        sid = case["story_id"]
        with self._lock:
            report_key = (f"PRIVATE#{sid}", f"CONCERN#{case['target']}#{report['id']}")
            if not self._case_ok(case, expected_version) or report_key in self._items:
                return False
            if hide:
                item = self._items.get(self._item_key(case))
                if not item or item.get("status") != "published":
                    return False
                self._apply(case, hide)
            self._items[(f"PRIVATE#{sid}", f"CASE#{case['target']}")] = copy.deepcopy(
                {"PK": f"PRIVATE#{sid}", "SK": f"CASE#{case['target']}", **case}
            )
            self._items[report_key] = copy.deepcopy({"PK": report_key[0], "SK": report_key[1], **report})
            if email:
                key = (f"PRIVATE#{sid}", f"CONCERNCONTACT#{report['id']}")
                self._items[key] = {"PK": key[0], "SK": key[1], "email": email, "target": case["target"]}
            self._count(counts)
            return True

    def decide_case(
        self,
        case: dict[str, Any],
        expected_version: int,
        item_changes: dict[str, Any] | None,
        allowed_from: Any,
        counts: dict[str, int],
    ) -> None:
        with self._lock:
            if not self._case_ok(case, expected_version, must_be_open=True):
                raise Conflict("This report has been decided or has changed since you opened it.")
            if item_changes:
                item = self._items.get(self._item_key(case))
                if not item or item.get("status") not in set(allowed_from):
                    raise Conflict("This report has been decided or has changed since you opened it.")
                self._apply(case, item_changes)
            self._items[(f"PRIVATE#{case['story_id']}", f"CASE#{case['target']}")] = copy.deepcopy(
                {"PK": f"PRIVATE#{case['story_id']}", "SK": f"CASE#{case['target']}", **case}
            )
            self._count(counts)

    def cases_queue(self, limit: int) -> list[dict[str, Any]]:
        found = [i for i in self._items.values() if i.get("GSI1PK") == "QUEUE#concerns"]
        return [_public(copy.deepcopy(i)) for i in sorted(found, key=lambda i: i["GSI1SK"])][:limit]

    def concerns_on(self, story_id: str, target: str) -> list[dict[str, Any]]:
        return [_public(i) for i in self._begins(f"PRIVATE#{story_id}", f"CONCERN#{target}#")]

    def concern_counts(self) -> dict[str, Any]:
        item = self._items.get(("FIGURES#concerns", "COUNTER"), {})
        out: dict[str, Any] = {"received": 0, "hidden": 0, "decided": 0, "hours": {}}
        for name, value in _public(dict(item)).items():
            kind, sep, ref = name.partition(":")
            if sep and kind == "h":
                out["hours"][int(ref)] = int(value)
            elif not sep:
                out[name] = int(value)
        return out

    def concern_contact(self, story_id: str, report_id: str) -> dict[str, Any] | None:
        item = self._get(f"PRIVATE#{story_id}", f"CONCERNCONTACT#{report_id}")
        return _public(item) if item else None

    def confirm_concern_contact(self, story_id: str, report_id: str, at: str) -> bool:
        with self._lock:
            item = self._items.get((f"PRIVATE#{story_id}", f"CONCERNCONTACT#{report_id}"))
            if not item or item.get("confirmed_at"):
                return False
            item["confirmed_at"] = at
            return True

    # ---- messages between a moderator and the author (issue 20) ----------------------------------

    def put_message(self, story_id: str, message: dict[str, Any]) -> bool:
        item = {"PK": f"PRIVATE#{story_id}", "SK": f"MESSAGE#{message['id']}", "story_id": story_id, **message}
        return self._put(item, once=True)

    def messages(self, story_id: str) -> list[dict[str, Any]]:
        found = (_public(i) for i in self._begins(f"PRIVATE#{story_id}", "MESSAGE#"))
        return sorted(found, key=lambda m: (m.get("at", ""), m.get("id", "")))

    # ---- invitations (issue 19) -------------------------------------------------------------------

    def create_invitation(self, invitation: dict[str, Any]) -> bool:
        code = invitation["code"]
        item = {
            "PK": f"INVITE#{code}",
            "SK": "INVITE",
            "GSI1PK": f"INVITES#{invitation['organisation']}",
            "GSI1SK": f"{invitation['created_at']}#{code}",
            "stories": 0,
            **invitation,
        }
        return self._put(item, once=True)

    def get_invitation(self, code: str) -> dict[str, Any] | None:
        item = self._get(f"INVITE#{code}", "INVITE")
        return _public(item) if item else None

    def invitations_of(self, organisation: str, limit: int = 100) -> list[dict[str, Any]]:
        mine = [i for i in self._items.values() if i.get("GSI1PK") == f"INVITES#{organisation}"]
        mine.sort(key=lambda i: i["GSI1SK"], reverse=True)
        return [_public(copy.deepcopy(i)) for i in mine[:limit]]

    def end_invitation(self, code: str, at: str, by: str) -> bool:
        with self._lock:
            item = self._items.get((f"INVITE#{code}", "INVITE"))
            if item is None or "ended_at" in item:
                return False
            item |= {"ended_at": at, "ended_by": by}
            return True

    def count_invitation_story(self, code: str, story_id: str) -> bool:
        with self._lock:
            item = self._items.get((f"INVITE#{code}", "INVITE"))
            if item is None or (f"INVITE#{code}", f"STORY#{story_id}") in self._items:
                return False
            mark = {"PK": f"INVITE#{code}", "SK": f"STORY#{story_id}", "story_id": story_id}
            self._items[(mark["PK"], mark["SK"])] = mark
            item["stories"] = item.get("stories", 0) + 1
            return True

    # ---- partners' webhooks ---------------------------------------------------------------------

    def create_partner(self, partner: dict[str, Any]) -> bool:
        """The partner and the watched services' item, together (the real one: one transaction)."""
        with self._lock:
            item = partner_item(partner)
            if (item["PK"], item["SK"]) in self._items:
                return False
            self._items[(item["PK"], item["SK"])] = copy.deepcopy(item)
            pk, sk = WATCHED_ITEM
            index = self._items.setdefault(WATCHED_ITEM, {"PK": pk, "SK": sk, "services": set()})
            index["services"].add(partner["service"])
            return True

    def watched_services(self) -> frozenset[str]:
        return watched_slugs(self._get(*WATCHED_ITEM))

    def get_partner(self, partner_id: str) -> dict[str, Any] | None:
        item = self._get(f"PARTNER#{partner_id}", "PARTNER")
        return _public(item) if item else None

    def partners_watching(self, slugs: Any) -> list[dict[str, Any]]:
        wanted = {f"PARTNERS#{s}" for s in set(slugs) & self.watched_services()}
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
