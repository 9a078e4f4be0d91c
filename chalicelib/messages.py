"""Messages between a moderator and the author of a story that is held or pending (issue 20).

A moderator writes from the moderation screen; the platform emails the words to the author (the
stream sees the new message and queues the letter: no request sends mail), so the moderator never
sees the address. The author answers from their private page. Both are kept privately (MESSAGE#
under the story's PRIVATE# partition), shown to moderators only, never on a page, feed or API
answer, and erased with the story.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from .core import clock
from .core.errors import Conflict, NotFound, ValidationFailed
from .core.ids import new_id
from .core.observability import logger, metrics
from .core.status import Status
from .links import NOT_VALID, Links

if TYPE_CHECKING:
    from .store import ConversationStore

LONGEST = 2000
ASKABLE = (Status.PENDING, Status.HELD)  # a story not yet decided, or held for safeguarding
ANSWER_ID = re.compile(r"^[A-Za-z0-9_-]{16,64}$")
NO_ADDRESS = "The author has not given an address they confirmed, so we cannot write to them."
NOT_ASKABLE = "Only the author of a held or pending story can be sent a message."
NOTHING_ASKED = "There is no message from a moderator to answer."


def _text(data: dict[str, Any], field: str = "text") -> str:
    value = data.get(field)
    if isinstance(value, list):
        value = value[-1] if value else ""
    text = str(value).strip() if isinstance(value, str) else ""
    if len(text) < 2:
        raise ValidationFailed([{"field": field, "message": "Write your message"}], data)
    if len(text) > LONGEST:
        raise ValidationFailed([{"field": field, "message": f"Write at most {LONGEST:,} characters"}], data)
    return text


class Messages:
    def __init__(self, store: ConversationStore, links: Links):
        self._store = store
        self._links = links

    def send(self, story_id: str, data: dict[str, Any], moderator: Any) -> dict[str, Any]:
        """Keep a moderator's message for the author (`moderator`: moderation.Moderator, who signed in);
        the stream has it emailed."""
        text = _text(data)
        story = self._store.get_story(story_id, consistent=True)
        if not story:
            raise NotFound(f"There is no story {story_id!r}.")
        if story.get("status") not in ASKABLE:
            raise Conflict(NOT_ASKABLE)
        contact = self._store.get_contact(story_id) if story.get("has_contact") else None
        if not contact or not contact.get("confirmed_at"):
            raise Conflict(NO_ADDRESS)
        message = {"id": new_id(), "sender": "moderator", "text": text, "at": clock.iso(), "by": moderator.username}
        self._store.put_message(story_id, message)
        logger.info("moderator messaged an author", extra={"story_id": story_id, "message_id": message["id"]})
        metrics.add_metric(name="AuthorMessagesSent", unit="Count", value=1)
        return view(message)

    def of_story(self, story_id: str) -> list[dict[str, Any]]:
        """The messages both ways, oldest first, for the moderation screen."""
        return [view(m) for m in self._store.messages(story_id)]

    def for_author(self, story_id: str) -> list[dict[str, Any]]:
        """What the private page shows: the moderators' words (never who wrote them) and the answers."""
        return [{"sender": m["sender"], "text": m["text"], "at": m["at"]} for m in self.of_story(story_id)]

    def answer(self, token: str, data: dict[str, Any]) -> dict[str, Any]:
        """The author answers from their private link. The same answer_id twice is one answer."""
        found = self._links.resolve(token, "author")
        story = self._store.get_story(found["story_id"], consistent=True)
        if not story:
            raise NotFound(NOT_VALID)
        text = _text(data)
        answer_id = data.get("answer_id")
        if not isinstance(answer_id, str) or not ANSWER_ID.match(answer_id):
            raise ValidationFailed(
                [{"field": "answer_id", "message": "Send an answer_id of 16 to 64 letters, digits, - or _"}], data
            )
        if not any(m.get("sender") == "moderator" for m in self._store.messages(story["id"])):
            raise Conflict(NOTHING_ASKED)
        message = {"id": f"a-{answer_id}", "sender": "author", "text": text, "at": clock.iso()}
        if self._store.put_message(story["id"], message):
            logger.info("author answered a moderator", extra={"story_id": story["id"]})
            metrics.add_metric(name="AuthorMessageAnswers", unit="Count", value=1)
        return {"story_id": story["id"], "answer": {"sender": "author", "text": text}}


def view(message: dict[str, Any]) -> dict[str, Any]:
    return {k: message.get(k, "") for k in ("id", "sender", "text", "at", "by")}
