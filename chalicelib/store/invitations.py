"""Invitations (issue 19): a short public code for a service, made by a member of its organisation,
and the count of the stories that came in through it.

    INVITE#<code> / INVITE          the invitation (GetItem by its code: the short link /i/<code>)
                                    GSI1: INVITES#<organisation> / <created_at>#<code>, the organisation's list
    INVITE#<code> / STORY#<story>   a story counted on it, once (the count and this mark change together)

What an invitation says of its maker (name, id) is for the organisation's members only: the public
short link reads the service, the campaign and whether it still works (invitations.py decides).
"""

from __future__ import annotations

from typing import Any, Protocol

from .table import GSI1, Table, _public, request_token, to_item


class InvitationStore(Protocol):
    """What the flows may ask about invitations."""

    def create_invitation(self, invitation: dict[str, Any]) -> bool: ...
    def get_invitation(self, code: str) -> dict[str, Any] | None: ...
    def invitations_of(self, organisation: str, limit: int = 100) -> list[dict[str, Any]]: ...
    def end_invitation(self, code: str, at: str, by: str) -> bool: ...
    def count_invitation_story(self, code: str, story_id: str) -> bool: ...


class InvitationsPart(Table):
    """Items in the INVITE# partitions, and the INVITES# index of each organisation's invitations."""

    def create_invitation(self, invitation: dict[str, Any]) -> bool:
        """A new invitation under its code; False, nothing written, if the code is taken."""
        code = invitation["code"]
        return self._put_once(
            {
                "PK": f"INVITE#{code}",
                "SK": "INVITE",
                "GSI1PK": f"INVITES#{invitation['organisation']}",
                "GSI1SK": f"{invitation['created_at']}#{code}",
                "stories": 0,
                **invitation,
            }
        )

    def get_invitation(self, code: str) -> dict[str, Any] | None:
        item = self._get(f"INVITE#{code}", "INVITE")
        return _public(item) if item else None

    def invitations_of(self, organisation: str, limit: int = 100) -> list[dict[str, Any]]:
        """An organisation's invitations, newest first: one Query of the index."""
        items = self._query(
            limit=limit,
            forward=False,
            index=GSI1,
            KeyConditionExpression="GSI1PK = :pk",
            ExpressionAttributeValues=to_item({":pk": f"INVITES#{organisation}"}),
        )
        return [_public(i) for i in items]

    def end_invitation(self, code: str, at: str, by: str) -> bool:
        """Stop an invitation from now on; False if it does not exist or has ended already."""
        return self._update_once(
            f"INVITE#{code}",
            "INVITE",
            "SET ended_at = :at, ended_by = :by",
            "attribute_exists(PK) AND attribute_not_exists(ended_at)",
            {":at": at, ":by": by},
        )

    def count_invitation_story(self, code: str, story_id: str) -> bool:
        """One story counted on its invitation, once however often the stream delivers it: the mark
        and the count are one transaction. False if it was counted before, or the invitation is gone."""
        # Read first: a record delivered again finds its mark and cancels no transaction (in moto that
        # swaps the table's stream for a copy the local pump cannot see; store/loop.py does the same).
        if self._get(f"INVITE#{code}", f"STORY#{story_id}", consistent=True):
            return False
        try:
            self._db.transact_write_items(
                ClientRequestToken=request_token("invitation-story", code, story_id),
                TransactItems=[
                    {
                        "Put": {
                            "TableName": self._table,
                            "Item": to_item({"PK": f"INVITE#{code}", "SK": f"STORY#{story_id}", "story_id": story_id}),
                            "ConditionExpression": "attribute_not_exists(PK)",
                        }
                    },
                    {
                        "Update": {
                            "TableName": self._table,
                            "Key": to_item({"PK": f"INVITE#{code}", "SK": "INVITE"}),
                            "UpdateExpression": "ADD #n :one",
                            "ConditionExpression": "attribute_exists(PK)",
                            "ExpressionAttributeNames": {"#n": "stories"},
                            "ExpressionAttributeValues": to_item({":one": 1}),
                        }
                    },
                ],
            )
            return True
        except self._db.exceptions.TransactionCanceledException:
            return False
