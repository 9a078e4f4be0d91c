"""Moderation: the queue, one story in full, and the three decisions.

A decision only writes the story item (with who and when); the audit record, the kept
original, the pages and the author's email all follow from the table's stream.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from . import clock
from .errors import NotFound
from .models import EDITABLE_FIELDS, Decision, ModerationDecision
from .observability import logger, metrics
from .web import invalid

DECIDABLE = ("pending", "held")  # a story can be decided on while it waits or is held
STATUS_FOR = {Decision.publish: "published", Decision.hold: "held", Decision.reject: "rejected"}
LABELS = {"criticality": "a criticality", "note": "a note", "title": "a title", "story": "the story", "action": "a decision"}


@dataclass(frozen=True)
class Moderator:
    username: str
    name: str


class Moderation:
    def __init__(self, store: Any):
        self._store = store

    def queue(self, status: str = "pending", limit: int = 50) -> list[dict[str, Any]]:
        if status not in DECIDABLE:
            raise NotFound(f"There is no queue called {status!r}; use pending or held.")
        return [_summary(s) for s in self._store.queue(status, limit)]

    def story(self, story_id: str) -> dict[str, Any]:
        story = self._store.get_story(story_id, consistent=True)
        if not story:
            raise NotFound(f"There is no story {story_id!r}.")
        services = self._store.get_services(story["services"])
        return {
            "story": story,
            "services": [services.get(s, {"slug": s, "name": s}) for s in story["services"]],
            "original": self._store.get_original(story_id),
            "audit": self._store.audit_trail(story_id),
        }

    def decide(self, story_id: str, data: dict[str, Any], moderator: Moderator) -> dict[str, Any]:
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
        edited = [f for f in EDITABLE_FIELDS if getattr(decision, f) is not None and getattr(decision, f) != current.get(f)]
        for f in edited:
            changes[f] = getattr(decision, f)
        changes["edited_fields"] = edited
        if decision.action is Decision.publish:
            changes["criticality"] = decision.criticality
            changes["tags"] = sorted(set(decision.tags))
            changes["published_at"] = current.get("published_at") or now
        updated = self._store.update_story(story_id, decision.version, DECIDABLE, changes)
        logger.info("story decided", extra={"story_id": story_id, "status": updated["status"], "edited": edited})
        metrics.add_metric(name=f"Stories{updated['status'].capitalize()}", unit="Count", value=1)
        return updated


def _summary(story: dict[str, Any]) -> dict[str, Any]:
    keep = ("id", "status", "version", "submitted_at", "title", "services", "pseudonym", "role", "experience")
    return {k: story.get(k) for k in keep} | {"excerpt": story.get("story", "")[:280]}
