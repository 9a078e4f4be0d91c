"""People: subscribers and their subscriptions (with the watch index each service's alerts
read), capability tokens, daily digests and the suppression list (bounces and complaints).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Iterator, Mapping
from typing import Any, Protocol, TypedDict, cast

from ..core.errors import Conflict
from ..core.status import SubscriberStatus
from .organisations import grant_item
from .records import Subscriber, Subscription
from .table import GSI1, TTL_ATTRIBUTE, Table, _public, email_hash, from_item, request_token, to_item

# DynamoDB takes at most 100 items in one transaction; a new member is 4 (pointer, profile,
# subscription, grant record).
MEMBERS_PER_TRANSACTION = 25


class NewMember(TypedDict):
    """A person new to the table, loaded by someone who vouches for them: their profile, their first
    subscription and the record of their grant (`org`, `at`, `ref` and the entry)."""

    profile: dict[str, Any]
    subscription: dict[str, Any]
    grant: dict[str, Any]


def member_keys(profile: Mapping[str, Any]) -> dict[str, str]:
    """How a subscriber is indexed under their organisation (GSI1), for its members page: active
    members by access ("lead#<id>" first, so an organisation's leads are one short Query), anyone
    else (pending, requested, frozen...) after them as "~<status>#<id>"."""
    org = profile.get("organisation")
    if not org:
        return {}
    status, access = profile.get("status", ""), profile.get("access", "")
    rank = f"{access}#" if status == SubscriberStatus.ACTIVE and access else f"~{status}#"
    return {"GSI1PK": f"MEMBERS#{org}", "GSI1SK": f"{rank}{profile['id']}"}


def watch_keys(subscription: dict[str, Any]) -> dict[str, str]:
    """How an active subscription is indexed under its service (GSI1), for the alerts' fan-out."""
    return {
        "GSI1PK": f"WATCH#{subscription['service']}",
        "GSI1SK": f"{subscription['subscriber_id']}#{subscription['id']}",
    }


class PeopleStore(Protocol):
    """What the flows may ask of subscribers, subscriptions, tokens, digests and suppression."""

    def put_token(self, token_hash: str, token: dict[str, Any], expires_at: int) -> None: ...
    def put_tokens(self, tokens: Iterable[tuple[str, dict[str, Any], int]]) -> None: ...
    def get_token(self, token_hash: str) -> dict[str, Any] | None: ...
    def get_subscriber(self, subscriber_id: str, consistent: bool = True) -> Subscriber | None: ...
    def find_subscriber(self, email: str) -> Subscriber | None: ...
    def create_subscriber(self, profile: dict[str, Any]) -> bool: ...
    def known_addresses(self, emails: Iterable[str]) -> set[str]: ...
    def create_members(self, members: list[NewMember]) -> bool: ...
    def seed_subscribers(self, profiles: Iterable[dict[str, Any]], subscriptions: Iterable[dict[str, Any]]) -> None: ...
    def update_subscriber(self, subscriber_id: str, changes: dict[str, Any]) -> Subscriber: ...
    def count_response(self, subscriber_id: str, at: str = "") -> int: ...
    def put_subscription(self, subscription: dict[str, Any]) -> None: ...
    def get_subscription(self, subscriber_id: str, subscription_id: str) -> Subscription | None: ...
    def get_holder(self, subscriber_id: str, subscription_id: str) -> tuple[Subscriber | None, Subscription | None]: ...
    def set_subscription_status(
        self, subscriber_id: str, subscription_id: str, status: str, changes: dict[str, Any] | None = None
    ) -> Subscription: ...
    def subscriptions_of(self, subscriber_id: str) -> list[Subscription]: ...
    def watchers(self, slug: str) -> Iterator[Subscription]: ...
    def digest(self, day: str) -> dict[str, list[str]]: ...
    def add_to_digests(self, day: str, subscriber_ids: Iterable[str], story_id: str, expires_at: int) -> None: ...
    def digest_of(self, day: str, subscriber_id: str) -> list[str]: ...
    def digested(self, day: str, story_id: str) -> set[str]: ...
    def suppress(self, email: str, reason: str, at: str, detail: str = "") -> None: ...
    def suppression(self, email: str) -> dict[str, Any] | None: ...
    def unsuppress(self, email: str) -> None: ...


def _token_item(token_hash: str, token: dict[str, Any], expires_at: int) -> dict[str, Any]:
    item = {"PK": f"TOKEN#{token_hash}", "SK": "TOKEN", TTL_ATTRIBUTE: expires_at, "expires_at": expires_at, **token}
    if token.get("story_id"):
        # Indexed by story, so erasing a story can find every link to it.
        item |= {"GSI1PK": f"TOKENS#{token['story_id']}", "GSI1SK": token_hash}
    return item


class PeoplePart(Table):
    """Items in the SUBSCRIBER#, EMAIL#, TOKEN#, DIGEST# and SUPPRESSED# partitions."""

    # ---- capability tokens ------------------------------------------------------------------

    def put_token(self, token_hash: str, token: dict[str, Any], expires_at: int) -> None:
        self._put_new(_token_item(token_hash, token, expires_at))

    def put_tokens(self, tokens: Iterable[tuple[str, dict[str, Any], int]]) -> None:
        """Several new links at once (an email's three): one BatchWriteItem per 25 (issue 17). Not
        conditional: each hash is of 256 random bits, so no two links meet."""
        self._batch_write([{"PutRequest": {"Item": to_item(_token_item(*t))}} for t in tokens])

    def get_token(self, token_hash: str) -> dict[str, Any] | None:
        item = self._get(f"TOKEN#{token_hash}", "TOKEN", consistent=True)
        return _public(item) if item else None

    # ---- staff: subscribers and their subscriptions ---------------------------------------------

    def get_subscriber(self, subscriber_id: str, consistent: bool = True) -> Subscriber | None:
        item = self._get(f"SUBSCRIBER#{subscriber_id}", "PROFILE", consistent=consistent)
        return cast(Subscriber, _public(item)) if item else None

    def find_subscriber(self, email: str) -> Subscriber | None:
        """A subscriber by address: two GetItems, through an index item keyed by the address's hash."""
        pointer = self._get(f"EMAIL#{email_hash(email)}", "SUBSCRIBER", consistent=True)
        return self.get_subscriber(pointer["subscriber_id"]) if pointer else None

    def create_subscriber(self, profile: dict[str, Any]) -> bool:
        """Write a new subscriber and the pointer from their address, both or neither.
        False if someone already has that address (the caller then uses find_subscriber)."""
        sid = profile["id"]
        try:
            self._db.transact_write_items(
                TransactItems=[
                    {
                        "Put": {
                            "TableName": self._table,
                            "ConditionExpression": "attribute_not_exists(PK)",
                            "Item": to_item(
                                {
                                    "PK": f"EMAIL#{email_hash(profile['email'])}",
                                    "SK": "SUBSCRIBER",
                                    "subscriber_id": sid,
                                }
                            ),
                        }
                    },
                    {
                        "Put": {
                            "TableName": self._table,
                            "ConditionExpression": "attribute_not_exists(PK)",
                            "Item": to_item(
                                {"PK": f"SUBSCRIBER#{sid}", "SK": "PROFILE", **profile, **member_keys(profile)}
                            ),
                        }
                    },
                ],
                ClientRequestToken=request_token("subscriber", sid),
            )
            return True
        except self._db.exceptions.TransactionCanceledException:
            # Our own earlier write (its answer lost) is one with this id: the subscriber exists.
            return bool(self.get_subscriber(sid, consistent=True))

    def known_addresses(self, emails: Iterable[str]) -> set[str]:
        """Which of these addresses already belong to someone: one BatchGetItem per 100, so a bulk
        load of thousands of new people does not pay two reads each to learn they are new."""
        by_hash: dict[str, list[str]] = {}
        for e in emails:
            by_hash.setdefault(email_hash(e), []).append(e)
        hashes, known = sorted(by_hash), set()
        for i in range(0, len(hashes), 100):
            keys = [to_item({"PK": f"EMAIL#{h}", "SK": "SUBSCRIBER"}) for h in hashes[i : i + 100]]
            request: dict[str, Any] | None = {self._table: {"Keys": keys, "ConsistentRead": True}}
            while request:
                resp = self._db.batch_get_item(RequestItems=request)
                for item in resp.get("Responses", {}).get(self._table, []):
                    known.update(by_hash[from_item(item)["PK"].removeprefix("EMAIL#")])
                request = resp.get("UnprocessedKeys") or None
        return known

    def create_members(self, members: list[NewMember]) -> bool:
        """New people, each with their address pointer, profile, first subscription and grant record,
        all or none in one transaction (at most MEMBERS_PER_TRANSACTION). False, nothing written,
        if any address was taken in between: the caller then loads those rows one at a time.
        The request token is the transaction's own ids, so an SDK retry of a committed call succeeds."""
        if not members:
            return True
        if len(members) > MEMBERS_PER_TRANSACTION:
            raise ValueError(f"at most {MEMBERS_PER_TRANSACTION} members a transaction")
        items: list[dict[str, Any]] = []
        for m in members:
            p, s = m["profile"], m["subscription"]
            pointer = {"PK": f"EMAIL#{email_hash(p['email'])}", "SK": "SUBSCRIBER", "subscriber_id": p["id"]}
            sub = {"PK": f"SUBSCRIBER#{p['id']}", "SK": f"SUB#{s['id']}", **s}
            if s.get("status") == SubscriberStatus.ACTIVE:
                sub |= watch_keys(s)
            profile = {"PK": f"SUBSCRIBER#{p['id']}", "SK": "PROFILE", **p, **member_keys(p)}
            g = m["grant"]
            grant = grant_item(
                g["org"], g["at"], g["ref"], {k: v for k, v in g.items() if k not in ("org", "at", "ref")}
            )
            # The address and the profile must be new; the other two have fresh ids of their own.
            items += [self._new(pointer), self._new(profile), self._put(sub), self._put(grant)]
        token = hashlib.sha256("|".join(m["profile"]["id"] for m in members).encode()).hexdigest()[:36]
        try:
            self._db.transact_write_items(TransactItems=items, ClientRequestToken=token)
            return True
        except self._db.exceptions.TransactionCanceledException:
            return False

    def _new(self, item: dict[str, Any]) -> dict[str, Any]:
        return {"Put": self._put(item)["Put"] | {"ConditionExpression": "attribute_not_exists(PK)"}}

    def _put(self, item: dict[str, Any]) -> dict[str, Any]:
        return {"Put": {"TableName": self._table, "Item": to_item(item)}}

    def seed_subscribers(self, profiles: Iterable[dict[str, Any]], subscriptions: Iterable[dict[str, Any]]) -> None:
        """Bulk load for demo data, tests and benchmarks only (BatchWriteItem, 25 a call): unlike
        create_subscriber it does not check that an address is new, so never use it on a request."""
        writes = []
        for p in profiles:
            writes.append(
                {
                    "PutRequest": {
                        "Item": to_item(
                            {"PK": f"EMAIL#{email_hash(p['email'])}", "SK": "SUBSCRIBER", "subscriber_id": p["id"]}
                        )
                    }
                }
            )
            profile = {"PK": f"SUBSCRIBER#{p['id']}", "SK": "PROFILE", **p, **member_keys(p)}
            writes.append({"PutRequest": {"Item": to_item(profile)}})
        for s in subscriptions:
            item = {"PK": f"SUBSCRIBER#{s['subscriber_id']}", "SK": f"SUB#{s['id']}", **s}
            if s.get("status") == SubscriberStatus.ACTIVE:
                item |= watch_keys(s)
            writes.append({"PutRequest": {"Item": to_item(item)}})
        self._batch_write(writes)

    def update_subscriber(self, subscriber_id: str, changes: dict[str, Any]) -> Subscriber:
        sets = dict(changes)
        if {"organisation", "status", "access"} & set(changes):
            # Where they are listed among their organisation's members moves with these three.
            current = self.get_subscriber(subscriber_id) or {"id": subscriber_id}
            sets |= member_keys({**current, **changes})
        return cast(Subscriber, self._update(f"SUBSCRIBER#{subscriber_id}", "PROFILE", sets))

    def count_response(self, subscriber_id: str, at: str = "") -> int:
        """Add one to a person's responses sent; the new count (the first few go to a moderator).
        `at`: when, kept as their last activity in the same UpdateItem."""
        values: dict[str, Any] = {":one": 1} | ({":at": at} if at else {})
        resp = self._db.update_item(
            TableName=self._table,
            Key=to_item({"PK": f"SUBSCRIBER#{subscriber_id}", "SK": "PROFILE"}),
            UpdateExpression="ADD responses_sent :one" + (" SET last_active_at = :at" if at else ""),
            ConditionExpression="attribute_exists(PK)",
            ExpressionAttributeValues=to_item(values),
            ReturnValues="UPDATED_NEW",
        )
        return int(from_item(resp["Attributes"])["responses_sent"])

    def put_subscription(self, subscription: dict[str, Any]) -> None:
        """Create or replace one subscription. Only active ones are indexed under their service."""
        item = {"PK": f"SUBSCRIBER#{subscription['subscriber_id']}", "SK": f"SUB#{subscription['id']}", **subscription}
        if subscription.get("status") == SubscriberStatus.ACTIVE:
            item |= watch_keys(subscription)
        self._db.put_item(TableName=self._table, Item=to_item(item))

    def get_subscription(self, subscriber_id: str, subscription_id: str) -> Subscription | None:
        item = self._get(f"SUBSCRIBER#{subscriber_id}", f"SUB#{subscription_id}", consistent=True)
        return cast(Subscription, _public(item)) if item else None

    def get_holder(self, subscriber_id: str, subscription_id: str) -> tuple[Subscriber | None, Subscription | None]:
        """A person and one of their subscriptions, read together (one consistent BatchGetItem): what a
        link's check needs (links.py, issue 17)."""
        pk = f"SUBSCRIBER#{subscriber_id}"
        found = self._batch_get([(pk, "PROFILE"), (pk, f"SUB#{subscription_id}")], consistent=True)
        profile, subscription = found.get((pk, "PROFILE")), found.get((pk, f"SUB#{subscription_id}"))
        return (
            cast(Subscriber | None, _public(profile) if profile else None),
            cast(Subscription | None, _public(subscription) if subscription else None),
        )

    def set_subscription_status(
        self, subscriber_id: str, subscription_id: str, status: str, changes: dict[str, Any] | None = None
    ) -> Subscription:
        current = self.get_subscription(subscriber_id, subscription_id)
        if not current:
            raise Conflict("That subscription no longer exists.")
        sets = {**(changes or {}), "status": status}
        removes: list[str] = []
        if status == SubscriberStatus.ACTIVE:
            sets |= watch_keys(current | sets)
        else:
            removes = ["GSI1PK", "GSI1SK"]
        return cast(Subscription, self._update(f"SUBSCRIBER#{subscriber_id}", f"SUB#{subscription_id}", sets, removes))

    def subscriptions_of(self, subscriber_id: str) -> list[Subscription]:
        items = self._query(
            KeyConditionExpression="PK = :pk AND begins_with(SK, :s)",
            ExpressionAttributeValues=to_item({":pk": f"SUBSCRIBER#{subscriber_id}", ":s": "SUB#"}),
        )
        return cast(list[Subscription], [_public(i) for i in items])

    def watchers(self, slug: str) -> Iterator[Subscription]:
        """Active subscriptions rooted at one service, a page at a time (one Query per page)."""
        args: dict[str, Any] = {
            "TableName": self._table,
            "IndexName": GSI1,
            "KeyConditionExpression": "GSI1PK = :pk",
            "ExpressionAttributeValues": to_item({":pk": f"WATCH#{slug}"}),
        }
        while True:
            resp = self._db.query(**args)
            for item in resp.get("Items", []):
                yield cast(Subscription, _public(from_item(item)))
            if not resp.get("LastEvaluatedKey"):
                return
            args["ExclusiveStartKey"] = resp["LastEvaluatedKey"]

    # ---- daily digests -----------------------------------------------------------------------------

    def digest(self, day: str) -> dict[str, list[str]]:
        """Subscriber id -> the story ids gathered for them on one day (a scheduled job, not a request)."""
        out: dict[str, list[str]] = {}
        for item in self._partition(f"DIGEST#{day}"):
            out.setdefault(item["subscriber_id"], []).append(item["story_id"])
        return out

    def add_to_digests(self, day: str, subscriber_ids: Iterable[str], story_id: str, expires_at: int) -> None:
        """One story into many people's digests (the fan-out): 25 items per BatchWriteItem.
        Each entry is also indexed by its subscriber, so one person's digest is one Query."""
        self._batch_write(
            [
                {
                    "PutRequest": {
                        "Item": to_item(
                            {
                                "PK": f"DIGEST#{day}",
                                "SK": f"{story_id}#{sid}",
                                "story_id": story_id,
                                "subscriber_id": sid,
                                "GSI1PK": f"DIGEST#{day}#{sid}",
                                "GSI1SK": story_id,
                                TTL_ATTRIBUTE: expires_at,
                            }
                        )
                    }
                }
                for sid in sorted(set(subscriber_ids))
            ]
        )

    def digested(self, day: str, story_id: str) -> set[str]:
        """Who has one story in their digest of one day: one Query (a late fan-out skips them)."""
        items = self._query(
            KeyConditionExpression="PK = :pk AND begins_with(SK, :s)",
            ExpressionAttributeValues=to_item({":pk": f"DIGEST#{day}", ":s": f"{story_id}#"}),
        )
        return {i["subscriber_id"] for i in items}

    def digest_of(self, day: str, subscriber_id: str) -> list[str]:
        """The story ids in one person's digest for one day (entries written by add_to_digests)."""
        items = self._query(
            index=GSI1,
            KeyConditionExpression="GSI1PK = :pk",
            ExpressionAttributeValues=to_item({":pk": f"DIGEST#{day}#{subscriber_id}"}),
        )
        return [i["story_id"] for i in items]

    # ---- the suppression list (bounces and complaints) ------------------------------------------

    def suppress(self, email: str, reason: str, at: str, detail: str = "") -> None:
        """Stop sending to an address. Kept by hash only: the list itself holds no address."""
        self._db.put_item(
            TableName=self._table,
            Item=to_item(
                {
                    "PK": f"SUPPRESSED#{email_hash(email)}",
                    "SK": "SUPPRESSED",
                    "reason": reason,
                    "at": at,
                    "detail": detail[:500],
                }
            ),
        )

    def suppression(self, email: str) -> dict[str, Any] | None:
        item = self._get(f"SUPPRESSED#{email_hash(email)}", "SUPPRESSED", consistent=True)
        return _public(item) if item else None

    def unsuppress(self, email: str) -> None:
        self._db.delete_item(
            TableName=self._table, Key=to_item({"PK": f"SUPPRESSED#{email_hash(email)}", "SK": "SUPPRESSED"})
        )
