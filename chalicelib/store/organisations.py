"""Organisations: who may sign up for one (its verified domains), its members (indexed on their
profiles, see people.member_keys), the record of every grant, change and removal, and the
requests a lead makes for their "manage your organisation" link.

All of it is private: nothing here reaches a page, a feed or the public API.
"""

from __future__ import annotations

from typing import Any, Protocol, cast

from ..core.status import Access
from .records import Subscriber
from .table import GSI1, TTL_ATTRIBUTE, Table, _public, to_item


def grant_item(slug: str, at: str, ref: str, entry: dict[str, Any]) -> dict[str, Any]:
    """One record of a grant, change or removal, under its organisation, in the order they happened."""
    return {"PK": f"ORG#{slug}", "SK": f"GRANT#{at}#{ref}", "at": at, **entry}


class OrganisationStore(Protocol):
    """What the flows may ask about an organisation's settings, members and record of grants."""

    def get_organisation(self, slug: str) -> dict[str, Any] | None: ...
    def put_organisation(self, slug: str, settings: dict[str, Any]) -> str: ...
    def members(self, slug: str) -> list[Subscriber]: ...
    def leads(self, slug: str, limit: int | None = None) -> list[Subscriber]: ...
    def record_grant(self, slug: str, at: str, ref: str, entry: dict[str, Any]) -> None: ...
    def grants(self, slug: str, limit: int = 50) -> list[dict[str, Any]]: ...
    def put_link_request(self, request_id: str, request: dict[str, Any], expires_at: int) -> None: ...
    def get_link_request(self, request_id: str) -> dict[str, Any] | None: ...


class OrganisationsPart(Table):
    """Items in the ORG# and LINKREQUEST# partitions, and the MEMBERS# index of profiles."""

    def get_organisation(self, slug: str) -> dict[str, Any] | None:
        item = self._get(f"ORG#{slug}", "SETTINGS", consistent=True)
        return _public(item) if item else None

    def put_organisation(self, slug: str, settings: dict[str, Any]) -> str:
        """Create or replace an organisation's settings (from the directory file): "created",
        "updated" or "unchanged", so loading the same file twice writes nothing."""
        current = self.get_organisation(slug)
        wanted = {"slug": slug, **settings}
        if current == wanted:
            return "unchanged"
        self._db.put_item(TableName=self._table, Item=to_item({"PK": f"ORG#{slug}", "SK": "SETTINGS", **wanted}))
        return "updated" if current else "created"

    def members(self, slug: str) -> list[Subscriber]:
        """Everyone who belongs to or asked to join an organisation: one Query (paged)."""
        items = self._query(
            index=GSI1,
            KeyConditionExpression="GSI1PK = :pk",
            ExpressionAttributeValues=to_item({":pk": f"MEMBERS#{slug}"}),
        )
        return cast(list[Subscriber], [_public(i) for i in items])

    def leads(self, slug: str, limit: int | None = None) -> list[Subscriber]:
        """The organisation's active leads (limit=1 asks only whether it has one)."""
        items = self._query(
            limit=limit,
            index=GSI1,
            KeyConditionExpression="GSI1PK = :pk AND begins_with(GSI1SK, :lead)",
            ExpressionAttributeValues=to_item({":pk": f"MEMBERS#{slug}", ":lead": f"{Access.LEAD}#"}),
        )
        return cast(list[Subscriber], [_public(i) for i in items])

    def record_grant(self, slug: str, at: str, ref: str, entry: dict[str, Any]) -> None:
        """One grant, change or removal (who, when, what): kept privately, never overwritten."""
        self._put_once(grant_item(slug, at, ref, entry))

    def grants(self, slug: str, limit: int = 50) -> list[dict[str, Any]]:
        """The organisation's record of grants, newest first."""
        items = self._query(
            limit=limit,
            forward=False,
            KeyConditionExpression="PK = :pk AND begins_with(SK, :g)",
            ExpressionAttributeValues=to_item({":pk": f"ORG#{slug}", ":g": "GRANT#"}),
        )
        return [_public(i) for i in items]

    def put_link_request(self, request_id: str, request: dict[str, Any], expires_at: int) -> None:
        """A lead asked for their link: the stream turns this item into the email (no request
        path sends mail). It expires on its own."""
        self._put_once({"PK": f"LINKREQUEST#{request_id}", "SK": "LINKREQUEST", TTL_ATTRIBUTE: expires_at, **request})

    def get_link_request(self, request_id: str) -> dict[str, Any] | None:
        item = self._get(f"LINKREQUEST#{request_id}", "LINKREQUEST", consistent=True)
        return _public(item) if item else None
