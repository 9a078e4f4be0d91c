"""DynamoDB single-table access. The only module that knows keys, indexes and item shapes.

Every access pattern is listed in docs/data-model.md with its key and cost. Request paths
use GetItem, Query and conditional writes only: nothing here scans.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Iterable, Iterator

from boto3.dynamodb.types import TypeDeserializer, TypeSerializer

from ..core.errors import Conflict

_ser = TypeSerializer()
_deser = TypeDeserializer()

GSI1 = "GSI1"
TTL_ATTRIBUTE = "ttl"
ROOT = "_root"
EVERYTHING = "_all"  # the listing behind the home page: every published story


def tag_list(tag: str) -> str:
    """The listing of one tag's published stories ("tag:" cannot start a service slug)."""
    return f"tag:{tag}"


def month_list(month: str) -> str:
    """The listing of the stories first listed in one month (YYYY-MM): one child sitemap each."""
    return f"month:{month}"

# The table's shape, used by the local stack and tests; infra/ declares the same (a test checks).
TABLE_DEFINITION: dict[str, Any] = {
    "AttributeDefinitions": [
        {"AttributeName": n, "AttributeType": "S"} for n in ("PK", "SK", "GSI1PK", "GSI1SK")
    ],
    "KeySchema": [{"AttributeName": "PK", "KeyType": "HASH"}, {"AttributeName": "SK", "KeyType": "RANGE"}],
    "GlobalSecondaryIndexes": [
        {
            "IndexName": GSI1,
            "KeySchema": [
                {"AttributeName": "GSI1PK", "KeyType": "HASH"},
                {"AttributeName": "GSI1SK", "KeyType": "RANGE"},
            ],
            "Projection": {"ProjectionType": "ALL"},
        }
    ],
    "BillingMode": "PAY_PER_REQUEST",
    "StreamSpecification": {"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"},
}

_KEY_ATTRS = ("PK", "SK", "GSI1PK", "GSI1SK")
_THREAD_KINDS = {"READ": "read", "RESPONSE": "response", "REPLY": "reply"}
REPLIES_QUEUE = "replies"  # held staff responses and pending author replies, for moderators
_WORD = re.compile(r"[a-z0-9]+")
MIN_PREFIX = 2
MAX_PREFIX = 20


def to_item(data: dict[str, Any]) -> dict[str, Any]:
    return {k: _ser.serialize(v) for k, v in data.items() if v is not None}


def from_item(item: dict[str, Any]) -> dict[str, Any]:
    return {k: _plain(_deser.deserialize(v)) for k, v in item.items()}


def _plain(value: Any) -> Any:
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, set):
        return sorted(_plain(v) for v in value)
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    return value


def _public(item: dict[str, Any]) -> dict[str, Any]:
    """An item without its key attributes."""
    return {k: v for k, v in item.items() if k not in _KEY_ATTRS and k != TTL_ATTRIBUTE}


def words(text: str) -> list[str]:
    return _WORD.findall(text.lower())


def _prefixes(terms: Iterable[str]) -> set[str]:
    out: set[str] = set()
    for w in terms:
        for n in range(MIN_PREFIX, min(len(w), MAX_PREFIX) + 1):
            out.add(w[:n])
    return out


@dataclass(frozen=True)
class Change:
    """What a stream record is about, decoded from its keys."""

    # "story", "contact", "read", "response", "reply", "subscriber", "subscription", "other"
    kind: str
    story_id: str | None
    old: dict[str, Any] | None
    new: dict[str, Any] | None
    # The item's own id within its partition: a response, reply or subscription id, or a reader's subscriber id.
    ref: str = ""
    subscriber_id: str | None = None


def email_hash(email: str) -> str:
    """How an address is looked up without being a key: lower-cased, then SHA-256."""
    return hashlib.sha256(email.strip().lower().encode("utf-8")).hexdigest()


class Store:
    def __init__(self, client: Any, table_name: str):
        self._db = client
        self._table = table_name

    # ---- generic helpers -------------------------------------------------------------

    def _get(self, pk: str, sk: str, consistent: bool = False) -> dict[str, Any] | None:
        resp = self._db.get_item(TableName=self._table, Key=to_item({"PK": pk, "SK": sk}), ConsistentRead=consistent)
        item = resp.get("Item")
        return from_item(item) if item else None

    def _query(self, limit: int | None = None, forward: bool = True, index: str | None = None, **kw: Any) -> list[dict[str, Any]]:
        args: dict[str, Any] = {"TableName": self._table, "ScanIndexForward": forward, **kw}
        if index:
            args["IndexName"] = index
        items: list[dict[str, Any]] = []
        while True:
            if limit is not None:
                args["Limit"] = limit - len(items)
            resp = self._db.query(**args)
            items.extend(from_item(i) for i in resp.get("Items", []))
            last = resp.get("LastEvaluatedKey")
            if not last or (limit is not None and len(items) >= limit):
                return items
            args["ExclusiveStartKey"] = last

    def _partition(self, pk: str) -> list[dict[str, Any]]:
        return self._query(KeyConditionExpression="PK = :pk", ExpressionAttributeValues=to_item({":pk": pk}))

    # ---- service directory -----------------------------------------------------------

    def get_service(self, slug: str) -> dict[str, Any] | None:
        item = self._get(f"SERVICE#{slug}", "SERVICE")
        return _public(item) if item else None

    def get_services(self, slugs: Iterable[str]) -> dict[str, dict[str, Any]]:
        """Many services by slug: one BatchGetItem per 100."""
        wanted = sorted(set(slugs))
        found: dict[str, dict[str, Any]] = {}
        for i in range(0, len(wanted), 100):
            keys = [to_item({"PK": f"SERVICE#{s}", "SK": "SERVICE"}) for s in wanted[i : i + 100]]
            request = {self._table: {"Keys": keys}}
            while request:
                resp = self._db.batch_get_item(RequestItems=request)
                for item in resp.get("Responses", {}).get(self._table, []):
                    svc = _public(from_item(item))
                    found[svc["slug"]] = svc
                request = resp.get("UnprocessedKeys") or None
        return found

    def children(self, slug: str | None) -> list[dict[str, Any]]:
        items = self._query(
            index=GSI1,
            KeyConditionExpression="GSI1PK = :pk",
            ExpressionAttributeValues=to_item({":pk": f"CHILDREN#{slug or ROOT}"}),
        )
        return [_public(i) for i in items]

    def put_service(self, service: dict[str, Any]) -> str:
        """Create or update one node and its search entries. Returns created, updated or unchanged."""
        service = {k: v for k, v in service.items() if v is not None}
        slug = service["slug"]
        current = self._get(f"SERVICE#{slug}", "SERVICE", consistent=True)
        if current and _public(current) == service:
            return "unchanged"
        item = {
            "PK": f"SERVICE#{slug}",
            "SK": "SERVICE",
            "GSI1PK": f"CHILDREN#{service.get('parent') or ROOT}",
            "GSI1SK": f"{service['name'].lower()}#{slug}",
            **service,
        }
        self._db.put_item(TableName=self._table, Item=to_item(item))
        old_prefixes = _prefixes(words(current["name"])) if current else set()
        new_prefixes = _prefixes(words(service["name"]))
        entry = {
            "slug": slug,
            "name": service["name"],
            "kind": service["kind"],
            "trail": service.get("trail", []),
            "depth": len(service["path"]),
        }
        writes = [{"PutRequest": {"Item": to_item({"PK": f"SEARCH#{p}", "SK": f"SERVICE#{slug}", **entry})}} for p in new_prefixes]
        writes += [
            {"DeleteRequest": {"Key": to_item({"PK": f"SEARCH#{p}", "SK": f"SERVICE#{slug}"})}}
            for p in old_prefixes - new_prefixes
        ]
        self._batch_write(writes)
        return "updated" if current else "created"

    def search_services(self, terms: list[str], limit: int) -> list[dict[str, Any]]:
        """Services whose names have a word starting with the longest term; the caller filters the rest."""
        key = max(terms, key=len)[:MAX_PREFIX]
        items = self._query(
            limit=limit,
            KeyConditionExpression="PK = :pk",
            ExpressionAttributeValues=to_item({":pk": f"SEARCH#{key}"}),
        )
        return [_public(i) for i in items]

    def _batch_write(self, writes: list[dict[str, Any]]) -> None:
        for i in range(0, len(writes), 25):
            request = {self._table: writes[i : i + 25]}
            while request:
                resp = self._db.batch_write_item(RequestItems=request)
                request = resp.get("UnprocessedItems") or None

    # ---- stories -----------------------------------------------------------------------

    def create_story(self, story: dict[str, Any], contact: dict[str, Any] | None) -> None:
        """Write a new pending story and, apart from it, its private contact details: all or nothing."""
        sid = story["id"]
        items = [
            {
                "Put": {
                    "TableName": self._table,
                    "Item": to_item(
                        {
                            "PK": f"STORY#{sid}",
                            "SK": "STORY",
                            "GSI1PK": f"QUEUE#{story['status']}",
                            "GSI1SK": f"{story['submitted_at']}#{sid}",
                            **story,
                        }
                    ),
                    "ConditionExpression": "attribute_not_exists(PK)",
                }
            }
        ]
        if contact:
            items.append({"Put": {"TableName": self._table, "Item": to_item({"PK": f"PRIVATE#{sid}", "SK": "CONTACT", **contact})}})
        self._db.transact_write_items(TransactItems=items)

    def get_story(self, story_id: str, consistent: bool = False) -> dict[str, Any] | None:
        item = self._get(f"STORY#{story_id}", "STORY", consistent=consistent)
        return _public(item) if item else None

    def story_thread(self, story_id: str, consistent: bool = False) -> list[dict[str, Any]]:
        """The story and everything public hung on it (responses, receipts, changes): one Query.
        `consistent` for a page a person sees right after their own write (the author's page)."""
        items = self._query(
            KeyConditionExpression="PK = :pk",
            ExpressionAttributeValues=to_item({":pk": f"STORY#{story_id}"}),
            ConsistentRead=consistent,
        )
        return [_public(i) | {"item": i["SK"].split("#", 1)[0].lower()} for i in items]

    def queue(self, status: str, limit: int) -> list[dict[str, Any]]:
        """Stories waiting for a moderator (pending or held), oldest first."""
        items = self._query(
            index=GSI1,
            limit=limit,
            KeyConditionExpression="GSI1PK = :pk",
            ExpressionAttributeValues=to_item({":pk": f"QUEUE#{status}"}),
        )
        return [_public(i) for i in items]

    def update_story(self, story_id: str, expected_version: int, allowed_from: Iterable[str], changes: dict[str, Any]) -> dict[str, Any]:
        """Apply a decision to one version of a story. A stale version or status raises Conflict."""
        status = changes.get("status")
        sets = dict(changes)
        removes: list[str] = []
        if status in ("pending", "held"):
            sets["GSI1PK"] = f"QUEUE#{status}"
        elif status:
            removes += ["GSI1PK", "GSI1SK"]
        names = {f"#a{i}": k for i, k in enumerate(sets)}
        values = {f":v{i}": v for i, v in enumerate(sets.values())}
        expr = "SET " + ", ".join(f"#a{i} = :v{i}" for i in range(len(sets))) + ", #version = #version + :one"
        if removes:
            names.update({f"#r{i}": k for i, k in enumerate(removes)})
            expr += " REMOVE " + ", ".join(f"#r{i}" for i in range(len(removes)))
        allowed = sorted(set(allowed_from))
        names.update({"#version": "version", "#status": "status"})
        values.update({":one": 1, ":expected": expected_version})
        values.update({f":s{i}": s for i, s in enumerate(allowed)})
        condition = "#version = :expected AND #status IN (" + ", ".join(f":s{i}" for i in range(len(allowed))) + ")"
        try:
            resp = self._db.update_item(
                TableName=self._table,
                Key=to_item({"PK": f"STORY#{story_id}", "SK": "STORY"}),
                UpdateExpression=expr,
                ConditionExpression=condition,
                ExpressionAttributeNames=names,
                ExpressionAttributeValues=to_item(values),
                ReturnValues="ALL_NEW",
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
            )
        except self._db.exceptions.ConditionalCheckFailedException as e:
            raise Conflict(
                "This story has changed since you opened it. Reload it to see the latest version, then decide again."
            ) from e
        return _public(from_item(resp["Attributes"]))

    # ---- private items ---------------------------------------------------------------------

    def get_contact(self, story_id: str) -> dict[str, Any] | None:
        item = self._get(f"PRIVATE#{story_id}", "CONTACT")
        return _public(item) if item else None

    def record_audit(self, story_id: str, at: str, ref: str, event: dict[str, Any]) -> None:
        """Record a status change once, however often the stream delivers it."""
        self._put_once({"PK": f"PRIVATE#{story_id}", "SK": f"AUDIT#{at}#{ref}", **event})

    def audit_trail(self, story_id: str) -> list[dict[str, Any]]:
        items = self._query(
            KeyConditionExpression="PK = :pk AND begins_with(SK, :a)",
            ExpressionAttributeValues=to_item({":pk": f"PRIVATE#{story_id}", ":a": "AUDIT#"}),
        )
        return [_public(i) for i in items]

    def keep_original(self, story_id: str, original: dict[str, Any]) -> None:
        """Keep the author's own words the first time a moderator edits them."""
        self._put_once({"PK": f"PRIVATE#{story_id}", "SK": "ORIGINAL", **original})

    def get_original(self, story_id: str) -> dict[str, Any] | None:
        item = self._get(f"PRIVATE#{story_id}", "ORIGINAL")
        return _public(item) if item else None

    def _put_once(self, item: dict[str, Any]) -> bool:
        try:
            self._db.put_item(TableName=self._table, Item=to_item(item), ConditionExpression="attribute_not_exists(PK)")
            return True
        except self._db.exceptions.ConditionalCheckFailedException:
            return False

    # ---- listings (published stories per service, newest first) ---------------------------

    def put_listing(self, slugs: Iterable[str], entry: dict[str, Any]) -> None:
        sk = f"{entry['published_at']}#{entry['id']}"
        self._batch_write([{"PutRequest": {"Item": to_item({"PK": f"LIST#{s}", "SK": sk, **entry})}} for s in slugs])

    def delete_listing(self, slugs: Iterable[str], story_id: str, published_at: str) -> None:
        sk = f"{published_at}#{story_id}"
        self._batch_write([{"DeleteRequest": {"Key": to_item({"PK": f"LIST#{s}", "SK": sk})}} for s in slugs])

    def listing(self, slug: str, limit: int) -> list[dict[str, Any]]:
        items = self._query(
            limit=limit,
            forward=False,
            KeyConditionExpression="PK = :pk",
            ExpressionAttributeValues=to_item({":pk": f"LIST#{slug}"}),
        )
        return [_public(i) for i in items]

    # ---- names the site lists: every tag and month that ever had a published story ---------

    def register_names(self, kind: str, names: Iterable[str]) -> None:
        """Remember tags ("tags") or months ("months") for the sitemap and the full rebuild.
        Never removed: a tag's page and feeds stay (empty) once it had a story."""
        self._batch_write([{"PutRequest": {"Item": to_item({"PK": f"NAMES#{kind}", "SK": n})}} for n in sorted(set(names))])

    def listing_keys(self, name: str, limit: int) -> list[dict[str, Any]]:
        """A listing's ids, publication dates, services and tags only (a month's child sitemap, with
        the month's archive pages): small items, so one Query page holds thousands."""
        items = self._query(
            limit=limit,
            forward=False,
            KeyConditionExpression="PK = :pk",
            ExpressionAttributeValues=to_item({":pk": f"LIST#{name}"}),
            ProjectionExpression="#i, #p, #s, #t",
            ExpressionAttributeNames={"#i": "id", "#p": "published_at", "#s": "services", "#t": "tags"},
        )
        return [_public(i) for i in items]

    def registered_names(self, kind: str, limit: int | None = None) -> list[str]:
        items = self._query(
            limit=limit,
            KeyConditionExpression="PK = :pk",
            ExpressionAttributeValues=to_item({":pk": f"NAMES#{kind}"}),
            ProjectionExpression="SK",
        )
        return [i["SK"] for i in items]

    # ---- bulk loading (make bench: big sites without the API) ---------------------------------

    def put_published(self, stories: Iterable[tuple[dict[str, Any], dict[str, Any], Iterable[str]]]) -> int:
        """Write published stories and their listing entries straight to the table, 25 items per
        BatchWriteItem: each is (story, listing entry, listing slugs). Not a request path: it
        seeds sites of 10,000 stories for bench/ in seconds. Returns the items written.
        Also the stories' facts and their listings' counters (what the stream would give them):
        one UpdateItem per listing per call, the facts items in the same batches."""
        from ..core import figures

        writes = []
        deltas: dict[str, dict[str, Any]] = {}
        for story, entry, slugs in stories:
            writes.append({"PutRequest": {"Item": to_item({"PK": f"STORY#{story['id']}", "SK": "STORY", **story})}})
            sk = f"{entry['published_at']}#{entry['id']}"
            writes += [{"PutRequest": {"Item": to_item({"PK": f"LIST#{s}", "SK": sk, **entry})}} for s in slugs]
            facts = figures.facts(story)
            counted = sorted({s for s in slugs if not s.startswith("month:")})
            if facts:
                record = {"PK": f"FACTS#{story['id']}", "SK": "FACTS", "facts": facts, "listings": counted, "rev": 1}
                writes.append({"PutRequest": {"Item": to_item(record)}})
                for s in counted:
                    deltas[s] = figures.add(deltas.get(s), figures.delta({}, facts))
        self._batch_write(writes)
        self._add_to_counters(deltas)
        return len(writes)

    def put_subscribers(self, people: Iterable[tuple[dict[str, Any], Iterable[dict[str, Any]]]]) -> int:
        """Write subscribers (profile, and the pointer from their address) with their subscriptions,
        25 items per BatchWriteItem: each is (profile, subscriptions). The items create_subscriber
        and put_subscription write, without their transaction: for bench/ only, on new addresses."""
        writes = []
        for profile, subscriptions in people:
            pointer = {"PK": f"EMAIL#{email_hash(profile['email'])}", "SK": "SUBSCRIBER", "subscriber_id": profile["id"]}
            writes.append({"PutRequest": {"Item": to_item(pointer)}})
            writes.append({"PutRequest": {"Item": to_item({"PK": f"SUBSCRIBER#{profile['id']}", "SK": "PROFILE", **profile})}})
            for sub in subscriptions:
                item = {"PK": f"SUBSCRIBER#{sub['subscriber_id']}", "SK": f"SUB#{sub['id']}", **sub}
                if sub.get("status") == "active":
                    item |= self._watch_keys(sub)
                writes.append({"PutRequest": {"Item": to_item(item)}})
        self._batch_write(writes)
        return len(writes)

    # ---- capability tokens ------------------------------------------------------------------

    def put_token(self, token_hash: str, token: dict[str, Any], expires_at: int) -> None:
        item = {"PK": f"TOKEN#{token_hash}", "SK": "TOKEN", TTL_ATTRIBUTE: expires_at, "expires_at": expires_at, **token}
        if token.get("story_id"):
            # Indexed by story, so erasing a story can find every link to it.
            item |= {"GSI1PK": f"TOKENS#{token['story_id']}", "GSI1SK": token_hash}
        self._db.put_item(TableName=self._table, Item=to_item(item), ConditionExpression="attribute_not_exists(PK)")

    def get_token(self, token_hash: str) -> dict[str, Any] | None:
        item = self._get(f"TOKEN#{token_hash}", "TOKEN", consistent=True)
        return _public(item) if item else None

    # ---- staff: subscribers and their subscriptions ---------------------------------------------

    def get_subscriber(self, subscriber_id: str, consistent: bool = True) -> dict[str, Any] | None:
        item = self._get(f"SUBSCRIBER#{subscriber_id}", "PROFILE", consistent=consistent)
        return _public(item) if item else None

    def find_subscriber(self, email: str) -> dict[str, Any] | None:
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
                    {"Put": {"TableName": self._table, "ConditionExpression": "attribute_not_exists(PK)",
                             "Item": to_item({"PK": f"EMAIL#{email_hash(profile['email'])}", "SK": "SUBSCRIBER", "subscriber_id": sid})}},
                    {"Put": {"TableName": self._table, "ConditionExpression": "attribute_not_exists(PK)",
                             "Item": to_item({"PK": f"SUBSCRIBER#{sid}", "SK": "PROFILE", **profile})}},
                ]
            )
            return True
        except self._db.exceptions.TransactionCanceledException:
            return False

    def seed_subscribers(self, profiles: Iterable[dict[str, Any]], subscriptions: Iterable[dict[str, Any]]) -> None:
        """Bulk load for demo data, tests and benchmarks only (BatchWriteItem, 25 a call): unlike
        create_subscriber it does not check that an address is new, so never use it on a request."""
        writes = []
        for p in profiles:
            writes.append({"PutRequest": {"Item": to_item({"PK": f"EMAIL#{email_hash(p['email'])}", "SK": "SUBSCRIBER", "subscriber_id": p["id"]})}})
            writes.append({"PutRequest": {"Item": to_item({"PK": f"SUBSCRIBER#{p['id']}", "SK": "PROFILE", **p})}})
        for s in subscriptions:
            item = {"PK": f"SUBSCRIBER#{s['subscriber_id']}", "SK": f"SUB#{s['id']}", **s}
            if s.get("status") == "active":
                item |= self._watch_keys(s)
            writes.append({"PutRequest": {"Item": to_item(item)}})
        self._batch_write(writes)

    def update_subscriber(self, subscriber_id: str, changes: dict[str, Any]) -> dict[str, Any]:
        return self._update(f"SUBSCRIBER#{subscriber_id}", "PROFILE", changes)

    def put_subscription(self, subscription: dict[str, Any]) -> None:
        """Create or replace one subscription. Only active ones are indexed under their service."""
        item = {"PK": f"SUBSCRIBER#{subscription['subscriber_id']}", "SK": f"SUB#{subscription['id']}", **subscription}
        if subscription.get("status") == "active":
            item |= self._watch_keys(subscription)
        self._db.put_item(TableName=self._table, Item=to_item(item))

    def get_subscription(self, subscriber_id: str, subscription_id: str) -> dict[str, Any] | None:
        item = self._get(f"SUBSCRIBER#{subscriber_id}", f"SUB#{subscription_id}", consistent=True)
        return _public(item) if item else None

    def set_subscription_status(self, subscriber_id: str, subscription_id: str, status: str, changes: dict[str, Any] | None = None) -> dict[str, Any]:
        current = self.get_subscription(subscriber_id, subscription_id)
        if not current:
            raise Conflict("That subscription no longer exists.")
        sets = {**(changes or {}), "status": status}
        removes: list[str] = []
        if status == "active":
            sets |= self._watch_keys(current | sets)
        else:
            removes = ["GSI1PK", "GSI1SK"]
        return self._update(f"SUBSCRIBER#{subscriber_id}", f"SUB#{subscription_id}", sets, removes)

    def subscriptions_of(self, subscriber_id: str) -> list[dict[str, Any]]:
        items = self._query(
            KeyConditionExpression="PK = :pk AND begins_with(SK, :s)",
            ExpressionAttributeValues=to_item({":pk": f"SUBSCRIBER#{subscriber_id}", ":s": "SUB#"}),
        )
        return [_public(i) for i in items]

    def watchers(self, slug: str) -> Iterator[dict[str, Any]]:
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
                yield _public(from_item(item))
            if not resp.get("LastEvaluatedKey"):
                return
            args["ExclusiveStartKey"] = resp["LastEvaluatedKey"]

    @staticmethod
    def _watch_keys(subscription: dict[str, Any]) -> dict[str, str]:
        return {"GSI1PK": f"WATCH#{subscription['service']}", "GSI1SK": f"{subscription['subscriber_id']}#{subscription['id']}"}

    # ---- the suppression list (bounces and complaints) ------------------------------------------

    def suppress(self, email: str, reason: str, at: str, detail: str = "") -> None:
        """Stop sending to an address. Kept by hash only: the list itself holds no address."""
        self._db.put_item(
            TableName=self._table,
            Item=to_item({"PK": f"SUPPRESSED#{email_hash(email)}", "SK": "SUPPRESSED", "reason": reason, "at": at, "detail": detail[:500]}),
        )

    def suppression(self, email: str) -> dict[str, Any] | None:
        item = self._get(f"SUPPRESSED#{email_hash(email)}", "SUPPRESSED", consistent=True)
        return _public(item) if item else None

    def unsuppress(self, email: str) -> None:
        self._db.delete_item(TableName=self._table, Key=to_item({"PK": f"SUPPRESSED#{email_hash(email)}", "SK": "SUPPRESSED"}))

    # ---- the conversation on a story: read receipts, responses, author replies ------------------

    def put_read_receipt(self, story_id: str, subscriber_id: str, receipt: dict[str, Any]) -> bool:
        """Record the first time one person read a story; False if they already had."""
        return self._put_once({"PK": f"STORY#{story_id}", "SK": f"READ#{subscriber_id}", "subscriber_id": subscriber_id, **receipt})

    def put_response(self, story_id: str, response: dict[str, Any]) -> None:
        self._put_thread_item(story_id, "RESPONSE", response, queued=response["status"] == "held")

    def add_response(self, story_id: str, response: dict[str, Any]) -> bool:
        """put_response, once per response id: False (nothing written) if that id exists already,
        so a form sent twice makes one response."""
        try:
            self.put_response(story_id, response)
            return True
        except self._db.exceptions.ConditionalCheckFailedException:
            return False

    def get_read_receipt(self, story_id: str, subscriber_id: str) -> dict[str, Any] | None:
        item = self._get(f"STORY#{story_id}", f"READ#{subscriber_id}", consistent=True)
        return _public(item) if item else None

    def put_reply(self, story_id: str, reply: dict[str, Any]) -> None:
        self._put_thread_item(story_id, "REPLY", reply, queued=reply["status"] == "pending")

    def _put_thread_item(self, story_id: str, kind: str, data: dict[str, Any], queued: bool) -> None:
        item = {"PK": f"STORY#{story_id}", "SK": f"{kind}#{data['id']}", "story_id": story_id, **data}
        if queued:
            item |= {"GSI1PK": f"QUEUE#{REPLIES_QUEUE}", "GSI1SK": f"{data['created_at']}#{story_id}#{kind}#{data['id']}"}
        self._db.put_item(TableName=self._table, Item=to_item(item), ConditionExpression="attribute_not_exists(PK)")

    def get_thread_item(self, story_id: str, kind: str, item_id: str) -> dict[str, Any] | None:
        """kind is "response" or "reply"."""
        item = self._get(f"STORY#{story_id}", f"{kind.upper()}#{item_id}", consistent=True)
        return _public(item) | {"item": kind} if item else None

    def decide_thread_item(self, story_id: str, kind: str, item_id: str, allowed_from: Iterable[str], changes: dict[str, Any]) -> dict[str, Any]:
        """Publish or reject a held response or pending reply; it leaves the moderators' queue.
        A second decision on the same item raises Conflict."""
        allowed = sorted(set(allowed_from))
        return self._update(
            f"STORY#{story_id}", f"{kind.upper()}#{item_id}", changes, ["GSI1PK", "GSI1SK"],
            condition=("#status IN (" + ", ".join(f":s{i}" for i in range(len(allowed))) + ")", {f":s{i}": v for i, v in enumerate(allowed)}),
        ) | {"item": kind}

    def replies_queue(self, limit: int) -> list[dict[str, Any]]:
        """Held responses and pending author replies, oldest first."""
        items = self._query(
            index=GSI1,
            limit=limit,
            KeyConditionExpression="GSI1PK = :pk",
            ExpressionAttributeValues=to_item({":pk": f"QUEUE#{REPLIES_QUEUE}"}),
        )
        return [_public(i) | {"item": i["SK"].split("#", 1)[0].lower()} for i in items]

    def mark_progress(self, story_id: str, field: str, at: str) -> bool:
        """Set a story's first_read_at, first_response_at, change_planned_at or change_made_at once.
        Does not bump the version: progress never conflicts with a moderator's decision."""
        try:
            self._db.update_item(
                TableName=self._table,
                Key=to_item({"PK": f"STORY#{story_id}", "SK": "STORY"}),
                UpdateExpression="SET #f = :at",
                ConditionExpression="attribute_exists(PK) AND attribute_not_exists(#f)",
                ExpressionAttributeNames={"#f": field},
                ExpressionAttributeValues=to_item({":at": at}),
            )
            return True
        except self._db.exceptions.ConditionalCheckFailedException:
            return False

    def change_status(self, story_id: str, allowed_from: Iterable[str], changes: dict[str, Any]) -> dict[str, Any]:
        """An author's own change of status (withdraw, erase): no version check, but bumps it."""
        allowed = sorted(set(allowed_from))
        removes = ["GSI1PK", "GSI1SK"] if changes.get("status") not in ("pending", "held") else []
        return self._update(
            f"STORY#{story_id}", "STORY", changes, removes, bump_version=True,
            condition=("#status IN (" + ", ".join(f":s{i}" for i in range(len(allowed))) + ")", {f":s{i}": v for i, v in enumerate(allowed)}),
        )

    def _update(
        self,
        pk: str,
        sk: str,
        sets: dict[str, Any],
        removes: Iterable[str] = (),
        condition: tuple[str, dict[str, Any]] | None = None,
        bump_version: bool = False,
    ) -> dict[str, Any]:
        """UpdateItem on an existing item; a failed condition (or a missing item) raises Conflict."""
        removes = [r for r in removes if r not in sets]
        names = {f"#a{i}": k for i, k in enumerate(sets)}
        values: dict[str, Any] = {f":v{i}": v for i, v in enumerate(sets.values())}
        parts = [f"#a{i} = :v{i}" for i in range(len(sets))]
        if bump_version:
            names["#version"] = "version"
            values[":one"] = 1
            parts.append("#version = #version + :one")
        expr = "SET " + ", ".join(parts)
        if removes:
            names.update({f"#r{i}": k for i, k in enumerate(removes)})
            expr += " REMOVE " + ", ".join(f"#r{i}" for i in range(len(removes)))
        cond = "attribute_exists(PK)"
        if condition:
            cond += f" AND ({condition[0]})"
            names["#status"] = "status"
            values.update(condition[1])
        try:
            resp = self._db.update_item(
                TableName=self._table,
                Key=to_item({"PK": pk, "SK": sk}),
                UpdateExpression=expr,
                ConditionExpression=cond,
                ExpressionAttributeNames=names,
                ExpressionAttributeValues=to_item(values),
                ReturnValues="ALL_NEW",
            )
        except self._db.exceptions.ConditionalCheckFailedException as e:
            raise Conflict("This has already been changed. Reload the page to see where it stands.") from e
        return _public(from_item(resp["Attributes"]))

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
        self._batch_write([
            {"PutRequest": {"Item": to_item({
                "PK": f"DIGEST#{day}", "SK": f"{story_id}#{sid}", "story_id": story_id, "subscriber_id": sid,
                "GSI1PK": f"DIGEST#{day}#{sid}", "GSI1SK": story_id, TTL_ATTRIBUTE: expires_at,
            })}}
            for sid in sorted(set(subscriber_ids))
        ])

    def digest_of(self, day: str, subscriber_id: str) -> list[str]:
        """The story ids in one person's digest for one day (entries written by add_to_digests)."""
        items = self._query(
            index=GSI1,
            KeyConditionExpression="GSI1PK = :pk",
            ExpressionAttributeValues=to_item({":pk": f"DIGEST#{day}#{subscriber_id}"}),
        )
        return [i["story_id"] for i in items]

    # ---- erasure -------------------------------------------------------------------------------------

    def erase_story(self, story_id: str) -> int:
        """Delete every item about one story and its author: the links to it, its private items,
        its email and submission idempotency records, its digest entries, and last the story's own
        partition (so a crash half-way leaves the story item to retry from). Returns items deleted."""
        story = self._get(f"STORY#{story_id}", "STORY", consistent=True)
        contact = self._get(f"PRIVATE#{story_id}", "CONTACT", consistent=True)
        keys: list[dict[str, Any]] = []
        tokens = self._query(
            index=GSI1,
            KeyConditionExpression="GSI1PK = :pk",
            ExpressionAttributeValues=to_item({":pk": f"TOKENS#{story_id}"}),
        )
        keys += [{"PK": t["PK"], "SK": t["SK"]} for t in tokens]
        keys += [{"PK": i["PK"], "SK": i["SK"]} for i in self._partition(f"PRIVATE#{story_id}")]
        keys.append({"PK": f"LADDER#{story_id}", "SK": "LADDER"})  # its escalation ladder, if it has one
        keys += [{"PK": i["PK"], "SK": i["SK"]} for i in self._partition(f"IDEMPOTENCY#{mail_layer_name(story_id)}")]
        if contact and contact.get("submission_id"):
            keys.append({"PK": "IDEMPOTENCY#stories", "SK": submission_record_key(contact["submission_id"])})
        if story and story.get("published_at"):
            items = self._query(
                KeyConditionExpression="PK = :pk AND begins_with(SK, :s)",
                ExpressionAttributeValues=to_item({":pk": f"DIGEST#{digest_day(story['published_at'])}", ":s": f"{story_id}#"}),
            )
            keys += [{"PK": i["PK"], "SK": i["SK"]} for i in items]
        # CHECK: the me-too items (their addresses are in PRIVATE#, above) and the scheduled change check.
        keys += [{"PK": i["PK"], "SK": i["SK"]} for i in self._partition(f"METOO#{story_id}")]
        keys.append({"PK": f"CHECKDUE#{story_id}", "SK": "CHECKDUE"})
        thread = self._partition(f"STORY#{story_id}")
        keys += [{"PK": i["PK"], "SK": i["SK"]} for i in thread if i["SK"] != "STORY"]
        self._batch_write([{"DeleteRequest": {"Key": to_item(k)}} for k in keys])
        if story:
            self._db.delete_item(TableName=self._table, Key=to_item({"PK": f"STORY#{story_id}", "SK": "STORY"}))
        return len(keys) + (1 if story else 0)

    # ---- idempotency records ------------------------------------------------------------------

    def idempotency_layer(self, name: str) -> Any:
        """Where the idempotency records of `name` live (idempotency.once shares one powertools layer)."""
        from ..core.idempotency import Records

        return Records(self._db, self._table, f"IDEMPOTENCY#{name}", "PK", "SK", TTL_ATTRIBUTE)

    # ---- figures ---------------------------------------------------------------------------------
    # A counter item per listing (a service, "_all", a tag list): the counts of figures.COUNTS, a
    # histogram of response times in whole hours ("h:<hours>") and stories per month ("m:<YYYY-MM>"),
    # all top-level numbers so that one ADD creates or moves each. A facts item per story holds what
    # was last applied to which listings, and a revision that the next application is conditioned on.

    def figures(self, listing: str, consistent: bool = False) -> dict[str, Any]:
        """A listing's counter: {count: n, "hours": {h: n}, "months": {YYYY-MM: n}}; zeros left out."""
        item = self._get(f"FIGURES#{listing}", "COUNTER", consistent=consistent) or {}
        out: dict[str, Any] = {"hours": {}, "months": {}}
        for name, value in _public(item).items():
            kind, sep, ref = name.partition(":")
            if sep and kind == "h" and value:
                out["hours"][int(ref)] = value
            elif sep and kind == "m" and value:
                out["months"][ref] = value
            elif not sep:
                out[name] = value
        return out

    def story_facts(self, story_id: str) -> dict[str, Any]:
        """The facts last applied for a story, the listings they went to, and their revision."""
        item = self._get(f"FACTS#{story_id}", "FACTS", consistent=True)
        if not item:
            return {"facts": {}, "listings": [], "rev": 0}
        return {"facts": item.get("facts") or {}, "listings": item.get("listings") or [], "rev": item["rev"]}

    def apply_facts(self, story_id: str, applied: dict[str, Any], facts: dict[str, Any], listings: Iterable[str],
                    deltas: dict[str, dict[str, Any]]) -> bool:
        """Move each listing's counter by its delta (figures.delta) and record the new facts, in one
        TransactWriteItems conditioned on the revision read (`applied`, from story_facts). False,
        with nothing written, if another application came first."""
        rev = applied["rev"]
        facts_key = {"PK": f"FACTS#{story_id}", "SK": "FACTS"}
        condition = (
            ("attribute_not_exists(PK)", {}) if not rev else ("#rev = :rev", {":rev": rev})
        )
        items: list[dict[str, Any]] = []
        for listing, d in sorted(deltas.items()):
            adds = {**d["counts"], **{f"h:{h}": n for h, n in d["hours"].items()}, **{f"m:{m}": n for m, n in d["months"].items()}}
            if not adds:
                continue
            names = {f"#a{i}": k for i, k in enumerate(adds)}
            values = {f":a{i}": v for i, v in enumerate(adds.values())}
            items.append({"Update": {
                "TableName": self._table,
                "Key": to_item({"PK": f"FIGURES#{listing}", "SK": "COUNTER"}),
                "UpdateExpression": "ADD " + ", ".join(f"#a{i} :a{i}" for i in range(len(adds))),
                "ExpressionAttributeNames": names,
                "ExpressionAttributeValues": to_item(values),
            }})
        cond: dict[str, Any] = {"ConditionExpression": condition[0]}
        if rev:
            cond |= {"ExpressionAttributeNames": {"#rev": "rev"}, "ExpressionAttributeValues": to_item(condition[1])}
        if facts:
            record = {**facts_key, "facts": facts, "listings": sorted(set(listings)), "rev": rev + 1}
            items.append({"Put": {"TableName": self._table, "Item": to_item(record), **cond}})
        elif rev:
            items.append({"Delete": {"TableName": self._table, "Key": to_item(facts_key), **cond}})
        if not items:
            return True
        if len(items) > 100:
            raise ValueError(f"a story on {len(deltas)} listings is more than one transaction holds")
        try:
            self._db.transact_write_items(TransactItems=items)
            return True
        except self._db.exceptions.TransactionCanceledException:
            return False

    def _add_to_counters(self, deltas: dict[str, dict[str, Any]]) -> None:
        """Bulk loading only: one UpdateItem (ADD) per listing, no facts condition."""
        for listing, d in sorted(deltas.items()):
            adds = {**d["counts"], **{f"h:{h}": n for h, n in d["hours"].items()}, **{f"m:{m}": n for m, n in d["months"].items()}}
            if adds:
                self._db.update_item(
                    TableName=self._table,
                    Key=to_item({"PK": f"FIGURES#{listing}", "SK": "COUNTER"}),
                    UpdateExpression="ADD " + ", ".join(f"#a{i} :a{i}" for i in range(len(adds))),
                    ExpressionAttributeNames={f"#a{i}": k for i, k in enumerate(adds)},
                    ExpressionAttributeValues=to_item({f":a{i}": v for i, v in enumerate(adds.values())}),
                )

    # ---- listing pages ---------------------------------------------------------------------------

    def listing_month(self, listing: str, month: str, limit: int | None = None, newest_first: bool = True) -> list[dict[str, Any]]:
        """A listing's entries published in one month (YYYY-MM): a Query with SK between the
        month's bounds; newest first with a Limit for the month's latest archive pages."""
        items = self._query(
            limit=limit,
            forward=not newest_first,
            KeyConditionExpression="PK = :pk AND SK BETWEEN :lo AND :hi",
            ExpressionAttributeValues=to_item({":pk": f"LIST#{listing}", ":lo": f"{month}-", ":hi": f"{month}-~"}),
        )
        return [_public(i) for i in items]

    # ---- the stream ---------------------------------------------------------------------------

    @staticmethod
    def decode_change(record: dict[str, Any]) -> Change:
        """Say what a DynamoDB stream record is about, from its keys."""
        ddb = record.get("dynamodb", {})
        keys = from_item(ddb.get("Keys", {}))
        old = from_item(ddb["OldImage"]) if ddb.get("OldImage") else None
        new = from_item(ddb["NewImage"]) if ddb.get("NewImage") else None
        pk, sk = str(keys.get("PK", "")), str(keys.get("SK", ""))
        prefix, _, ident = pk.partition("#")
        if prefix == "STORY" and sk == "STORY":
            return Change("story", ident, old and _public(old), new and _public(new))
        if prefix == "PRIVATE" and sk == "CONTACT":
            return Change("contact", ident, None, None)  # the address itself never leaves the store
        sk_kind, _, ref = sk.partition("#")
        if prefix == "STORY" and sk_kind in _THREAD_KINDS:
            img_old, img_new = old and _public(old), new and _public(new)
            return Change(_THREAD_KINDS[sk_kind], ident, img_old, img_new, ref, (img_new or img_old or {}).get("subscriber_id"))
        if prefix == "SUBSCRIBER" and sk == "PROFILE":
            return Change("subscriber", None, old and _public(old), new and _public(new), ident, ident)
        if prefix == "SUBSCRIBER" and sk_kind == "SUB":
            return Change("subscription", None, old and _public(old), new and _public(new), ref, ident)
        return Change("other", None, None, None)

    # ---- the public API and the search index -------------------------------------------------

    def listing_page(
        self, name: str, limit: int, lo: str = "0", hi: str = "~", after: str | None = None, tag: str | None = None, max_queries: int = 5
    ) -> tuple[list[dict[str, Any]], str | None]:
        """One page of a listing, newest first: entries whose sort key ("<published_at>#<id>") is
        between lo and hi, after the sort key `after`. With `tag`, only entries carrying it (a
        filter, so at most max_queries Query calls; the page may then hold fewer than `limit`).
        Returns the entries (each with its sort key as "sk") and the sort key to go on after, or None."""
        args: dict[str, Any] = {
            "TableName": self._table,
            "ScanIndexForward": False,
            "KeyConditionExpression": "PK = :pk AND SK BETWEEN :lo AND :hi",
            "ExpressionAttributeValues": to_item({":pk": f"LIST#{name}", ":lo": lo, ":hi": hi} | ({":tag": tag} if tag else {})),
        }
        if tag:
            args |= {"FilterExpression": "contains(#tags, :tag)", "ExpressionAttributeNames": {"#tags": "tags"}}
        if after:
            args["ExclusiveStartKey"] = to_item({"PK": f"LIST#{name}", "SK": after})
        items: list[dict[str, Any]] = []
        for _ in range(max_queries):
            # One more than asked, to know whether there is a next page without another call.
            args["Limit"] = 100 if tag else limit + 1 - len(items)
            resp = self._db.query(**args)
            items.extend(from_item(i) for i in resp.get("Items", []))
            if len(items) > limit:
                page = items[:limit]
                return [_public(i) | {"sk": i["SK"]} for i in page], page[-1]["SK"]
            last = resp.get("LastEvaluatedKey")
            if not last:
                return [_public(i) | {"sk": i["SK"]} for i in items], None
            args["ExclusiveStartKey"] = last
        return [_public(i) | {"sk": i["SK"]} for i in items], from_item(last)["SK"]

    def get_stories(self, story_ids: Iterable[str]) -> dict[str, dict[str, Any]]:
        """Many stories by id: one BatchGetItem per 100 (the search index job, not a request)."""
        wanted = sorted(set(story_ids))
        found: dict[str, dict[str, Any]] = {}
        for i in range(0, len(wanted), 100):
            request = {self._table: {"Keys": [to_item({"PK": f"STORY#{s}", "SK": "STORY"}) for s in wanted[i : i + 100]]}}
            while request:
                resp = self._db.batch_get_item(RequestItems=request)
                for item in resp.get("Responses", {}).get(self._table, []):
                    story = _public(from_item(item))
                    found[story["id"]] = story
                request = resp.get("UnprocessedKeys") or None
        return found

    # ---- rate limits (CHECK: limits.py) ------------------------------------------------------------

    def count_hit(self, key: str, window: int, expires_at: int) -> int:
        """Count one request in a fixed window (one UpdateItem); returns the window's count so far."""
        resp = self._db.update_item(
            TableName=self._table,
            Key=to_item({"PK": f"LIMIT#{key}", "SK": str(window)}),
            UpdateExpression="ADD #n :one SET #ttl = :ttl",
            ExpressionAttributeNames={"#n": "hits", "#ttl": TTL_ATTRIBUTE},
            ExpressionAttributeValues=to_item({":one": 1, ":ttl": expires_at}),
            ReturnValues="UPDATED_NEW",
        )
        return int(from_item(resp["Attributes"])["hits"])

    def hits(self, key: str, window: int) -> int:
        item = self._get(f"LIMIT#{key}", str(window))
        return int(item.get("hits", 0)) if item else 0

    # ---- me too (CHECK: metoo.py) ----------------------------------------------------------------------

    def add_me_too(self, story_id: str, me_too: dict[str, Any], email: str | None) -> bool:
        """A reader's "me too" (once per id: False, nothing written, if it exists) and, apart from it,
        their address if they left one. In their own partition, so the story page's Query does not
        grow with them. Two writes, not a transaction: a cancelled transaction in moto swaps the
        table's stream for a copy, which the local pump no longer reads (the address may be lost
        by a crash between them; the me-too is not)."""
        if not self._put_once({"PK": f"METOO#{story_id}", "SK": me_too["id"], "story_id": story_id, **me_too}):
            return False
        if email:
            self._db.put_item(TableName=self._table, Item=to_item(
                {"PK": f"PRIVATE#{story_id}", "SK": f"METOO#{me_too['id']}", "email": email, "created_at": me_too["created_at"]}))
        return True

    def count_me_too(self, story_id: str, me_too_id: str) -> bool:
        """Add one me-too to the story's me_too_count, once per me-too item: the count and the
        item's `counted` mark change together or not at all. False if it was counted before."""
        return self._count_once(
            story_id, "me_too_count", {"PK": f"METOO#{story_id}", "SK": me_too_id})

    def me_too_contacts(self, story_id: str) -> list[str]:
        """The ids of the me-too items whose reader left an address (the ids only, not the addresses)."""
        items = self._query(
            KeyConditionExpression="PK = :pk AND begins_with(SK, :m)",
            ExpressionAttributeValues=to_item({":pk": f"PRIVATE#{story_id}", ":m": "METOO#"}),
            ProjectionExpression="SK",
        )
        return [i["SK"].split("#", 1)[1] for i in items]

    def me_too_contact(self, story_id: str, me_too_id: str) -> dict[str, Any] | None:
        item = self._get(f"PRIVATE#{story_id}", f"METOO#{me_too_id}", consistent=True)
        return _public(item) if item else None

    def _count_once(self, story_id: str, counter: str, marker: dict[str, str]) -> bool:
        # Read first: a record delivered again finds its mark and writes nothing (and cancels no
        # transaction: in moto that swaps the table's stream for a copy the local pump cannot see).
        seen = self._get(marker["PK"], marker["SK"], consistent=True)
        if not seen or seen.get("counted"):
            return False
        try:
            self._db.transact_write_items(TransactItems=[
                {"Update": {
                    "TableName": self._table, "Key": to_item({"PK": f"STORY#{story_id}", "SK": "STORY"}),
                    "UpdateExpression": "ADD #c :one", "ConditionExpression": "attribute_exists(PK)",
                    "ExpressionAttributeNames": {"#c": counter}, "ExpressionAttributeValues": to_item({":one": 1}),
                }},
                {"Update": {
                    "TableName": self._table, "Key": to_item(marker),
                    "UpdateExpression": "SET #k = :t",
                    "ConditionExpression": "attribute_exists(PK) AND attribute_not_exists(#k)",
                    "ExpressionAttributeNames": {"#k": "counted"}, "ExpressionAttributeValues": to_item({":t": True}),
                }},
            ])
            return True
        except self._db.exceptions.TransactionCanceledException:
            return False

    # ---- change checks (CHECK: change_check.py) ------------------------------------------------------

    CHECKS_DUE = "CHECKS#due"  # the one GSI1 partition of scheduled change checks, by due time

    def schedule_check(self, story_id: str, due_at: str, made_at: str) -> bool:
        """Ask the story's author (and me-too readers) about a change at `due_at`: once per story.
        Indexed by due time in one fixed GSI1 partition, so the daily job is one Query."""
        return self._put_once({
            "PK": f"CHECKDUE#{story_id}", "SK": "CHECKDUE", "story_id": story_id, "due_at": due_at, "made_at": made_at,
            "GSI1PK": self.CHECKS_DUE, "GSI1SK": f"{due_at}#{story_id}",
        })

    def due_checks(self, now: str, limit: int = 500) -> list[dict[str, Any]]:
        """Scheduled checks due by `now` and not yet sent, oldest first."""
        items = self._query(
            index=GSI1,
            limit=limit,
            KeyConditionExpression="GSI1PK = :pk AND GSI1SK <= :now",
            ExpressionAttributeValues=to_item({":pk": self.CHECKS_DUE, ":now": f"{now}#~"}),
        )
        return [_public(i) for i in items]

    def get_check(self, story_id: str) -> dict[str, Any] | None:
        item = self._get(f"CHECKDUE#{story_id}", "CHECKDUE", consistent=True)
        return _public(item) if item else None

    def close_check(self, story_id: str, sent_at: str, recipients: int) -> bool:
        """Mark a scheduled check sent; it leaves the index. False if it was closed before."""
        try:
            self._db.update_item(
                TableName=self._table,
                Key=to_item({"PK": f"CHECKDUE#{story_id}", "SK": "CHECKDUE"}),
                UpdateExpression="SET sent_at = :at, recipients = :n REMOVE GSI1PK, GSI1SK",
                ConditionExpression="attribute_exists(GSI1PK)",
                ExpressionAttributeValues=to_item({":at": sent_at, ":n": recipients}),
            )
            return True
        except self._db.exceptions.ConditionalCheckFailedException:
            return False

    def put_check_answer(self, story_id: str, answer: dict[str, Any]) -> bool:
        """One answer per recipient (its id): False, nothing written, if they answered before.
        An answer with a comment waits on the replies queue for a moderator."""
        try:
            self._put_thread_item(story_id, "CHECK", answer, queued=answer["status"] == "pending")
            return True
        except self._db.exceptions.ConditionalCheckFailedException:
            return False

    def set_change_verdict(self, story_id: str, verdict: str, at: str) -> bool:
        """The author's verdict on the change, set once."""
        try:
            self._db.update_item(
                TableName=self._table,
                Key=to_item({"PK": f"STORY#{story_id}", "SK": "STORY"}),
                UpdateExpression="SET change_verdict = :v, change_verdict_at = :at",
                ConditionExpression="attribute_exists(PK) AND attribute_not_exists(change_verdict)",
                ExpressionAttributeValues=to_item({":v": verdict, ":at": at}),
            )
            return True
        except self._db.exceptions.ConditionalCheckFailedException:
            return False

    def count_me_too_verdict(self, story_id: str, answer_id: str, verdict: str) -> bool:
        """A me-too reader's answer counted once on the story (me_too_yes, me_too_partly, me_too_no)."""
        return self._count_once(story_id, f"me_too_{verdict}", {"PK": f"STORY#{story_id}", "SK": f"CHECK#{answer_id}"})

    @staticmethod
    def decode_loop(record: dict[str, Any]) -> tuple[str, str, str, dict[str, Any] | None, dict[str, Any] | None] | None:
        """(kind, story id, item id, old, new) for a me-too ("me_too") or a change-check answer
        ("check") stream record; None for anything else."""
        ddb = record.get("dynamodb", {})
        keys = from_item(ddb.get("Keys", {}))
        pk, sk = str(keys.get("PK", "")), str(keys.get("SK", ""))
        prefix, _, story_id = pk.partition("#")
        old = _public(from_item(ddb["OldImage"])) if ddb.get("OldImage") else None
        new = _public(from_item(ddb["NewImage"])) if ddb.get("NewImage") else None
        if prefix == "METOO":
            return "me_too", story_id, sk, old, new
        if prefix == "STORY" and sk.startswith("CHECK#"):
            return "check", story_id, sk.split("#", 1)[1], old, new
        return None

    # ---- the escalation ladder (LADDER: promise.py, ladder.py) -----------------------------------
    # One item per story awaiting its first response, LADDER#<story id>, indexed on GSI1 under one
    # fixed partition by the time of its next step, so the hourly run Queries what is due and never
    # Scans. A finished ladder (next_step "done") leaves the index; a response, withdrawal or
    # erasure deletes the item.

    def start_promise(self, story_id: str, promise: dict[str, Any], steps: dict[str, str]) -> bool:
        """Set the story's response_days and response_due_at and start its ladder, all or nothing;
        False (nothing written) if the story already has a promise, a response, or is not published."""
        first = "reminder"
        sets = {"#d": "response_days", "#due": "response_due_at", "#cal": "response_holidays"}
        try:
            self._db.transact_write_items(TransactItems=[
                {"Update": {
                    "TableName": self._table,
                    "Key": to_item({"PK": f"STORY#{story_id}", "SK": "STORY"}),
                    "UpdateExpression": "SET #d = :d, #due = :due, #cal = :cal",
                    "ConditionExpression": "attribute_exists(PK) AND #status = :published AND attribute_not_exists(#due)"
                                           " AND attribute_not_exists(first_response_at)",
                    "ExpressionAttributeNames": sets | {"#status": "status"},
                    "ExpressionAttributeValues": to_item({":d": promise["response_days"], ":due": promise["response_due_at"],
                                                          ":cal": promise["response_holidays"], ":published": "published"}),
                }},
                {"Put": {
                    "TableName": self._table,
                    "Item": to_item({
                        "PK": f"LADDER#{story_id}", "SK": "LADDER", "GSI1PK": "LADDER", "GSI1SK": f"{steps[first]}#{story_id}",
                        "story_id": story_id, "steps": steps, "next_step": first, "next_at": steps[first], **promise,
                    }),
                    "ConditionExpression": "attribute_not_exists(PK)",
                }},
            ])
            return True
        except self._db.exceptions.TransactionCanceledException:
            return False

    def ladders_due(self, now: str, limit: int, start_key: dict[str, Any] | None = None) -> tuple[list[dict[str, Any]], dict[str, Any] | None]:
        """One page of ladders whose next step is due at `now` (ISO UTC), soonest first, and where
        the next page starts (None after the last)."""
        args: dict[str, Any] = {
            "TableName": self._table, "IndexName": GSI1, "Limit": limit,
            "KeyConditionExpression": "GSI1PK = :pk AND GSI1SK <= :upto",
            "ExpressionAttributeValues": to_item({":pk": "LADDER", ":upto": f"{now}#~"}),
        }
        if start_key:
            args["ExclusiveStartKey"] = start_key
        resp = self._db.query(**args)
        return [_public(from_item(i)) for i in resp.get("Items", [])], resp.get("LastEvaluatedKey")

    def get_ladder(self, story_id: str) -> dict[str, Any] | None:
        item = self._get(f"LADDER#{story_id}", "LADDER", consistent=True)
        return _public(item) if item else None

    def advance_ladder(self, story_id: str, step_from: str, step_to: str, next_at: str | None) -> bool:
        """Move a ladder from one step to the next (or to "done", next_at None), only if it is still
        at `step_from`: of two runs that race, one wins. False if it had moved or is gone."""
        names = {"#n": "next_step"}
        values: dict[str, Any] = {":from": step_from, ":to": step_to}
        if next_at:
            expr = "SET #n = :to, next_at = :at, GSI1PK = :pk, GSI1SK = :sk"
            values |= {":at": next_at, ":pk": "LADDER", ":sk": f"{next_at}#{story_id}"}
        else:
            expr = "SET #n = :to REMOVE next_at, GSI1PK, GSI1SK"
        try:
            self._db.update_item(
                TableName=self._table, Key=to_item({"PK": f"LADDER#{story_id}", "SK": "LADDER"}), UpdateExpression=expr,
                ConditionExpression="attribute_exists(PK) AND #n = :from", ExpressionAttributeNames=names,
                ExpressionAttributeValues=to_item(values),
            )
            return True
        except self._db.exceptions.ConditionalCheckFailedException:
            return False

    def end_ladder(self, story_id: str) -> None:
        self._db.delete_item(TableName=self._table, Key=to_item({"PK": f"LADDER#{story_id}", "SK": "LADDER"}))


def mail_layer_name(story_id: str) -> str:
    """Idempotency records for the emails about one story live together, so erasure can find them."""
    return f"mail#{story_id}" if story_id else "mail"


def submission_record_key(submission_id: str) -> str:
    """The sort key powertools gives the idempotency record of one submission (key prefix, then
    the MD5 of the JSON of the jmespath result). A test checks that erasure really removes it."""
    return "stories.submit#" + hashlib.md5(json.dumps(submission_id).encode(), usedforsecurity=False).hexdigest()


def digest_day(published_at: str) -> str:
    """A story goes in the digests of the (UTC) day it was first published."""
    return published_at[:10]
