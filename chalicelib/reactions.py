"""The stream reactions that belong to flows, each adapting one flow's stream call to a Change.

wiring.changes() puts them in the handler's list beside the handler's own (changes.py, which
imports no flow): the promise first, as it may end a record that only set the promise; then, after
the story's and the conversation's reactions, the staff-only listings, me-too counts, change checks,
the team's work and partners' webhooks.
"""

from __future__ import annotations

from functools import partial
from typing import TYPE_CHECKING

from . import change_check, metoo, promise, teamwork, webhooks
from .changes import Jobs, PromiseReaction, Reaction
from .core.jobs import MailJob, RenderJob
from .core.status import Status
from .store import staff_list
from .store.stream import Change

if TYPE_CHECKING:
    from .store import AlertStore, ConcernStore, InvitationStore, LoopStore, PromiseStore, PublicStore, WebhookStore


def promise_reaction(store: PromiseStore) -> Reaction:
    """The response promise and its ladder (promise.story_changed)."""
    return PromiseReaction(store, promise.story_changed)


def staff_listing_reaction(store: PublicStore) -> Reaction:
    """A published story kept for staff only (issue 21: an unlicensed import) listed on `staff:<service>` for
    each of its services and their ancestors, so that reports, exports and the board report, which read
    listings by publication date, count it as staff see it. The public listings never hold it (changes.py
    asks core/status.public), and nothing public reads these."""

    def staff_only(story: dict) -> bool:
        return story.get("status") == Status.PUBLISHED and bool(story.get("staff_only"))

    def lists(story: dict) -> set[str]:
        services = store.get_services(story.get("services", []))
        return {staff_list(slug) for svc in services.values() for slug in svc["path"]}

    def react(change: Change) -> Jobs:
        if change.kind != "story" or change.story_id is None:
            return []
        before, after = change.old or {}, change.new or {}
        was, now = staff_only(before), staff_only(after)
        old, new = (lists(before) if was else set()), (lists(after) if now else set())
        moved = was and now and before.get("published_at") != after.get("published_at")
        if old and (moved or old - new):
            store.delete_listing(old if moved else old - new, change.story_id, before["published_at"])
        if new and (moved or new - old):
            # Its id and date only: every reader of these lists reads the story itself for the rest.
            store.put_listing(new if moved else new - old, {"id": after["id"], "published_at": after["published_at"]})
        return []

    return react


def me_too_reaction(store: LoopStore) -> Reaction:
    """A me-too item counted on its story, once (metoo.count)."""

    def react(change: Change) -> Jobs:
        if change.kind == "me_too" and change.story_id is not None:  # a me-too item is always a story's
            metoo.count(store, change.story_id, change.ref, change.new)
        return []

    return react


def invitation_reaction(store: InvitationStore) -> Reaction:
    """A story that came through an invitation counted on it, once (issue 19)."""

    def react(change: Change) -> Jobs:
        if change.kind == "story" and change.inserted and change.new and change.new.get("invitation"):
            store.count_invitation_story(str(change.new["invitation"]), str(change.story_id))
        return []

    return react


def change_check_reaction(store: LoopStore) -> Reaction:
    """Change checks scheduled, and their answers applied (change_check.follow_up)."""
    return partial(change_check.follow_up, store)


def concern_reaction(store: ConcernStore) -> Reaction:
    """A reporter who left an address is asked to confirm it; once a case is decided, each reporter
    of that round whose address is confirmed is told (the letter checks). Issue 16."""

    def react(change: Change) -> Jobs:
        sid = change.story_id
        if sid is None:
            return []
        if change.kind == "concern_contact" and change.inserted:
            return [MailJob(kind="concern_confirm", story_id=sid, ref=change.ref)]
        old, new = change.old or {}, change.new or {}
        if change.kind != "concern_case" or old.get("state") != "open" or new.get("state") != "decided":
            return []
        round_began = str(old.get("first_at", ""))
        return [
            MailJob(kind="concern_decided", story_id=sid, ref=f"{r['id']}:{new.get('version', '')}")
            for r in store.concerns_on(sid, change.ref)
            if r.get("has_email") and str(r.get("created_at", "")) >= round_began
        ]

    return react


def teamwork_reaction(store: AlertStore) -> Reaction:
    """A story passed on emails its recipients (teamwork.pass_jobs); a public staff tag shows on its page."""

    def react(change: Change) -> Jobs:
        if change.story_id is None:
            return []
        if change.kind == "pass" and change.inserted and change.new:
            return list(teamwork.pass_jobs(store, change.story_id, change.ref, change.new))
        if change.kind == "public_tag":
            return [RenderJob(page="story", ref=change.story_id)]
        return []

    return react


def webhook_reaction(store: WebhookStore) -> Reaction:
    """Partners' deliveries, one per event and partner (webhooks.delivery_jobs), and a paused
    partner's leads told (webhooks.paused_mail): from the stream, never from a request."""

    def react(change: Change) -> Jobs:
        if change.kind not in ("story", "response", "partner"):
            return []
        return [*webhooks.delivery_jobs(store, change), *webhooks.paused_mail(store, change)]

    return react
