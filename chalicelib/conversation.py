"""The staff side of the conversation: reading a story and responding to it, from an emailed link.

The link is a "respond" capability (links.py) bound to one subscriber, one story and the
subscription that brought it to them. A GET shows the story and the forms and changes
nothing (mail scanners open every link); a person's POST records the read receipt or the
response. A response that seems to contain identifying details (identifying.py) is held for
a moderator; any other is published at once, and the stream re-renders the story page.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from .core import clock, identifying
from .core.errors import Forbidden, NotFound, ValidationFailed, invalid
from .core.ids import new_id
from .core.matching import about_organisation
from .core.models import ChangeMark, ResponseSubmission
from .core.observability import metrics
from .core.status import RESPONDING, Access, ItemStatus, Status
from .links import NOT_VALID, token_hash
from .teamwork import team_view

if TYPE_CHECKING:
    from .core.settings import Settings
    from .limits import Limits
    from .links import Links
    from .store import ConversationStore, Story

RESPONSE_ID = re.compile(r"^[0-9a-hjkmnp-tv-z]{17}$")  # ids.new_id(): Crockford base32, lower case
GONE = "This story is no longer published, so it cannot be read or answered here."
FORM_FIELDS = ("text", "change", "change_description", "response_id", "on_behalf_of")
LABELS = {
    "text": "your response",
    "change": "whether this marks a change",
    "change_description": "the change",
    "on_behalf_of": "who you respond for",
}
ALREADY_SENT = (
    "You already sent a response from this page. It is shown below. To send another, check this one and send it again."
)


class AlreadySent(ValidationFailed):
    """The form's response id was used before for a different response (the back button, or a
    copied form): nothing is written, and the form comes back with a fresh id."""

    status, code = 409, "Conflict"


NOT_A_RESPONDER = (
    "You can read stories and say you have read them, but your organisation has not asked you to respond "
    "in public. Ask your organisation’s lead to make you a responder."
)
# Why a response is checked by a moderator before it is public, besides identifying details:
# risk-based, as Care Opinion does. In the order they are told.
CHECKS = {
    "first-responses": "your first responses on FeedForward are checked before they appear",
    "change-made": "responses that say a change has been made are checked before they appear",
    "high-criticality": "responses to stories about serious concerns are checked before they appear",
}
HIGH_CRITICALITY = 4


def held_message(kinds: list[str], checks: list[str] | None = None) -> str:
    """What a person is told when their response waits for a moderator, and why."""
    if kinds:
        return (
            f"Your response seems to contain {identifying.describe(kinds)}. So that no one can be identified, "
            "a moderator will check it before it appears on the story’s page. We will email you when they have."
        )
    why = "; ".join(CHECKS[c] for c in checks or [] if c in CHECKS) or "it is checked before it appears"
    return (
        f"Thank you. A moderator will check your response before it appears on the story’s page ({why}). "
        "We will email you when they have."
    )


class Conversation:
    def __init__(self, store: ConversationStore, links: Links, settings: Settings, limits: Limits):
        self._store = store
        self._links = links
        self._settings = settings
        self._limits = limits

    # ---- who is answering, about what --------------------------------------------------------------

    def _holder(self, token: str) -> tuple[dict[str, Any], dict[str, Any]]:
        """(the link, the person as they are shown in public). A bad, expired or revoked link,
        and one whose subscriber is gone, are refused alike."""
        # The link check has read the person and the subscription already (links.py): not again.
        link, subscriber, subscription = self._links.resolve_holder(token, "respond")
        if not subscriber or subscriber.get("access") not in set(Access):
            raise NotFound(NOT_VALID)  # fail closed: no grant, no link
        subscription = subscription or {}
        service_name = subscription.get("service_name", "")
        if not service_name and link.get("service"):
            service_name = (self._store.get_service(link["service"]) or {}).get("name", "")
        who = {
            "subscriber_id": subscriber["id"],
            "subscription_id": link.get("subscription_id", ""),
            "service": link.get("service") or subscription.get("service", ""),
            "service_name": service_name,
            "name": subscriber.get("display_name") or subscriber.get("name", ""),
            "role": subscriber.get("role", ""),
            "organisation_name": subscriber.get("organisation_name", ""),
            "organisation": subscriber.get("organisation", ""),
            "access": subscriber.get("access", ""),
            "responses_sent": int(subscriber.get("responses_sent") or 0),
        }
        return link, who

    def _published_story(self, story_id: str) -> Story:
        story = self._store.get_story(story_id, consistent=True)
        if not story or story.get("status") != Status.PUBLISHED:
            raise NotFound(GONE)
        return story

    # ---- the page (GET: changes nothing) ----------------------------------------------------------

    def page(self, token: str, sent: str = "") -> dict[str, Any]:
        """Everything the read-and-respond page shows, from one Query for the story and its
        conversation: the person (as shown in public), the story and its services, the thread,
        their read receipt, their responses that wait for a moderator, the one just `sent`."""
        link, who = self._holder(token)
        items = self._store.story_thread(link["story_id"], consistent=True)
        story = next((i for i in items if i["item"] == "story"), None)
        if not story or story.get("status") != Status.PUBLISHED:
            raise NotFound(GONE)
        mine = [i for i in items if i.get("subscriber_id") == who["subscriber_id"]]
        receipt = next((i for i in mine if i["item"] == "read"), None)
        responses = sorted((i for i in mine if i["item"] == "response"), key=lambda i: i.get("created_at", ""))
        just_sent = next((r for r in responses if sent and r["id"] == sent), None)
        services = self._store.get_services(story.get("services", []))
        return {
            "who": {k: who[k] for k in ("name", "role", "organisation_name", "service_name")},
            "story": story,
            "services": services,
            # Criticality is for the organisation's own members: never shown to anyone else.
            "member": about_organisation(who["organisation"], services.values()),
            "can_respond": who["access"] in RESPONDING,
            "is_lead": who["access"] == Access.LEAD,
            # The team's work on it: the tags this person may see, and who it was passed to.
            "team": team_view(
                self._store, story["id"], {"id": who["subscriber_id"], "organisation": who["organisation"]}
            ),
            "items": items,
            "read_at": receipt.get("read_at", "") if receipt else "",
            # This person's responses that are not (or not yet) public, so they know where they stand.
            "waiting": [
                {"created_at": r.get("created_at", ""), "flags": r.get("flags", []), "checks": r.get("checks", [])}
                for r in responses
                if r.get("status") == ItemStatus.HELD
            ],
            "sent": {"id": just_sent["id"], "status": just_sent.get("status", "")} if just_sent else None,
            # Their published responses they may still change or delete, and until when.
            "editable": [
                {
                    "id": r["id"],
                    "text": r.get("text", ""),
                    "change": r.get("change", "none"),
                    "change_description": r.get("change_description", ""),
                    "until": until,
                }
                for r in responses
                if r.get("status") == ItemStatus.PUBLISHED
                and clock.iso() < (until := self._edit_window_ends(r.get("created_at", "")))
            ],
            "response_id": new_id(),
        }

    # ---- "I have read this" (POST) -----------------------------------------------------------------

    def read(self, token: str) -> dict[str, Any]:
        """Record that this person read the story, the first time only. Returns when they did."""
        link, who = self._holder(token)
        self._published_story(link["story_id"])
        read_at = self._receipt(link["story_id"], who)
        self._store.update_subscriber(who["subscriber_id"], {"last_active_at": clock.iso()})
        return {"read_at": read_at}

    def _receipt(self, story_id: str, who: dict[str, Any]) -> str:
        at = clock.iso()
        receipt = {
            "read_at": at,
            "name": who["name"],
            "role": who["role"],
            "service": who["service"],
            "service_name": who["service_name"],
            "organisation_name": who["organisation_name"],
        }
        return self._store.put_read_receipt(story_id, who["subscriber_id"], receipt)

    # ---- a response (POST) -------------------------------------------------------------------------

    def respond(self, token: str, data: dict[str, Any]) -> dict[str, Any]:
        """Validate and record one response: published at once, or held when it seems to contain
        identifying details. The same response id twice makes one response."""
        from pydantic import ValidationError

        link, who = self._holder(token)
        if who["access"] not in RESPONDING:
            raise Forbidden(NOT_A_RESPONDER)
        story_id = link["story_id"]
        story = self._published_story(story_id)
        data = dict(data)
        values = {k: v for k, v in data.items() if k in FORM_FIELDS}
        response_id = data.pop("response_id", None)
        if response_id in (None, ""):
            response_id = new_id()
        elif not isinstance(response_id, str) or not RESPONSE_ID.match(response_id):
            raise ValidationFailed(
                [{"field": "response_id", "message": "The response id is not valid: reload the page"}], values
            )
        try:
            submission = ResponseSubmission.model_validate(data)
        except ValidationError as e:
            raise invalid(e, LABELS, values) from e

        if submission.on_behalf_of and who["access"] != Access.LEAD:
            raise ValidationFailed(
                [{"field": "on_behalf_of", "message": "Only a lead can respond on behalf of a colleague or a team"}],
                values,
            )
        # Only a response that could be written spends from the budgets (a mistake writes nothing).
        s = self._settings
        self._limits.hit("response-link", token_hash(token), s.response_link_limit, s.rate_window_seconds)
        self._limits.hit("response-person", who["subscriber_id"], s.response_person_limit, s.rate_window_seconds)
        change = submission.change.value
        description = submission.change_description if submission.change is not ChangeMark.none else ""
        found = identifying.kinds(submission.text)
        found += [k for k in identifying.kinds(description) if k not in found]
        flags = [k for k in identifying.KINDS if k in found]
        checks = self._checks(who, story, change)
        held = bool(flags or checks)
        now = clock.iso()
        # Answering implies reading: the receipt comes first, so the story shows "read" before "responded".
        self._receipt(story_id, who)
        response = {
            "id": response_id,
            "subscriber_id": who["subscriber_id"],
            "subscription_id": who["subscription_id"],
            "service": who["service"],
            "name": who["name"],
            "role": who["role"],
            "organisation_name": who["organisation_name"],
            "service_name": who["service_name"],
            "text": submission.text,
            "change": change,
            "change_description": description,
            "organisation": who["organisation"],
            "on_behalf_of": submission.on_behalf_of,
            "verified": True,  # only a member with the responder grant gets this far
            "status": Status.HELD if held else Status.PUBLISHED,
            "flags": flags,
            "checks": checks,
            "created_at": now,
            "published_at": None if held else now,
        }
        if not self._store.add_response(story_id, response):
            earlier = self._store.get_thread_item(story_id, "response", response_id) or {}
            same = (
                earlier.get("subscriber_id") == who["subscriber_id"]
                and earlier.get("text") == submission.text
                and earlier.get("change") == change
                and earlier.get("change_description", "") == description
            )
            if not same:
                raise AlreadySent(
                    [{"field": "response_id", "message": ALREADY_SENT}],
                    {k: v for k, v in values.items() if k != "response_id"},
                )
            return _answer(earlier)  # a second press of the same button: the first one stands
        self._store.count_response(who["subscriber_id"], now)
        metrics.add_metric(name="ResponsesSubmitted", unit="Count", value=1)
        if held:
            metrics.add_metric(name="ResponsesHeld", unit="Count", value=1)
        return _answer(response)

    def _edit_window_ends(self, created_at: str) -> str:
        sent = clock.parse(created_at) if created_at else clock.now()
        return clock.iso(sent + timedelta(minutes=self._settings.response_edit_minutes))

    def _checks(self, who: Mapping[str, Any], story: Mapping[str, Any], change: str) -> list[str]:
        """Why this response goes to a moderator first (risk-based); [] publishes it at once."""
        checks = []
        if who["responses_sent"] < self._settings.first_responses_checked:
            checks.append("first-responses")
        if change == ChangeMark.made.value:
            checks.append("change-made")
        if int(story.get("criticality") or 0) >= HIGH_CRITICALITY:
            checks.append("high-criticality")
        return checks


def _answer(response: Mapping[str, Any]) -> dict[str, Any]:
    out = {"id": response["id"], "status": response["status"], "created_at": response.get("created_at", "")}
    if response["status"] == ItemStatus.PUBLISHED:
        out["published_at"] = response.get("published_at", "")
    elif response["status"] == ItemStatus.HELD:
        out["flags"] = list(response.get("flags", []))
        out["checks"] = list(response.get("checks", []))
        out["flag_words"] = identifying.describe(out["flags"]) if out["flags"] else ""
        out["message"] = held_message(out["flags"], out["checks"])
    return out
