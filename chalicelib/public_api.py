"""The read-only JSON API for other platforms: published stories, one story with its conversation,
and a service with its sub-services and figures.

Every answer is built from public fields chosen one by one (as the pages are): no criticality,
no moderator's note, no contact detail can reach it. Each request costs a fixed number of calls:
one Query per page of stories (plus one BatchGetItem for the services they name), one Query for a
story's thread, a GetItem and a Query (and the figures' GetItem) for a service.

Paging is by an opaque cursor: the sort key to continue after, bound to the filters it was made
for and carrying a checksum, so a cursor that was edited, truncated or made for other filters is a
400 naming `cursor`, never a 500. It is not a secret: a forged one could only start a public
listing at another point, which a client can do with `to` anyway.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import re
from collections.abc import Mapping
from datetime import date
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

from .core import figures
from .core.errors import BadRequest, NotFound
from .core.status import public
from .store import EVERYTHING, tag_list
from .views import conversation, progress, role_label

if TYPE_CHECKING:
    from .core.settings import Settings
    from .store import ListingEntry, PublicStore

DEFAULT_LIMIT = 20
MAX_LIMIT = 100
MAX_CURSOR = 400

_SLUG = re.compile(r"^[a-z0-9][a-z0-9-]{0,79}$")
_TAG = re.compile(r"^[a-z0-9][a-z0-9-]{0,39}$")
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_MONTH = re.compile(r"^(19|20)\d{2}-(0[1-9]|1[0-2])$")
_STORY_ID = re.compile(r"^[0-9a-z]{17}$")
# A listing's sort key: "<published_at>#<story id>".
_SORT_KEY = re.compile(r"^\d{4}-\d{2}-\d{2}T[0-9:.]{1,20}Z?#[0-9a-z]{17}$")


def _bad(field: str, message: str) -> BadRequest:
    return BadRequest(f"{field}: {message}", fields=[{"field": field, "message": message}])


def progress_view(item: Mapping[str, Any]) -> dict[str, Any]:
    """Where a story stands, and the date each step was reached (None until then)."""
    p = progress(item)
    return {"current": p["current"], "dates": {s["key"]: s["at"] for s in p["steps"]}}


class PublicApi:
    def __init__(self, store: PublicStore, settings: Settings):
        self._store = store
        self._site = settings.site_url.rstrip("/")

    # ---- urls ---------------------------------------------------------------------------------

    def story_url(self, story_id: str) -> str:
        return f"{self._site}/stories/{story_id}/"

    def service_url(self, slug: str) -> str:
        return f"{self._site}/services/{slug}/"

    def _service_link(self, svc: dict[str, Any]) -> dict[str, Any]:
        return {"slug": svc["slug"], "name": svc["name"], "url": self.service_url(svc["slug"])}

    # ---- stories ------------------------------------------------------------------------------

    def stories(self, params: Mapping[str, str]) -> dict[str, Any]:
        """Published stories, newest first, filtered by service subtree, tag, publication date or month
        (UTC), and whether staff have responded (issue 20)."""
        entries, services, cursor, query = self.page(params)
        return {
            "stories": [self._summary(e, services) for e in entries],
            "next_cursor": cursor,
            "next": f"/api/public/stories?{urlencode(query | {'cursor': cursor})}" if cursor else None,
        }

    def page(
        self, params: Mapping[str, str]
    ) -> tuple[list[ListingEntry], dict[str, dict[str, Any]], str | None, dict[str, str]]:
        """One page of stories for `params` (see stories): the listing entries, the services they name,
        the cursor to the next page (or None) and the filters as a query. A service's filter page
        (edge/browse.py) renders the same."""
        service = params.get("service") or None
        tag = params.get("tag") or None
        if service is not None and not _SLUG.match(service):
            raise _bad("service", "Give a service's slug: lower-case letters, digits and hyphens")
        if tag is not None and not _TAG.match(tag):
            raise _bad("tag", "Give a tag: lower-case letters, digits and hyphens, up to 40")
        start, end = _date(params, "from"), _date(params, "to")
        if start and end and start > end:
            raise _bad("from", "from must be on or before to")
        responded, month = _responded(params.get("responded")), _month(params.get("month"))
        if month and (start or end):
            raise _bad("month", "Give a month, or from and to, not both")
        limit = _limit(params.get("limit"))
        filters = {"service": service or "", "tag": tag or "", "from": start or "", "to": end or ""}
        # Issue 20's filters join the cursor's binding only when given, so cursors made before them still work.
        filters |= {k: v for k, v in (("responded", params.get("responded") or ""), ("month", month)) if v}
        lo, hi = start or "0", (end + "~") if end else "~"  # "~" sorts after any time of that day
        if month:
            lo, hi = f"{month}-", f"{month}-~"
        cursor = params.get("cursor")
        after = _read_cursor(cursor, filters, lo, hi) if cursor else None
        if service and not self._store.get_service(service):
            raise NotFound(
                f"There is no service {service!r}.",
                fields=[{"field": "service", "message": "No service has this slug"}],
            )
        # A service's listing holds every story about it or anything below it; a tag has its own.
        name = service or (tag_list(tag) if tag else EVERYTHING)
        entries, last = self._store.listing_page(
            name, limit, lo=lo, hi=hi, after=after, tag=tag if service else None, responded=responded
        )
        services = self._store.get_services({s for e in entries for s in e.get("services", [])}) if entries else {}
        query = {k: v for k, v in filters.items() if v} | ({"limit": str(limit)} if limit != DEFAULT_LIMIT else {})
        return entries, services, _make_cursor(last, filters) if last else None, query

    def _summary(self, entry: Mapping[str, Any], services: dict[str, dict[str, Any]]) -> dict[str, Any]:
        return {
            "id": entry["id"],
            "url": self.story_url(entry["id"]),
            "title": entry.get("title", ""),
            "excerpt": entry.get("excerpt", ""),
            "pseudonym": entry.get("pseudonym", ""),
            "role": entry.get("role", ""),
            "role_label": role_label(entry.get("role")),
            "experience": entry.get("experience", ""),
            "published_at": entry.get("published_at", ""),
            "services": [self._service_link(services[s]) for s in entry.get("services", []) if s in services],
            "tags": list(entry.get("tags", [])),
            "feelings": list(entry.get("feelings", [])),
            "route": entry.get("route") or "web",
            "progress": progress_view(entry),
        }

    def story(self, story_id: str) -> dict[str, Any]:
        """One published story with its published responses and author replies, and its read receipts."""
        if not _STORY_ID.match(story_id or ""):
            raise NotFound("There is no published story with that id.")
        items = self._store.story_thread(story_id)
        story = next((i for i in items if i["item"] == "story"), None)
        if not public(story):  # not published, or kept for staff only (issue 21)
            raise NotFound("There is no published story with that id.")
        services = self._store.get_services(story.get("services", []))
        talk = conversation(items)
        out = self._summary(story, services) | {
            "story": story.get("story", ""),
            "good": story.get("good", ""),
            "improve": story.get("improve", ""),
            "response_count": talk["responses"],
            "staff_tags": talk["staff_tags"],
            "read_by": [
                {
                    "name": r["name"],
                    "role": r["role"],
                    "service": r["service_name"],
                    "organisation": r["organisation_name"],
                    "read_at": r["read_at"],
                }
                for r in talk["receipts"]
            ],
            # A hidden or restricted response or reply is left out (issue 16): the page shows its placeholder.
            "conversation": [_entry(e) for e in talk["entries"] if not e["placeholder"]],
            "me_too_count": int(story.get("me_too_count") or 0),
            "change_verdict": story.get("change_verdict") or None,
        }
        if story.get("moderator_edited_at"):
            out["moderator_edited_at"] = story["moderator_edited_at"]  # "edited by a moderator" (issue 16)
        if story.get("response_due_at"):
            out["response_due_at"] = story["response_due_at"]
            out["overdue"] = bool(story.get("overdue_at")) and not story.get("first_response_at")
        out.pop("excerpt")
        return out

    # ---- services -----------------------------------------------------------------------------

    def service(self, slug: str) -> dict[str, Any]:
        if not _SLUG.match(slug or ""):
            raise NotFound("There is no service with that slug.")
        svc = self._store.get_service(slug)
        if not svc:
            raise NotFound("There is no service with that slug.")
        children = self._store.children(slug)
        return {
            "slug": svc["slug"],
            "name": svc["name"],
            "kind": svc.get("kind", ""),
            "url": self.service_url(slug),
            "widget_url": f"{self.service_url(slug)}widget/",
            "feeds": {"atom": f"{self.service_url(slug)}atom.xml", "json": f"{self.service_url(slug)}feed.json"},
            "stories": f"/api/public/stories?{urlencode({'service': slug})}",
            "within": [self._service_link(a) for a in svc.get("trail", [])],
            "children": [self._service_link(c) | {"kind": c.get("kind", "")} for c in children],
            "figures": self._figures(slug),
        }

    def _figures(self, slug: str) -> dict[str, Any] | None:
        """The service's figures (chalicelib/core/figures.py); None where the figures are not built."""
        if not hasattr(self._store, "figures"):
            return None
        return figures.summary(self._store.figures(slug))


def _entry(e: dict[str, Any]) -> dict[str, Any]:
    """A published response or author reply (thread.entry_view), public fields only."""
    if e["kind"] == "response":
        return {
            "kind": "response",
            "id": e["id"],
            "at": e["at"],
            "name": e["name"],
            "role": e["role"],
            "service": e["service_name"],
            "organisation": e["organisation_name"],
            "verified_member": e["verified"],
            "on_behalf_of": e["on_behalf_of"],
            "text": e["text"],
            "change": e["change"],
            "change_description": e["change_description"],
        }
    return {"kind": "author_reply", "id": e["id"], "at": e["at"], "text": e["text"]}


def _date(params: Mapping[str, str], field: str) -> str | None:
    value = params.get(field)
    if not value:
        return None
    try:
        if not _DATE.match(value):
            raise ValueError
        return date.fromisoformat(value).isoformat()
    except ValueError:
        raise _bad(field, "Give a date as YYYY-MM-DD, for example 2026-11-26") from None


def _responded(value: str | None) -> bool | None:
    """responded=yes (staff have responded) or no (not yet); absent or empty: either."""
    if not value:
        return None
    if value not in ("yes", "no"):
        raise _bad("responded", "Give yes or no")
    return value == "yes"


def _month(value: str | None) -> str:
    """month=YYYY-MM: the stories published that month (UTC), as the month archives count them."""
    if not value:
        return ""
    if not _MONTH.match(value):
        raise _bad("month", "Give a month as YYYY-MM, for example 2026-11")
    return value


def _limit(value: str | None) -> int:
    if value is None or value == "":
        return DEFAULT_LIMIT
    if not value.isdigit() or not 1 <= int(value) <= MAX_LIMIT:
        raise _bad("limit", f"Give a whole number from 1 to {MAX_LIMIT}")
    return int(value)


def _checksum(payload: bytes) -> str:
    return hashlib.sha256(b"feedforward-cursor-1:" + payload).hexdigest()[:16]


def _filters_digest(filters: dict[str, str]) -> str:
    return hashlib.sha256(json.dumps(filters, sort_keys=True).encode()).hexdigest()[:12]


def _make_cursor(sort_key: str, filters: dict[str, str]) -> str:
    payload = json.dumps({"after": sort_key, "f": _filters_digest(filters)}, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(payload).decode().rstrip("=") + "." + _checksum(payload)


def _read_cursor(cursor: str, filters: dict[str, str], lo: str, hi: str) -> str:
    bad = _bad("cursor", "This cursor is not valid: use next_cursor from the previous page, with the same filters")
    if len(cursor) > MAX_CURSOR or cursor.count(".") != 1:
        raise bad
    body, check = cursor.split(".")
    try:
        payload = base64.urlsafe_b64decode(body + "=" * (-len(body) % 4))
        data = json.loads(payload)
    except (binascii.Error, ValueError):
        raise bad from None
    if check != _checksum(payload) or not isinstance(data, dict) or data.get("f") != _filters_digest(filters):
        raise bad
    after = data.get("after")
    if not isinstance(after, str) or not _SORT_KEY.match(after) or not lo <= after <= hi:
        raise bad
    return after
