"""The lead's flow: asking for the "manage your organisation" link, the organisation's page, and
each decision on it (approve or refuse a request, change a member's role, freeze or restore a
leaver, upload members in bulk).

Every step takes the lead's emailed link. The link names its holder; the holder must still be an
active lead of the organisation the link was issued for, and every member acted on must belong to
it: a lead of one organisation can never touch another. The methods return data; the page is
built in the edge (edge/organisation.py).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from pydantic import EmailStr, TypeAdapter, ValidationError

from .core import clock, ids
from .core.errors import NotFound, ValidationFailed
from .core.observability import logger, metrics
from .core.status import ACCESS_NAMES, Access, SubscriberStatus
from .links import NOT_VALID
from .subscriptions import split_tags

if TYPE_CHECKING:
    from .core.settings import Settings
    from .links import Links
    from .membership import Membership
    from .store import MembershipStore, Subscriber
    from .subscriptions import Subscriptions

MEMBERS_PER_PAGE = 50
ACTIONS = ("approve", "refuse", "access", "freeze", "restore")
# How each group of people is listed, in this order.
GROUPS = (
    ("requested", "Asking to join"),
    ("active", "Members"),
    ("frozen", "Frozen"),
    ("refused", "Refused"),
)
LINK_REQUEST_KEEP_DAYS = 2


class Organisations:
    def __init__(
        self,
        store: MembershipStore,
        links: Links,
        settings: Settings,
        membership: Membership,
        subscriptions: Subscriptions,
    ):
        self._store = store
        self._links = links
        self._settings = settings
        self._membership = membership
        self._subscriptions = subscriptions

    # ---- the link -----------------------------------------------------------------------------

    def ask_for_link(self, data: dict[str, Any]) -> dict[str, str]:
        """Someone asks for a lead's link. The answer is the same whoever they are; only an active
        lead gets an email (through the stream: this path writes, it never sends)."""
        email = data.get("email")
        if not isinstance(email, str) or len(email) > 254 or not _an_address(email.strip()):
            raise ValidationFailed(
                [{"field": "email", "message": "Enter your work email address, like firstname.lastname@trust.nhs.uk"}],
                {"email": email if isinstance(email, str) else ""},
            )
        person = self._store.find_subscriber(email.strip())
        if person and person.get("status") == SubscriberStatus.ACTIVE and person.get("access") == Access.LEAD:
            expires = int((clock.now() + timedelta(days=LINK_REQUEST_KEEP_DAYS)).timestamp())
            self._store.put_link_request(
                ids.new_id(),
                {"subscriber_id": person["id"], "organisation": person["organisation"], "asked_at": clock.iso()},
                expires,
            )
            logger.info("organisation link asked for", extra={"subscriber_id": person["id"]})
        return {"status": "check-your-email"}

    def lead_of(self, token: str) -> tuple[Subscriber, str]:
        """(the lead, their organisation) behind a link, or the same refusal as any bad link."""
        link, lead, _ = self._links.resolve_holder(token, "organisation")
        org = link.get("organisation", "")
        if not lead or lead.get("access") != Access.LEAD or not org or lead.get("organisation") != org:
            raise NotFound(NOT_VALID)
        return lead, org

    def member_of(self, token: str) -> tuple[Subscriber, str, list[str]]:
        """(the member, their organisation, the services they follow) behind their "manage your
        alerts" link: only an active member with a grant sees reports, and only on those services
        and what is under them. Anyone else is refused as any bad link is."""
        link = self._links.resolve(token, "manage")
        person = self._store.get_subscriber(link.get("subscriber_id", ""))
        org = (person or {}).get("organisation", "")
        if not person or person.get("status") != SubscriberStatus.ACTIVE or not org:
            raise NotFound(NOT_VALID)
        if person.get("access") not in set(Access):
            raise NotFound(NOT_VALID)
        follows = {
            s["service"]
            for s in self._store.subscriptions_of(person["id"])
            if s.get("status") == SubscriberStatus.ACTIVE
        }
        return person, org, sorted(follows)

    # ---- the page (GET: changes nothing) ------------------------------------------------------------

    def page(self, token: str, page: int = 1) -> dict[str, Any]:
        """The organisation's members by group (requests first), one page of active members with their
        services, and the latest entries of its record of grants."""
        lead, org = self.lead_of(token)
        everyone = self._store.members(org)
        groups: dict[str, list[Subscriber]] = {key: [] for key, _ in GROUPS}
        for person in everyone:
            if person.get("status") in groups:
                groups[str(person["status"])].append(person)
        order: dict[str, int] = {Access.LEAD: 0, Access.RESPONDER: 1, Access.READER: 2}
        groups["active"].sort(key=lambda p: (order.get(p.get("access", ""), 3), p.get("name", "").lower()))
        pages = max(1, -(-len(groups["active"]) // MEMBERS_PER_PAGE))
        page = min(max(1, page), pages)
        shown = groups["active"][(page - 1) * MEMBERS_PER_PAGE : page * MEMBERS_PER_PAGE]
        listed = [*groups["requested"], *shown, *groups["frozen"], *groups["refused"]]
        services = {p["id"]: self._services_of(p) for p in listed}
        service = self._store.get_service(org) or {"name": lead.get("organisation_name", org)}
        return {
            "organisation": {"slug": org, "name": service["name"]},
            "lead": {"id": lead["id"], "name": lead.get("name", "")},
            "groups": [
                {
                    "key": key,
                    "title": title,
                    "count": len(groups[key]),
                    "people": [
                        _person(p, services.get(p["id"], [])) for p in (shown if key == "active" else groups[key])
                    ],
                }
                for key, title in GROUPS
            ],
            "page": page,
            "pages": pages,
            "record": self._store.grants(org, limit=20),
            "accesses": [{"value": a.value, "name": ACCESS_NAMES[a]} for a in Access],
        }

    def _services_of(self, person: Subscriber) -> list[str]:
        subs = self._store.subscriptions_of(person["id"])
        return sorted(
            {s.get("service_name") or s["service"] for s in subs if s.get("status") != SubscriberStatus.UNSUBSCRIBED}
        )

    # ---- a decision (POST) -----------------------------------------------------------------------

    def act(self, token: str, data: dict[str, Any]) -> str:
        """Apply one decision; returns which, so the page can say it was done. Bad input names its field."""
        lead, org = self.lead_of(token)
        action = _one(data, "action")
        if action not in ACTIONS:
            raise ValidationFailed([{"field": "action", "message": "Choose what to do"}], data)
        member = self._store.get_subscriber(_one(data, "member")) if _one(data, "member") else None
        if not member or member.get("organisation") != org:
            # Someone of another organisation answers like someone who does not exist.
            raise ValidationFailed([{"field": "member", "message": "That person is not in your organisation"}], data)
        by = f"{lead.get('name', '')} (lead)"
        if action in ("approve", "access"):
            access = _one(data, "access") or (Access.READER if action == "approve" else "")
            if access not in set(Access):
                raise ValidationFailed([{"field": "access", "message": "Choose reader, responder or lead"}], data)
            if action == "approve":
                self._membership.approve(member, Access(access), by)
            else:
                self._membership.change_access(member, Access(access), by)  # keeps at least one lead
        elif action == "refuse":
            self._membership.refuse(member, by)
        elif action == "freeze":
            if member["id"] == lead["id"]:
                raise ValidationFailed([{"field": "member", "message": "You cannot freeze yourself"}], data)
            self._membership.freeze(member, by)
        else:
            self._membership.restore(member, by)
        metrics.add_metric(name=f"Organisation{action.title()}", unit="Count", value=1)
        logger.info("organisation decision", extra={"action": action, "member_id": member["id"], "lead_id": lead["id"]})
        return action

    # ---- members in bulk -------------------------------------------------------------------------

    def upload(
        self,
        token: str,
        rows: Iterable[tuple[int, dict[str, Any]]],
        progress: Callable[[Iterable], Iterable] = lambda it: it,
    ) -> dict[str, Any]:
        """Members from a spreadsheet, as the lead vouches for them: every row checked first and each
        problem named (line, field, message); nothing is written unless all are good. The same file
        twice changes nothing. Each row's organisation is the lead's own."""
        lead, org = self.lead_of(token)
        service = self._store.get_service(org) or {}
        rows = [(line, _member_row(row, org)) for line, row in rows]
        report = self._subscriptions.bulk_load(
            rows, progress, only_organisation=org, by=f"{lead.get('name', '')} (lead), by upload"
        )
        report["organisation"] = service.get("name", org)
        return report


_ADDRESS = TypeAdapter(EmailStr)


def _an_address(text: str) -> bool:
    """The same test of an address as the sign-up's (pydantic's EmailStr)."""
    try:
        _ADDRESS.validate_python(text)
    except ValidationError:
        return False
    return True


def _member_row(row: dict[str, Any], org: str) -> dict[str, Any]:
    """A spreadsheet's row as a sign-up's fields: tags typed with commas, the lead's organisation."""
    row = {**row, "organisation": row.get("organisation") or org}
    if isinstance(row.get("tags"), str):
        row["tags"] = split_tags([row["tags"]])
    return row


def _one(data: dict[str, Any], name: str) -> str:
    value = data.get(name, "")
    if isinstance(value, list):
        value = value[-1] if value else ""
    return str(value).strip() if value is not None else ""


def _person(p: Subscriber, services: list[str]) -> dict[str, Any]:
    """What the lead sees of one person: never anything about an author."""
    return {
        "id": p["id"],
        "name": p.get("name", ""),
        "display_name": p.get("display_name", ""),
        "role": p.get("role", ""),
        "email": p.get("email", ""),
        "status": p.get("status", ""),
        "access": p.get("access", ""),
        "access_name": ACCESS_NAMES.get(p.get("access", ""), ""),
        "services": services,
        "last_active_at": p.get("last_active_at", ""),
        "requested_at": p.get("requested_at", ""),
        "frozen_at": p.get("frozen_at", ""),
    }
