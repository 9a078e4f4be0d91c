"""Report a concern about what is published, and a moderator's decision on it (issue 16).

Anyone may report a published story, response or author reply, with a reason from a fixed list
(core/concerns.py). The reports on one item gather in a private case. A risky reason, or the third
report since the last decision, hides the item at once (status "hidden": the public reads a
placeholder) until a moderator decides: dismiss (restore it), edit, restrict (a placeholder says
who asked and why), remove, or hold for safeguarding. Each report and each decision is one write
of the case (conditioned on its version: a second decision on the same version is a 409), the
item and the counters; the pages, feeds, search and the emails all follow from the table's stream.

Unknown and unpublished items answer as nothing (404), whatever the reason; one client makes at
most one report on an item a day (the report's id is derived from its hashed address), so a flood
from one connection neither counts twice towards the risk rules nor hides anything.
"""

from __future__ import annotations

import hashlib
import re
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from .core import clock, figures
from .core.concerns import (
    DECIDABLE,
    REASON_LABELS,
    URL_KINDS,
    Action,
    Reason,
    placeholder,
    risk_rank,
    should_hide,
    target,
)
from .core.errors import Conflict, NotFound, ValidationFailed, invalid
from .core.models import ConcernDecision, ConcernReport, CorrectionRequest
from .core.observability import logger, metrics
from .core.status import ItemStatus, Status
from .store.concerns import queue_keys

if TYPE_CHECKING:
    from .core.settings import Settings
    from .moderation import Moderator
    from .store import ConcernFlowStore

STORY_ID = re.compile(r"^[0-9a-hjkmnp-tv-z]{17}$")
ITEM_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
NOTHING = "There is nothing published here to report."
NOT_VALID = "This link is not valid. It may have expired, or the report it was for was erased."
LABELS = {
    "reason": "a reason",
    "explanation": "what worries you",
    "email": "an email address, like name@example.com",
    "website": "this field",
    "started": "the time the form was opened",
    "action": "a decision (dismiss, edit, restrict, remove or hold)",
    "note": "why",
    "title": "a title",
    "text": "the text",
    "asked_by": "who asked",
    "version": "the version you decided on",
}
TOO_QUICK = "That was very quick. Please check your report and send it again."
THANKS = "Thank you. A moderator will look at your report."
# What a decision does to the reported item: its status, or None to leave it (dismiss of a visible one).
STATUS_AFTER = {
    Action.restrict: Status.RESTRICTED,
    Action.remove: Status.REMOVED,
    Action.hold: Status.HELD,
}


def report_id(story_id: str, where: str, client: str, day: str) -> str:
    """One report per connection, item and day, derived from the hashed client: a reload, or a
    flood, makes no second report, and the report says nothing about who sent it."""
    return hashlib.sha256(f"{story_id}:{where}:{client}:{day}".encode()).hexdigest()[:32]


class Concerns:
    def __init__(self, store: ConcernFlowStore, limits: Any, settings: Settings, links: Any = None):
        self._store = store
        self._limits = limits
        self._settings = settings
        self._links = links

    # ---- the reporter's address: confirmed before anything but the question is sent to it ----------

    def _contact(self, token: str) -> tuple[str, str, dict[str, Any]]:
        found = self._links.resolve(token, "concern")
        contact = self._store.concern_contact(found["story_id"], found["subject"])
        if not contact:
            raise NotFound(NOT_VALID)
        return found["story_id"], found["subject"], contact

    def address(self, token: str) -> str:
        """ "ask" (the page's button confirms) or "done" (confirmed already). Changes nothing."""
        return "done" if self._contact(token)[2].get("confirmed_at") else "ask"

    def confirm_address(self, token: str) -> str:
        story_id, report, _ = self._contact(token)
        if self._store.confirm_concern_contact(story_id, report, clock.iso()):
            metrics.add_metric(name="ConcernAddressesConfirmed", unit="Count", value=1)
        return "done"

    # ---- the public side -----------------------------------------------------------------------

    def reported_item(self, story_id: str, url_kind: str, item_id: str = "") -> dict[str, Any]:
        """The published item a report is about, or NotFound as for nothing: an unknown story, an
        unpublished one, an unknown or unpublished response all answer the same."""
        kind = URL_KINDS.get(url_kind)
        story = self._store.get_story(story_id) if kind and STORY_ID.match(story_id or "") else None
        if not kind or not story or story.get("status") not in DECIDABLE:
            raise NotFound(NOTHING)
        if kind == "story":
            return {"kind": kind, "item_id": "", "story": story, "item": story}
        item = self._store.get_thread_item(story_id, kind, item_id) if ITEM_ID.match(item_id or "") else None
        if not item or item.get("status") not in DECIDABLE or story.get("status") != Status.PUBLISHED:
            raise NotFound(NOTHING)
        return {"kind": kind, "item_id": item_id, "story": story, "item": item}

    def report(
        self, story_id: str, url_kind: str, item_id: str, data: dict[str, Any], client: str, from_service: bool = False
    ) -> dict[str, Any]:
        """Record one report (rate-limited per client). Hides the item at once under the risk rules."""
        s = self._settings
        self._limits.hit("concerns", client, s.concern_limit, s.rate_window_seconds)
        found = self.reported_item(story_id, url_kind, item_id)
        try:
            said = ConcernReport.model_validate(data)
        except ValidationError as e:
            raise invalid(e, LABELS, {k: v for k, v in data.items() if k != "website"}) from e
        if self._too_quick(said.started):
            raise ValidationFailed([{"field": "started", "message": TOO_QUICK}], data)
        kind, where = found["kind"], target(found["kind"], found["item_id"])
        now = clock.iso()
        report = {
            "id": report_id(story_id, where, client, now[:10]),
            "target": where,
            "reason": str(said.reason),
            "explanation": said.explanation,
            "from": "service" if from_service else "public",
            "created_at": now,
            "has_email": said.email is not None,
        }
        created, hidden = self._file(story_id, kind, found["item_id"], where, report, said, from_service)
        logger.info(
            "concern reported",
            extra={"story_id": story_id, "target": where, "reason": report["reason"], "new": created, "hid": hidden},
        )
        if created:
            metrics.add_metric(name="ConcernsReported", unit="Count", value=1)
        return {"created": created, "hidden": hidden, "has_email": report["has_email"], "message": THANKS}

    def _file(
        self,
        story_id: str,
        kind: str,
        item_id: str,
        where: str,
        report: dict[str, Any],
        said: ConcernReport,
        from_service: bool,
        hides: bool = True,
    ) -> tuple[bool, bool]:
        """File one report on its item's case; `hides`: whether it counts for the risk rules (an author's
        own correction never hides their story)."""
        for _ in range(5):  # another report or a decision came between the read and the write: read again
            if self._store.get_concern(story_id, where, report["id"]):
                return False, False
            case = self._store.get_case(story_id, where)
            item = self._store.get_story(story_id, consistent=True)
            if kind != "story":
                item = self._store.get_thread_item(story_id, kind, item_id)
            if not item or item.get("status") not in DECIDABLE:
                raise NotFound(NOTHING)
            version = int((case or {}).get("version", 0))
            fresh = not case or case.get("state") != "open"
            new = dict(case or {}) | {
                "story_id": story_id,
                "target": where,
                "kind": kind,
                "item_id": item_id,
                "state": "open",
                "version": version + 1,
                "reports": int((case or {}).get("reports", 0)) + 1,
                "open_reports": (0 if fresh else int(case.get("open_reports", 0))) + 1,  # type: ignore[union-attr]
                "first_at": report["created_at"] if fresh else case["first_at"],  # type: ignore[index]
                "last_at": report["created_at"],
                "from_service": bool((not fresh and (case or {}).get("from_service")) or from_service),
                "hidden": item.get("status") == Status.HIDDEN,
            }
            if fresh:
                new["reasons"] = {}
            new["reasons"] = dict(new.get("reasons") or {}) | {
                report["reason"]: int((new.get("reasons") or {}).get(report["reason"], 0)) + 1
            }
            hide = None
            if hides and not new["hidden"] and should_hide(new, report["reason"]):
                new["hidden"] = True
                hide = {
                    "status": Status.HIDDEN if kind == "story" else ItemStatus.HIDDEN,
                    "hidden_at": report["created_at"],
                    "decided_by": "risk rules",
                    "decided_at": report["created_at"],
                    "decision_note": f"reported: {REASON_LABELS[said.reason].lower()}",
                }
            new |= queue_keys(new, risk_rank(new))
            counts = {"received": 1, "hidden": 1 if hide else 0}
            email = str(said.email) if said.email else None
            if self._store.file_concern(new, version, report, email, hide, counts):
                return True, bool(new["hidden"])
        raise RuntimeError("the reported item kept changing")  # a 500: the client may send it again

    def service_story(self, token: str) -> str:
        """The story a member of staff's read-and-respond link is for (issue 16: a provider asks for a
        review from the alert's link). Any active subscriber of the service may, until the organisations'
        own roles say otherwise; a bad, expired or revoked link is refused as any link is."""
        link, subscriber, _ = self._links.resolve_holder(token, "respond")
        if not subscriber:
            raise NotFound(NOT_VALID)
        return str(link["story_id"])

    def report_as_service(self, token: str, data: dict[str, Any]) -> dict[str, Any]:
        """A report from the service: weighed above the public's in the queue. Its client is the person,
        so one member of staff makes one report a day, as one connection does."""
        link, subscriber, _ = self._links.resolve_holder(token, "respond")
        if not subscriber:
            raise NotFound(NOT_VALID)
        fields = {k: v for k, v in data.items() if k != "email"}  # staff are known: no address is kept
        client = hashlib.sha256(f"service:{subscriber['id']}".encode()).hexdigest()[:32]
        return self.report(str(link["story_id"]), "story", "", fields, client, from_service=True)

    def request_correction(self, token: str, data: dict[str, Any]) -> dict[str, Any]:
        """The author asks for a correction of their published story (from their private link): a
        report "from the author" carrying the new words, which a moderator publishes as an edit. It
        hides nothing. One a day (its client is the story's author)."""
        found = self._links.resolve(token, "author")
        story = self._store.get_story(found["story_id"], consistent=True)
        if not story or story.get("status") != Status.PUBLISHED:
            raise Conflict("Only a published story can be corrected.")
        try:
            asked = CorrectionRequest.model_validate(data)
        except ValidationError as e:
            raise invalid(e, LABELS | {"story": "what happened"}, data) from e
        sid, now = story["id"], clock.iso()
        report = {
            "id": report_id(sid, "story", f"author:{sid}", now[:10]),
            "target": "story",
            "reason": str(Reason.other),
            "explanation": asked.explanation,
            "from": "author",
            "created_at": now,
            "has_email": False,
            "correction": {"title": asked.title or story.get("title", ""), "story": asked.story},
        }
        said = ConcernReport(reason=Reason.other, explanation=asked.explanation)
        created, _ = self._file(sid, "story", "", "story", report, said, from_service=True, hides=False)
        logger.info("correction asked", extra={"story_id": sid, "new": created})
        return {"created": created, "message": "Thank you. A moderator will check your correction."}

    def _too_quick(self, started: int | None) -> bool:
        """As the story form: sent within seconds of the form being shown (a script's). No time passes."""
        least = self._settings.min_form_seconds
        if started is None or least <= 0:
            return False
        return 0 <= int(clock.now().timestamp() * 1000) - started < least * 1000

    # ---- moderators --------------------------------------------------------------------------

    def queue(self, limit: int = 50) -> list[dict[str, Any]]:
        """Open cases, riskiest first, then oldest: what each is about and why it was reported."""
        return [_case_summary(c) for c in self._store.cases_queue(limit)]

    def case(self, story_id: str, url_kind: str, item_id: str = "") -> dict[str, Any]:
        """One reported item in full for a moderator: the item, every report on it, the case's
        decisions and (for a story) its audit trail. No reporter's address: only whether one was left."""
        kind = URL_KINDS.get(url_kind)
        where = target(kind, item_id) if kind else ""
        case = self._store.get_case(story_id, where) if kind and STORY_ID.match(story_id or "") else None
        if not case:
            raise NotFound(f"There is no report on {url_kind} {item_id or story_id!r}.")
        story: dict[str, Any] = dict(self._store.get_story(story_id, consistent=True) or {})
        item = story if kind == "story" else dict(self._store.get_thread_item(story_id, kind or "", item_id) or {})
        reports = sorted(self._store.concerns_on(story_id, where), key=lambda r: r.get("created_at", ""))
        return {
            "case": _case_summary(case) | {"decisions": list(case.get("decisions") or [])},
            "item": _item_view(kind or "", item),
            "story": {"id": story.get("id"), "title": story.get("title", ""), "status": story.get("status")},
            "reports": [
                {k: r.get(k) for k in ("id", "reason", "explanation", "from", "created_at", "has_email", "correction")}
                for r in reports
            ],
            "history": self._store.audit_trail(story_id) if kind == "story" else [],
        }

    def decide(
        self, story_id: str, url_kind: str, item_id: str, data: dict[str, Any], moderator: Moderator
    ) -> dict[str, Any]:
        try:
            decision = ConcernDecision.model_validate(data)
        except ValidationError as e:
            raise invalid(e, LABELS, data) from e
        kind = URL_KINDS.get(url_kind) or ""
        where = target(kind, item_id) if kind else ""
        case = self._store.get_case(story_id, where) if kind and STORY_ID.match(story_id or "") else None
        if not case:
            raise NotFound(f"There is no report on {url_kind} {item_id or story_id!r}.")
        story = self._store.get_story(story_id, consistent=True) or {}
        item: dict[str, Any] = (
            dict(story) if kind == "story" else dict(self._store.get_thread_item(story_id, kind, item_id) or {})
        )
        if decision.action is Action.hold and kind != "story":
            raise Conflict("Hold is for stories: restrict or remove a response or reply.")
        now = clock.iso()
        changes, before = self._changes(kind, item, decision, now)
        record = {
            "action": str(decision.action),
            "by": moderator.username,
            "at": now,
            "note": decision.note,
            "version": decision.version,
            "item_status": item.get("status", ""),
        }
        if decision.action is Action.restrict:
            record |= {"asked_by": str(decision.asked_by), "reason": str(decision.reason)}
        if before:
            record["before"] = before  # the words as they were, kept privately
        new = {k: v for k, v in case.items() if k not in ("GSI1PK", "GSI1SK")} | {
            "state": "decided",
            "version": decision.version + 1,
            "open_reports": 0,
            "hidden": False,
            "decided_at": now,
            "decisions": [*(case.get("decisions") or []), record],
        }
        hours = max(0, int((clock.parse(now) - clock.parse(case["first_at"])).total_seconds() // 3600))
        self._store.decide_case(new, decision.version, changes, DECIDABLE, {"decided": 1, f"h:{hours}": 1})
        logger.info("concern decided", extra={"story_id": story_id, "target": where, "action": record["action"]})
        metrics.add_metric(name=f"Concerns{record['action'].capitalize()}", unit="Count", value=1)
        return _case_summary(new) | {"decisions": new["decisions"]}

    def _changes(
        self, kind: str, item: dict[str, Any], decision: ConcernDecision, now: str
    ) -> tuple[dict[str, Any] | None, dict[str, Any]]:
        """The item's own change, and (for an edit) its words before it."""
        status = STATUS_AFTER.get(decision.action)
        who = {"decided_by": "moderator", "decided_at": now, "decision_note": decision.note}
        if decision.action is Action.dismiss:
            if item.get("status") != Status.HIDDEN:
                return None, {}
            return {"status": Status.PUBLISHED} | who, {}
        if decision.action is Action.edit:
            changes: dict[str, Any] = {"status": Status.PUBLISHED, "moderator_edited_at": now} | who
            before: dict[str, Any] = {}
            fields = {"title": decision.title, "story": decision.text} if kind == "story" else {"text": decision.text}
            for field, value in fields.items():
                if value is not None and value != item.get(field):
                    before[field], changes[field] = item.get(field, ""), value
            return changes, before
        changes = {"status": status} | who
        if decision.action is Action.restrict:
            changes |= {"restricted_by": str(decision.asked_by), "restricted_reason": str(decision.reason)}
            changes["restricted_at"] = now
        if decision.action is Action.remove:
            changes["removed_at"] = now
        if decision.action is Action.hold:
            changes["queued_at"] = item.get("submitted_at", now)
        return changes, {}

    def counts(self) -> dict[str, Any]:
        """Reports received, items hidden, cases decided, and hours to decide (median and 90th percentile)."""
        c = self._store.concern_counts()
        hours = {int(h): int(n) for h, n in c["hours"].items() if int(n) > 0}
        return {
            "received": c["received"],
            "hidden": c["hidden"],
            "decided": c["decided"],
            "median_hours": figures.percentile(hours, 1, 2),
            "p90_hours": figures.percentile(hours, 9, 10),
        }


def _case_summary(case: dict[str, Any]) -> dict[str, Any]:
    keep = (
        "story_id",
        "target",
        "kind",
        "item_id",
        "state",
        "version",
        "reports",
        "open_reports",
        "reasons",
        "hidden",
        "from_service",
        "first_at",
        "last_at",
        "decided_at",
    )
    return {k: case.get(k) for k in keep}


def _item_view(kind: str, item: dict[str, Any]) -> dict[str, Any]:
    """What a moderator reads of the reported item: its words, its status, and the placeholder."""
    if kind == "story":
        out = {k: item.get(k, "") for k in ("title", "story", "good", "improve", "pseudonym", "status")}
        out["version"] = item.get("version")
    else:
        out = {k: item.get(k, "") for k in ("text", "name", "role", "organisation_name", "status")}
    out["placeholder"] = placeholder(kind, item)
    return out
