"""Telling a story: validate, check the services, write it once, pending and private.

Every story records how it came in (`route`, issue 19): the web form, an invitation's short link (the
story then carries the invitation and its tags), a service's widget, or, entered by a member of staff
or a moderator for someone who phoned, wrote or came in (`take`), phone, paper or staff-assisted, with
who entered it and that the person agreed. Either way it is moderated like any other story.
"""

from __future__ import annotations

from datetime import date
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from . import invitations
from .core import clock, ids
from .core.errors import ValidationFailed, pydantic_fields
from .core.i18n import N_
from .core.models import MAX_SERVICES, StorySubmission, TakenStory, experience_problem
from .core.observability import logger, metrics
from .core.status import Status, public

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
# Where the generic words would not fit the form (error type -> words; "*": any type). Never the
# validator's own words ("Input should be less than or equal to 12", "Choose at least 1").
# Marked N_ (issue 19): the Welsh form says them in Welsh (site/forms.py translates them as it renders).
MESSAGES = {
    "role": {"*": N_("Choose who you are")},
    "feelings": {"*": N_("Choose how you felt from the list")},
    "experience_month": {
        "missing": N_("Enter the month it happened"),
        "*": N_("The month must be a number from 1 to 12"),
    },
    "experience_year": {"missing": N_("Enter the year it happened"), "*": N_("Enter the year as 4 numbers")},
    "services": {
        "missing": N_("Choose a service"),
        "too_short": N_("Choose a service"),
        "too_long": f"Choose no more than {MAX_SERVICES} services",
        "*": N_("Choose a service from the list"),
    },
    "email": {"*": N_("Enter an email address in the correct format, like name@example.com")},
    "consent": {"*": N_("Agree to the publishing terms to send your story")},
}
TOO_QUICK = N_("That was very quick. Please check your story and send it again.")


class Stories:
    def __init__(self, store: TellingStore, remember_seconds: int, min_form_seconds: int = 0):
        self._store = store
        self._remember = remember_seconds
        self._min_form_seconds = min_form_seconds

    def validate(self, data: dict[str, Any], model: type[StorySubmission] = StorySubmission) -> StorySubmission:
        """The submission, or every problem with it at once (a person fixes them in one go)."""
        try:
            submission = model.model_validate(data)
        except ValidationError as e:
            fields = pydantic_fields(e, LABELS, MESSAGES)
            # pydantic skips the model's own check when a field fails, and the store's checks come after.
            fields += self._checks(data, {f["field"] for f in fields}, experience=True)
            raise ValidationFailed(fields, data) from e
        fields = self._checks(data, set(), experience=False)
        if fields:
            raise ValidationFailed(fields, data)
        if model is StorySubmission and self._too_quick(submission.started):
            # Last, so a person sees what to fix first; and the form keeps `started`, so a second send counts from the first.
            raise ValidationFailed([{"field": "started", "message": TOO_QUICK}], data)
        return submission

    def _checks(self, data: dict[str, Any], failed: set[str], experience: bool) -> list[dict[str, str]]:
        """The checks beyond each field's own: the month in range, the services known, the linked story
        published. Each only on fields that passed their own check."""
        out: list[dict[str, str]] = []
        month, year = _whole(data.get("experience_month")), _whole(data.get("experience_year"))
        if experience and not failed & {"experience_month", "experience_year"} and month and year:
            problem = experience_problem(year, month, date.today())
            if problem:
                out.append(problem)
        services = data.get("services")
        if "services" not in failed and isinstance(services, list) and services:
            found = self._store.get_services([str(s) for s in services])
            missing = [s for s in services if s not in found]
            if missing:
                message = f"We do not know the service {missing[0]!r}. Choose one from the list."
                out.append({"field": "services", "message": message})
        related = str(data.get("related_story") or "").strip()
        if "related_story" not in failed and related:
            # CHECK: a story can only be linked to a published one.
            story = self._store.get_story(related)
            if not public(story):
                message = "The story yours is linked to is not published. Send yours without the link."
                out.append({"field": "related_story", "message": message})
        return out

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
        return self._create(submission, entered_by=dict(entered_by))

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
            "language": submission.language or "en",  # the form's language (issue 19)
        }
        if submission.related_story:
            story["related_story"] = submission.related_story  # CHECK: shown as "Linked to <title>"
        story |= self._route(submission, entered_by)
        contact = (
            {"email": str(submission.email), "submission_id": submission.submission_id} if submission.email else None
        )
        until = int(clock.now().timestamp()) + self._remember
        earlier = self._store.create_story(story, contact, (submission.submission_id, until))
        if earlier:
            return {"id": earlier["id"], "status": earlier.get("status", Status.PENDING), "language": story["language"]}
        logger.info("story submitted", extra={"story_id": story_id, "services": story["services"]})
        metrics.add_metric(name="StoriesSubmitted", unit="Count", value=1)
        return {"id": story_id, "status": Status.PENDING, "language": story["language"]}

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


def _whole(value: Any) -> int | None:
    """A month or year as sent (a number, or digits from a form), or None."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    text = str(value or "").strip()
    return int(text) if text.isdigit() and len(text) <= 4 else None
