"""The service directory: one item per node (SERVICE#<slug>), its children on GSI1, a prefix
index (SEARCH#<prefix>) for the form's finder, written with the node, and the finder's one item
(FINDER / VOCABULARY: the words services are found by, and the synonyms' query phrases).
"""

from __future__ import annotations

import base64
import gzip
import json
import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Protocol

from ..core.finder import Synonyms, index_keys, search_fields
from .partners import WATCHED_ITEM, WATCHED_KEPT, watched_slugs
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


# The finder's fields on a service item (what its index entries were written with): never shown.
FINDER_FIELDS = "finder"
FINDER_ITEM = ("FINDER", "VOCABULARY")
FINDER_ITEM_BYTES = 260_000  # gzipped; as base64 (4/3 of it) within the 400 KB DynamoDB item limit


def _service(item: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in _public(item).items() if k != FINDER_FIELDS}


def encode_finder(data: dict[str, Any]) -> bytes:
    """The finder item's body: JSON, gzipped (a directory's words compress about four to one)."""
    return gzip.compress(json.dumps(data, separators=(",", ":"), sort_keys=True).encode("utf-8"), mtime=0)


def finder_text(blob: bytes) -> str:
    """Kept as base64 text, not a Binary attribute: whatever reads the table as JSON (the console's
    export, a scan in a test) can read this item too."""
    return base64.b64encode(blob).decode("ascii")


def _entry_sk(path: Sequence[str]) -> str:
    """Index entries sort by their place in the tree, so one subtree's are read with begins_with."""
    return "PATH#" + "/".join(path)


class DirectoryStore(Protocol):
    """What the flows may ask of the service directory."""

    def get_service(self, slug: str) -> dict[str, Any] | None: ...
    def get_services(self, slugs: Iterable[str]) -> dict[str, dict[str, Any]]: ...
    def children(self, slug: str | None) -> list[dict[str, Any]]: ...
    def put_service(self, service: dict[str, Any], search: Mapping[str, list[str]] | None = None) -> str: ...
    def search_services(self, key: str, limit: int, within: Sequence[str] | None = None) -> list[dict[str, Any]]: ...
    def put_finder(self, data: dict[str, Any]) -> None: ...
    def get_finder(self) -> dict[str, Any] | None: ...


class DirectoryPart(Table):
    """Items in the SERVICE#, CHILDREN# (GSI1) and SEARCH# partitions, and the finder item."""

    def get_service(self, slug: str) -> dict[str, Any] | None:
        return self.get_services([slug]).get(slug)

    def get_services(self, slugs: Iterable[str]) -> dict[str, dict[str, Any]]:
        """Many services by slug: those this process read in the last minute from memory (copies), the
        rest with one BatchGetItem per 100."""
        found: dict[str, dict[str, Any]] = {}
        missing: set[str] = set()
        for slug in set(slugs):
            svc = self._recall(("SERVICE", slug))
            if svc is None:
                missing.add(slug)
            else:
                found[slug] = dict(svc)
        for slug, svc in self._read_services(missing).items():
            self._keep(("SERVICE", slug), svc)
            found[slug] = dict(svc)
        return found

    def _read_services(self, slugs: Iterable[str]) -> dict[str, dict[str, Any]]:
        wanted = [{"PK": f"SERVICE#{s}", "SK": "SERVICE"} for s in sorted(set(slugs))]
        # The partners' watched services ride along when this process does not hold them (partners.py):
        # the stream reads a story's services before its webhook reaction asks, so that costs no call.
        riding = bool(wanted) and self._recall(WATCHED_KEPT) is None
        if riding:
            wanted.append(dict(zip(("PK", "SK"), WATCHED_ITEM, strict=True)))
        found: dict[str, dict[str, Any]] = {}
        watched: dict[str, Any] | None = None
        for i in range(0, len(wanted), 100):
            request: dict[str, Any] | None = {self._table: {"Keys": [to_item(k) for k in wanted[i : i + 100]]}}
            while request:
                resp = self._db.batch_get_item(RequestItems=request)
                for raw in resp.get("Responses", {}).get(self._table, []):
                    item = from_item(raw)
                    if (item["PK"], item["SK"]) == WATCHED_ITEM:
                        watched = item
                    else:
                        svc = _service(item)
                        found[svc["slug"]] = svc
                request = resp.get("UnprocessedKeys") or None
        if riding:
            self._keep(WATCHED_KEPT, watched_slugs(watched))
        return found

    def children(self, slug: str | None) -> list[dict[str, Any]]:
        """A node's children, in name order: kept a minute, like the services."""
        key = ("CHILDREN", slug or ROOT)
        kept = self._recall(key)
        if kept is None:
            items = self._query(
                index=GSI1,
                KeyConditionExpression="GSI1PK = :pk",
                ExpressionAttributeValues=to_item({":pk": f"CHILDREN#{slug or ROOT}"}),
            )
            kept = [_service(i) for i in items]
            self._keep(key, kept)
        return [dict(c) for c in kept]

    def put_service(self, service: dict[str, Any], search: Mapping[str, list[str]] | None = None) -> str:
        """Create or update one node and its index entries (`search`: its finder fields, from the
        directory flow; by default its name's words). Returns created, updated or unchanged."""
        service = {k: v for k, v in service.items() if v is not None}
        fields = dict(search) if search is not None else search_fields(service, Synonyms())
        slug = service["slug"]
        self.forget_kept()  # this process sees its own change at once
        current = self._get(f"SERVICE#{slug}", "SERVICE", consistent=True)
        if current and _service(current) == service and current.get(FINDER_FIELDS) == fields:
            return "unchanged"
        item = {
            "PK": f"SERVICE#{slug}",
            "SK": "SERVICE",
            "GSI1PK": f"CHILDREN#{service.get('parent') or ROOT}",
            "GSI1SK": f"{service['name'].lower()}#{slug}",
            **service,
            FINDER_FIELDS: fields,
        }
        self._db.put_item(TableName=self._table, Item=to_item(item))
        sk = _entry_sk(service["path"])
        if current and FINDER_FIELDS in current:
            old_sk, old_keys = _entry_sk(current["path"]), index_keys(current[FINDER_FIELDS])
        elif current:  # written before the finder's fields: its name's prefixes, under its slug
            old_sk, old_keys = f"SERVICE#{slug}", _prefixes(words(current["name"]))
        else:
            old_sk, old_keys = sk, set()
        new_keys = index_keys(fields)
        entry = {
            "slug": slug,
            "name": service["name"],
            "kind": service["kind"],
            "trail": service.get("trail", []),
            "depth": len(service["path"]),
            **fields,
        }
        writes = [{"PutRequest": {"Item": to_item({"PK": f"SEARCH#{k}", "SK": sk, **entry})}} for k in sorted(new_keys)]
        stale = old_keys if old_sk != sk else old_keys - new_keys
        writes += [{"DeleteRequest": {"Key": to_item({"PK": f"SEARCH#{k}", "SK": old_sk})}} for k in sorted(stale)]
        self._batch_write(writes)
        return "updated" if current else "created"

    def search_services(self, key: str, limit: int, within: Sequence[str] | None = None) -> list[dict[str, Any]]:
        """Up to `limit` index entries under one key (a word start or a synonym group), in tree order;
        `within`: only those below that service's path. One Query."""
        condition, values = "PK = :pk", {":pk": f"SEARCH#{key}"}
        if within:
            condition += " AND begins_with(SK, :below)"
            values[":below"] = _entry_sk(within) + "/"
        items = self._query(limit=limit, KeyConditionExpression=condition, ExpressionAttributeValues=to_item(values))
        return [_public(i) for i in items]

    def put_finder(self, data: dict[str, Any]) -> None:
        """The finder's one item, gzipped JSON; too big to be one item is a failed load, not a slow search."""
        blob = encode_finder(data)
        if len(blob) > FINDER_ITEM_BYTES:
            raise ValueError(
                f"The finder's vocabulary is {len(blob):,} bytes gzipped, over {FINDER_ITEM_BYTES:,}: too many distinct words."
            )
        pk, sk = FINDER_ITEM
        self._db.put_item(TableName=self._table, Item=to_item({"PK": pk, "SK": sk, "data": finder_text(blob)}))

    def get_finder(self) -> dict[str, Any] | None:
        item = self._get(*FINDER_ITEM)
        if not item:
            return None
        blob = item["data"]
        raw = base64.b64decode(blob) if isinstance(blob, str) else (blob.value if hasattr(blob, "value") else blob)
        data: dict[str, Any] = json.loads(gzip.decompress(raw))
        return data
