"""Invitations (issue 19): a member of an organisation asks people for their story about one service.

A responder or lead makes one from their "manage your alerts" link: a service of their organisation,
an optional campaign name and tags, and the last day it works (or none). It gets a short code that
cannot be guessed (12 characters from 31 that read unambiguously on paper: about 59 bits) and a short
link, `<site>/i/<code>`, printed on a card or a poster as a QR code. The link opens the story form
with the service chosen and a line saying who asked; a story sent through it carries the invitation,
its tags and `route: invitation` (stories.py). A lead may end an invitation of their organisation;
an ended, expired or unknown code opens the ordinary form with a short note, never an error page.

Who may make, see and end invitations fails closed: only an active member with the responder or
lead grant (organisations.member_of), and only for their own organisation's services. The public
link shows the service only: never who made the invitation, nor the organisation's list.
"""

from __future__ import annotations

import re
import secrets
from datetime import date, timedelta
from typing import TYPE_CHECKING, Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationError, field_validator

from .core import clock
from .core.errors import Forbidden, NotFound, ValidationFailed, invalid
from .core.models import INVITATION_CODE, SLUG, TAG, OneLine
from .core.observability import logger, metrics
from .core.status import Access

if TYPE_CHECKING:
    from .core.settings import Settings
    from .organisations import Organisations
    from .store import InvitingStore

ALPHABET = "23456789abcdefghjkmnpqrstuvwxyz"  # no 0/o, 1/i/l: a code is typed from paper too
CODE_LENGTH = 12
MOST_DAYS = 2 * 366  # the furthest an end date may be set
LISTED = 100
LABELS = {
    "service": "the service",
    "campaign": "the campaign name",
    "tags": "the tags",
    "expires_on": "the last day it works",
}
NOTES = {
    "ended": "The invitation you followed has ended, but you can still tell your story here.",
    "unknown": "We could not find the invitation you followed, but you can still tell your story here.",
}


def new_code() -> str:
    return "".join(secrets.choice(ALPHABET) for _ in range(CODE_LENGTH))


def is_code(value: Any) -> bool:
    return isinstance(value, str) and re.fullmatch(INVITATION_CODE, value) is not None


def state(invitation: dict[str, Any] | None, today: date | None = None) -> str:
    """ "active", "ended" (by a lead, or past its last day) or "unknown"."""
    if not invitation:
        return "unknown"
    if invitation.get("ended_at"):
        return "ended"
    last = invitation.get("expires_on") or ""
    if last and last < (today or clock.now().date()).isoformat():
        return "ended"
    return "active"


def split_tags(value: Any) -> list[str]:
    """Tags from a form (one field, commas or spaces) or a JSON list, in lower case."""
    items = value if isinstance(value, list) else str(value or "").replace(",", " ").split()
    return [str(t).strip().lower() for t in items if str(t).strip()]


class InvitationRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", defer_build=True)

    service: str = Field(pattern=SLUG)
    campaign: OneLine = Field(default="", max_length=80)
    tags: list[Annotated[str, StringConstraints(pattern=TAG)]] = Field(default_factory=list, max_length=10)
    expires_on: date | None = None

    @field_validator("expires_on", mode="before")
    @classmethod
    def _blank(cls, v):
        return None if isinstance(v, str) and not v.strip() else v

    @field_validator("expires_on")
    @classmethod
    def _ahead(cls, v):
        today = clock.now().date()
        if v is not None and v < today:
            raise ValueError("Choose today or a later day, or leave it blank for no end")
        if v is not None and v > today + timedelta(days=MOST_DAYS):
            raise ValueError("Choose a day within the next two years, or leave it blank for no end")
        return v


class Invitations:
    def __init__(self, store: InvitingStore, organisations: Organisations, settings: Settings):
        self._store = store
        self._organisations = organisations
        self._settings = settings

    # ---- the member's side (their "manage your alerts" link) --------------------------------------

    def _inviter(self, token: str) -> tuple[dict[str, Any], str]:
        """(the member, their organisation): an active responder or lead, or refused. Anyone else
        with a working link (a reader) is told why; a bad link is refused as every bad link is."""
        person, org, _ = self._organisations.member_of(token)
        if person.get("access") not in (Access.RESPONDER, Access.LEAD):
            raise Forbidden("Only responders and leads can invite stories. Ask a lead of your organisation.")
        return dict(person), org

    def listing(self, token: str) -> dict[str, Any] | None:
        """The organisation's invitations for the manage page, newest first, with how many stories
        each brought in; None for someone who may not invite (they see no section at all)."""
        try:
            person, org = self._inviter(token)
        except (Forbidden, NotFound):
            return None
        found = self._store.invitations_of(org, LISTED)
        return {
            "organisation": org,
            "lead": person.get("access") == Access.LEAD,
            "invitations": [self.view(i) for i in found],
        }

    def create(self, token: str, data: dict[str, Any]) -> dict[str, Any]:
        person, org = self._inviter(token)
        fields = {k: data[k] for k in LABELS if k in data}
        if "tags" in fields:
            fields["tags"] = split_tags(fields["tags"])
        try:
            asked = InvitationRequest.model_validate(fields)
        except ValidationError as e:
            raise invalid(e, LABELS, data) from e
        service = self._store.get_service(asked.service)
        if not service or (service.get("path") or [""])[0] != org:
            raise ValidationFailed(
                [{"field": "service", "message": "Choose one of your organisation's services"}], data
            )
        invitation = {
            "organisation": org,
            "service": service["slug"],
            "service_name": service["name"],
            "campaign": asked.campaign,
            "tags": sorted(set(asked.tags)),
            "expires_on": asked.expires_on.isoformat() if asked.expires_on else "",
            "created_at": clock.iso(),
            "created_by": person["id"],
            "created_by_name": person.get("display_name") or person.get("name", ""),
        }
        for _ in range(3):  # a taken code is all but impossible; another is drawn if it happens
            invitation["code"] = new_code()
            if self._store.create_invitation(invitation):
                break
        else:
            raise RuntimeError("could not draw a free invitation code")
        metrics.add_metric(name="InvitationCreated", unit="Count", value=1)
        logger.info("invitation created", extra={"member_id": person["id"], "service": service["slug"]})
        return self.view(invitation | {"stories": 0})

    def get(self, token: str, code: str) -> dict[str, Any]:
        """One of the organisation's invitations (for its card and poster); another's answers as none."""
        _, org = self._inviter(token)
        invitation = self._store.get_invitation(code) if is_code(code) else None
        if not invitation or invitation.get("organisation") != org:
            raise NotFound("We could not find that invitation.")
        return self.view(invitation)

    def printable(self, token: str, code: str) -> dict[str, Any]:
        """What an invitation's PDF card needs: get() and the service's Welsh name, where it has one."""
        invitation = self.get(token, code)
        service = self._store.get_service(invitation["service"]) or {}
        return invitation | {"service_name_cy": str(service.get("name_cy") or "")}

    def end(self, token: str, code: str) -> dict[str, Any]:
        """A lead ends one of their organisation's invitations; its link then opens the ordinary form."""
        person, org = self._inviter(token)
        if person.get("access") != Access.LEAD:
            raise Forbidden("Only a lead of your organisation can end an invitation.")
        invitation = self._store.get_invitation(code) if is_code(code) else None
        if not invitation or invitation.get("organisation") != org:
            raise ValidationFailed(
                [{"field": "invitation", "message": "Choose one of your organisation's invitations"}], {}
            )
        if not invitation.get("ended_at"):
            self._store.end_invitation(code, clock.iso(), person["id"])
            logger.info("invitation ended", extra={"member_id": person["id"]})
        return self.view(self._store.get_invitation(code) or invitation)

    def view(self, invitation: dict[str, Any]) -> dict[str, Any]:
        """What members see of an invitation (never shown in public)."""
        code = invitation["code"]
        return {
            "code": code,
            "url": self.short_url(code),
            "service": invitation.get("service", ""),
            "service_name": invitation.get("service_name", ""),
            "campaign": invitation.get("campaign", ""),
            "tags": list(invitation.get("tags") or []),
            "expires_on": invitation.get("expires_on", ""),
            "created_at": invitation.get("created_at", ""),
            "created_by_name": invitation.get("created_by_name", ""),
            "ended_at": invitation.get("ended_at", ""),
            "state": state(invitation),
            "stories": int(invitation.get("stories") or 0),
        }

    def short_url(self, code: str) -> str:
        return f"{self._settings.site_url.rstrip('/')}/i/{code}"

    # ---- the public side: the short link -------------------------------------------------------

    def opened(self, code: str) -> dict[str, Any]:
        """What the form shows for a short link: the service and who asked, or a note. One GetItem;
        changes nothing (a GET). Never the invitation's maker, campaign or organisation's list."""
        invitation = self._store.get_invitation(code) if is_code(code) else None
        found = state(invitation)
        if invitation is None or found != "active":
            return {"state": found, "note": NOTES["ended" if found == "ended" else "unknown"]}
        return {
            "state": "active",
            "code": code,
            "service": invitation["service"],
            "asked": f"{invitation.get('service_name') or invitation['service']} asked for your story",
        }


def for_story(store: InvitingStore | Any, code: str | None) -> dict[str, Any] | None:
    """The invitation a story comes through, if it still works; else None (the story comes by the web)."""
    if not is_code(code):
        return None
    invitation = store.get_invitation(str(code))
    return invitation if state(invitation) == "active" else None
