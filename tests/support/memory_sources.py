"""The in-memory store's sources of imported stories (issue 21), apart so that each file stays short: the same
items as store/sources.py writes, kept in MemoryStore's dict, with the same all-or-nothing writes."""

from __future__ import annotations

import copy
import threading
from typing import Any

from chalicelib.store.sources import REIMPORTABLE, pointer_item, queued_story, source_item
from chalicelib.store.table import _public


class MemorySources:
    """Mixed into MemoryStore, whose dict, lock and reads it shares."""

    _items: dict[tuple[str, str], dict[str, Any]]
    _lock: threading.Lock
    _get: Any  # MemoryStore._get: a copy of the item at (PK, SK), or None

    def create_source(self, source: dict[str, Any]) -> bool:
        item = source_item(source)
        with self._lock:
            if (item["PK"], item["SK"]) in self._items:
                return False
            self._items[(item["PK"], item["SK"])] = copy.deepcopy(item)
            return True

    def get_source(self, slug: str) -> dict[str, Any] | None:
        item = self._get(f"SOURCE#{slug}", "SOURCE")
        return _public(item) if item else None

    def sources_of(self, organisation: str) -> list[dict[str, Any]]:
        with self._lock:
            found = [copy.deepcopy(i) for i in self._items.values() if i.get("GSI1PK") == f"SOURCES#{organisation}"]
        return [_public(i) for i in sorted(found, key=lambda i: i["GSI1SK"])]

    def set_source_cursor(self, slug: str, cursor: str, at: str) -> None:
        with self._lock:
            item = self._items[(f"SOURCE#{slug}", "SOURCE")]  # KeyError, as the real one refuses
            item["cursor"], item["last_run_at"] = cursor, at

    def update_source(self, slug: str, organisation: str, changes: dict[str, Any]) -> bool:
        with self._lock:
            item = self._items.get((f"SOURCE#{slug}", "SOURCE"))
            if not item or item.get("organisation") != organisation:
                return False
            item.update(copy.deepcopy(changes))
            return True

    def delete_source(self, slug: str, organisation: str, at: str) -> bool:
        with self._lock:
            item = self._items.get((f"SOURCE#{slug}", "SOURCE"))
            if not item or item.get("organisation") != organisation or "removed_at" in item:
                return False
            for key in ("GSI1PK", "GSI1SK"):  # off the organisation's index, as the real one removes them
                item.pop(key, None)
            item["removed_at"] = at
            return True

    def imported_items(self, slug: str, source_ids: Any) -> dict[str, dict[str, Any]]:
        found = {}
        for sid in dict.fromkeys(source_ids):
            item = self._get(f"SOURCE#{slug}", f"ITEM#{sid}")
            if item:
                found[sid] = _public(item)
        return found

    def import_story(self, story: dict[str, Any], pointer: dict[str, Any]) -> bool:
        """The story and its pointer, together or not at all (the real one: one transaction)."""
        item, mine = queued_story(story), pointer_item(story["source"]["slug"], pointer)
        with self._lock:
            if (item["PK"], item["SK"]) in self._items or (mine["PK"], mine["SK"]) in self._items:
                return False
            self._items[(item["PK"], item["SK"])] = copy.deepcopy(item)
            self._items[(mine["PK"], mine["SK"])] = copy.deepcopy(mine)
            return True

    def reimport_story(
        self, story_id: str, changes: dict[str, Any], pointer: dict[str, Any], expected_digest: str
    ) -> bool:
        mine = pointer_item(pointer["slug"], pointer)
        with self._lock:
            story = self._items.get((f"STORY#{story_id}", "STORY"))
            there = self._items.get((mine["PK"], mine["SK"]))
            if (
                story is None
                or story.get("status") not in REIMPORTABLE
                or (there or {}).get("digest") != expected_digest
            ):
                return False
            updated = queued_story({**story, **copy.deepcopy(changes), "submitted_at": changes["reimported_at"]})
            if updated["status"] not in ("pending", "held"):
                updated.pop("GSI1PK", None), updated.pop("GSI1SK", None)
            updated["submitted_at"] = story["submitted_at"]
            updated["version"] = int(story.get("version") or 0) + 1
            self._items[(f"STORY#{story_id}", "STORY")] = updated
            self._items[(mine["PK"], mine["SK"])] = copy.deepcopy(mine)
            return True
