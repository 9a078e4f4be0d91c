"""Me too: a reader says "this happened to me too" about a published story, with no account.

The request writes one me-too item (and, apart from it in a PRIVATE# item, an address if the
reader left one, to be asked later whether the change made a difference). The story's
`me_too_count` is kept by the stream (reactions.me_too_reaction), once per me-too item, so the
count is exact however often a record is delivered. The address is never logged, rendered
or put in a job: jobs carry the me-too id.
"""

from __future__ import annotations

import hashlib
import re
from typing import TYPE_CHECKING, Any

from .core import clock
from .core.errors import NotFound, invalid
from .core.observability import logger, metrics
from .core.status import Status

if TYPE_CHECKING:
    from .core.settings import Settings
    from .store import LoopStore, MeTooStore, Story

STORY_ID = re.compile(r"^[0-9a-hjkmnp-tv-z]{17}$")
LABELS = {
    "email": "an email address, like name@example.com",
    "consent": "agreement to be emailed",
    "website": "this field",
}
THANKS = "Thank you. We have added you to the people this happened to."
NO_STORY = "There is no published story with this id."


def me_too_id(story_id: str, client: str, day: str) -> str:
    """One me-too per connection, story and day: a second press (or a reload) counts nothing.
    Derived from the hashed client, so the item says nothing about who sent it."""
    return hashlib.sha256(f"{story_id}:{client}:{day}".encode()).hexdigest()[:32]


class MeTooes:
    def __init__(self, store: MeTooStore, limits: Any, settings: Settings):
        self._store = store
        self._limits = limits
        self._settings = settings

    def published_story(self, story_id: str) -> Story:
        story = self._store.get_story(story_id) if STORY_ID.match(story_id or "") else None
        if not story or story.get("status") != Status.PUBLISHED:
            raise NotFound(NO_STORY, fields=[{"field": "story_id", "message": NO_STORY}])
        return story

    def say(self, story_id: str, data: dict[str, Any], client: str) -> dict[str, Any]:
        """Record one "me too" (rate-limited per client, and per client and story). Returns whether it is new."""
        s = self._settings
        self._limits.hit("me-too", client, s.me_too_limit, s.rate_window_seconds)
        story = self.published_story(story_id)
        # And about one story (issue 18): counted once the story is known, so made-up ids make no counters.
        # Keyed by a hash, so the counter names no story: erasing one leaves nothing that mentions it.
        per_story = hashlib.sha256(f"{story['id']}:{client}".encode()).hexdigest()[:32]
        self._limits.hit("me-too-story", per_story, s.me_too_story_limit, s.rate_window_seconds)
        from pydantic import ValidationError

        # Late: the stream imports this module for its reaction; it must not load pydantic and email_validator.
        from .core.models import MeToo

        try:
            said = MeToo.model_validate(data)
        except ValidationError as e:
            raise invalid(e, LABELS, {k: v for k, v in data.items() if k != "website"}) from e
        now = clock.iso()
        item = {"id": me_too_id(story["id"], client, now[:10]), "created_at": now, "has_email": said.email is not None}
        created = self._store.add_me_too(story["id"], item, str(said.email) if said.email else None)
        logger.info("me too", extra={"story_id": story["id"], "new": created, "has_email": item["has_email"]})
        if created:
            metrics.add_metric(name="MeToos", unit="Count", value=1)
        return {"story_id": story["id"], "created": created, "has_email": item["has_email"], "message": THANKS}


def count(store: LoopStore, story_id: str, me_too_id: str, new: dict[str, Any] | None) -> None:
    """The stream saw a me-too item: add it to the story's count, once."""
    if new and not new.get("counted"):
        store.count_me_too(story_id, me_too_id)
