"""Partners' webhooks: a registration per endpoint, its run of failures, and the deliveries kept while it
is paused.

A partner's item (PARTNER#<id>, PARTNER) is indexed under the service it watches (GSI1
PARTNERS#<slug>). One more item (PARTNERS, WATCHED) holds the set of services some partner watches,
written in the same transaction as each partner and kept a minute by a warm process, so the partners a
story reaches cost a Query only for the levels of its services' paths that someone watches, and no call
at all while nobody does (issue 17: most stories reach no partner). Its secret is held only sealed (core/webhooks.py). Deliveries kept while it is
paused live in its own partition (HELD#<delivery id>) until it is resumed. None of it is public.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Protocol

from .table import GSI1, WRITE_ID, Table, _public, new_write_id, request_token, to_item

WATCHED_ITEM = ("PARTNERS", "WATCHED")  # attribute `services`: a string set (400 KB: ~10,000 slugs)
WATCHED_KEPT = ("WATCHED",)  # its place among a warm process's kept items (table.py)


def watched_slugs(item: dict[str, Any] | None) -> frozenset[str]:
    """The services the index item names (none when it does not exist: no partner yet)."""
    return frozenset((item or {}).get("services") or ())


class PartnerStore(Protocol):
    """What the webhooks flow may ask about partners and their kept deliveries."""

    def create_partner(self, partner: dict[str, Any]) -> bool: ...
    def get_partner(self, partner_id: str) -> dict[str, Any] | None: ...
    def partners_watching(self, slugs: Iterable[str]) -> list[dict[str, Any]]: ...
    def watched_services(self) -> frozenset[str]: ...
    def count_failure(self, partner_id: str) -> int: ...
    def clear_failures(self, partner_id: str) -> None: ...
    def pause_partner(self, partner_id: str, at: str) -> bool: ...
    def resume_partner(self, partner_id: str) -> bool: ...
    def hold_delivery(self, partner_id: str, delivery: dict[str, Any]) -> None: ...
    def held_deliveries(self, partner_id: str, limit: int = 100) -> list[dict[str, Any]]: ...
    def release_delivery(self, partner_id: str, delivery_id: str) -> None: ...


def partner_item(partner: dict[str, Any]) -> dict[str, Any]:
    return {
        "PK": f"PARTNER#{partner['id']}",
        "SK": "PARTNER",
        "GSI1PK": f"PARTNERS#{partner['service']}",
        "GSI1SK": partner["id"],
        "failures": 0,
        "paused_at": "",
        **partner,
    }


class PartnersPart(Table):
    """Items in the PARTNER# partitions, the PARTNERS# index and the watched services' item."""

    def create_partner(self, partner: dict[str, Any]) -> bool:
        """The partner and its service added to the watched set, in one transaction: False, nothing
        written, if a partner with this id exists (True if it is this call's own write, whose answer was
        lost: its SDK retry carries the same token, and where that is not honoured, the item is read back)."""
        pk, sk = WATCHED_ITEM
        item, write_id = partner_item(partner), new_write_id()
        try:
            self._db.transact_write_items(
                ClientRequestToken=request_token("partner", partner["id"], write_id),
                TransactItems=[
                    {
                        "Put": {
                            "TableName": self._table,
                            "Item": to_item({**item, WRITE_ID: write_id}),
                            "ConditionExpression": "attribute_not_exists(PK)",
                        }
                    },
                    {
                        "Update": {
                            "TableName": self._table,
                            "Key": to_item({"PK": pk, "SK": sk}),
                            "UpdateExpression": "ADD #s :slug",
                            "ExpressionAttributeNames": {"#s": "services"},
                            "ExpressionAttributeValues": to_item({":slug": {partner["service"]}}),
                        }
                    },
                ],
            )
            return True
        except self._db.exceptions.TransactionCanceledException:
            there = self._get(item["PK"], item["SK"], consistent=True) or {}
            return bool(there.get(WRITE_ID) == write_id)
        finally:
            self._kept.pop(WATCHED_KEPT, None)  # this process sees its own change at once

    def get_partner(self, partner_id: str) -> dict[str, Any] | None:
        item = self._get(f"PARTNER#{partner_id}", "PARTNER", consistent=True)
        return _public(item) if item else None

    def watched_services(self) -> frozenset[str]:
        """The services some partner watches: kept a minute (one GetItem a warm minute, none when the
        directory's BatchGetItem brought it along, directory.py)."""
        kept = self._recall(WATCHED_KEPT)
        if kept is None:
            kept = watched_slugs(self._get(*WATCHED_ITEM, consistent=True))
            self._keep(WATCHED_KEPT, kept)
        return frozenset(kept)

    def partners_watching(self, slugs: Iterable[str]) -> list[dict[str, Any]]:
        """The partners registered for any of these services: one Query for each that someone watches."""
        found: list[dict[str, Any]] = []
        for slug in sorted(set(slugs) & self.watched_services()):
            found += self._query(
                index=GSI1,
                KeyConditionExpression="GSI1PK = :pk",
                ExpressionAttributeValues=to_item({":pk": f"PARTNERS#{slug}"}),
            )
        return [_public(i) for i in found]

    def count_failure(self, partner_id: str) -> int:
        """One more failed delivery in a row (one UpdateItem); the run so far."""
        resp = self._db.update_item(
            TableName=self._table,
            Key=to_item({"PK": f"PARTNER#{partner_id}", "SK": "PARTNER"}),
            UpdateExpression="ADD failures :one",
            ConditionExpression="attribute_exists(PK)",
            ExpressionAttributeValues=to_item({":one": 1}),
            ReturnValues="UPDATED_NEW",
        )
        return int(resp["Attributes"]["failures"]["N"])

    def clear_failures(self, partner_id: str) -> None:
        self._set(partner_id, "SET failures = :zero", {":zero": 0}, "attribute_exists(PK)")

    def pause_partner(self, partner_id: str, at: str) -> bool:
        """Paused now: False if it was paused already (so its leads are told once)."""
        return self._set(
            partner_id, "SET paused_at = :at", {":at": at, ":none": ""}, "attribute_exists(PK) AND paused_at = :none"
        )

    def resume_partner(self, partner_id: str) -> bool:
        return self._set(
            partner_id, "SET paused_at = :none, failures = :zero", {":none": "", ":zero": 0}, "attribute_exists(PK)"
        )

    def hold_delivery(self, partner_id: str, delivery: dict[str, Any]) -> None:
        """Keep a delivery for when the partner is resumed (the same one kept twice is one item)."""
        self._db.put_item(
            TableName=self._table,
            Item=to_item({"PK": f"PARTNER#{partner_id}", "SK": f"HELD#{delivery['id']}", "delivery": delivery}),
        )

    def held_deliveries(self, partner_id: str, limit: int = 100) -> list[dict[str, Any]]:
        items = self._query(
            limit=limit,
            ConsistentRead=True,
            KeyConditionExpression="PK = :pk AND begins_with(SK, :held)",
            ExpressionAttributeValues=to_item({":pk": f"PARTNER#{partner_id}", ":held": "HELD#"}),
        )
        return [dict(i["delivery"]) for i in items]

    def release_delivery(self, partner_id: str, delivery_id: str) -> None:
        self._db.delete_item(
            TableName=self._table, Key=to_item({"PK": f"PARTNER#{partner_id}", "SK": f"HELD#{delivery_id}"})
        )

    def _set(self, partner_id: str, update: str, values: dict[str, Any], condition: str | None) -> bool:
        args: dict[str, Any] = {
            "TableName": self._table,
            "Key": to_item({"PK": f"PARTNER#{partner_id}", "SK": "PARTNER"}),
            "UpdateExpression": update,
            "ExpressionAttributeValues": to_item(values),
        }
        if condition:
            args["ConditionExpression"] = condition
        try:
            self._db.update_item(**args)
            return True
        except self._db.exceptions.ConditionalCheckFailedException:
            return False
