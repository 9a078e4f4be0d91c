"""Pulling stories in from other channels (issue 21): an organisation's sources, and the importer that
brings each item in as a story, so that staff look at one place.

Each item becomes a story with `route: import`, the source's name, the item's id and link, and the
item's own date (`source`). The importer is idempotent on (source, source id): an item brought in
before has a pointer (store/sources.py) holding a digest of what it said, so a second run, or one over
an overlapping window, writes nothing; an item edited at the source updates its story and sends it
back to moderation. Every item is moderated (pending, with the identifying-details highlights the
moderation screen shows any story) unless its source is marked both moderated and licensed.

Licence: an item from a source not licensed for republication is kept for staff only (`staff_only`):
once a moderator publishes it, it reaches alerts and the staff page like any story, but never a public
page, feed, search index, sitemap, widget, the public JSON API or a partner's webhook
(core/status.public is the one test every public output asks).

A malformed item is refused by name (`line 4/story: reason`) and the run goes on with the rest; a
story and its pointer are written in one transaction, so nothing is ever half written. A run takes at
most `max_items` items and saves where it stopped on the source (`cursor`); the next run goes on
from there, and one that reaches the end starts the next from the beginning again.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationError

from .core import clock, ids
from .core.errors import NotFound, ValidationFailed, invalid
from .core.labels import LIMITS, Role, clean_line, clean_text
from .core.models import SLUG
from .core.observability import logger, metrics
from .core.sources import FIELDS, KINDS, RawItem, SourceUnreadable, feedforward_story, parse
from .core.status import Status

if TYPE_CHECKING:
    from .store import ImportStore

Reader = Callable[[str], bytes]  # a location (an address or a file) -> its bytes (core.sources.fetch)
MAX_ITEMS = 500  # a run's default bound
SOURCE_ID_MAX = 200  # an item's id is part of its pointer's key
URL_MAX = 2000
LABELS = {
    "slug": "the source's slug",
    "name": "the source's name",
    "organisation": "the organisation",
    "kind": "the kind of source",
    "location": "its address or file",
    "service": "the service its items are about",
    "mapping": "the mapping of its fields",
    "licensed": "whether its items may be republished",
    "moderated": "whether its items are moderated already",
    "role": "who its authors are",
}


class SourceSpec(BaseModel):
    """A source as a lead or an admin registers it."""

    model_config = ConfigDict(extra="forbid")

    slug: str = Field(pattern=SLUG)
    name: Annotated[str, StringConstraints(strip_whitespace=True, min_length=2, max_length=60)]
    organisation: str = Field(pattern=SLUG)
    kind: Annotated[str, StringConstraints(pattern="^(" + "|".join(KINDS) + ")$")]
    location: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=URL_MAX)]
    service: str = Field(pattern=SLUG)  # where an item that names none belongs (an export may name its own)
    mapping: dict[Annotated[str, StringConstraints(pattern="^(" + "|".join(FIELDS) + ")$")], str] = Field(
        default_factory=dict, max_length=len(FIELDS)
    )
    licensed: bool = False  # may its items be republished on the public site?
    moderated: bool = False  # were its items moderated before they came (and so need no moderator here)?
    role: Role = Role.other  # who the items' authors are, when an item does not say


@dataclass
class Summary:
    """What a run did: its counts, and a line for each refused item."""

    source: str
    imported: int = 0
    updated: int = 0
    unchanged: int = 0
    refused: list[str] = field(default_factory=list)
    more: bool = False  # stopped at max_items: the next run goes on from the cursor
    story_ids: list[str] = field(default_factory=list)  # the stories written (imported or updated)

    def line(self) -> str:
        return (
            f"{self.imported} imported, {self.updated} updated, {self.unchanged} unchanged, {len(self.refused)} refused"
        )

    def as_dict(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "imported": self.imported,
            "updated": self.updated,
            "unchanged": self.unchanged,
            "refused": list(self.refused),
            "more": self.more,
            "summary": self.line(),
        }


class Refused(ValueError):
    """One item's field is wrong: `field: reason`."""

    def __init__(self, field_name: str, reason: str):
        super().__init__(f"{field_name}: {reason}")


class Importer:
    def __init__(self, store: ImportStore, read: Reader):
        self._store = store
        self._read = read

    # ---- sources -------------------------------------------------------------------------------

    def add_source(self, data: dict[str, Any], extra: dict[str, Any] | None = None) -> dict[str, Any]:
        """Register a source: its organisation must be a top of the directory and its service within it.
        `extra`: what the caller records beside (a lead's licence: who said so, and when)."""
        try:
            spec = SourceSpec.model_validate(data)
        except ValidationError as e:
            raise invalid(e, LABELS, data) from e
        self.check_service(spec)
        source = spec.model_dump(mode="json") | {"created_at": clock.iso()} | (extra or {})
        if not self._store.create_source(source):
            raise ValidationFailed([{"field": "slug", "message": "A source with this slug exists already"}])
        return source

    def check_service(self, spec: SourceSpec) -> None:
        """The source's organisation is a top of the directory, and its service one of that organisation's."""
        found = self._store.get_services([spec.organisation, spec.service])
        org, svc = found.get(spec.organisation), found.get(spec.service)
        if not org or len(org.get("path") or []) != 1:
            raise ValidationFailed([{"field": "organisation", "message": "Name an organisation of the directory"}])
        if not svc or (svc.get("path") or [""])[0] != spec.organisation:
            raise ValidationFailed([{"field": "service", "message": "Name one of the organisation's services"}])

    # ---- a run ----------------------------------------------------------------------------------

    def run(
        self,
        slug: str,
        max_items: int = MAX_ITEMS,
        progress: Callable[[Iterable[RawItem]], Iterable[RawItem]] | None = None,
    ) -> Summary:
        """Bring in at most `max_items` items of the source, from where the last run stopped."""
        source = self._store.get_source(slug)
        if not source or source.get("removed_at"):  # a removed source's tombstone is never run
            raise NotFound(f"There is no source {slug!r}.")
        summary = Summary(source=slug)
        try:
            items = parse(source["kind"], self._read(source["location"]), source.get("mapping") or {})
        except SourceUnreadable as e:
            summary.refused.append(str(e))
            return summary
        start = _after(items, str(source.get("cursor") or ""))
        window = items[start : start + max(1, max_items)]
        summary.more = start + len(window) < len(items)
        pointers = self._store.imported_items(slug, [i.fields["id"] for i in window if i.fields.get("id")])
        services: dict[str, dict[str, Any]] = {}
        for raw in progress(window) if progress else window:
            self._one(source, raw, pointers, services, summary)
        self._store.set_source_cursor(slug, window[-1].ref if window and summary.more else "", clock.iso())
        logger.info("source imported", extra={"source": slug, **summary.as_dict(), "refused": len(summary.refused)})
        metrics.add_metric(name="ItemsImported", unit="Count", value=summary.imported + summary.updated)
        return summary

    def _one(
        self,
        source: dict[str, Any],
        raw: RawItem,
        pointers: dict[str, dict[str, Any]],
        services: dict[str, dict[str, Any]],
        summary: Summary,
    ) -> None:
        """One item: refused by name, or imported, updated or left unchanged."""
        try:
            fields = self._complete(source, raw)
            item = self._checked(source, fields, services)
        except Refused as e:
            summary.refused.append(f"{raw.ref}/{e}")
            return
        digest = _digest(item)
        pointer = pointers.get(item["id"])
        if pointer and pointer.get("digest") == digest:
            summary.unchanged += 1
            return
        now = clock.iso()
        if pointer is None:
            story = _story(source, item, now)
            mine = {"slug": source["slug"], "source_id": item["id"], "story_id": story["id"], "digest": digest}
            mine |= {"imported_at": now, "updated_at": now}
            if self._store.import_story(story, mine):
                summary.imported += 1
                summary.story_ids.append(story["id"])
                pointers[item["id"]] = mine
            else:
                summary.unchanged += 1  # another run brought it in first
            return
        story_id = str(pointer["story_id"])
        current = self._store.get_story(story_id, consistent=True)
        mine = pointer | {"digest": digest, "updated_at": now}
        if current and self._store.reimport_story(
            story_id, _changes(source, item, dict(current), now), mine, pointer["digest"]
        ):
            summary.updated += 1
            summary.story_ids.append(story_id)
            pointers[item["id"]] = mine
        else:
            summary.unchanged += 1  # erased, removed or withdrawn here: left as it is

    def _complete(self, source: dict[str, Any], raw: RawItem) -> dict[str, str]:
        """The item's fields; another FeedForward's story is read from its own address (one GET)."""
        if not raw.detail:
            return dict(raw.fields)
        base = source["location"].split("?", 1)[0].rstrip("/")
        try:
            return feedforward_story(self._read(f"{base}/{raw.detail}"))
        except SourceUnreadable as e:
            raise Refused("story", str(e).removeprefix("source: ").removeprefix("story: ")) from None

    def _checked(
        self, source: dict[str, Any], fields: dict[str, str], services: dict[str, dict[str, Any]]
    ) -> dict[str, Any]:
        """The item as a story's fields, or Refused naming the first wrong one."""
        source_id = fields.get("id", "")
        if not source_id:
            raise Refused("id", "missing: every item needs the source's own id")
        if len(source_id) > SOURCE_ID_MAX or not source_id.isprintable():
            raise Refused("id", f"more than {SOURCE_ID_MAX} characters, or not printable")
        title = clean_line(fields.get("title", ""))
        story = clean_text(fields.get("story", ""))
        good, improve = clean_text(fields.get("good", "")), clean_text(fields.get("improve", ""))
        for name, text in (("title", title), ("story", story), ("good", good), ("improve", improve)):
            low, high = LIMITS[name]
            if not low <= len(text) <= high:
                raise Refused(name, "missing" if not text else f"must be {low} to {high} characters, not {len(text)}")
        url = fields.get("url", "")
        if url and (not url.startswith(("https://", "http://")) or len(url) > URL_MAX or not url.isprintable()):
            raise Refused("url", "must be an http(s) address")
        when = _date(fields.get("date", ""))
        role = fields.get("role") or source.get("role") or Role.other
        if role not in {r.value for r in Role}:
            raise Refused("role", f"{role!r} is not one of {', '.join(r.value for r in Role)}")
        slug = fields.get("service") or source["service"]
        if slug not in services:
            services |= self._store.get_services([slug])
        svc = services.get(slug)
        if not svc or (svc.get("path") or [""])[0] != source["organisation"]:
            raise Refused("service", f"{slug!r} is not one of {source['organisation']}'s services")
        return {"id": source_id, "title": title, "story": story, "good": good, "improve": improve} | {
            "date": when,
            "role": role,
            "services": [slug],
            "url": url,
        }


# ---- the story an item becomes -------------------------------------------------------------------


def _story(source: dict[str, Any], item: dict[str, Any], now: str) -> dict[str, Any]:
    story = {
        "id": ids.new_story_id(),
        "version": 1,
        "submitted_at": now,
        "feelings": [],
        "pseudonym": source["name"],  # never the item's author's name: it may be a real one
        "has_contact": False,
        "tags": [],
        "language": "en",
        "route": "import",
    }
    return story | _changes(source, item, None, now)


def _changes(source: dict[str, Any], item: dict[str, Any], current: dict[str, Any] | None, now: str) -> dict[str, Any]:
    """What the item sets on its story: its words, date, services and source; pending, unless the source is
    moderated and licensed (then published as it comes), or a moderator holds it (then held still)."""
    trusted = bool(source.get("moderated") and source.get("licensed"))
    out: dict[str, Any] = {k: item[k] for k in ("title", "story", "good", "improve", "role", "services")}
    out |= {
        "experience": item["date"][:7],
        "source": {
            "slug": source["slug"],
            "name": source["name"],
            "id": item["id"],
            "url": item["url"],
            "date": item["date"],
        },
        "staff_only": not source.get("licensed"),
        "status": Status.PUBLISHED if trusted else Status.PENDING,
    }
    if (current or {}).get("status") == Status.HELD:
        out["status"] = Status.HELD  # a moderator's hold (safeguarding) outlasts any edit at the source
    if trusted and out["status"] == Status.PUBLISHED:
        out |= {
            "published_at": (current or {}).get("published_at") or now,
            "criticality": int((current or {}).get("criticality") or 0),
            "decided_by": f"source:{source['slug']}",
            "decided_at": now,
        }
    if current is not None:
        out["reimported_at"] = now
    return out


def _digest(item: dict[str, Any]) -> str:
    """What the item says, as a digest: the same item brought in again has the same one."""
    return hashlib.sha256(json.dumps(item, sort_keys=True, ensure_ascii=False).encode()).hexdigest()


def _date(text: str) -> str:
    """The item's own date as ISO 8601 UTC (a date alone is midnight), or Refused."""
    text = text.strip()
    if not text:
        raise Refused("date", "missing: every item needs the date it was written")
    try:
        if len(text) == 10 and text[2] == "/" and text[5] == "/":  # 31/01/2026, as UK exports write it
            when = datetime.strptime(text, "%d/%m/%Y").replace(tzinfo=UTC)
        else:
            when = datetime.fromisoformat(text.replace("Z", "+00:00"))
            when = when if when.tzinfo else when.replace(tzinfo=UTC)
    except ValueError:
        raise Refused("date", f"{text[:40]!r} is not a date (2026-01-31, or 31/01/2026)") from None
    if when > clock.now() + timedelta(days=1):
        raise Refused("date", "is in the future")
    return when.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def _after(items: list[RawItem], cursor: str) -> int:
    """Where a run starts: after the item the last one stopped at, or at the beginning."""
    if cursor:
        for n, item in enumerate(items):
            if item.ref == cursor:
                return n + 1
    return 0
