"""The service directory: one item per node (SERVICE#<slug>), its children on GSI1, and a
prefix index (SEARCH#<prefix>) for the search box, written with the node.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any, Protocol

from .table import GSI1, ROOT, Table, _public, from_item, to_item

_WORD = re.compile(r"[a-z0-9]+")
MIN_PREFIX = 2
MAX_PREFIX = 20


def words(text: str) -> list[str]:
    return _WORD.findall(text.lower())


def _prefixes(terms: Iterable[str]) -> set[str]:
    out: set[str] = set()
    for w in terms:
        for n in range(MIN_PREFIX, min(len(w), MAX_PREFIX) + 1):
            out.add(w[:n])
    return out


class DirectoryStore(Protocol):
    """What the flows may ask of the service directory."""

    def get_service(self, slug: str) -> dict[str, Any] | None: ...
    def get_services(self, slugs: Iterable[str]) -> dict[str, dict[str, Any]]: ...
    def children(self, slug: str | None) -> list[dict[str, Any]]: ...
    def put_service(self, service: dict[str, Any]) -> str: ...
    def search_services(self, terms: list[str], limit: int) -> list[dict[str, Any]]: ...


class DirectoryPart(Table):
    """Items in the SERVICE#, CHILDREN# (GSI1) and SEARCH# partitions."""

    def get_service(self, slug: str) -> dict[str, Any] | None:
        item = self._get(f"SERVICE#{slug}", "SERVICE")
        return _public(item) if item else None

    def get_services(self, slugs: Iterable[str]) -> dict[str, dict[str, Any]]:
        """Many services by slug: one BatchGetItem per 100."""
        wanted = sorted(set(slugs))
        found: dict[str, dict[str, Any]] = {}
        for i in range(0, len(wanted), 100):
            keys = [to_item({"PK": f"SERVICE#{s}", "SK": "SERVICE"}) for s in wanted[i : i + 100]]
            request: dict[str, Any] | None = {self._table: {"Keys": keys}}
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
        writes = [
            {"PutRequest": {"Item": to_item({"PK": f"SEARCH#{p}", "SK": f"SERVICE#{slug}", **entry})}}
            for p in new_prefixes
        ]
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
