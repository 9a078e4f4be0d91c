"""Teamwork on a story: passing it on to a colleague or another service, and staff tags.

A pass and a tag kept private or shared within an organisation live in the story's PRIVATE#
partition (never public, erased with the story). A public tag is also written to the story's own
partition, where the story's page and the public API read it.
"""

from __future__ import annotations

from typing import Any, Protocol

from .table import Table, _public, to_item

VISIBILITIES = ("private", "shared", "public")


class TeamworkStore(Protocol):
    """What the flows may ask of a story's passes and staff tags."""

    def put_pass(self, story_id: str, pass_id: str, record: dict[str, Any]) -> None: ...
    def get_pass(self, story_id: str, pass_id: str) -> dict[str, Any] | None: ...
    def passes(self, story_id: str) -> list[dict[str, Any]]: ...
    def put_staff_tag(self, story_id: str, tag: dict[str, Any]) -> None: ...
    def remove_staff_tag(self, story_id: str, tag: dict[str, Any]) -> None: ...
    def staff_tags(self, story_id: str) -> list[dict[str, Any]]: ...
    def put_message(self, story_id: str, message: dict[str, Any]) -> bool: ...
    def messages(self, story_id: str) -> list[dict[str, Any]]: ...


def _tag_key(story_id: str, tag: dict[str, Any]) -> tuple[str, str]:
    """One tag per person, word and story; a public one is the organisation's (one per word)."""
    if tag["visibility"] == "public":
        return f"STORY#{story_id}", f"STAFFTAG#{tag['organisation']}#{tag['tag']}"
    return f"PRIVATE#{story_id}", f"STAFFTAG#{tag['subscriber_id']}#{tag['tag']}"


class TeamworkPart(Table):
    """PASS#, STAFFTAG# and MESSAGE# items under a story's PRIVATE# partition, and public STAFFTAG# items under STORY#."""

    def put_pass(self, story_id: str, pass_id: str, record: dict[str, Any]) -> None:
        self._put_once({"PK": f"PRIVATE#{story_id}", "SK": f"PASS#{pass_id}", "story_id": story_id, **record})

    def get_pass(self, story_id: str, pass_id: str) -> dict[str, Any] | None:
        item = self._get(f"PRIVATE#{story_id}", f"PASS#{pass_id}", consistent=True)
        return _public(item) if item else None

    def passes(self, story_id: str) -> list[dict[str, Any]]:
        """Who the story was passed to, oldest first (ids sort in time)."""
        items = self._query(
            KeyConditionExpression="PK = :pk AND begins_with(SK, :p)",
            ExpressionAttributeValues=to_item({":pk": f"PRIVATE#{story_id}", ":p": "PASS#"}),
        )
        return [_public(i) for i in items]

    def put_staff_tag(self, story_id: str, tag: dict[str, Any]) -> None:
        """Create or replace one tag (its polarity may change). A tag made public leaves the private
        or shared one it was, and the other way round."""
        pk, sk = _tag_key(story_id, tag)
        other = {**tag, "visibility": "private" if tag["visibility"] == "public" else "public"}
        self._db.delete_item(TableName=self._table, Key=to_item(dict(zip(("PK", "SK"), _tag_key(story_id, other)))))
        self._db.put_item(TableName=self._table, Item=to_item({"PK": pk, "SK": sk, "story_id": story_id, **tag}))

    def remove_staff_tag(self, story_id: str, tag: dict[str, Any]) -> None:
        pk, sk = _tag_key(story_id, tag)
        self._db.delete_item(TableName=self._table, Key=to_item({"PK": pk, "SK": sk}))

    def staff_tags(self, story_id: str) -> list[dict[str, Any]]:
        """Every staff tag on a story, public or not: the caller shows each only to whom it may."""
        out = []
        for pk in (f"STORY#{story_id}", f"PRIVATE#{story_id}"):
            out += self._query(
                KeyConditionExpression="PK = :pk AND begins_with(SK, :t)",
                ExpressionAttributeValues=to_item({":pk": pk, ":t": "STAFFTAG#"}),
            )
        return [_public(i) for i in out]

    # ---- messages between a moderator and the author (issue 20): private, never on a page ------------

    def put_message(self, story_id: str, message: dict[str, Any]) -> bool:
        """Keep one message (MESSAGE#<id> under PRIVATE#): False when that id is already kept."""
        item = {"PK": f"PRIVATE#{story_id}", "SK": f"MESSAGE#{message['id']}", "story_id": story_id, **message}
        return self._put_once(item)

    def messages(self, story_id: str) -> list[dict[str, Any]]:
        """Every message about a story, oldest first."""
        items = self._query(
            KeyConditionExpression="PK = :pk AND begins_with(SK, :p)",
            ExpressionAttributeValues=to_item({":pk": f"PRIVATE#{story_id}", ":p": "MESSAGE#"}),
        )
        return sorted((_public(i) for i in items), key=lambda m: (m.get("at", ""), m.get("id", "")))
