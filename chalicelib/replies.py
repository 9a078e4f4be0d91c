"""The author's own actions, from their private link: reply, withdraw, ask for erasure; and,
before any of that, confirming that the address they gave is theirs (from the first email).

Each one resolves the "author" link and writes state only. What follows (pages re-rendered,
listings removed, every item erased, staff told of a published reply) comes from the
table's stream, so it happens the same way however the state was changed.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from .core import clock
from .core.errors import Conflict, NotFound, ValidationFailed, invalid
from .core.models import AuthorReply
from .core.observability import logger, metrics
from .core.status import ItemStatus, Status
from .links import NOT_VALID

if TYPE_CHECKING:
    from .links import Links
    from .store import Story, StoryStore

# The form renders a fresh one per page view, so a double submit makes one reply.
REPLY_ID = re.compile(r"^[A-Za-z0-9_-]{16,64}$")
WITHDRAWABLE = (Status.PENDING, Status.HELD, Status.PUBLISHED)
# And after a report (issue 16): hidden, restricted or removed, the author may still have it erased.
ERASABLE = (
    Status.PENDING,
    Status.HELD,
    Status.PUBLISHED,
    Status.REJECTED,
    Status.WITHDRAWN,
    Status.HIDDEN,
    Status.RESTRICTED,
    Status.REMOVED,
)
ERASE_WORD = "ERASE"
LABELS = {"text": "your reply", "reply_id": "the reply id", "confirm": "the confirmation"}

REPLY_SENT = "Your reply will appear once a moderator has checked it."
NOT_PUBLISHED = "You can reply once your story is published. It is not published now, so there is nothing to reply to."
REPLY_REUSED = (
    "You have already sent a reply from this form. Your words are kept below: send them again to make a new reply."
)
WITHDRAW_CONFIRM = "Tick the box to confirm that you want to withdraw your story"
ERASE_CONFIRM = f"Type {ERASE_WORD} in the box to confirm that you want everything erased"


class Replies:
    def __init__(self, store: StoryStore, links: Links):
        self._store = store
        self._links = links

    def _story(self, token: str) -> Story:
        found = self._links.resolve(token, "author")
        story = self._store.get_story(found["story_id"], consistent=True)
        if not story:
            raise NotFound(NOT_VALID)
        return story

    # ---- confirming the address (issue 18) ----------------------------------------------------

    def _address(self, token: str) -> tuple[Story, dict[str, Any]]:
        found = self._links.resolve(token, "address")
        story = self._store.get_story(found["story_id"], consistent=True)
        contact = self._store.get_contact(found["story_id"]) if story else None
        if not story or not contact or story.get("status") in (Status.WITHDRAWN, Status.ERASING):
            raise NotFound(NOT_VALID)
        return story, contact

    def address(self, token: str) -> str:
        """ "ask" (the page's button confirms) or "done" (confirmed already). Changes nothing."""
        _, contact = self._address(token)
        return "done" if contact.get("confirmed_at") else "ask"

    def confirm_address(self, token: str) -> str:
        """The address's owner pressed the button: the private link is emailed to it next (the
        stream sees the change). Pressing twice is harmless."""
        story, _ = self._address(token)
        if self._store.confirm_contact(story["id"], clock.iso()):
            metrics.add_metric(name="AuthorAddressesConfirmed", unit="Count", value=1)
            logger.info("author address confirmed", extra={"story_id": story["id"]})
        return "done"

    # ---- replying ------------------------------------------------------------------------

    def reply(self, token: str, data: dict[str, Any]) -> dict[str, Any]:
        """Store a pending reply (moderated before it is public). The same reply_id twice is one reply."""
        story = self._story(token)
        fields = dict(data)
        reply_id = fields.pop("reply_id", None)
        errors: list[dict[str, str]] = []
        try:
            reply = AuthorReply.model_validate(fields)
        except ValidationError as e:
            errors = invalid(e, LABELS, data).fields
        if not isinstance(reply_id, str) or not REPLY_ID.match(reply_id):
            errors.append({"field": "reply_id", "message": "Send a reply_id of 16 to 64 letters, digits, - or _"})
        if errors:
            raise ValidationFailed(errors, data)
        if story.get("status") != Status.PUBLISHED:
            raise Conflict(NOT_PUBLISHED)
        existing = self._store.get_thread_item(story["id"], "reply", reply_id)
        if existing is None:
            item = {"id": reply_id, "text": reply.text, "status": ItemStatus.PENDING, "created_at": clock.iso()}
            try:
                self._store.put_reply(story["id"], item)
            except Exception:
                # A double submit racing this one may have written it first; anything else is a real failure.
                existing = self._store.get_thread_item(story["id"], "reply", reply_id)
                if existing is None:
                    raise
            else:
                logger.info("author replied", extra={"story_id": story["id"], "reply_id": reply_id})
                metrics.add_metric(name="AuthorReplies", unit="Count", value=1)
                return {"story_id": story["id"], "reply": _reply_view(item), "created": True}
        if existing.get("text") != reply.text:
            raise Conflict(REPLY_REUSED)
        return {"story_id": story["id"], "reply": _reply_view(existing), "created": False}

    # ---- withdrawing ---------------------------------------------------------------------

    def withdraw(self, token: str, data: dict[str, Any]) -> dict[str, Any]:
        """Take a story down for good. The stream removes it from listings and re-renders its page."""
        story = self._story(token)
        if not _ticked(data.get("confirm")):
            raise ValidationFailed([{"field": "confirm", "message": WITHDRAW_CONFIRM}], data)
        status = story.get("status")
        if status == Status.WITHDRAWN:
            return _status_view(story)  # twice is harmless
        if status not in WITHDRAWABLE:
            raise Conflict(_cannot_withdraw(status))
        try:
            updated = self._store.change_status(
                story["id"], WITHDRAWABLE, {"status": Status.WITHDRAWN, "withdrawn_at": clock.iso()}
            )
        except Conflict:
            # Changed between our read and our write (e.g. a second click): say where it stands now.
            now = self._store.get_story(story["id"], consistent=True) or {}
            if now.get("status") == Status.WITHDRAWN:
                return _status_view(now)
            raise Conflict(_cannot_withdraw(now.get("status"))) from None
        logger.info("story withdrawn by its author", extra={"story_id": story["id"], "from": status})
        metrics.add_metric(name="StoriesWithdrawn", unit="Count", value=1)
        return _status_view(updated)

    # ---- erasure -------------------------------------------------------------------------

    def erase(self, token: str, data: dict[str, Any]) -> dict[str, Any]:
        """Ask for everything about the story to be erased. The stream does the erasing (store.erase_story)."""
        story = self._story(token)
        if str(data.get("confirm", "")).strip().upper() != ERASE_WORD:
            raise ValidationFailed([{"field": "confirm", "message": ERASE_CONFIRM}], data)
        if story.get("status") == Status.ERASING:
            return _status_view(story)  # already asked: harmless
        try:
            updated = self._store.change_status(
                story["id"], ERASABLE, {"status": Status.ERASING, "erase_requested_at": clock.iso()}
            )
        except Conflict:
            now = self._store.get_story(story["id"], consistent=True)
            if not now or now.get("status") == Status.ERASING:
                return {"id": story["id"], "status": Status.ERASING}
            raise
        logger.info("erasure requested by the author", extra={"story_id": story["id"]})
        metrics.add_metric(name="ErasuresRequested", unit="Count", value=1)
        return _status_view(updated)


def _ticked(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    return isinstance(value, str) and value.strip().lower() in ("yes", "true", "on")


def _cannot_withdraw(status: Any) -> str:
    if status == Status.REJECTED:
        return "Your story was not published, so there is nothing to withdraw. You can still ask for it to be erased."
    if status == Status.ERASING:
        return "Your story is being erased."
    return "Your story cannot be withdrawn now. Reload your page to see where it stands."


def _status_view(story: Mapping[str, Any]) -> dict[str, Any]:
    out = {"id": story["id"], "status": story.get("status")}
    for k in ("withdrawn_at", "erase_requested_at"):
        if story.get(k):
            out[k] = story[k]
    return out


def _reply_view(item: Mapping[str, Any]) -> dict[str, Any]:
    return {k: item[k] for k in ("id", "text", "status", "created_at", "published_at") if item.get(k)}
