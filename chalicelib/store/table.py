"""The table itself: the client wrapper every part shares, item conversion, the key builders and
constants that more than one part needs, and the table's definition.

Every access pattern is listed in docs/data-model.md with its key and cost. Request paths
use GetItem, Query and conditional writes only: nothing here scans.
"""

from __future__ import annotations

import hashlib
import json
import secrets
import time
from collections.abc import Iterable
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

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


def place_list(town: str) -> str:
    """The listing of the stories about services in one town (its slug, core/places.py): its place page."""
    return f"place:{town}"


def staff_list(slug: str) -> str:
    """The listing of a service's published stories kept for staff only (issue 21: an unlicensed import):
    reports, exports and the board report read it beside the public one. Nothing public ever reads it,
    so a story on it reaches no page, feed or sitemap ("staff:" cannot start a service slug)."""
    return f"staff:{slug}"


def month_list(month: str) -> str:
    """The listing of the stories first listed in one month (YYYY-MM): one child sitemap each."""
    return f"month:{month}"


# The table's shape, used by the local stack and tests; infra/ declares the same (a test checks).
TABLE_DEFINITION: dict[str, Any] = {
    "AttributeDefinitions": [{"AttributeName": n, "AttributeType": "S"} for n in ("PK", "SK", "GSI1PK", "GSI1SK")],
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
# Each conditional write stamps the item with an id of its own, so that a retry of it (after its
# answer was lost: a timeout, a dropped connection) can recognise its own earlier success (issue 22).
WRITE_ID = "write_id"
REPLIES_QUEUE = "replies"  # held staff responses and pending author replies, for moderators
# How long a warm process keeps a slow-changing item (issue 17): a service item or a node's children
# (directory.py: read by nearly every page, email and stream record, changed only by a directory load,
# which a rebuild follows) and the partners' index of watched services (partners.py). A change made
# elsewhere is seen here within this time.
KEPT_SECONDS = 60.0


def set_clause(sets: dict[str, Any]) -> tuple[str, dict[str, str], dict[str, Any]]:
    """ "SET #a0 = :v0, ..." for these attributes, with its attribute names and values (names stand in
    for any attribute that is a reserved word)."""
    clause = "SET " + ", ".join(f"#a{i} = :v{i}" for i in range(len(sets)))
    return clause, {f"#a{i}": k for i, k in enumerate(sets)}, {f":v{i}": v for i, v in enumerate(sets.values())}


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
    return {k: v for k, v in item.items() if k not in _KEY_ATTRS and k not in (TTL_ATTRIBUTE, WRITE_ID)}


def request_token(*parts: object) -> str:
    """A TransactWriteItems ClientRequestToken (at most 36 characters) from what makes one operation
    unique: DynamoDB then treats the SDK's retry of a committed transaction as done, for 10 minutes."""
    return hashlib.sha256("\x1f".join(str(p) for p in parts).encode()).hexdigest()[:36]


def new_write_id() -> str:
    return secrets.token_hex(12)


def email_hash(email: str) -> str:
    """How an address is looked up without being a key: lower-cased, then SHA-256."""
    return hashlib.sha256(email.strip().lower().encode("utf-8")).hexdigest()


def mail_layer_name(story_id: str) -> str:
    """Idempotency records for the emails about one story live together, so erasure can find them."""
    return f"mail#{story_id}" if story_id else "mail"


def submission_record_key(submission_id: str) -> str:
    """The sort key powertools gives the idempotency record of one submission (key prefix, then
    the MD5 of the JSON of the jmespath result). A test checks that erasure really removes it."""
    return "stories.submit#" + hashlib.md5(json.dumps(submission_id).encode(), usedforsecurity=False).hexdigest()


def submission_record(
    table: str, story_id: str, status: str, submission_id: str, until: int, now: int
) -> dict[str, Any]:
    """A submission's idempotency record as a transaction's Put, in the shape powertools keeps one (status,
    data, expires_at): written with the story (issue 17); one that has expired is replaced."""
    item: dict[str, Any] = {
        "PK": "IDEMPOTENCY#stories",
        "SK": submission_record_key(submission_id),
        "status": "COMPLETED",
    }
    item |= {"data": json.dumps({"id": story_id, "status": status}), "expires_at": until}
    return {
        "TableName": table,
        "Item": to_item(item),
        "ConditionExpression": "attribute_not_exists(PK) OR expires_at < :now",
        "ExpressionAttributeValues": to_item({":now": now}),
        "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
    }


def digest_day(published_at: str) -> str:
    """A story goes in the digests of the (UTC) day it was first published (if its fan-out is in time)."""
    return published_at[:10]


# The daily digest runs at 07:00 UTC (app.py daily_digest) for the day before. An entry written from
# 06:50 on might be written after its Query: it goes to the next digest instead (a day late, never lost).
DIGEST_CUTOFF = timedelta(hours=6, minutes=50)
# How many days after publication a fan-out may still write (its job's retries on the mail queue last
# about 60 hours): erasure looks for a story's entries this far.
DIGEST_LATE_DAYS = 5


def digest_day_for(published_at: str, now: datetime) -> str:
    """The digest a fan-out running at `now` puts a story in: the day it was published if that
    digest is still to be sent, else the first one that is (issue 22: a fan-out delayed past 07:00
    the next morning used to write into a digest already sent, and the story was never in one)."""
    still_open = (now.astimezone(UTC) - DIGEST_CUTOFF).date().isoformat()
    return max(digest_day(published_at), still_open)


def digest_days(published_at: str) -> list[str]:
    """Every day whose digest may hold a story published at `published_at`."""
    first = date.fromisoformat(digest_day(published_at))
    return [(first + timedelta(days=n)).isoformat() for n in range(DIGEST_LATE_DAYS + 1)]


class Table:
    """The DynamoDB client and table name, and the generic helpers every part of the store uses."""

    def __init__(self, client: Any, table_name: str):
        self._db = client
        self._table = table_name
        # Slow-changing items a warm process keeps for a short time (directory.py): key -> (until, value).
        # It lives and dies with this object, so wiring.reset() (each test) starts empty.
        self._kept: dict[tuple[str, ...], tuple[float, Any]] = {}

    def forget_kept(self) -> None:
        """Drop every item kept by this process (a directory load calls it; the bench, per operation)."""
        self._kept.clear()

    def _recall(self, key: tuple[str, ...]) -> Any:
        hit = self._kept.get(key)
        return hit[1] if hit and hit[0] > time.monotonic() else None

    def _keep(self, key: tuple[str, ...], value: Any) -> None:
        self._kept[key] = (time.monotonic() + KEPT_SECONDS, value)

    def _get(self, pk: str, sk: str, consistent: bool = False) -> dict[str, Any] | None:
        resp = self._db.get_item(TableName=self._table, Key=to_item({"PK": pk, "SK": sk}), ConsistentRead=consistent)
        item = resp.get("Item")
        return from_item(item) if item else None

    def _query(
        self, limit: int | None = None, forward: bool = True, index: str | None = None, **kw: Any
    ) -> list[dict[str, Any]]:
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

    def _batch_get(
        self, keys: list[tuple[str, str]], consistent: bool = False
    ) -> dict[tuple[str, str], dict[str, Any]]:
        """Items by (PK, SK), at most 100 (one BatchGetItem, and again for any it left unprocessed)."""
        request: dict[str, Any] | None = {
            self._table: {"Keys": [to_item({"PK": pk, "SK": sk}) for pk, sk in keys], "ConsistentRead": consistent}
        }
        found: dict[tuple[str, str], dict[str, Any]] = {}
        while request:
            resp = self._db.batch_get_item(RequestItems=request)
            for item in resp.get("Responses", {}).get(self._table, []):
                got = from_item(item)
                found[(got["PK"], got["SK"])] = got
            request = resp.get("UnprocessedKeys") or None
        return found

    def _batch_write(self, writes: list[dict[str, Any]]) -> None:
        for i in range(0, len(writes), 25):
            request: dict[str, Any] | None = {self._table: writes[i : i + 25]}
            while request:
                resp = self._db.batch_write_item(RequestItems=request)
                request = resp.get("UnprocessedItems") or None

    def _put_once(self, item: dict[str, Any]) -> bool:
        """PutItem of a new item: False, nothing written, if it exists (True if it is our own write
        whose answer was lost)."""
        return self._put_or_existing(item) is None

    def _put_or_existing(self, item: dict[str, Any]) -> dict[str, Any] | None:
        """PutItem of a new item: None when written (or when the item there is our own write whose
        answer was lost), else the item that was there (public fields), read by the same call."""
        try:
            self._put_new(item)
            return None
        except self._db.exceptions.ConditionalCheckFailedException as e:
            there = getattr(e, "response", {}).get("Item")
            return _public(from_item(there)) if there else {}

    def _put_new(self, item: dict[str, Any]) -> None:
        """PutItem with attribute_not_exists(PK); ConditionalCheckFailed unless the item there is
        this very call's write (its SDK retry after the answer to the first attempt was lost). The
        failure carries the item there (ReturnValuesOnConditionCheckFailure): no read after it."""
        write_id = new_write_id()
        try:
            self._db.put_item(
                TableName=self._table,
                Item=to_item({**item, WRITE_ID: write_id}),
                ConditionExpression="attribute_not_exists(PK)",
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
            )
        except self._db.exceptions.ConditionalCheckFailedException as e:
            if _own_write(e, write_id) is None:
                raise

    def _update_once(
        self, pk: str, sk: str, update: str, condition: str, values: dict[str, Any], names: dict[str, str] | None = None
    ) -> bool:
        """A conditional UpdateItem that may happen once: False, nothing written, if its condition fails
        (True if what failed it is this very call's earlier write, whose answer was lost)."""
        write_id = new_write_id()
        stamp = "SET #wid = :wid"
        update = f"{stamp}, {update[4:]}" if update.startswith("SET ") else f"{stamp} {update}"
        try:
            self._db.update_item(
                TableName=self._table,
                Key=to_item({"PK": pk, "SK": sk}),
                UpdateExpression=update,
                ConditionExpression=condition,
                ExpressionAttributeValues=to_item(values | {":wid": write_id}),
                ExpressionAttributeNames=(names or {}) | {"#wid": WRITE_ID},
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
            )
            return True
        except self._db.exceptions.ConditionalCheckFailedException as e:
            return _own_write(e, write_id) is not None

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
        write_id = new_write_id()
        names["#wid"], values[":wid"] = WRITE_ID, write_id
        parts.append("#wid = :wid")
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
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
            )
        except self._db.exceptions.ConditionalCheckFailedException as e:
            mine = _own_write(e, write_id)
            if mine is not None:
                return _public(mine)  # our own earlier write, whose answer was lost: done
            raise Conflict("This has already been changed. Reload the page to see where it stands.") from e
        return _public(from_item(resp["Attributes"]))

    def _put_thread_item(self, story_id: str, kind: str, data: dict[str, Any], queued: bool) -> None:
        item = {"PK": f"STORY#{story_id}", "SK": f"{kind}#{data['id']}", "story_id": story_id, **data}
        if queued:
            item |= {
                "GSI1PK": f"QUEUE#{REPLIES_QUEUE}",
                "GSI1SK": f"{data['created_at']}#{story_id}#{kind}#{data['id']}",
            }
        self._put_new(item)


def _own_write(error: Any, write_id: str) -> dict[str, Any] | None:
    """The item a ConditionalCheckFailed update met (ReturnValuesOnConditionCheckFailure=ALL_OLD),
    if it carries `write_id`: the call's own earlier attempt was applied, and only its answer lost."""
    item = getattr(error, "response", {}).get("Item")
    if not item:
        return None
    found = from_item(item)
    return found if found.get(WRITE_ID) == write_id else None
