"""Partners' webhooks: a registration per endpoint, its run of failures, and the deliveries kept while it
is paused.

A partner's item (PARTNER#<id>, PARTNER) is indexed under the service it watches (GSI1
PARTNERS#<slug>), so the partners a story reaches are one Query per level of its services' paths,
as subscriptions are. Its secret is held only sealed (core/webhooks.py). Deliveries kept while it is
paused live in its own partition (HELD#<delivery id>) until it is resumed. None of it is public.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Protocol

from .table import GSI1, Table, _public, to_item


class PartnerStore(Protocol):
    """What the webhooks flow may ask about partners and their kept deliveries."""

    def create_partner(self, partner: dict[str, Any]) -> bool: ...
    def get_partner(self, partner_id: str) -> dict[str, Any] | None: ...
    def partners_watching(self, slugs: Iterable[str]) -> list[dict[str, Any]]: ...
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
    """Items in the PARTNER# partitions, and the PARTNERS# index."""

    def create_partner(self, partner: dict[str, Any]) -> bool:
        return self._put_once(partner_item(partner))

    def get_partner(self, partner_id: str) -> dict[str, Any] | None:
        item = self._get(f"PARTNER#{partner_id}", "PARTNER", consistent=True)
        return _public(item) if item else None

    def partners_watching(self, slugs: Iterable[str]) -> list[dict[str, Any]]:
        """The partners registered for any of these services: one Query each (a path is a few levels)."""
        found: list[dict[str, Any]] = []
        for slug in sorted(set(slugs)):
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
