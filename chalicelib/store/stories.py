"""Stories and what hangs on them: the story item, its private items (contact, audit, the
author's original words), the public thread (read receipts, responses, replies), progress,
erasure, and where the idempotency records live.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterable
from typing import Any, Protocol, cast

from ..core import clock
from ..core.errors import Conflict
from ..core.idempotency import Records
from ..core.status import ItemStatus, Status
from .loop import ladder_item
from .records import Story, ThreadItem
from .table import (
    GSI1,
    REPLIES_QUEUE,
    TTL_ATTRIBUTE,
    WRITE_ID,
    Table,
    _own_write,
    _public,
    digest_days,
    from_item,
    mail_layer_name,
    new_write_id,
    request_token,
    submission_record,
    submission_record_key,
    to_item,
)

CHANGED = "This story has changed since you opened it. Reload it to see the latest version, then decide again."


class StoryStore(Protocol):
    """What the flows may ask of stories, their private items and their threads."""

    def create_story(
        self, story: dict[str, Any], contact: dict[str, Any] | None, submission: tuple[str, int] | None = None
    ) -> dict[str, Any] | None: ...
    def get_story(self, story_id: str, consistent: bool = False) -> Story | None: ...
    def story_thread(self, story_id: str, consistent: bool = False) -> list[ThreadItem]: ...
    def queue(self, status: str, limit: int) -> list[Story]: ...
    def update_story(
        self,
        story_id: str,
        expected_version: int,
        allowed_from: Iterable[str],
        changes: dict[str, Any],
        ladder: tuple[Story, dict[str, Any], dict[str, str]] | None = None,
    ) -> Story: ...
    def change_status(self, story_id: str, allowed_from: Iterable[str], changes: dict[str, Any]) -> Story: ...
    def mark_progress(self, story_id: str, field: str, at: str) -> bool: ...
    def get_contact(self, story_id: str) -> dict[str, Any] | None: ...
    def get_story_and_contact(self, story_id: str) -> tuple[Story | None, dict[str, Any] | None]: ...
    def confirm_contact(self, story_id: str, at: str) -> bool: ...
    def set_author_link(self, story_id: str, token_hash: str, issued_at: str) -> None: ...
    def author_links(self, story_id: str, newest: int) -> list[str]: ...
    def record_audit(self, story_id: str, at: str, ref: str, event: dict[str, Any]) -> None: ...
    def audit_trail(self, story_id: str) -> list[dict[str, Any]]: ...
    def keep_original(self, story_id: str, original: dict[str, Any]) -> None: ...
    def get_original(self, story_id: str) -> dict[str, Any] | None: ...
    def put_read_receipt(self, story_id: str, subscriber_id: str, receipt: dict[str, Any]) -> str: ...
    def put_response(self, story_id: str, response: dict[str, Any]) -> None: ...
    def add_response(self, story_id: str, response: dict[str, Any]) -> bool: ...
    def get_read_receipt(self, story_id: str, subscriber_id: str) -> dict[str, Any] | None: ...
    def put_reply(self, story_id: str, reply: dict[str, Any]) -> None: ...
    def get_thread_item(self, story_id: str, kind: str, item_id: str) -> ThreadItem | None: ...
    def decide_thread_item(
        self, story_id: str, kind: str, item_id: str, allowed_from: Iterable[str], changes: dict[str, Any]
    ) -> ThreadItem: ...
    def replies_queue(self, limit: int) -> list[ThreadItem]: ...
    def revise_response(
        self, story_id: str, response_id: str, was: dict[str, Any], changes: dict[str, Any], queued: bool
    ) -> ThreadItem: ...
    def keep_response_original(self, story_id: str, response_id: str, at: str, original: dict[str, Any]) -> None: ...
    def keep_item_original(self, story_id: str, kind: str, item_id: str, at: str, original: dict[str, Any]) -> None: ...
    def clear_progress(self, story_id: str, field: str, at: str) -> bool: ...
    def erase_story(self, story_id: str) -> int: ...
    def idempotency_layer(self, name: str) -> Any: ...


class StoriesPart(Table):
    """Items in the STORY#, PRIVATE# and IDEMPOTENCY# partitions."""

    def create_story(
        self, story: dict[str, Any], contact: dict[str, Any] | None, submission: tuple[str, int] | None = None
    ) -> dict[str, Any] | None:
        """Write a new pending story and, apart from it, its private contact details: all or nothing.
        `submission` (its id, and until when it is remembered, epoch seconds): the submission's record
        goes in the same transaction (issue 17), so the same submission sent again writes nothing and
        gets the first answer back, which this returns ({id, status}); None when this call wrote."""
        sid = story["id"]
        items = [
            {
                "Put": {
                    "TableName": self._table,
                    "Item": to_item(
                        {
                            "PK": f"STORY#{sid}",
                            "SK": "STORY",
                            "GSI1PK": f"QUEUE#{story['status']}",
                            "GSI1SK": f"{story['submitted_at']}#{sid}",
                            **story,
                        }
                    ),
                    "ConditionExpression": "attribute_not_exists(PK)",
                }
            }
        ]
        if contact:
            items.append(
                {
                    "Put": {
                        "TableName": self._table,
                        "Item": to_item({"PK": f"PRIVATE#{sid}", "SK": "CONTACT", **contact}),
                    }
                }
            )
        if submission:
            now = int(clock.now().timestamp())
            items.append({"Put": submission_record(self._table, sid, story["status"], *submission, now)})
        try:
            # The token makes a retry of this very transaction (after its answer was lost) a no-op on
            # DynamoDB for 10 minutes; the read-back below covers emulators and later retries.
            self._db.transact_write_items(TransactItems=items, ClientRequestToken=request_token("story", sid))
        except self._db.exceptions.TransactionCanceledException as e:
            reasons = getattr(e, "response", {}).get("CancellationReasons") or []
            record = reasons[-1].get("Item") if submission and len(reasons) == len(items) else None
            if record and reasons[-1].get("Code") == "ConditionalCheckFailed":
                # This submission was made before (or is this call's own, its answer lost): its answer.
                answer: dict[str, Any] = json.loads(from_item(record).get("data") or "{}")
                if answer.get("id"):
                    return answer
            # A fresh id is never reused: if the story is there as submitted, it is our own earlier
            # write whose answer was lost (issue 22), and the request has succeeded.
            earlier = self._get(f"STORY#{sid}", "STORY", consistent=True)
            if not earlier or earlier.get("submitted_at") != story["submitted_at"]:
                raise
        return None

    def get_story(self, story_id: str, consistent: bool = False) -> Story | None:
        item = self._get(f"STORY#{story_id}", "STORY", consistent=consistent)
        return cast(Story, _public(item)) if item else None

    def story_thread(self, story_id: str, consistent: bool = False) -> list[ThreadItem]:
        """The story and everything public hung on it (responses, receipts, changes): one Query.
        `consistent` for a page a person sees right after their own write (the author's page)."""
        items = self._query(
            KeyConditionExpression="PK = :pk",
            ExpressionAttributeValues=to_item({":pk": f"STORY#{story_id}"}),
            ConsistentRead=consistent,
        )
        return cast(list[ThreadItem], [_public(i) | {"item": i["SK"].split("#", 1)[0].lower()} for i in items])

    def queue(self, status: str, limit: int) -> list[Story]:
        """Stories waiting for a moderator (pending or held), oldest first."""
        items = self._query(
            index=GSI1,
            limit=limit,
            KeyConditionExpression="GSI1PK = :pk",
            ExpressionAttributeValues=to_item({":pk": f"QUEUE#{status}"}),
        )
        return cast(list[Story], [_public(i) for i in items])

    def update_story(
        self,
        story_id: str,
        expected_version: int,
        allowed_from: Iterable[str],
        changes: dict[str, Any],
        ladder: tuple[Story, dict[str, Any], dict[str, str]] | None = None,
    ) -> Story:
        """Apply a decision to one version of a story. A stale version or status raises Conflict.
        `ladder` (the story as read, its promise and the ladder's steps): a first publication that
        sets the response promise, written with its ladder in one transaction (issue 17: no second
        write to the story, so no second stream record and no second render of its page)."""
        status = changes.get("status")
        sets = dict(changes)
        removes: list[str] = []
        if status in (Status.PENDING, Status.HELD):
            sets["GSI1PK"] = f"QUEUE#{status}"
        elif status:
            removes += ["GSI1PK", "GSI1SK"]
        names = {f"#a{i}": k for i, k in enumerate(sets)}
        values = {f":v{i}": v for i, v in enumerate(sets.values())}
        expr = "SET " + ", ".join(f"#a{i} = :v{i}" for i in range(len(sets))) + ", #version = #version + :one"
        if removes:
            names.update({f"#r{i}": k for i, k in enumerate(removes)})
            expr += " REMOVE " + ", ".join(f"#r{i}" for i in range(len(removes)))
        allowed = sorted(set(allowed_from))
        names.update({"#version": "version", "#status": "status"})
        write_id = new_write_id()
        expr = expr.replace("SET ", "SET #wid = :wid, ", 1)
        names["#wid"], values[":wid"] = WRITE_ID, write_id
        values.update({":one": 1, ":expected": expected_version})
        values.update({f":s{i}": s for i, s in enumerate(allowed)})
        condition = "#version = :expected AND #status IN (" + ", ".join(f":s{i}" for i in range(len(allowed))) + ")"
        update = {
            "TableName": self._table,
            "Key": to_item({"PK": f"STORY#{story_id}", "SK": "STORY"}),
            "UpdateExpression": expr,
            "ConditionExpression": condition,
            "ExpressionAttributeNames": names,
            "ExpressionAttributeValues": to_item(values),
            "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
        }
        if ladder is not None:
            current, promise, steps = ladder
            answer = {k: v for k, v in {**current, **changes}.items() if k not in removes}
            answer["version"] = expected_version + 1
            return self._with_ladder(update, write_id, answer, ladder_item(story_id, promise, steps))
        try:
            resp = self._db.update_item(**update, ReturnValues="ALL_NEW")
        except self._db.exceptions.ConditionalCheckFailedException as e:
            mine = _own_write(e, write_id)
            if mine is not None:
                return cast(Story, _public(mine))  # our own decision, applied; only its answer was lost
            raise Conflict(CHANGED) from e
        return cast(Story, _public(from_item(resp["Attributes"])))

    def _with_ladder(self, update: dict[str, Any], write_id: str, answer: dict[str, Any], ladder: dict) -> Story:
        """The decision's update and the new ladder, all or nothing. A transaction returns no item: the
        answer is the story as read with the changes applied (what the condition guaranteed)."""
        try:
            put = {"TableName": self._table, "Item": to_item(ladder)}
            token = request_token("decide", update["Key"]["PK"]["S"], write_id)  # a retry of this call is a no-op
            self._db.transact_write_items(TransactItems=[{"Update": update}, {"Put": put}], ClientRequestToken=token)
        except self._db.exceptions.TransactionCanceledException as e:
            item = (getattr(e, "response", {}).get("CancellationReasons") or [{}])[0].get("Item")
            if item and from_item(item).get(WRITE_ID) == write_id:
                return cast(Story, _public(from_item(item)))  # our own decision, applied; only its answer was lost
            raise Conflict(CHANGED) from e
        return cast(Story, answer)

    def change_status(self, story_id: str, allowed_from: Iterable[str], changes: dict[str, Any]) -> Story:
        """An author's own change of status (withdraw, erase): no version check, but bumps it."""
        allowed = sorted(set(allowed_from))
        removes = ["GSI1PK", "GSI1SK"] if changes.get("status") not in (Status.PENDING, Status.HELD) else []
        return cast(
            Story,
            self._update(
                f"STORY#{story_id}",
                "STORY",
                changes,
                removes,
                bump_version=True,
                condition=(
                    "#status IN (" + ", ".join(f":s{i}" for i in range(len(allowed))) + ")",
                    {f":s{i}": v for i, v in enumerate(allowed)},
                ),
            ),
        )

    def mark_progress(self, story_id: str, field: str, at: str) -> bool:
        """Set a story's first_read_at, first_response_at, change_planned_at or change_made_at once.
        Does not bump the version: progress never conflicts with a moderator's decision."""
        return self._update_once(
            f"STORY#{story_id}",
            "STORY",
            "SET #f = :at",
            "attribute_exists(PK) AND attribute_not_exists(#f)",
            {":at": at},
            {"#f": field},
        )

    # ---- private items ---------------------------------------------------------------------

    def get_story_and_contact(self, story_id: str) -> tuple[Story | None, dict[str, Any] | None]:
        """A story and its private contact, read together (one consistent BatchGetItem): what every
        letter to an author needs first (issue 17)."""
        found = self._batch_get([(f"STORY#{story_id}", "STORY"), (f"PRIVATE#{story_id}", "CONTACT")], True)
        story, contact = found.get((f"STORY#{story_id}", "STORY")), found.get((f"PRIVATE#{story_id}", "CONTACT"))
        return cast(Story | None, _public(story) if story else None), _public(contact) if contact else None

    def get_contact(self, story_id: str) -> dict[str, Any] | None:
        item = self._get(f"PRIVATE#{story_id}", "CONTACT")
        return _public(item) if item else None

    def confirm_contact(self, story_id: str, at: str) -> bool:
        """The author showed the address is theirs (issue 18): True the first time only."""
        return self._update_once(
            f"PRIVATE#{story_id}",
            "CONTACT",
            "SET confirmed_at = :at",
            "attribute_exists(PK) AND (attribute_not_exists(confirmed_at) OR confirmed_at = :none)",
            {":at": at, ":none": ""},
        )

    def set_author_link(self, story_id: str, token_hash: str, issued_at: str) -> None:
        """A new author link of a story (issue 18): kept privately, in the order they were sent, so
        that only the newest few work (links.WORKING_AUTHOR_LINKS)."""
        self._db.put_item(
            TableName=self._table,
            Item=to_item(
                {
                    "PK": f"PRIVATE#{story_id}",
                    # The process's nanoseconds after the time: links issued in one millisecond (or
                    # under a held clock) still sort in the order they were made.
                    "SK": f"AUTHORLINK#{issued_at}#{time.time_ns():020d}#{token_hash}",
                    "token_hash": token_hash,
                }
            ),
        )

    def author_links(self, story_id: str, newest: int) -> list[str]:
        """The hashes of the story's `newest` author links, newest first (one Query)."""
        items = self._query(
            limit=newest,
            forward=False,
            ConsistentRead=True,
            KeyConditionExpression="PK = :pk AND begins_with(SK, :l)",
            ExpressionAttributeValues=to_item({":pk": f"PRIVATE#{story_id}", ":l": "AUTHORLINK#"}),
        )
        return [str(i["token_hash"]) for i in items]

    def record_audit(self, story_id: str, at: str, ref: str, event: dict[str, Any]) -> None:
        """Record a status change once, however often the stream delivers it."""
        self._put_once({"PK": f"PRIVATE#{story_id}", "SK": f"AUDIT#{at}#{ref}", **event})

    def audit_trail(self, story_id: str) -> list[dict[str, Any]]:
        items = self._query(
            KeyConditionExpression="PK = :pk AND begins_with(SK, :a)",
            ExpressionAttributeValues=to_item({":pk": f"PRIVATE#{story_id}", ":a": "AUDIT#"}),
        )
        return [_public(i) for i in items]

    def keep_original(self, story_id: str, original: dict[str, Any]) -> None:
        """Keep the author's own words the first time a moderator edits them."""
        self._put_once({"PK": f"PRIVATE#{story_id}", "SK": "ORIGINAL", **original})

    def get_original(self, story_id: str) -> dict[str, Any] | None:
        item = self._get(f"PRIVATE#{story_id}", "ORIGINAL")
        return _public(item) if item else None

    # ---- the conversation on a story: read receipts, responses, author replies ------------------

    def put_read_receipt(self, story_id: str, subscriber_id: str, receipt: dict[str, Any]) -> str:
        """Record the first time one person read a story; returns when they first did (this
        receipt's read_at, or the earlier one's, which the refused write brings back: one call)."""
        earlier = self._put_or_existing(
            {"PK": f"STORY#{story_id}", "SK": f"READ#{subscriber_id}", "subscriber_id": subscriber_id, **receipt}
        )
        return str((earlier or receipt).get("read_at") or receipt["read_at"])

    def put_response(self, story_id: str, response: dict[str, Any]) -> None:
        self._put_thread_item(story_id, "RESPONSE", response, queued=response["status"] == ItemStatus.HELD)

    def add_response(self, story_id: str, response: dict[str, Any]) -> bool:
        """put_response, once per response id: False (nothing written) if that id exists already,
        so a form sent twice makes one response."""
        try:
            self.put_response(story_id, response)
            return True
        except self._db.exceptions.ConditionalCheckFailedException:
            return False

    def get_read_receipt(self, story_id: str, subscriber_id: str) -> dict[str, Any] | None:
        item = self._get(f"STORY#{story_id}", f"READ#{subscriber_id}", consistent=True)
        return _public(item) if item else None

    def put_reply(self, story_id: str, reply: dict[str, Any]) -> None:
        self._put_thread_item(story_id, "REPLY", reply, queued=reply["status"] == ItemStatus.PENDING)

    def get_thread_item(self, story_id: str, kind: str, item_id: str) -> ThreadItem | None:
        """kind is "response" or "reply"."""
        item = self._get(f"STORY#{story_id}", f"{kind.upper()}#{item_id}", consistent=True)
        return cast(ThreadItem, _public(item) | {"item": kind}) if item else None

    def decide_thread_item(
        self, story_id: str, kind: str, item_id: str, allowed_from: Iterable[str], changes: dict[str, Any]
    ) -> ThreadItem:
        """Publish or reject a held response or pending reply; it leaves the moderators' queue.
        A second decision on the same item raises Conflict."""
        allowed = sorted(set(allowed_from))
        return cast(
            ThreadItem,
            self._update(
                f"STORY#{story_id}",
                f"{kind.upper()}#{item_id}",
                changes,
                ["GSI1PK", "GSI1SK"],
                condition=(
                    "#status IN (" + ", ".join(f":s{i}" for i in range(len(allowed))) + ")",
                    {f":s{i}": v for i, v in enumerate(allowed)},
                ),
            )
            | {"item": kind},
        )

    def revise_response(
        self, story_id: str, response_id: str, was: dict[str, Any], changes: dict[str, Any], queued: bool
    ) -> ThreadItem:
        """Its author changes (or deletes) a published response: only if it is still published and
        still says what they read (`was`: its text and edit count), so an edit from an old page, or
        two at once, cannot overwrite another. `queued` puts it in the moderators' queue."""
        sets = dict(changes)
        if queued:
            sets |= {
                "GSI1PK": f"QUEUE#{REPLIES_QUEUE}",
                "GSI1SK": f"{was['created_at']}#{story_id}#RESPONSE#{response_id}",
            }
        names = {f"#a{i}": k for i, k in enumerate(sets)} | {"#status": "status", "#text": "text", "#edits": "edits"}
        values = {f":v{i}": v for i, v in enumerate(sets.values())} | {
            ":published": ItemStatus.PUBLISHED,
            ":text": was["text"],
            ":edits": int(was.get("edits") or 0),
        }
        try:
            resp = self._db.update_item(
                TableName=self._table,
                Key=to_item({"PK": f"STORY#{story_id}", "SK": f"RESPONSE#{response_id}"}),
                UpdateExpression="SET " + ", ".join(f"#a{i} = :v{i}" for i in range(len(sets))),
                ConditionExpression="#status = :published AND #text = :text AND "
                "(attribute_not_exists(#edits) OR #edits = :edits)",
                ExpressionAttributeNames=names,
                ExpressionAttributeValues=to_item(values),
                ReturnValues="ALL_NEW",
            )
        except self._db.exceptions.ConditionalCheckFailedException as e:
            raise Conflict(
                "This response has changed since you opened the page. Reload it to see where it stands."
            ) from e
        return cast(ThreadItem, _public(from_item(resp["Attributes"])) | {"item": "response"})

    def keep_response_original(self, story_id: str, response_id: str, at: str, original: dict[str, Any]) -> None:
        """A response's words before its author changed or deleted them: kept privately (and erased
        with the story)."""
        self.keep_item_original(story_id, "response", response_id, at, original)

    def keep_item_original(self, story_id: str, kind: str, item_id: str, at: str, original: dict[str, Any]) -> None:
        """A response's or reply's words before a moderator edited them (issue 16), kept privately once."""
        self._put_once({"PK": f"PRIVATE#{story_id}", "SK": f"{kind.upper()}#{item_id}#{at}", **original})

    def clear_progress(self, story_id: str, field: str, at: str) -> bool:
        """Take back a progress date that a response now deleted had set (only if it is still that date)."""
        return self._update_once(f"STORY#{story_id}", "STORY", "REMOVE #f", "#f = :at", {":at": at}, {"#f": field})

    def replies_queue(self, limit: int) -> list[ThreadItem]:
        """Held responses and pending author replies, oldest first."""
        items = self._query(
            index=GSI1,
            limit=limit,
            KeyConditionExpression="GSI1PK = :pk",
            ExpressionAttributeValues=to_item({":pk": f"QUEUE#{REPLIES_QUEUE}"}),
        )
        return cast(list[ThreadItem], [_public(i) | {"item": i["SK"].split("#", 1)[0].lower()} for i in items])

    # ---- erasure -------------------------------------------------------------------------------------

    def erase_story(self, story_id: str) -> int:
        """Delete every item about one story and its author: the links to it, its private items,
        its email and submission idempotency records, its digest entries, and last the story's own
        partition (so a crash half-way leaves the story item to retry from). Returns items deleted."""
        story = self._get(f"STORY#{story_id}", "STORY", consistent=True)
        contact = self._get(f"PRIVATE#{story_id}", "CONTACT", consistent=True)
        keys: list[dict[str, Any]] = []
        tokens = self._query(
            index=GSI1,
            KeyConditionExpression="GSI1PK = :pk",
            ExpressionAttributeValues=to_item({":pk": f"TOKENS#{story_id}"}),
        )
        keys += [{"PK": t["PK"], "SK": t["SK"]} for t in tokens]
        keys += [{"PK": i["PK"], "SK": i["SK"]} for i in self._partition(f"PRIVATE#{story_id}")]
        keys.append({"PK": f"LADDER#{story_id}", "SK": "LADDER"})  # its escalation ladder, if it has one
        keys += [{"PK": i["PK"], "SK": i["SK"]} for i in self._partition(f"IDEMPOTENCY#{mail_layer_name(story_id)}")]
        if contact and contact.get("submission_id"):
            # One record whether told by its author or taken for them (issue 19): both write it with the story.
            keys.append({"PK": "IDEMPOTENCY#stories", "SK": submission_record_key(contact["submission_id"])})
        if story and story.get("invitation"):  # its mark on the invitation it came through (the count stays)
            keys.append({"PK": f"INVITE#{story['invitation']}", "SK": f"STORY#{story_id}"})
        if story and story.get("published_at"):
            for day in digest_days(story["published_at"]):  # a late fan-out wrote to a later digest
                items = self._query(
                    KeyConditionExpression="PK = :pk AND begins_with(SK, :s)",
                    ExpressionAttributeValues=to_item({":pk": f"DIGEST#{day}", ":s": f"{story_id}#"}),
                )
                keys += [{"PK": i["PK"], "SK": i["SK"]} for i in items]
        # CHECK: the me-too items (their addresses are in PRIVATE#, above) and the scheduled change check.
        keys += [{"PK": i["PK"], "SK": i["SK"]} for i in self._partition(f"METOO#{story_id}")]
        keys.append({"PK": f"CHECKDUE#{story_id}", "SK": "CHECKDUE"})
        keys.append({"PK": f"FACTS#{story_id}", "SK": "FACTS"})  # what its figures last reflected
        thread = self._partition(f"STORY#{story_id}")
        keys += [{"PK": i["PK"], "SK": i["SK"]} for i in thread if i["SK"] != "STORY"]
        self._batch_write([{"DeleteRequest": {"Key": to_item(k)}} for k in keys])
        if story:
            self._db.delete_item(TableName=self._table, Key=to_item({"PK": f"STORY#{story_id}", "SK": "STORY"}))
        return len(keys) + (1 if story else 0)

    # ---- idempotency records ------------------------------------------------------------------

    def idempotency_layer(self, name: str) -> Any:
        """Where the idempotency records of `name` live (idempotency.once shares one powertools layer)."""
        return Records(self._db, self._table, f"IDEMPOTENCY#{name}", "PK", "SK", TTL_ATTRIBUTE)
