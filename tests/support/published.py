"""Published stories written straight into the table with their listing entries, as the stream would."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from chalicelib import wiring
from chalicelib.changes import listing_entry
from chalicelib.core.ids import new_story_id
from chalicelib.store import EVERYTHING, tag_list

START = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)


def iso(moment: datetime) -> str:
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def seed(n: int, service: str = "riverside-ward-7", tags=(), start: datetime = START, step_hours: int = 7) -> list[str]:
    """Published stories straight into the table with their listing entries (as the stream would).
    Returns their ids, newest first."""
    store = wiring.store()
    path = store.get_service(service)["path"]
    rows, ids = [], []
    for i in range(n):
        sid = new_story_id()
        story = {
            "id": sid,
            "status": "published",
            "version": 2,
            "title": f"Story {i} about {service}",
            "story": f"What happened {i}.",
            "pseudonym": f"Person {i}",
            "role": "patient",
            "experience": "2026-01",
            "services": [service],
            "tags": list(tags),
            "published_at": iso(start + timedelta(hours=i * step_hours)),
            "criticality": 4,
        }
        rows.append((story, listing_entry(story), set(path) | {EVERYTHING} | {tag_list(t) for t in tags}))
        ids.append(sid)
    store.put_published(rows)
    return ids[::-1]
