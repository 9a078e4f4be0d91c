"""A member of staff changes or deletes their own published response, from the same emailed link,
for a short while after sending it (settings.response_edit_minutes: 30).

Each change is recorded on the response (`edits`, `edited_at`, shown in public as "edited") and its
words before it are kept privately (erased with the story). A changed text goes through the same
check for identifying details as a new response: if it finds any, the response leaves the page and
waits for a moderator. A changed response cannot newly claim a change made (that is checked first):
the change mark stays as it was published. A deleted response leaves the page; the stream takes
back any progress only it gave the story.
"""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from .core import clock, identifying
from .core.errors import Forbidden, NotFound, ValidationFailed, invalid
from .core.models import ResponseSubmission
from .core.observability import logger, metrics
from .core.status import RESPONDING, ItemStatus, Status
from .links import NOT_VALID

if TYPE_CHECKING:
    from .core.settings import Settings
    from .links import Links
    from .store import ConversationStore, ThreadItem

ACTIONS = ("edit", "delete")
LABELS = {"text": "your response", "change_description": "the change"}


class ResponseEdits:
    def __init__(self, store: ConversationStore, links: Links, settings: Settings):
        self._store = store
        self._links = links
        self._settings = settings

    def window_ends(self, response: dict[str, Any]) -> str:
        """When its author can no longer change a response (ISO time)."""
        sent = clock.parse(response.get("created_at") or clock.iso())
        return clock.iso(sent + timedelta(minutes=self._settings.response_edit_minutes))

    def open(self, response: dict[str, Any]) -> bool:
        return response.get("status") == ItemStatus.PUBLISHED and clock.iso() < self.window_ends(response)

    def _mine(self, token: str, response_id: str) -> tuple[dict[str, Any], ThreadItem]:
        """(the link, the response), if the link's holder sent it on the link's story and may still respond."""
        link, subscriber, _ = self._links.resolve_holder(token, "respond")
        if not subscriber or subscriber.get("access") not in RESPONDING:
            raise NotFound(NOT_VALID)
        story = self._store.get_story(link["story_id"], consistent=True)
        if not story or story.get("status") != Status.PUBLISHED:
            raise NotFound("This story is no longer published, so its responses cannot be changed here.")
        response = self._store.get_thread_item(link["story_id"], "response", response_id)
        if not response or response.get("subscriber_id") != subscriber["id"]:
            raise NotFound("There is no response of yours with that id on this story.")
        if not self.open(dict(response)):
            raise Forbidden(
                f"A response can be changed or deleted for {self._settings.response_edit_minutes} minutes after "
                "it is published. That time has passed: ask a moderator if something in it must change."
            )
        return link, response

    def change(self, token: str, response_id: str, data: dict[str, Any]) -> dict[str, Any]:
        """Apply an "edit" (new text, and the change's description) or a "delete". Returns the response's
        id and status now, and when the window closes."""
        action = data.get("action")
        if action not in ACTIONS:
            raise ValidationFailed([{"field": "action", "message": "Choose to change or to delete it"}], data)
        link, response = self._mine(token, response_id)
        story_id, now = link["story_id"], clock.iso()
        was = {k: response.get(k) for k in ("text", "change", "change_description", "created_at", "edits")}
        if action == "delete":
            changes: dict[str, Any] = {"status": ItemStatus.DELETED, "deleted_at": now}
            flags: list[str] = []
        else:
            values = {"text": data.get("text", ""), "change": response.get("change", "none")}
            if response.get("change", "none") != "none":
                values["change_description"] = data.get("change_description", response.get("change_description", ""))
            try:
                edited = ResponseSubmission.model_validate(values)
            except ValidationError as e:
                raise invalid(e, LABELS, {k: v for k, v in data.items() if k in ("text", "change_description")}) from e
            found = identifying.kinds(edited.text)
            found += [k for k in identifying.kinds(edited.change_description) if k not in found]
            flags = [k for k in identifying.KINDS if k in found]
            changes = {
                "text": edited.text,
                "change_description": edited.change_description,
                "edits": int(response.get("edits") or 0) + 1,
                "edited_at": now,
            }
            if flags:
                changes |= {"status": ItemStatus.HELD, "flags": flags}
        self._store.keep_response_original(story_id, response_id, now, {"action": action, "at": now, **was})
        revised = self._store.revise_response(story_id, response_id, was, changes, queued=bool(flags))
        metrics.add_metric(name="ResponsesDeleted" if action == "delete" else "ResponsesEdited", unit="Count", value=1)
        logger.info("response changed by its author", extra={"story_id": story_id, "action": action})
        return {
            "id": response_id,
            "status": revised.get("status", ""),
            "flags": list(revised.get("flags", [])) if revised.get("status") == ItemStatus.HELD else [],
            "editable_until": self.window_ends(dict(revised)),
        }
