"""The table's stream as an outbox: each state change becomes derived items and jobs.

Whatever changed the item (the API, or an admin in the DynamoDB console), the effects are
the same. Every step is safe to repeat: puts are conditional or overwrite the same value,
and jobs carry keys the workers de-duplicate on.

The handler decodes each record once (store.stream.decode) and hands the Change to a list of
reactions, in order, that wiring.changes() builds: the ones here (a story's listings, figures,
audit and mail; the conversation), and the flows' own (the promise and its ladder, me-too
counts, change checks: chalicelib/reactions.py), and an organisation's mail. This module imports no flow.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Protocol

from .core import figures
from .core.concerns import AFTER_PUBLICATION
from .core.jobs import DeliveryJob, MailJob, MailKind, RenderJob, SearchJob
from .core.observability import logger
from .core.places import town_slug
from .core.status import Status, SubscriberStatus, public
from .store import EVERYTHING, month_list, place_list, tag_list
from .store.stream import Change, decode
from .views import PROGRESS, listing_entry

if TYPE_CHECKING:
    from .store import OrganisationStore, PromiseStore, PublicStore, StoryStore, ThreadItem

TEXT_FIELDS = ("title", "story", "good", "improve", "pseudonym")
# The author hears of these decisions on their story.
AUTHOR_MAIL: dict[str, MailKind] = {
    Status.PUBLISHED: "author_published",
    Status.REJECTED: "author_rejected",
    Status.REMOVED: "author_removed",
    Status.RESTRICTED: "author_restricted",
}
# The author's own steps from their private link, and the field that dates each.
AUTHOR_STEPS = {Status.WITHDRAWN: "withdrawn_at", Status.ERASING: "erase_requested_at"}

Jobs = list[RenderJob | MailJob | SearchJob | DeliveryJob]
# The story fields the search index holds (site/search.py record()): a change to another field
# (progress from a read receipt or a response, the figures) queues no search job.
SEARCH_FIELDS = ("title", "story", "good", "improve", "services", "tags", "published_at")


@dataclass(frozen=True)
class Stop:
    """A reaction's answer that ends the record: these jobs, and no reaction after it runs."""

    jobs: Jobs = field(default_factory=list)


class Reaction(Protocol):
    """What follows from one change: the jobs to send (or Stop). Safe to repeat, like the stream."""

    def __call__(self, change: Change) -> Jobs | Stop: ...


class ChangeHandler:
    def __init__(self, reactions: Sequence[Reaction]):
        self._reactions = list(reactions)

    def handle(self, record: dict[str, Any]) -> list:
        """Apply one stream record; returns the jobs that follow from it (the caller sends them)."""
        change = decode(record)
        jobs: Jobs = []
        for react in self._reactions:
            out = react(change)
            if isinstance(out, Stop):
                return jobs + out.jobs
            jobs += out
        return jobs


class PromiseReaction:
    """The response promise and its ladder, before anything else follows from a story's change.
    `story_changed(store, story_id, old, new)` is the promise flow's (handed in by wiring); it
    says True when the record only set the promise, a record earlier: then its page alone shows
    it, and no later reaction runs (no listing, figure or archive is touched again)."""

    def __init__(
        self, store: PromiseStore, story_changed: Callable[[PromiseStore, str, dict | None, dict | None], bool]
    ):
        self._store = store
        self._story_changed = story_changed

    def __call__(self, change: Change) -> Jobs | Stop:
        story_id = change.story_id  # never None for a story's change (store.stream.decode)
        if (
            change.kind == "story"
            and story_id is not None
            and self._story_changed(self._store, story_id, change.old, change.new)
        ):
            return Stop([RenderJob(page="story", ref=story_id)])
        return []


class ConversationReaction:
    """The author's confirmation, read receipts, responses, replies and subscriptions to confirm."""

    def __init__(self, store: StoryStore):
        self._store = store

    def __call__(self, change: Change) -> Jobs:
        if (
            change.kind == "subscription"
            and change.inserted
            and (change.new or {}).get("status") == SubscriberStatus.PENDING
        ):
            return [MailJob(kind="subscription_confirm", ref=f"{change.subscriber_id}:{change.ref}")]
        story_id, new = change.story_id, change.new
        if story_id is None:
            return []  # a subscriber's change: only a new subscription is told
        if change.kind == "contact":
            return _contact_mail(change, story_id)
        if not new:
            return []  # a thread item's REMOVE
        if change.kind == "message":
            # A moderator's message goes to the author by email (issue 20); the author's answer stays here.
            wanted = change.inserted and new.get("sender") == "moderator"
            return [MailJob(kind="author_message", story_id=story_id, ref=change.ref)] if wanted else []
        if change.kind == "read" and change.inserted:
            return self._read(story_id, new)
        if change.kind in ("response", "reply"):
            self._keep_original(change, story_id, new)
        if change.kind == "response":
            return self._response(change, story_id, new)
        if change.kind == "reply":
            return self._reply(change, story_id, new)
        return []

    def _keep_original(self, change: Change, story_id: str, new: dict[str, Any]) -> None:
        """Words a moderator (or a console edit) changed are kept privately, as a story's are. A staff
        member's own edit keeps its words in the request (response_edits.py): it moves `edits`."""
        old = change.old or {}
        if not old or old.get("text") == new.get("text") or old.get("edits") != new.get("edits"):
            return
        at = str(new.get("moderator_edited_at") or new.get("decided_at") or change.sequence)
        original = {"text": old.get("text", ""), "status": old.get("status", ""), "kept_at": at}
        self._store.keep_item_original(story_id, change.kind, change.ref, at, original)

    def _read(self, story_id: str, new: dict[str, Any]) -> Jobs:
        self._store.mark_progress(story_id, "first_read_at", new["read_at"])
        return [RenderJob(page="story", ref=story_id)]

    def _response(self, change: Change, story_id: str, new: dict[str, Any]) -> Jobs:
        old_status = (change.old or {}).get("status")
        jobs: Jobs = []
        if old_status == Status.HELD and new["status"] in (Status.PUBLISHED, Status.REJECTED):
            jobs.append(MailJob(kind="staff_response_decided", story_id=story_id, ref=change.ref))
        if new["status"] == Status.PUBLISHED and old_status != Status.PUBLISHED:
            at = new.get("published_at") or new["created_at"]
            self._store.mark_progress(story_id, "first_response_at", at)
            if new.get("change") in ("planned", "made"):
                self._store.mark_progress(story_id, f"change_{new['change']}_at", at)
            jobs.append(RenderJob(page="story", ref=story_id))
            if old_status not in AFTER_PUBLICATION:  # restored after a report: the author heard of it before
                jobs.append(MailJob(kind="author_response", story_id=story_id, ref=change.ref))
        elif old_status == Status.PUBLISHED and new["status"] != Status.PUBLISHED:
            # Its author deleted it (or changed it and it waits for a moderator): off the page, and
            # any progress only it gave the story is taken back.
            self._take_back_progress(story_id)
            jobs.append(RenderJob(page="story", ref=story_id))
        elif old_status == Status.PUBLISHED and (change.old or {}).get("text") != new.get("text"):
            jobs.append(RenderJob(page="story", ref=story_id))  # edited within its window, or by a moderator
        elif _placeholder_changed(change.old or {}, new):
            jobs.append(RenderJob(page="story", ref=story_id))
        return jobs

    def _take_back_progress(self, story_id: str) -> None:
        """Each progress date as the responses still published give it (the earliest), or none."""
        thread = self._store.story_thread(story_id, consistent=True)
        story = next((i for i in thread if i["item"] == "story"), None)
        if not story:
            return
        shown = [i for i in thread if i["item"] == "response" and i.get("status") == Status.PUBLISHED]

        def first(of: list[ThreadItem]) -> str:
            return min((i.get("published_at") or i.get("created_at", "") for i in of), default="")

        wanted = {
            "first_response_at": first(shown),
            "change_planned_at": first([i for i in shown if i.get("change") == "planned"]),
            "change_made_at": first([i for i in shown if i.get("change") == "made"]),
        }
        for step, at in wanted.items():
            now = str(story.get(step) or "")
            if now != at:
                if now:
                    self._store.clear_progress(story_id, step, now)
                if at:
                    self._store.mark_progress(story_id, step, at)

    def _reply(self, change: Change, story_id: str, new: dict[str, Any]) -> Jobs:
        old = change.old or {}
        if (
            old.get("status") in AFTER_PUBLICATION
            or _placeholder_changed(old, new)
            or (old.get("status") == new["status"] == Status.PUBLISHED and old.get("text") != new.get("text"))
        ):
            return [RenderJob(page="story", ref=story_id)]  # hidden, restored, restricted, edited (issue 16)
        if new["status"] != Status.PUBLISHED or old.get("status") == Status.PUBLISHED:
            return []
        responders = sorted(
            {
                i["subscriber_id"]
                for i in self._store.story_thread(story_id)
                if i["item"] == "response" and i.get("status") == Status.PUBLISHED and i.get("subscriber_id")
            }
        )
        return [
            RenderJob(page="story", ref=story_id),
            *(MailJob(kind="staff_author_replied", story_id=story_id, ref=f"{change.ref}:{s}") for s in responders),
        ]


def _contact_mail(change: Change, story_id: str) -> Jobs:
    """A new address is asked, in fixed words, to confirm it is the author's; the private link goes
    only once it is confirmed (issue 18, docs/emailed-links.md)."""
    was, now = (change.old or {}).get("confirmed_at"), (change.new or {}).get("confirmed_at")
    if now and not was:
        return [MailJob(kind="author_receipt", story_id=story_id)]
    if change.inserted:
        return [MailJob(kind="author_confirmation", story_id=story_id)]
    return []


class MembershipReaction:
    """An organisation's mail: its leads hear of each request to join, the person hears the decision,
    and a lead who asked for their "manage your organisation" link gets it."""

    def __init__(self, store: OrganisationStore):
        self._store = store

    def __call__(self, change: Change) -> Jobs:
        if change.kind == "link_request" and change.inserted:
            return [MailJob(kind="organisation_link", ref=change.ref)]
        if change.kind != "subscriber" or not change.new:
            return []
        old, new = change.old or {}, change.new
        was, now = old.get("status"), new.get("status")
        if now == SubscriberStatus.REQUESTED and (was != now or old.get("organisation") != new.get("organisation")):
            leads = self._store.leads(new.get("organisation", ""))
            return [MailJob(kind="membership_request", ref=f"{change.ref}:{lead['id']}") for lead in leads]
        if was == SubscriberStatus.REQUESTED and now in (SubscriberStatus.ACTIVE, SubscriberStatus.REFUSED):
            at = new.get("granted_at", "") if now == SubscriberStatus.ACTIVE else change.sequence
            return [MailJob(kind="membership_decided", ref=f"{change.ref}:{now}:{at}")]
        return []


class StoryReaction:
    """A story's own change: its audit, original words, listings, names, figures, pages, erasure and mail."""

    def __init__(self, store: PublicStore):
        self._store = store

    def __call__(self, change: Change) -> Jobs:
        if change.kind != "story" or change.story_id is None:  # a story's change always names it
            return []
        story_id, old, new = change.story_id, change.old, change.new
        # The story as it was and is; {} where there is none. Where it was (or is) public, it is old (new).
        before, after = old or {}, new or {}
        old_status = before.get("status")
        new_status = after.get("status")
        jobs: Jobs = []
        if new and old_status != new_status and old is not None:
            self._audit(change, story_id, old, new)
        if (
            old
            and new
            and old_status in (Status.PENDING, Status.HELD, Status.PUBLISHED, Status.HIDDEN)
            and any(old.get(f) != new.get(f) for f in TEXT_FIELDS)
        ):
            self._store.keep_original(
                story_id, {f: old.get(f, "") for f in TEXT_FIELDS} | {"kept_at": new.get("decided_at", "")}
            )

        # Public: published and not kept for staff only (issue 21: an unlicensed import). Only a public
        # story is listed, counted, rendered, searched and mapped.
        was_public, is_public = public(before), public(after)
        if was_public or is_public:
            old_slugs = self._affected(before) if was_public else set()
            new_slugs = self._affected(after) if is_public else set()
            # Tag and month listings are kept like the services' (tag pages, feeds, child sitemaps).
            old_tags, new_tags = (_tags(before) if was_public else set()), (_tags(after) if is_public else set())
            old_months, new_months = (
                (_months(before) if was_public else set()),
                (_months(after) if is_public else set()),
            )
            # And the towns of its services (issue 20): each town's page lists its latest stories.
            old_places = self._places(before) if was_public else set()
            new_places = self._places(after) if is_public else set()
            old_lists = old_slugs | {tag_list(t) for t in old_tags} | {month_list(m) for m in old_months}
            new_lists = new_slugs | {tag_list(t) for t in new_tags} | {month_list(m) for m in new_months}
            old_lists |= {place_list(p) for p in old_places}
            new_lists |= {place_list(p) for p in new_places}
            if was_public:
                # Entries keyed by the old publication date all go if it moved; else only those of
                # lists the story left (a console edit of its services or tags, say).
                moved = not is_public or before.get("published_at") != after.get("published_at")
                self._store.delete_listing(
                    old_lists if moved else old_lists - new_lists, story_id, before["published_at"]
                )
            if is_public:
                names = {"tags": new_tags - old_tags, "months": new_months - old_months}
                self._store.put_listing(new_lists, listing_entry(after), names)
            # Figures count on services up the tree, everything, and each tag (for its month archive).
            old_counted = old_slugs | {tag_list(t) for t in old_tags}
            new_counted = new_slugs | {tag_list(t) for t in new_tags}
            self._figures(story_id, new, new_counted, figures.stream_order(change.sequence))
            jobs += _archive_jobs(old, new, old_counted, new_counted, old_months, new_months)
            jobs.append(RenderJob(page="story", ref=story_id))
            jobs.append(RenderJob(page="home"))
            jobs += _search_jobs(story_id, before, after, was_public, is_public)
            jobs += [RenderJob(page="service", ref=s) for s in sorted((old_slugs | new_slugs) - {EVERYTHING})]
            jobs += [RenderJob(page="tag", ref=t) for t in sorted(old_tags | new_tags)]
            jobs += [RenderJob(page="place", ref=p) for p in sorted(old_places | new_places)]
            # A month's sitemap lists its stories (dated by publication) and its archive pages: it
            # changes only when a story enters or leaves a listing or moves in time (issue 17); a read
            # receipt, a response or an edit of the words leaves it as it is.
            if (was_public, old_lists, before.get("published_at")) != (is_public, new_lists, after.get("published_at")):
                jobs += [RenderJob(page="sitemap", ref=m) for m in sorted(old_months | new_months)]
        elif new and _placeholder_changed(before, after):
            jobs.append(RenderJob(page="story", ref=story_id))  # hidden, restricted, removed (issue 16)

        if new_status == Status.ERASING:
            # Every item about the story and its author goes; the story item itself last. The audit
            # record of this very change was written above, so it goes too. Its page is deleted
            # whatever it said before (a withdrawn story's page was not re-rendered by the lines above).
            self._store.erase_story(story_id)
            jobs.append(RenderJob(page="story", ref=story_id))
        elif new is None and old_status == Status.ERASING:
            # The story item's own REMOVE: sweep once more for anything written while it was erased.
            self._store.erase_story(story_id)
        if new_status == Status.PUBLISHED and old_status != Status.PUBLISHED and not before.get("published_at"):
            # First publication only: a story held and published again alerts no one twice. Staff hear of a
            # story kept for staff only as of any other (issue 21).
            jobs.append(MailJob(kind="alert_fanout", story_id=story_id))
        if (
            is_public
            and was_public
            and after.get("first_read_at")
            and not before.get("first_read_at")
            and after.get("has_contact")
        ):
            jobs.append(MailJob(kind="author_read", story_id=story_id))
        restored = old_status in AFTER_PUBLICATION and new_status == Status.PUBLISHED  # after a report: no news
        if new and old_status != new_status and new.get("has_contact") and not restored:
            kind = AUTHOR_MAIL.get(new.get("status", ""))
            if kind:
                jobs.append(MailJob(kind=kind, story_id=story_id, ref=str(new.get("version", ""))))
        if jobs:
            logger.info(
                "story changed", extra={"story_id": story_id, "from": old_status, "to": new_status, "jobs": len(jobs)}
            )
        return jobs

    def _figures(self, story_id: str, new: dict[str, Any] | None, listings: set[str], seq: str = "") -> None:
        """Bring the counters of the story's listings from the facts applied before to its facts now.
        A record delivered twice finds them applied and writes nothing; a record older than the one
        they reflect (`seq`, its stream position), replayed, changes nothing either."""
        now = figures.facts(new)
        listings = listings if now else set()
        for _ in range(3):
            applied = self._store.story_facts(story_id)
            if seq and applied["seq"] and applied["seq"] >= seq:
                return  # the counters already reflect a newer state of the story
            if applied["facts"] == now and set(applied["listings"]) == listings:
                return
            plan = figures.plan(applied, now, listings)
            if self._store.apply_facts(story_id, applied, now, listings, plan, seq):
                return
        raise RuntimeError(f"the figures of story {story_id} kept changing under this record")  # the stream retries

    def _affected(self, story: dict[str, Any]) -> set[str]:
        """The listings a published story belongs on: its services, all their ancestors, and everything."""
        services = self._store.get_services(story.get("services", []))
        slugs = {EVERYTHING}
        for svc in services.values():
            slugs.update(svc["path"])
        return slugs

    def _places(self, story: dict[str, Any]) -> set[str]:
        """The towns of a published story's own services (read with them by _affected: no call of its own)."""
        services = self._store.get_services(story.get("services", []))
        return {town_slug(svc["town"]) for svc in services.values() if svc.get("town")}

    def _audit(self, change: Change, story_id: str, old: dict[str, Any], new: dict[str, Any]) -> None:
        seen_at = (
            datetime.fromtimestamp(change.seen_at, UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
            if change.seen_at
            else new.get("decided_at", "")
        )
        by_api = new.get("decided_at") and new.get("decided_at") != old.get("decided_at")
        # The author's own withdrawal (or erasure) from their private link, dated by the request.
        author_at = AUTHOR_STEPS.get(new.get("status", ""), "")
        by_author = not by_api and author_at and new.get(author_at) and new.get(author_at) != old.get(author_at)
        event: dict[str, Any] = {
            "from": old.get("status"),
            "to": new.get("status"),
            "by": "author" if by_author else new.get("decided_by") if by_api else "table edit",
            "at": new[author_at] if by_author else new.get("decided_at") if by_api else seen_at,
            "note": new.get("decision_note", "") if by_api else "",
            "edited": new.get("edited_fields", []) if by_api else [f for f in TEXT_FIELDS if old.get(f) != new.get(f)],
            "version": new.get("version"),
        }
        self._store.record_audit(story_id, event["at"], change.sequence, event)


def _search_jobs(
    story_id: str, before: dict[str, Any], after: dict[str, Any], was_public: bool, is_public: bool
) -> Jobs:
    """Search follows a public story's indexed fields only (publish, withdraw, edit, erase). A story
    that left the site loses its fragment at once (a render job); its shard is rebuilt after, as
    is the shard of any change (debounced: a SearchJob, docs/search.md)."""
    if was_public and is_public and all(before.get(f) == after.get(f) for f in SEARCH_FIELDS):
        return []
    old_months = _months(before) if was_public else set()
    new_months = _months(after) if is_public else set()
    left = was_public and not is_public
    jobs: Jobs = [RenderJob(page="search", ref=f"drop/{m}/{story_id}") for m in sorted(old_months) if left]
    jobs += [SearchJob(month=m, gone=story_id if left else "") for m in sorted(old_months | new_months)]
    return jobs


def _archive_jobs(
    old: dict | None,
    new: dict | None,
    old_lists: set[str],
    new_lists: set[str],
    old_months: set[str],
    new_months: set[str],
) -> list[RenderJob]:
    """The month archive pages a change of a published story touches. Archive pages show no
    progress, so a response or a read receipt touches none. A first publication is the newest
    story of its month: the job names it, so the render builds the pages from its page to the
    newest, however many others were published before the job ran (the one before its page too,
    when it starts one: that page gains a link)."""
    before, after = old or {}, new or {}  # where it was (or is) public, it is old (new)
    was_public, is_public = public(before), public(after)
    if is_public and not was_public and not before.get("published_at"):
        since = f"{after['published_at']}#{after['id']}"  # the story's place in its listings
        return [
            RenderJob(page="archive", ref=f"{name}/{m}/since/{since}")
            for name in sorted(new_lists)
            for m in sorted(new_months)
        ]
    if (
        was_public
        and is_public
        and old_lists == new_lists
        and old_months == new_months
        and _stable(listing_entry(before)) == _stable(listing_entry(after))
    ):
        return []
    refs = {f"{name}/{m}" for name in old_lists for m in old_months} | {
        f"{name}/{m}" for name in new_lists for m in new_months
    }
    return [RenderJob(page="archive", ref=r) for r in sorted(refs)]


def _stable(entry: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in entry.items() if k not in PROGRESS}


def _placeholder_changed(before: dict[str, Any], after: dict[str, Any]) -> bool:
    """Whether what the public reads in an item's place changed: it was or is hidden, restricted or
    removed, and its status or the placeholder's words moved (a report, a decision, a console edit)."""
    statuses = {before.get("status"), after.get("status")}
    if not statuses & AFTER_PUBLICATION:
        return False
    return before.get("status") != after.get("status") or any(
        before.get(f) != after.get(f) for f in ("restricted_by", "restricted_reason")
    )


def _tags(story: dict[str, Any]) -> set[str]:
    return set(story.get("tags") or [])


def _months(story: dict[str, Any]) -> set[str]:
    """The month of first publication (UTC), whose child sitemap lists the story."""
    return {story["published_at"][:7]} if story.get("published_at") else set()
