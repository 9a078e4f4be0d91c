"""The stories waiting for a reply (issue 20): a member's list of the published stories about the
services they follow that nobody has answered yet, oldest first with their due dates, reached from
their "manage your alerts" link (and the alerts that carry it); and a read-and-respond link for one
of them, made when they ask for it.

A new subscriber hears by email only of stories published after they joined; this list lets them
answer the ones already waiting. Fail closed: only an active member with a grant (organisations.
member_of), and only the services they follow within their own organisation; a story outside them
is refused like a bad link. Making a link writes a token, so it is a POST, never a GET's side
effect (mail scanners fetch every GET).

Reading: each followed service's listing (its subtree), at most MOST entries each, newest first, and
its staff-only twin (issue 21: a story pulled in from a source not licensed for republication waits
for a reply like any other), then the unanswered ones' stories (100 a BatchGetItem). Never a Scan.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .core import clock
from .core.errors import NotFound
from .core.matching import pick_subscription
from .core.observability import logger, metrics
from .core.status import Status
from .links import NOT_VALID, Links
from .store import staff_list

if TYPE_CHECKING:
    from .core.settings import Settings
    from .organisations import Organisations
    from .store import ReportStore, Story

# The most listing entries read per followed service (a busy trust's year is a few thousand).
MOST = 2_000


class Waiting:
    def __init__(self, store: ReportStore, organisations: Organisations, links: Links, settings: Settings):
        self._store = store
        self._organisations = organisations
        self._links = links
        self._settings = settings

    def _member(self, token: str) -> tuple[Any, list[str]]:
        """(the member, the services they may act for): those they follow in their own organisation."""
        person, org, follows = self._organisations.member_of(token)
        services = self._store.get_services(follows) if follows else {}
        roots = [slug for slug in follows if (services.get(slug, {}).get("path") or [""])[0] == org]
        if not roots:
            raise NotFound(NOT_VALID)
        return person, roots

    def stories(self, token: str) -> dict[str, Any]:
        """The member's services and their stories waiting for a first reply, oldest first (GET:
        changes nothing). `complete` is False when a listing had more than MOST entries."""
        person, roots = self._member(token)
        ids: dict[str, None] = {}
        complete = True
        for listing in [name for root in roots for name in (root, staff_list(root))]:
            entries, more = self._store.listing_page(listing, MOST, max_queries=max(5, MOST // 500))
            complete = complete and more is None
            ids.update((e["id"], None) for e in entries if not e.get("first_response_at"))
        found = self._store.get_stories(ids) if ids else {}
        names = self._store.get_services({*roots, *(slug for s in found.values() for slug in s.get("services") or [])})
        waiting = sorted(
            (s for s in found.values() if _waiting(s) and _within(s, roots, names)),
            key=lambda s: (s.get("published_at", ""), s["id"]),
        )
        now = clock.iso()
        metrics.add_metric(name="WaitingListViewed", unit="Count", value=1)
        logger.info("waiting list viewed", extra={"member_id": person["id"], "stories": len(waiting)})
        return {
            "person": {"name": person.get("name", ""), "display_name": person.get("display_name", "")},
            "services": [{"slug": r, "name": names.get(r, {}).get("name", r)} for r in roots],
            "stories": [_line(s, names, now) for s in waiting],
            "complete": complete,
        }

    def link(self, token: str, story_id: str) -> str:
        """A new read-and-respond link for one waiting story, bound like an alert's to the
        subscription the story reaches this member through (POST: it writes the link)."""
        person, roots = self._member(token)
        story = self._store.get_story(story_id) if isinstance(story_id, str) and story_id else None
        known = self._store.get_services(story.get("services") or []) if story else {}
        if not story or story.get("status") != Status.PUBLISHED or not _within(story, roots, known):
            raise NotFound(NOT_VALID)
        subscription = pick_subscription(self._store.subscriptions_of(person["id"]), story, list(known.values()))
        if not subscription or subscription.get("service") not in roots:
            raise NotFound(NOT_VALID)
        metrics.add_metric(name="WaitingLinkMade", unit="Count", value=1)
        return self._links.issue(
            "respond",
            story["id"],
            person["id"],
            self._settings.respond_link_days,
            subscriber_id=person["id"],
            subscription_id=subscription["id"],
            service=subscription["service"],
        )


def _waiting(story: Story) -> bool:
    return story.get("status") == Status.PUBLISHED and not story.get("first_response_at")


def _within(story: Story, roots: list[str], services: dict[str, dict[str, Any]]) -> bool:
    """Whether one of the story's services is a followed service or under one."""
    mine = [services[s] for s in story.get("services") or [] if s in services]
    return any(set(svc.get("path") or [svc.get("slug")]) & set(roots) for svc in mine)


def _line(story: Story, services: dict[str, dict[str, Any]], now: str) -> dict[str, Any]:
    due = str(story.get("response_due_at") or "")
    return {
        "id": story["id"],
        "title": story.get("title", ""),
        "published_at": story.get("published_at", ""),
        "due_at": due,
        "overdue": bool(story.get("overdue_at")) or bool(due and due <= now),
        "services": [services[s]["name"] for s in story.get("services") or [] if s in services],
    }
