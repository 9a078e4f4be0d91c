"""Telling a story: validate, check the services, write it once, pending and private."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from .core import clock, ids
from .core.errors import ValidationFailed, invalid
from .core.models import StorySubmission
from .core.observability import logger, metrics
from .core.status import Status

if TYPE_CHECKING:
    from .store import StoriesAndServices

LABELS = {
    "submission_id": "the submission id",
    "title": "a title",
    "story": "what happened",
    "good": "what was good",
    "improve": "what could be improved",
    "feelings": "how you felt",
    "role": "who you are",
    "pseudonym": "the name to show",
    "experience_month": "the month",
    "experience_year": "the year",
    "services": "a service",
    "email": "an email address, like name@example.com",
    "consent": "agreement to the terms",
    "website": "this field",
    "related_story": "the story yours is linked to",
    "started": "the time the form was opened",
}
TOO_QUICK = "That was very quick. Please check your story and send it again."


class Stories:
    def __init__(self, store: StoriesAndServices, remember_seconds: int, min_form_seconds: int = 0):
        self._store = store
        self._remember = remember_seconds
        self._min_form_seconds = min_form_seconds

    def validate(self, data: dict[str, Any]) -> StorySubmission:
        try:
            submission = StorySubmission.model_validate(data)
        except ValidationError as e:
            raise invalid(e, LABELS, data) from e
        found = self._store.get_services(submission.services)
        missing = [s for s in submission.services if s not in found]
        if missing:
            raise ValidationFailed(
                [
                    {
                        "field": "services",
                        "message": f"We do not know the service {missing[0]!r}. Choose one from the list.",
                    }
                ],
                data,
            )
        if submission.related_story:
            # CHECK: a story can only be linked to a published one.
            related = self._store.get_story(submission.related_story)
            if not related or related.get("status") != Status.PUBLISHED:
                raise ValidationFailed(
                    [
                        {
                            "field": "related_story",
                            "message": "The story yours is linked to is not published. Send yours without the link.",
                        }
                    ],
                    data,
                )
        if self._too_quick(submission.started):
            # Last, so a person sees what to fix first; and the form keeps `started`, so a second send counts from the first.
            raise ValidationFailed([{"field": "started", "message": TOO_QUICK}], data)
        return submission

    def _too_quick(self, started: int | None) -> bool:
        """Sent within seconds of opening the form: a script's, not a person's. No time (JavaScript off), one in
        the future (a fast clock) and one long ago (a slow clock, a draft from last week) all pass."""
        if started is None or self._min_form_seconds <= 0:
            return False
        elapsed_ms = int(clock.now().timestamp() * 1000) - started
        return 0 <= elapsed_ms < self._min_form_seconds * 1000

    def submit(self, data: dict[str, Any], lambda_context: Any = None) -> dict[str, Any]:  # noqa: ARG002 (the edge's call)
        """Create a pending story. The same submission id sent again gives back the same story: the
        submission's record is written in the story's own transaction (issue 17), so there is no
        record in progress to wait on, and a second send writes nothing."""
        return self._create(self.validate(data))

    def _create(self, submission: StorySubmission) -> dict[str, Any]:
        story_id = ids.new_story_id()
        story = {
            "id": story_id,
            "status": Status.PENDING,
            "version": 1,
            "submitted_at": clock.iso(),
            "title": submission.title,
            "story": submission.story,
            "good": submission.good,
            "improve": submission.improve,
            "feelings": [f.value for f in submission.feelings],
            "role": submission.role.value,
            "pseudonym": submission.pseudonym,
            "experience": f"{submission.experience_year:04d}-{submission.experience_month:02d}",
            "services": list(submission.services),
            "has_contact": submission.email is not None,
            "tags": [],
        }
        if submission.related_story:
            story["related_story"] = submission.related_story  # CHECK: shown as "Linked to <title>"
        contact = (
            {"email": str(submission.email), "submission_id": submission.submission_id} if submission.email else None
        )
        until = int(clock.now().timestamp()) + self._remember
        earlier = self._store.create_story(story, contact, (submission.submission_id, until))
        if earlier:
            return {"id": earlier["id"], "status": earlier.get("status", Status.PENDING)}
        logger.info("story submitted", extra={"story_id": story_id, "services": story["services"]})
        metrics.add_metric(name="StoriesSubmitted", unit="Count", value=1)
        return {"id": story_id, "status": Status.PENDING}
