"""Closing the loop: rate-limit hits, me-too items and their counts, change checks and their
answers, and the response promise with its escalation ladder.
"""

from __future__ import annotations

from typing import Any, Protocol

from ..core.status import ItemStatus, Status
from .table import GSI1, TTL_ATTRIBUTE, Table, _public, from_item, request_token, to_item


class LoopStore(Protocol):
    """What the flows may ask of rate limits, me-too, change checks and the ladder."""

    def count_hit(self, key: str, window: int, expires_at: int) -> int: ...
    def hits(self, key: str, window: int) -> int: ...
    def first_decision(self, key: str, allowed: bool | None, expires_at: int) -> bool | None: ...
    def add_me_too(self, story_id: str, me_too: dict[str, Any], email: str | None) -> bool: ...
    def count_me_too(self, story_id: str, me_too_id: str) -> bool: ...
    def me_too_contacts(self, story_id: str) -> list[str]: ...
    def me_too_contact(self, story_id: str, me_too_id: str) -> dict[str, Any] | None: ...
    def schedule_check(self, story_id: str, due_at: str, made_at: str) -> bool: ...
    def due_checks(self, now: str, limit: int = 500) -> list[dict[str, Any]]: ...
    def get_check(self, story_id: str) -> dict[str, Any] | None: ...
    def close_check(self, story_id: str, sent_at: str, recipients: int) -> bool: ...
    def put_check_answer(self, story_id: str, answer: dict[str, Any]) -> bool: ...
    def set_change_verdict(self, story_id: str, verdict: str, at: str) -> bool: ...
    def count_me_too_verdict(self, story_id: str, answer_id: str, verdict: str) -> bool: ...
    def start_promise(self, story_id: str, promise: dict[str, Any], steps: dict[str, str]) -> bool: ...
    def ladders_due(
        self, now: str, limit: int, start_key: dict[str, Any] | None = None
    ) -> tuple[list[dict[str, Any]], dict[str, Any] | None]: ...
    def get_ladder(self, story_id: str) -> dict[str, Any] | None: ...
    def advance_ladder(self, story_id: str, step_from: str, step_to: str, next_at: str | None) -> bool: ...
    def end_ladder(self, story_id: str) -> None: ...


def ladder_item(story_id: str, promise: dict[str, Any], steps: dict[str, str]) -> dict[str, Any]:
    """A story's escalation ladder, at its first step (start_promise, and a publication that sets the promise)."""
    first = "reminder"
    return {
        "PK": f"LADDER#{story_id}",
        "SK": "LADDER",
        "GSI1PK": "LADDER",
        "GSI1SK": f"{steps[first]}#{story_id}",
        "story_id": story_id,
        "steps": steps,
        "next_step": first,
        "next_at": steps[first],
        **promise,
    }


class LoopPart(Table):
    """Items in the LIMIT#, METOO#, CHECKDUE# and LADDER# partitions, and the counts they keep on stories."""

    # ---- rate limits (limits.py) ------------------------------------------------------------

    def count_hit(self, key: str, window: int, expires_at: int) -> int:
        """Count one request in a fixed window (one UpdateItem); returns the window's count so far."""
        resp = self._db.update_item(
            TableName=self._table,
            Key=to_item({"PK": f"LIMIT#{key}", "SK": str(window)}),
            UpdateExpression="ADD #n :one SET #ttl = :ttl",
            ExpressionAttributeNames={"#n": "hits", "#ttl": TTL_ATTRIBUTE},
            ExpressionAttributeValues=to_item({":one": 1, ":ttl": expires_at}),
            ReturnValues="UPDATED_NEW",
        )
        return int(from_item(resp["Attributes"])["hits"])

    def hits(self, key: str, window: int) -> int:
        item = self._get(f"LIMIT#{key}", str(window))
        return int(item.get("hits", 0)) if item else 0

    def first_decision(self, key: str, allowed: bool | None, expires_at: int) -> bool | None:
        """The decision first kept for one occasion (a mail job, say): with `allowed` None, only read
        it (None if there is none); else keep `allowed` unless one is kept already, and return the
        one kept, so a retry of the same occasion gets the same answer."""
        pk, sk = f"LIMIT#once#{key}", "DECISION"
        if allowed is None:
            item = self._get(pk, sk, consistent=True)
            return bool(item["allowed"]) if item else None
        kept = self._put_or_existing({"PK": pk, "SK": sk, "allowed": allowed, TTL_ATTRIBUTE: expires_at})
        return allowed if kept is None else bool(kept.get("allowed"))  # the refused write brings it back

    # ---- me too (metoo.py) ----------------------------------------------------------------------

    def add_me_too(self, story_id: str, me_too: dict[str, Any], email: str | None) -> bool:
        """A reader's "me too" (once per id: False, nothing written, if it exists) and, apart from it,
        their address if they left one. In their own partition, so the story page's Query does not
        grow with them. Two writes, not a transaction: a cancelled transaction in moto swaps the
        table's stream for a copy, which the local pump no longer reads (the address may be lost
        by a crash between them; the me-too is not)."""
        if not self._put_once({"PK": f"METOO#{story_id}", "SK": me_too["id"], "story_id": story_id, **me_too}):
            return False
        if email:
            self._db.put_item(
                TableName=self._table,
                Item=to_item(
                    {
                        "PK": f"PRIVATE#{story_id}",
                        "SK": f"METOO#{me_too['id']}",
                        "email": email,
                        "created_at": me_too["created_at"],
                    }
                ),
            )
        return True

    def count_me_too(self, story_id: str, me_too_id: str) -> bool:
        """Add one me-too to the story's me_too_count, once per me-too item: the count and the
        item's `counted` mark change together or not at all. False if it was counted before."""
        return self._count_once(story_id, "me_too_count", {"PK": f"METOO#{story_id}", "SK": me_too_id})

    def me_too_contacts(self, story_id: str) -> list[str]:
        """The ids of the me-too items whose reader left an address (the ids only, not the addresses)."""
        items = self._query(
            KeyConditionExpression="PK = :pk AND begins_with(SK, :m)",
            ExpressionAttributeValues=to_item({":pk": f"PRIVATE#{story_id}", ":m": "METOO#"}),
            ProjectionExpression="SK",
        )
        return [i["SK"].split("#", 1)[1] for i in items]

    def me_too_contact(self, story_id: str, me_too_id: str) -> dict[str, Any] | None:
        item = self._get(f"PRIVATE#{story_id}", f"METOO#{me_too_id}", consistent=True)
        return _public(item) if item else None

    def _count_once(self, story_id: str, counter: str, marker: dict[str, str]) -> bool:
        # Read first: a record delivered again finds its mark and writes nothing (and cancels no
        # transaction: in moto that swaps the table's stream for a copy the local pump cannot see).
        seen = self._get(marker["PK"], marker["SK"], consistent=True)
        if not seen or seen.get("counted"):
            return False
        try:
            self._db.transact_write_items(
                TransactItems=[
                    {
                        "Update": {
                            "TableName": self._table,
                            "Key": to_item({"PK": f"STORY#{story_id}", "SK": "STORY"}),
                            "UpdateExpression": "ADD #c :one",
                            "ConditionExpression": "attribute_exists(PK)",
                            "ExpressionAttributeNames": {"#c": counter},
                            "ExpressionAttributeValues": to_item({":one": 1}),
                        }
                    },
                    {
                        "Update": {
                            "TableName": self._table,
                            "Key": to_item(marker),
                            "UpdateExpression": "SET #k = :t",
                            "ConditionExpression": "attribute_exists(PK) AND attribute_not_exists(#k)",
                            "ExpressionAttributeNames": {"#k": "counted"},
                            "ExpressionAttributeValues": to_item({":t": True}),
                        }
                    },
                ],
                ClientRequestToken=request_token("count", counter, marker["PK"], marker["SK"]),
            )
            return True
        except self._db.exceptions.TransactionCanceledException:
            return False

    # ---- change checks (change_check.py) ------------------------------------------------------

    CHECKS_DUE = "CHECKS#due"  # the one GSI1 partition of scheduled change checks, by due time

    def schedule_check(self, story_id: str, due_at: str, made_at: str) -> bool:
        """Ask the story's author (and me-too readers) about a change at `due_at`: once per story.
        Indexed by due time in one fixed GSI1 partition, so the daily job is one Query."""
        return self._put_once(
            {
                "PK": f"CHECKDUE#{story_id}",
                "SK": "CHECKDUE",
                "story_id": story_id,
                "due_at": due_at,
                "made_at": made_at,
                "GSI1PK": self.CHECKS_DUE,
                "GSI1SK": f"{due_at}#{story_id}",
            }
        )

    def due_checks(self, now: str, limit: int = 500) -> list[dict[str, Any]]:
        """Scheduled checks due by `now` and not yet sent, oldest first."""
        items = self._query(
            index=GSI1,
            limit=limit,
            KeyConditionExpression="GSI1PK = :pk AND GSI1SK <= :now",
            ExpressionAttributeValues=to_item({":pk": self.CHECKS_DUE, ":now": f"{now}#~"}),
        )
        return [_public(i) for i in items]

    def get_check(self, story_id: str) -> dict[str, Any] | None:
        item = self._get(f"CHECKDUE#{story_id}", "CHECKDUE", consistent=True)
        return _public(item) if item else None

    def close_check(self, story_id: str, sent_at: str, recipients: int) -> bool:
        """Mark a scheduled check sent; it leaves the index. False if it was closed before."""
        return self._update_once(
            f"CHECKDUE#{story_id}",
            "CHECKDUE",
            "SET sent_at = :at, recipients = :n REMOVE GSI1PK, GSI1SK",
            "attribute_exists(GSI1PK)",
            {":at": sent_at, ":n": recipients},
        )

    def put_check_answer(self, story_id: str, answer: dict[str, Any]) -> bool:
        """One answer per recipient (its id): False, nothing written, if they answered before.
        An answer with a comment waits on the replies queue for a moderator."""
        try:
            self._put_thread_item(story_id, "CHECK", answer, queued=answer["status"] == ItemStatus.PENDING)
            return True
        except self._db.exceptions.ConditionalCheckFailedException:
            return False

    def set_change_verdict(self, story_id: str, verdict: str, at: str) -> bool:
        """The author's verdict on the change, set once."""
        return self._update_once(
            f"STORY#{story_id}",
            "STORY",
            "SET change_verdict = :v, change_verdict_at = :at",
            "attribute_exists(PK) AND attribute_not_exists(change_verdict)",
            {":v": verdict, ":at": at},
        )

    def count_me_too_verdict(self, story_id: str, answer_id: str, verdict: str) -> bool:
        """A me-too reader's answer counted once on the story (me_too_yes, me_too_partly, me_too_no)."""
        return self._count_once(story_id, f"me_too_{verdict}", {"PK": f"STORY#{story_id}", "SK": f"CHECK#{answer_id}"})

    # ---- the escalation ladder (promise.py, ladder.py) -----------------------------------
    # One item per story awaiting its first response, LADDER#<story id>, indexed on GSI1 under one
    # fixed partition by the time of its next step, so the hourly run Queries what is due and never
    # Scans. A finished ladder (next_step "done") leaves the index; a response, withdrawal or
    # erasure deletes the item.

    def start_promise(self, story_id: str, promise: dict[str, Any], steps: dict[str, str]) -> bool:
        """Set the story's response_days and response_due_at and start its ladder, all or nothing;
        False (nothing written) if the story already has a promise, a response, or is not published."""
        sets = {"#d": "response_days", "#due": "response_due_at", "#cal": "response_holidays"}
        try:
            self._db.transact_write_items(
                TransactItems=[
                    {
                        "Update": {
                            "TableName": self._table,
                            "Key": to_item({"PK": f"STORY#{story_id}", "SK": "STORY"}),
                            "UpdateExpression": "SET #d = :d, #due = :due, #cal = :cal",
                            "ConditionExpression": "attribute_exists(PK) AND #status = :published AND attribute_not_exists(#due)"
                            " AND attribute_not_exists(first_response_at)",
                            "ExpressionAttributeNames": sets | {"#status": "status"},
                            "ExpressionAttributeValues": to_item(
                                {
                                    ":d": promise["response_days"],
                                    ":due": promise["response_due_at"],
                                    ":cal": promise["response_holidays"],
                                    ":published": Status.PUBLISHED,
                                }
                            ),
                        }
                    },
                    {
                        "Put": {
                            "TableName": self._table,
                            "Item": to_item(ladder_item(story_id, promise, steps)),
                            "ConditionExpression": "attribute_not_exists(PK)",
                        }
                    },
                ],
                ClientRequestToken=request_token("promise", story_id, promise["response_due_at"]),
            )
            return True
        except self._db.exceptions.TransactionCanceledException:
            # Our own earlier write, whose answer was lost, is a ladder with this very promise.
            ladder = self.get_ladder(story_id)
            return bool(ladder and ladder.get("response_due_at") == promise["response_due_at"])

    def ladders_due(
        self, now: str, limit: int, start_key: dict[str, Any] | None = None
    ) -> tuple[list[dict[str, Any]], dict[str, Any] | None]:
        """One page of ladders whose next step is due at `now` (ISO UTC), soonest first, and where
        the next page starts (None after the last)."""
        args: dict[str, Any] = {
            "TableName": self._table,
            "IndexName": GSI1,
            "Limit": limit,
            "KeyConditionExpression": "GSI1PK = :pk AND GSI1SK <= :upto",
            "ExpressionAttributeValues": to_item({":pk": "LADDER", ":upto": f"{now}#~"}),
        }
        if start_key:
            args["ExclusiveStartKey"] = start_key
        resp = self._db.query(**args)
        return [_public(from_item(i)) for i in resp.get("Items", [])], resp.get("LastEvaluatedKey")

    def get_ladder(self, story_id: str) -> dict[str, Any] | None:
        item = self._get(f"LADDER#{story_id}", "LADDER", consistent=True)
        return _public(item) if item else None

    def advance_ladder(self, story_id: str, step_from: str, step_to: str, next_at: str | None) -> bool:
        """Move a ladder from one step to the next (or to "done", next_at None), only if it is still
        at `step_from`: of two runs that race, one wins. False if it had moved or is gone."""
        names = {"#n": "next_step"}
        values: dict[str, Any] = {":from": step_from, ":to": step_to}
        if next_at:
            expr = "SET #n = :to, next_at = :at, GSI1PK = :pk, GSI1SK = :sk"
            values |= {":at": next_at, ":pk": "LADDER", ":sk": f"{next_at}#{story_id}"}
        else:
            expr = "SET #n = :to REMOVE next_at, GSI1PK, GSI1SK"
        return self._update_once(
            f"LADDER#{story_id}", "LADDER", expr, "attribute_exists(PK) AND #n = :from", values, names
        )

    def end_ladder(self, story_id: str) -> None:
        self._db.delete_item(TableName=self._table, Key=to_item({"PK": f"LADDER#{story_id}", "SK": "LADDER"}))
