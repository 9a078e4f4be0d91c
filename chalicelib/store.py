"""DynamoDB single-table access. The only module that knows keys, indexes and item shapes.

Every access pattern is listed in docs/data-model.md with its key and cost. Request paths
use GetItem, Query and conditional writes only: nothing here scans.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Iterable, Iterator

from boto3.dynamodb.types import TypeDeserializer, TypeSerializer

from .errors import Conflict

_ser = TypeSerializer()
_deser = TypeDeserializer()

GSI1 = "GSI1"
TTL_ATTRIBUTE = "ttl"
ROOT = "_root"
EVERYTHING = "_all"  # the listing behind the home page: every published story

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

    kind: str  # "story", "contact", "other"
    story_id: str | None
    old: dict[str, Any] | None
    new: dict[str, Any] | None


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

    def story_thread(self, story_id: str) -> list[dict[str, Any]]:
        """The story and everything public hung on it (responses, receipts, changes): one Query."""
        return [_public(i) | {"item": i["SK"].split("#", 1)[0].lower()} for i in self._partition(f"STORY#{story_id}")]

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

    # ---- capability tokens ------------------------------------------------------------------

    def put_token(self, token_hash: str, token: dict[str, Any], expires_at: int) -> None:
        self._db.put_item(
            TableName=self._table,
            Item=to_item({"PK": f"TOKEN#{token_hash}", "SK": "TOKEN", TTL_ATTRIBUTE: expires_at, "expires_at": expires_at, **token}),
            ConditionExpression="attribute_not_exists(PK)",
        )

    def get_token(self, token_hash: str) -> dict[str, Any] | None:
        item = self._get(f"TOKEN#{token_hash}", "TOKEN", consistent=True)
        return _public(item) if item else None

    # ---- idempotency records ------------------------------------------------------------------

    def idempotency_layer(self, name: str) -> Any:
        from aws_lambda_powertools.utilities.idempotency import DynamoDBPersistenceLayer

        return DynamoDBPersistenceLayer(
            table_name=self._table,
            key_attr="PK",
            sort_key_attr="SK",
            static_pk_value=f"IDEMPOTENCY#{name}",
            expiry_attr=TTL_ATTRIBUTE,
            boto3_client=self._db,
        )

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
        return Change("other", None, None, None)

