"""Sources of stories pulled in from other channels (issue 21): a source per organisation, and for each
item it brought in, a pointer to the story it became.

A source (SOURCE#<slug>, SOURCE) is indexed under its organisation (GSI1 SOURCES#<organisation>). Each
item imported from it (SOURCE#<slug>, ITEM#<source id>) names its story and a digest of what the item
said, so a second run over the same items reads one pointer each and writes nothing, and an item edited
at the source is recognised by its digest. A new story and its pointer are written in one transaction
(never a story without its pointer, which a second run would import again; never a pointer without its
story); an edited one likewise, conditional on the digest the run read, so two runs at once cannot both
apply it. The pointers are not a story's items: erasing a story leaves its pointer, so the item is
never brought back (importer.py counts it unchanged). None of it is public.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Protocol

from ..core.status import Status
from .table import GSI1, Table, _public, request_token, set_clause, to_item

# A story whose source item changed may be sent back to moderation from these; a story hidden by a
# report, removed, withdrawn or being erased is left as it is (a moderator's or its author's decision).
REIMPORTABLE = (Status.PENDING, Status.HELD, Status.PUBLISHED, Status.REJECTED)


class SourceStore(Protocol):
    """What the importer may ask about sources and the items they brought in."""

    def create_source(self, source: dict[str, Any]) -> bool: ...
    def get_source(self, slug: str) -> dict[str, Any] | None: ...
    def sources_of(self, organisation: str) -> list[dict[str, Any]]: ...
    def set_source_cursor(self, slug: str, cursor: str, at: str) -> None: ...
    def update_source(self, slug: str, organisation: str, changes: dict[str, Any]) -> bool: ...
    def delete_source(self, slug: str, organisation: str, at: str) -> bool: ...
    def imported_items(self, slug: str, source_ids: Iterable[str]) -> dict[str, dict[str, Any]]: ...
    def import_story(self, story: dict[str, Any], pointer: dict[str, Any]) -> bool: ...
    def reimport_story(
        self, story_id: str, changes: dict[str, Any], pointer: dict[str, Any], expected_digest: str
    ) -> bool: ...


def source_item(source: dict[str, Any]) -> dict[str, Any]:
    return {
        "PK": f"SOURCE#{source['slug']}",
        "SK": "SOURCE",
        "GSI1PK": f"SOURCES#{source['organisation']}",
        "GSI1SK": source["slug"],
        "cursor": "",
        **source,
    }


def pointer_item(slug: str, pointer: dict[str, Any]) -> dict[str, Any]:
    return {"PK": f"SOURCE#{slug}", "SK": f"ITEM#{pointer['source_id']}", **pointer}


def queued_story(story: dict[str, Any]) -> dict[str, Any]:
    """The story item, in the moderators' queue when it waits for one."""
    item = {"PK": f"STORY#{story['id']}", "SK": "STORY", **story}
    if story["status"] in (Status.PENDING, Status.HELD):
        item |= {"GSI1PK": f"QUEUE#{story['status']}", "GSI1SK": f"{story['submitted_at']}#{story['id']}"}
    return item


class SourcesPart(Table):
    """Items in the SOURCE# partitions and the SOURCES# index."""

    def create_source(self, source: dict[str, Any]) -> bool:
        """A new source: False, nothing written, if one with this slug exists."""
        return self._put_once(source_item(source))

    def get_source(self, slug: str) -> dict[str, Any] | None:
        item = self._get(f"SOURCE#{slug}", "SOURCE", consistent=True)
        return _public(item) if item else None

    def sources_of(self, organisation: str) -> list[dict[str, Any]]:
        items = self._query(
            index=GSI1,
            KeyConditionExpression="GSI1PK = :pk",
            ExpressionAttributeValues=to_item({":pk": f"SOURCES#{organisation}"}),
        )
        return [_public(i) for i in items]

    def set_source_cursor(self, slug: str, cursor: str, at: str) -> None:
        """Where the next run starts ("" from the beginning), and when this run stopped."""
        self._db.update_item(
            TableName=self._table,
            Key=to_item({"PK": f"SOURCE#{slug}", "SK": "SOURCE"}),
            UpdateExpression="SET #c = :c, last_run_at = :at",
            ConditionExpression="attribute_exists(PK)",
            ExpressionAttributeNames={"#c": "cursor"},
            ExpressionAttributeValues=to_item({":c": cursor, ":at": at}),
        )

    def update_source(self, slug: str, organisation: str, changes: dict[str, Any]) -> bool:
        """A lead's change to a source of their organisation: False, nothing written, when there is no such
        source of that organisation (a lead of another organisation changes nothing, even by its slug)."""
        expr, names, values = set_clause(changes)
        try:
            self._db.update_item(
                TableName=self._table,
                Key=to_item({"PK": f"SOURCE#{slug}", "SK": "SOURCE"}),
                UpdateExpression=expr,
                ConditionExpression="#o = :o",
                ExpressionAttributeNames=names | {"#o": "organisation"},
                ExpressionAttributeValues=to_item(values | {":o": organisation}),
            )
        except self._db.exceptions.ConditionalCheckFailedException:
            return False
        return True

    def delete_source(self, slug: str, organisation: str, at: str) -> bool:
        """A source removed by a lead of its organisation (False when it is not theirs, or gone already). It
        stays as a tombstone (`removed_at`, off its organisation's index), and so do its items' pointers: the
        stories it brought stay as they are, and no one, of this organisation or another, can register a
        source under its slug again, whose items would then be matched to those pointers and so to
        this organisation's stories."""
        try:
            self._db.update_item(
                TableName=self._table,
                Key=to_item({"PK": f"SOURCE#{slug}", "SK": "SOURCE"}),
                UpdateExpression="SET removed_at = :at REMOVE GSI1PK, GSI1SK",
                ConditionExpression="#o = :o AND attribute_not_exists(removed_at)",
                ExpressionAttributeNames={"#o": "organisation"},
                ExpressionAttributeValues=to_item({":o": organisation, ":at": at}),
            )
        except self._db.exceptions.ConditionalCheckFailedException:
            return False
        return True

    def imported_items(self, slug: str, source_ids: Iterable[str]) -> dict[str, dict[str, Any]]:
        """The pointers of these items that exist, by source id: one BatchGetItem per 100."""
        ids = list(dict.fromkeys(source_ids))
        found: dict[str, dict[str, Any]] = {}
        for i in range(0, len(ids), 100):
            got = self._batch_get([(f"SOURCE#{slug}", f"ITEM#{s}") for s in ids[i : i + 100]], consistent=True)
            found |= {str(item["source_id"]): _public(item) for item in got.values()}
        return found

    def import_story(self, story: dict[str, Any], pointer: dict[str, Any]) -> bool:
        """The new story and its pointer, all or nothing: False, nothing written, if the item has a
        pointer already (another run brought it in first)."""
        slug = story["source"]["slug"]
        puts = [queued_story(story), pointer_item(slug, pointer)]
        try:
            self._db.transact_write_items(
                ClientRequestToken=request_token("import", slug, pointer["source_id"], story["id"]),
                TransactItems=[
                    {
                        "Put": {
                            "TableName": self._table,
                            "Item": to_item(item),
                            "ConditionExpression": "attribute_not_exists(PK)",
                        }
                    }
                    for item in puts
                ],
            )
            return True
        except self._db.exceptions.TransactionCanceledException:
            there = self._get(f"SOURCE#{slug}", f"ITEM#{pointer['source_id']}", consistent=True) or {}
            return bool(there.get("story_id") == story["id"])  # this call's own write, its answer lost

    def reimport_story(
        self, story_id: str, changes: dict[str, Any], pointer: dict[str, Any], expected_digest: str
    ) -> bool:
        """The story takes the item's new words (and status; a new version), and its pointer the new digest,
        all or nothing: False, nothing written, if the pointer no longer has `expected_digest` or the story
        is not in a status it may be re-imported from (REIMPORTABLE)."""
        sets = dict(changes)
        removes: list[str] = []
        if sets.get("status") in (Status.PENDING, Status.HELD):
            sets |= {"GSI1PK": f"QUEUE#{sets['status']}", "GSI1SK": f"{sets['reimported_at']}#{story_id}"}
        else:
            removes = ["GSI1PK", "GSI1SK"]
        expr, names, values = set_clause(sets)
        names |= {"#version": "version", "#status": "status"}
        values |= {":one": 1} | {f":s{i}": s for i, s in enumerate(REIMPORTABLE)}
        expr += ", #version = #version + :one"
        if removes:
            names |= {f"#r{i}": r for i, r in enumerate(removes)}
            expr += " REMOVE " + ", ".join(f"#r{i}" for i in range(len(removes)))
        allowed = ", ".join(f":s{i}" for i in range(len(REIMPORTABLE)))
        slug = pointer["slug"]
        # No ClientRequestToken: an item edited back and forth within its 10 minutes would be refused as a
        # mismatched retry. A lost answer is recognised by the digest read back instead.
        try:
            self._db.transact_write_items(
                TransactItems=[
                    {
                        "Update": {
                            "TableName": self._table,
                            "Key": to_item({"PK": f"STORY#{story_id}", "SK": "STORY"}),
                            "UpdateExpression": expr,
                            "ConditionExpression": f"attribute_exists(PK) AND #status IN ({allowed})",
                            "ExpressionAttributeNames": names,
                            "ExpressionAttributeValues": to_item(values),
                        }
                    },
                    {
                        "Put": {
                            "TableName": self._table,
                            "Item": to_item(pointer_item(slug, pointer)),
                            "ConditionExpression": "digest = :was",
                            "ExpressionAttributeValues": to_item({":was": expected_digest}),
                        }
                    },
                ],
            )
            return True
        except self._db.exceptions.TransactionCanceledException:
            there = self._get(f"SOURCE#{slug}", f"ITEM#{pointer['source_id']}", consistent=True) or {}
            return bool(
                there.get("digest") == pointer["digest"]
            )  # our own write, its answer lost (no token: see above)
