"""Moderation: the queue, one story in full, and the three decisions.

A decision only writes the story item (with who and when); the audit record, the kept
original, the pages and the author's email all follow from the table's stream.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from .core import clock, urgency
from .core.errors import NotFound, ValidationFailed, invalid
from .core.identifying import HIGHLIGHT_WORDS, KIND_WORDS
from .core.identifying import highlights as find
from .core.models import EDITABLE_FIELDS, Decision, ItemDecision, ModerationDecision
from .core.observability import logger, metrics
from .core.status import ItemStatus, Status
from .messages import view as message_view

# Why a staff response waits for a moderator when no identifying detail was found (conversation.py).
CHECK_WORDS = {
    "first-responses": "one of this responder's first responses",
    "change-made": "says a change has been made",
    "high-criticality": "answers a story of criticality 4 or 5",
}

if TYPE_CHECKING:
    from .store import ModerationStore, Story

DECIDABLE = (Status.PENDING, Status.HELD)  # a story can be decided on while it waits or is held
READ_AHEAD = 200  # stories of a queue read to find the urgent ones (one Query: they are small)
STATUS_FOR = {Decision.publish: Status.PUBLISHED, Decision.hold: Status.HELD, Decision.reject: Status.REJECTED}
LABELS = {
    "criticality": "a criticality",
    "note": "a note",
    "title": "a title",
    "story": "the story",
    "action": "a decision",
    "services": "the services",
}
REPLIES = "replies"  # the queue of held staff responses and pending author replies
# URL word -> (stored kind, the status a decision may be taken from)
ITEM_KINDS = {
    "responses": ("response", (ItemStatus.HELD,)),
    "replies": ("reply", (ItemStatus.PENDING,)),
    "checks": ("check", (ItemStatus.PENDING,)),
}  # CHECK: a comment on a change check (change_check.py)
ITEM_LABELS = {"action": "a decision (publish or reject)", "note": "a note", "text": "the text"}


@dataclass(frozen=True)
class Moderator:
    username: str
    name: str


# The promise flow's `plan` (handed in by wiring): a story's promise and its ladder's steps, or None.
PromisePlan = Callable[[Any, dict[str, Any]], "tuple[dict[str, Any], dict[str, str]] | None"]


class Moderation:
    def __init__(self, store: ModerationStore, plan_promise: PromisePlan | None = None):
        self._store = store
        self._plan_promise = plan_promise

    def queue(self, status: str = Status.PENDING, limit: int = 50) -> list[dict[str, Any]]:
        """The oldest `limit` stories waiting, urgent ones first (words of self-harm, abuse or danger:
        core/urgency.py), each with its services' names."""
        if status not in DECIDABLE:
            raise NotFound(f"There is no queue called {status!r}; use pending, held or {REPLIES}.")
        # Read further than is shown, so an urgent story behind many calm ones still comes first.
        stories = self._store.queue(status, max(limit, READ_AHEAD))
        flagged = sorted(((urgency.flags(dict(s)), s) for s in stories), key=lambda f: not f[0])[:limit]
        names = self._store.get_services({slug for _, s in flagged for slug in s.get("services") or []})
        return [_summary(s, names) | {"urgent": flags} for flags, s in flagged]  # stable: oldest first within each

    # ---- held staff responses and pending author replies -----------------------------------

    def replies_queue(self, limit: int = 50) -> list[dict[str, Any]]:
        """Held responses and pending replies, oldest first, each with its story's title and,
        for a response, the flags that held it (so the moderator knows what to look for)."""
        items = self._store.replies_queue(limit)
        # One read per distinct story; the queue is short and most items share a few stories.
        titles: dict[str, Story] = {}
        for sid in dict.fromkeys(i["story_id"] for i in items):
            titles[sid] = self._store.get_story(sid) or {}
        return [_item_summary(i, titles.get(i["story_id"], {})) for i in items]

    def decide_item(
        self, story_id: str, kind: str, item_id: str, data: dict[str, Any], moderator: Moderator
    ) -> dict[str, Any]:
        """Publish (perhaps with edited text) or reject (with a note, which the writer is told) one
        held response or pending reply. A second decision on the same item is a 409."""
        if kind not in ITEM_KINDS:
            raise NotFound(f"There is nothing called {kind!r} to decide on; use responses, replies or checks.")
        stored, allowed = ITEM_KINDS[kind]
        try:
            decision = ItemDecision.model_validate(data)
        except ValidationError as e:
            raise invalid(e, ITEM_LABELS, data) from e
        if decision.action == "reject" and not decision.note:
            raise ValidationFailed(
                [{"field": "note", "message": "Write the reason, which the writer will be told"}], data
            )
        current = self._store.get_thread_item(story_id, stored, item_id)
        if not current:
            raise NotFound(f"There is no {stored} {item_id!r} on story {story_id!r}.")
        now = clock.iso()
        changes: dict[str, Any] = {
            "status": Status.PUBLISHED if decision.action == "publish" else Status.REJECTED,
            "decided_by": moderator.username,
            "decided_at": now,
            "decision_note": decision.note,
        }
        if decision.action == "publish":
            changes["published_at"] = now
            if decision.text is not None and decision.text != current.get("text"):
                changes["text"] = decision.text
                changes["edited"] = True
        updated = self._store.decide_thread_item(story_id, stored, item_id, allowed, changes)
        logger.info(
            "thread item decided",
            extra={
                "story_id": story_id,
                "kind": stored,
                "item_id": item_id,
                "status": updated["status"],
                "edited": "text" in changes,
            },
        )
        metrics.add_metric(name=f"ThreadItems{updated['status'].capitalize()}", unit="Count", value=1)
        return _item_summary(updated, {})

    def story(self, story_id: str) -> dict[str, Any]:
        story = self._store.get_story(story_id, consistent=True)
        if not story:
            raise NotFound(f"There is no story {story_id!r}.")
        services = self._store.get_services(story["services"])
        contact = self._store.get_contact(story_id) if story.get("has_contact") else None
        return {
            "story": story,
            # Whether the author's address was confirmed as theirs (issue 18): never the address itself.
            "address": "confirmed" if contact and contact.get("confirmed_at") else "unconfirmed" if contact else "none",
            "services": [services.get(s, {"slug": s, "name": s}) for s in story["services"]],
            "original": self._store.get_original(story_id),
            "audit": self._store.audit_trail(story_id),
            "highlights": highlights(story),
            "urgent": urgency.flags(dict(story)),
            # What a moderator and the author wrote to each other (never the author's address).
            "messages": [message_view(m) for m in self._store.messages(story_id)],
            # Suggestions for the tags field: every tag a published story has carried.
            "tags_in_use": self._store.registered_names("tags", limit=500),
        }

    def check(self, data: dict[str, Any]) -> dict[str, Any]:
        """The identifying-details check on text as the moderator is editing it (nothing is stored):
        the screen's marks follow the edits, not the saved words."""
        fields = {f: data.get(f) for f in HIGHLIGHTED if f in data}
        wrong = [f for f, v in fields.items() if not isinstance(v, str) or len(v) > CHECKED_MOST]
        if wrong:
            message = f"Send text of at most {CHECKED_MOST} characters"
            raise ValidationFailed([{"field": f, "message": message} for f in wrong], {})
        return {"highlights": highlights(fields)}

    def decide(self, story_id: str, data: dict[str, Any], moderator: Moderator) -> Story:
        try:
            decision = ModerationDecision.model_validate(data)
        except ValidationError as e:
            raise invalid(e, LABELS, data) from e
        current = self._store.get_story(story_id, consistent=True)
        if not current:
            raise NotFound(f"There is no story {story_id!r}.")
        now = clock.iso()
        changes: dict[str, Any] = {
            "status": STATUS_FOR[decision.action],
            "decided_by": moderator.username,
            "decided_at": now,
            "decision_note": decision.note,
        }
        edited = [
            f for f in EDITABLE_FIELDS if getattr(decision, f) is not None and getattr(decision, f) != current.get(f)
        ]
        for f in edited:
            changes[f] = getattr(decision, f)
        services = list(dict.fromkeys(decision.services or []))
        if services and services != list(current.get("services") or []):
            known = self._store.get_services(services)
            unknown = [slug for slug in services if slug not in known]
            if unknown:
                message = "Choose services from the directory: " + ", ".join(unknown) + " is not one"
                raise ValidationFailed([{"field": "services", "message": message}], data)
            changes["services"] = services
            edited.append("services")
        changes["edited_fields"] = edited
        if decision.action is Decision.publish:
            changes["criticality"] = decision.criticality
            changes["tags"] = sorted(set(decision.tags))
            changes["published_at"] = current.get("published_at") or now
        ladder = None
        first = decision.action is Decision.publish and not current.get("published_at")
        if first and self._plan_promise and not current.get("response_due_at"):
            # The promise and its ladder go with the publication (issue 17): one write, one stream record.
            planned = self._plan_promise(self._store, {**current, **changes})
            if planned:
                changes.update(planned[0])
                ladder = (current, planned[0], planned[1])
        updated = self._store.update_story(story_id, decision.version, DECIDABLE, changes, ladder)
        logger.info("story decided", extra={"story_id": story_id, "status": updated["status"], "edited": edited})
        metrics.add_metric(name=f"Stories{updated['status'].capitalize()}", unit="Count", value=1)
        return updated


HIGHLIGHTED = ("title", "story", "good", "improve", "pseudonym")
CHECKED_MOST = 20_000  # characters of one field the live check reads (a story is at most 8,000)


def highlights(story: Mapping[str, Any]) -> dict[str, Any]:
    """Likely identifying details in each public field, as text segments the screen marks up
    (segments, not offsets: Python and JavaScript count characters differently)."""
    out: dict[str, Any] = {}
    for field in HIGHLIGHTED:
        text = story.get(field) or ""
        found = find(text)
        if not found:
            continue
        segments, at = [], 0
        for f in found:
            if f.start > at:
                segments.append({"text": text[at : f.start]})
            segments.append({"text": f.text, "kind": f.kind, "words": HIGHLIGHT_WORDS[f.kind]})
            at = f.end
        if at < len(text):
            segments.append({"text": text[at:]})
        kinds = list(dict.fromkeys(HIGHLIGHT_WORDS[f.kind] for f in found))
        out[field] = {"count": len(found), "kinds": kinds, "segments": segments}
    return out


def _summary(story: Mapping[str, Any], names: dict[str, dict[str, Any]] | None = None) -> dict[str, Any]:
    keep = ("id", "status", "version", "submitted_at", "title", "services", "pseudonym", "role", "experience", "tags")
    known = names or {}
    # How it came in (issue 19): a story someone entered for its author says who, as moderators check those too.
    came = {
        "route": story.get("route") or "web",
        "invitation": story.get("invitation"),
        "entered_by": story.get("entered_by"),
        "source": story.get("source"),  # pulled in (issue 21): its source's name, the item's id, link and date
        "staff_only": bool(story.get("staff_only")),
    }
    return (
        {k: story.get(k) for k in keep}
        | {
            "excerpt": story.get("story", "")[:280],
            "service_names": [known.get(slug, {}).get("name") or slug for slug in story.get("services") or []],
        }
        | came
    )


def _item_summary(item: Mapping[str, Any], story: Mapping[str, Any]) -> dict[str, Any]:
    """What a moderator sees of a held response or pending reply. No address: items hold none."""
    keep = (
        "id",
        "story_id",
        "item",
        "status",
        "created_at",
        "text",
        "flags",
        "verified",
        "name",
        "role",
        "organisation_name",
        "service_name",
        "change",
        "change_description",
        "published_at",
        "decided_by",
        "decided_at",
        "decision_note",
        "edited",
        "answer",
        "recipient",
    )
    out = {k: item[k] for k in keep if k in item}
    if item.get("item") == "response":
        out.setdefault("flags", [])
        # The flags in words, so the moderator knows what the automatic check found.
        out["flag_words"] = [KIND_WORDS.get(k, str(k).replace("_", " ")) for k in out["flags"]]
        # And why it is checked at all when nothing was found: the responder's first responses,
        # a change said to be made, a story of criticality 4 or 5.
        out["checks"] = list(item.get("checks", []))
        out["flag_words"] += [CHECK_WORDS.get(c, c) for c in out["checks"]]
    if story:
        out["story"] = {"id": story.get("id"), "title": story.get("title", ""), "status": story.get("status")}
    return out
