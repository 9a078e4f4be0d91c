"""The table's stream as an outbox: each state change becomes derived items and jobs.

Whatever changed the item (the API, or an admin in the DynamoDB console), the effects are
the same. Every step is safe to repeat: puts are conditional or overwrite the same value,
and jobs carry keys the workers de-duplicate on.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from .jobs import MailJob, RenderJob
from .observability import logger
from .store import EVERYTHING

TEXT_FIELDS = ("title", "story", "good", "improve", "pseudonym")
EXCERPT_CHARS = 300


class ChangeHandler:
    def __init__(self, store: Any):
        self._store = store

    def handle(self, record: dict[str, Any]) -> list:
        """Apply one stream record; returns the jobs that follow from it (the caller sends them)."""
        change = self._store.decode_change(record)
        if change.kind == "story":
            jobs = self._story_changed(record, change.story_id, change.old, change.new)
        elif change.kind == "contact" and record.get("eventName") == "INSERT":
            jobs = [MailJob(kind="author_confirmation", story_id=change.story_id)]
        else:
            jobs = []
        return jobs

    def _story_changed(self, record: dict[str, Any], story_id: str, old: dict | None, new: dict | None) -> list:
        old_status = (old or {}).get("status")
        new_status = (new or {}).get("status")
        jobs: list[RenderJob | MailJob] = []

        if new and old_status != new_status and old is not None:
            self._audit(record, story_id, old, new)
        if old and new and old_status in ("pending", "held") and any(old.get(f) != new.get(f) for f in TEXT_FIELDS):
            self._store.keep_original(story_id, {f: old.get(f, "") for f in TEXT_FIELDS} | {"kept_at": new.get("decided_at", "")})

        was_public, is_public = old_status == "published", new_status == "published"
        if was_public or is_public:
            old_slugs = self._affected(old) if was_public else set()
            new_slugs = self._affected(new) if is_public else set()
            if was_public and (not is_public or old.get("published_at") != new.get("published_at")):
                self._store.delete_listing(old_slugs - (new_slugs if is_public else set()), story_id, old["published_at"])
            if is_public:
                self._store.put_listing(new_slugs, listing_entry(new))
            jobs.append(RenderJob(page="story", ref=story_id))
            jobs.append(RenderJob(page="home"))
            jobs += [RenderJob(page="service", ref=s) for s in sorted((old_slugs | new_slugs) - {EVERYTHING})]

        if new and old_status != new_status and new.get("has_contact"):
            kind = {"published": "author_published", "rejected": "author_rejected"}.get(new_status)
            if kind:
                jobs.append(MailJob(kind=kind, story_id=story_id, ref=str(new.get("version", ""))))
        if jobs:
            logger.info("story changed", extra={"story_id": story_id, "from": old_status, "to": new_status, "jobs": len(jobs)})
        return jobs

    def _affected(self, story: dict[str, Any]) -> set[str]:
        """The listings a published story belongs on: its services, all their ancestors, and everything."""
        services = self._store.get_services(story.get("services", []))
        slugs = {EVERYTHING}
        for svc in services.values():
            slugs.update(svc["path"])
        return slugs

    def _audit(self, record: dict[str, Any], story_id: str, old: dict[str, Any], new: dict[str, Any]) -> None:
        ddb = record.get("dynamodb", {})
        seen = ddb.get("ApproximateCreationDateTime")
        seen_at = (
            datetime.fromtimestamp(float(seen), timezone.utc).isoformat(timespec="seconds").replace("+00:00", "Z")
            if seen
            else new.get("decided_at", "")
        )
        by_api = new.get("decided_at") and new.get("decided_at") != old.get("decided_at")
        event = {
            "from": old.get("status"),
            "to": new.get("status"),
            "by": new.get("decided_by") if by_api else "table edit",
            "at": new.get("decided_at") if by_api else seen_at,
            "note": new.get("decision_note", "") if by_api else "",
            "edited": new.get("edited_fields", []) if by_api else [f for f in TEXT_FIELDS if old.get(f) != new.get(f)],
            "version": new.get("version"),
        }
        self._store.record_audit(story_id, event["at"], str(ddb.get("SequenceNumber", "")), event)


def listing_entry(story: dict[str, Any]) -> dict[str, Any]:
    """What a list of stories shows of one story: public fields only."""
    text = story.get("story", "")
    excerpt = text if len(text) <= EXCERPT_CHARS else text[:EXCERPT_CHARS].rsplit(" ", 1)[0] + "…"
    return {
        "id": story["id"],
        "title": story["title"],
        "excerpt": excerpt,
        "pseudonym": story.get("pseudonym", ""),
        "role": story.get("role", ""),
        "experience": story.get("experience", ""),
        "published_at": story["published_at"],
        "services": story.get("services", []),
        "feelings": story.get("feelings", []),
        "tags": story.get("tags", []),
    }
