"""Concerns about published items (issue 16): each report, the case that gathers the reports on one
item, the moderators' queue of open cases, and the counters of the moderation screen.

Everything here is private (PRIVATE#<story id>), so erasing a story erases its reports too:
  CASE#<target>                     one per reported item ("story", "response#<id>", "reply#<id>"),
                                    with its version, its decisions, and while open GSI1 "QUEUE#concerns"
  CONCERN#<target>#<id>             one report: reason, explanation, whether it left an address
  CONCERNCONTACT#<report id>        the reporter's address, apart, like an author's contact
and FIGURES#concerns / COUNTER: reports received, items hidden, cases decided, hours to decide.

A report, and a decision, is one TransactWriteItems: the case (conditioned on the version read),
the report, the item's own change (hidden, restricted, edited...) and the counters, or nothing.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Protocol

from ..core.errors import Conflict
from ..core.status import Status
from .table import GSI1, Table, _public, request_token, set_clause, to_item

CONCERNS_QUEUE = "QUEUE#concerns"
COUNTER = ("FIGURES#concerns", "COUNTER")


def item_key(story_id: str, kind: str, item_id: str) -> dict[str, str]:
    """The key of a reported item: the story, or one response or reply in its partition."""
    return {"PK": f"STORY#{story_id}", "SK": "STORY" if kind == "story" else f"{kind.upper()}#{item_id}"}


def queue_keys(case: dict[str, Any], rank: int) -> dict[str, str]:
    """An open case's place in the queue: riskiest first (rank 0), then oldest."""
    return {
        "GSI1PK": CONCERNS_QUEUE,
        "GSI1SK": f"{rank}#{case['first_at']}#{case['story_id']}#{case['target']}",
    }


class ConcernStore(Protocol):
    """What the concerns flow may ask of reports and their cases."""

    def get_case(self, story_id: str, target: str) -> dict[str, Any] | None: ...
    def get_concern(self, story_id: str, target: str, report_id: str) -> dict[str, Any] | None: ...
    def file_concern(
        self,
        case: dict[str, Any],
        expected_version: int,
        report: dict[str, Any],
        email: str | None,
        hide: dict[str, Any] | None,
        counts: dict[str, int],
    ) -> bool: ...
    def decide_case(
        self,
        case: dict[str, Any],
        expected_version: int,
        item_changes: dict[str, Any] | None,
        allowed_from: Iterable[str],
        counts: dict[str, int],
    ) -> None: ...
    def cases_queue(self, limit: int) -> list[dict[str, Any]]: ...
    def concerns_on(self, story_id: str, target: str) -> list[dict[str, Any]]: ...
    def concern_counts(self) -> dict[str, Any]: ...
    def concern_contact(self, story_id: str, report_id: str) -> dict[str, Any] | None: ...
    def confirm_concern_contact(self, story_id: str, report_id: str, at: str) -> bool: ...


class ConcernsPart(Table):
    """Items in PRIVATE# (CASE#, CONCERN#, CONCERNCONTACT#) and the FIGURES#concerns counter."""

    def get_case(self, story_id: str, target: str) -> dict[str, Any] | None:
        item = self._get(f"PRIVATE#{story_id}", f"CASE#{target}", consistent=True)
        return _public(item) if item else None

    def get_concern(self, story_id: str, target: str, report_id: str) -> dict[str, Any] | None:
        item = self._get(f"PRIVATE#{story_id}", f"CONCERN#{target}#{report_id}", consistent=True)
        return _public(item) if item else None

    def file_concern(
        self,
        case: dict[str, Any],
        expected_version: int,
        report: dict[str, Any],
        email: str | None,
        hide: dict[str, Any] | None,
        counts: dict[str, int],
    ) -> bool:
        """Write one report and its case (of `expected_version`, 0 for a new one), the item hidden
        (`hide`: its changes, only if it is still published) and the counters: all or nothing.
        False, nothing written, if the case or the item changed since they were read."""
        sid = case["story_id"]
        items = [self._case_put(case, expected_version)]
        items.append(
            {
                "Put": {
                    "TableName": self._table,
                    "Item": to_item(
                        {
                            "PK": f"PRIVATE#{sid}",
                            "SK": f"CONCERN#{case['target']}#{report['id']}",
                            **report,
                        }
                    ),
                    "ConditionExpression": "attribute_not_exists(PK)",
                }
            }
        )
        if email:
            contact = {"PK": f"PRIVATE#{sid}", "SK": f"CONCERNCONTACT#{report['id']}", "email": email}
            items.append({"Put": {"TableName": self._table, "Item": to_item(contact | {"target": case["target"]})}})
        if hide:
            items.append(self._item_update(case, hide, (Status.PUBLISHED,)))
        items.append(self._counter(counts))
        try:
            self._db.transact_write_items(
                TransactItems=items, ClientRequestToken=request_token("concern", sid, report["id"])
            )
            return True
        except self._db.exceptions.TransactionCanceledException:
            return False

    def decide_case(
        self,
        case: dict[str, Any],
        expected_version: int,
        item_changes: dict[str, Any] | None,
        allowed_from: Iterable[str],
        counts: dict[str, int],
    ) -> None:
        """Record a decision on the case of `expected_version` and apply it to the item (only from
        `allowed_from`), with the counters: all or nothing. A second decision on the same version,
        or an item that changed meanwhile, raises Conflict."""
        items = [self._case_put(case, expected_version, must_be_open=True)]
        if item_changes:
            items.append(self._item_update(case, item_changes, allowed_from))
        items.append(self._counter(counts))
        try:
            self._db.transact_write_items(
                TransactItems=items,
                # The decision itself is in the token: a retry of it is a no-op, another one is refused.
                ClientRequestToken=request_token("decide", case["story_id"], case["target"], repr(items)),
            )
        except (
            self._db.exceptions.TransactionCanceledException,
            self._db.exceptions.IdempotentParameterMismatchException,
        ) as e:
            raise Conflict(
                "This report has been decided or has changed since you opened it. Reload it to see where it stands."
            ) from e

    def _case_put(self, case: dict[str, Any], expected_version: int, must_be_open: bool = False) -> dict[str, Any]:
        item = {"PK": f"PRIVATE#{case['story_id']}", "SK": f"CASE#{case['target']}", **case}
        if expected_version:
            cond = "#version = :v" + (" AND #state = :open" if must_be_open else "")
            values = {":v": expected_version} | ({":open": "open"} if must_be_open else {})
            names = {"#version": "version"} | ({"#state": "state"} if must_be_open else {})
            return {
                "Put": {
                    "TableName": self._table,
                    "Item": to_item(item),
                    "ConditionExpression": cond,
                    "ExpressionAttributeNames": names,
                    "ExpressionAttributeValues": to_item(values),
                }
            }
        return {
            "Put": {"TableName": self._table, "Item": to_item(item), "ConditionExpression": "attribute_not_exists(PK)"}
        }

    def _item_update(self, case: dict[str, Any], changes: dict[str, Any], allowed_from: Iterable[str]) -> dict:
        """The reported item's change. A story's version moves on (a moderator's open page of it is
        stale); a story held again goes back to the held queue."""
        sets = dict(changes)
        story = case["kind"] == "story"
        removes = []
        if story and sets.get("status") == Status.HELD:
            sets |= {"GSI1PK": f"QUEUE#{Status.HELD}", "GSI1SK": f"{sets.pop('queued_at', '')}#{case['story_id']}"}
        else:
            sets.pop("queued_at", None)
            removes = ["GSI1PK", "GSI1SK"] if story else []
        allowed = sorted(set(allowed_from))
        expr, names, values = set_clause(sets)
        names["#status"] = "status"
        values |= {f":s{i}": s for i, s in enumerate(allowed)}
        if story:
            names["#version"] = "version"
            values[":one"] = 1
            expr += ", #version = #version + :one"
        if removes:
            names |= {f"#r{i}": r for i, r in enumerate(removes)}
            expr += " REMOVE " + ", ".join(f"#r{i}" for i in range(len(removes)))
        return {
            "Update": {
                "TableName": self._table,
                "Key": to_item(item_key(case["story_id"], case["kind"], case.get("item_id", ""))),
                "UpdateExpression": expr,
                "ConditionExpression": "attribute_exists(PK) AND #status IN ("
                + ", ".join(f":s{i}" for i in range(len(allowed)))
                + ")",
                "ExpressionAttributeNames": names,
                "ExpressionAttributeValues": to_item(values),
            }
        }

    def _counter(self, counts: dict[str, int]) -> dict[str, Any]:
        adds = {k: v for k, v in counts.items() if v} or {"received": 0}
        return {
            "Update": {
                "TableName": self._table,
                "Key": to_item({"PK": COUNTER[0], "SK": COUNTER[1]}),
                "UpdateExpression": "ADD " + ", ".join(f"#c{i} :c{i}" for i in range(len(adds))),
                "ExpressionAttributeNames": {f"#c{i}": k for i, k in enumerate(adds)},
                "ExpressionAttributeValues": to_item({f":c{i}": v for i, v in enumerate(adds.values())}),
            }
        }

    def cases_queue(self, limit: int) -> list[dict[str, Any]]:
        """Open cases, riskiest first, then oldest (one Query of GSI1)."""
        items = self._query(
            index=GSI1,
            limit=limit,
            KeyConditionExpression="GSI1PK = :pk",
            ExpressionAttributeValues=to_item({":pk": CONCERNS_QUEUE}),
        )
        return [_public(i) for i in items]

    def concerns_on(self, story_id: str, target: str) -> list[dict[str, Any]]:
        """Every report on one item, oldest first (one Query)."""
        items = self._query(
            KeyConditionExpression="PK = :pk AND begins_with(SK, :c)",
            ExpressionAttributeValues=to_item({":pk": f"PRIVATE#{story_id}", ":c": f"CONCERN#{target}#"}),
        )
        return [_public(i) for i in items]

    def concern_counts(self) -> dict[str, Any]:
        """The screen's counters: {"received", "hidden", "decided", "hours": {h: n}}."""
        item = self._get(*COUNTER) or {}
        out: dict[str, Any] = {"received": 0, "hidden": 0, "decided": 0, "hours": {}}
        for name, value in _public(item).items():
            kind, sep, ref = name.partition(":")
            if sep and kind == "h":
                out["hours"][int(ref)] = int(value)
            elif not sep:
                out[name] = int(value)
        return out

    def concern_contact(self, story_id: str, report_id: str) -> dict[str, Any] | None:
        item = self._get(f"PRIVATE#{story_id}", f"CONCERNCONTACT#{report_id}", consistent=True)
        return _public(item) if item else None

    def confirm_concern_contact(self, story_id: str, report_id: str, at: str) -> bool:
        """The reporter showed the address is theirs: True the first time only."""
        return self._update_once(
            f"PRIVATE#{story_id}",
            f"CONCERNCONTACT#{report_id}",
            "SET confirmed_at = :at",
            "attribute_exists(PK) AND attribute_not_exists(confirmed_at)",
            {":at": at},
        )
