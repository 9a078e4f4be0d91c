"""Telling a story: validate, check the services, write it once, pending and private.

Every story records how it came in (`route`, issue 19): the web form, an invitation's short link (the
story then carries the invitation and its tags), a service's widget, or, entered by a member of staff
or a moderator for someone who phoned, wrote or came in (`take`), phone, paper or staff-assisted, with
who entered it and that the person agreed. Either way it is moderated like any other story.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from . import invitations
from .core import clock, ids
from .core.errors import Conflict, ValidationFailed, invalid
from .core.idempotency import once
from .core.models import StorySubmission, TakenStory
from .core.observability import logger, metrics
from .core.status import Status

if TYPE_CHECKING:
    from .store import TellingStore

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
    "invitation": "the invitation",
    "via": "where the form was opened",
    "route": "how the story came in",
}
TOO_QUICK = "That was very quick. Please check your story and send it again."


class Stories:
    def __init__(self, store: TellingStore, idempotency_layer: Any, remember_seconds: int, min_form_seconds: int = 0):
        self._store = store
        self._layer = idempotency_layer
        self._remember = remember_seconds
        self._min_form_seconds = min_form_seconds

    def validate(self, data: dict[str, Any], model: type[StorySubmission] = StorySubmission) -> StorySubmission:
        try:
            submission = model.model_validate(data)
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
        if model is StorySubmission and self._too_quick(submission.started):
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

    def submit(self, data: dict[str, Any], lambda_context: Any = None) -> dict[str, Any]:
        """Create a pending story. The same submission id sent again gives back the same story."""
        from aws_lambda_powertools.utilities.idempotency.exceptions import IdempotencyAlreadyInProgressError

        submission = self.validate(data)
        create = once(
            self._create,
            self._layer,
            "stories.submit",
            self._remember,
            lambda_context,
            event_key_jmespath="submission_id",
            data_keyword_argument="submission",
        )
        try:
            return create(submission=submission)
        except IdempotencyAlreadyInProgressError as e:
            raise Conflict("This story is already being sent. Wait a moment, then check your email or reload.") from e

    def take(self, data: dict[str, Any], entered_by: dict[str, str], organisation: str | None) -> dict[str, Any]:
        """A story entered for someone who phoned, wrote or came in (issue 19), by a member of
        `organisation` (only about its services: fail closed) or by a moderator (None). Pending, like
        any story; the author's address, if given, gets the private link as usual."""
        submission = self.validate(data, TakenStory)
        if organisation is not None:
            found = self._store.get_services(submission.services)
            outside = [s for s in submission.services if (found[s].get("path") or [""])[0] != organisation]
            if outside:
                raise ValidationFailed(
                    [{"field": "services", "message": "Choose your own organisation's services"}], data
                )
        create = once(
            self._create,
            self._layer,
            "stories.take",
            self._remember,
            None,
            event_key_jmespath="submission_id",
            data_keyword_argument="submission",
        )
        return create(submission=submission, entered_by=dict(entered_by))

    def _create(self, submission: StorySubmission, entered_by: dict[str, str] | None = None) -> dict[str, Any]:
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
        story |= self._route(submission, entered_by)
        contact = (
            {"email": str(submission.email), "submission_id": submission.submission_id} if submission.email else None
        )
        self._store.create_story(story, contact)
        logger.info("story submitted", extra={"story_id": story_id, "services": story["services"]})
        metrics.add_metric(name="StoriesSubmitted", unit="Count", value=1)
        return {"id": story_id, "status": Status.PENDING}

    def _route(self, submission: StorySubmission, entered_by: dict[str, str] | None) -> dict[str, Any]:
        """How the story came in, and what that adds to it."""
        if isinstance(submission, TakenStory):
            # Who entered it is shown to staff and moderators, never in public; the tick is the person's agreement.
            return {"route": submission.route, "entered_by": entered_by or {}, "agreed_at": clock.iso()}
        invitation = invitations.for_story(self._store, submission.invitation)
        if invitation:
            return {
                "route": "invitation",
                "invitation": invitation["code"],
                "tags": sorted(invitation.get("tags") or []),
            }
        return {"route": "widget" if submission.via == "widget" else "web"}
