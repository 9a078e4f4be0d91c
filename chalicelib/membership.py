"""Who may speak for an organisation: its sign-up policy, and every grant, change and removal of a
member's access, each recorded (who, when) in the organisation's private record.

Fail closed. Nothing is granted by a setting left empty: an address is let in by itself only at
one of the organisation's verified domains (or their sub-domains), and otherwise only once a lead
approves. An organisation with neither domains nor leads takes no sign-up at all. Responding in
public needs the responder grant, from a lead or from a domain on the list that grants it.

Sign-up (subscriptions.py) asks `policy` before it writes anything and `admit` once the person
has confirmed their address; the lead's page (organisations.py) calls the rest.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .core import clock, ids
from .core.errors import Conflict, ValidationFailed
from .core.status import Access, SubscriberStatus
from .views import join_list

if TYPE_CHECKING:
    from .core.settings import Settings
    from .store import MembershipStore, Subscriber


def allowed_domains(domains: Iterable[str]) -> list[str]:
    return [d.strip().lower().lstrip("@.") for d in domains if d and d.strip().lstrip("@.")]


def domain_allowed(email: str, allowed: Iterable[str]) -> bool:
    """An address at an allowed domain or at any sub-domain of one (ward.trust.nhs.uk under trust.nhs.uk)."""
    domain = email.rpartition("@")[2].strip().lower().rstrip(".")
    return any(domain == d or domain.endswith("." + d) for d in allowed)


@dataclass(frozen=True)
class Policy:
    """An organisation's rules for who joins it by themselves."""

    slug: str
    name: str
    domains: tuple[str, ...]
    responder_domains: tuple[str, ...]
    has_leads: bool

    def grant_for(self, email: str) -> Access | None:
        """The access an address earns by itself, or None (a lead must decide)."""
        if domain_allowed(email, self.responder_domains):
            return Access.RESPONDER
        if domain_allowed(email, self.domains):
            return Access.READER
        return None

    def refusal(self, email: str, moderators: str) -> dict[str, str] | None:
        """Why this sign-up cannot even become a request (a field and its message), or None.
        It depends on the organisation and the address's domain only, never on whether the address
        is known, so it tells a stranger nothing about who has signed up."""
        if self.grant_for(email) or self.has_leads:
            return None
        if self.domains:
            ends = join_list(list(self.domains), "or")
            return {"field": "email", "message": f"Use your work email address at {self.name}: one ending in {ends}"}
        return {
            "field": "organisation",
            "message": f"{self.name} has not set up sign-up for its staff yet. "
            f"To ask for it, email the FeedForward moderators at {moderators}",
        }


class Membership:
    def __init__(self, store: MembershipStore, settings: Settings):
        self._store = store
        self._settings = settings

    def policy(self, org: Mapping[str, Any]) -> Policy:
        """The organisation's domains (the directory's, and any the deployment adds) and whether it
        has a lead. Two GetItem-sized calls."""
        saved = self._store.get_organisation(org["slug"]) or {}
        domains = allowed_domains([*saved.get("domains", []), *self._settings.signup_domains.get(org["slug"], [])])
        responders = [d for d in allowed_domains(saved.get("responder_domains", [])) if domain_allowed(d, domains)]
        return Policy(
            slug=org["slug"],
            name=org.get("name", org["slug"]),
            domains=tuple(dict.fromkeys(domains)),
            responder_domains=tuple(responders),
            has_leads=bool(self._store.leads(org["slug"], limit=1)),
        )

    # ---- a confirmed sign-up -------------------------------------------------------------------

    def admit(self, subscriber: Subscriber, subscription: Mapping[str, Any]) -> str:
        """The person followed the link of a pending sign-up: let them in, ask their leads, or not.

        Returns the confirmation page's state: "done" (a member: the alerts are on), "requested"
        (the leads decide), "frozen", "refused", "other-organisation" (a member of another one,
        who cannot move by signing up) or "closed" (nobody can let them in any more)."""
        asked = dict(subscription.get("requested") or {})
        org = asked.get("organisation") or subscriber.get("organisation", "")
        status, access = subscriber.get("status"), subscriber.get("access")
        same_org = subscriber.get("organisation") == org
        if status == SubscriberStatus.FROZEN:
            return "frozen"
        if access and not same_org:
            return "other-organisation"
        if status == SubscriberStatus.REFUSED and same_org:
            return "refused"
        now = clock.iso()
        # The name and job title a sign-up typed reach the profile only the first time an address is
        # confirmed: a stranger's sign-up for a known address cannot rename its owner, even if the owner
        # confirms the alerts (issue 18). The owner changes them on their manage page.
        profile: dict[str, Any] = {"organisation": org}
        if not same_org:
            profile["organisation_name"] = asked.get("organisation_name", "")
        if not subscriber.get("confirmed_at"):
            profile |= {k: v for k, v in asked.items() if k in ("name", "display_name", "role", "organisation_name")}
            profile["confirmed_at"] = now
        if access:  # a member already, or one who unsubscribed and is back
            self._store.update_subscriber(subscriber["id"], profile | {"status": SubscriberStatus.ACTIVE})
            self._activate(subscriber["id"], [dict(subscription)], now)
            return "done"
        service = self._store.get_service(org)
        policy = self.policy(service or {"slug": org, "name": asked.get("organisation_name", org)})
        grant = policy.grant_for(subscriber["email"])
        if grant:
            domain = subscriber["email"].rpartition("@")[2].lower()
            self._store.update_subscriber(
                subscriber["id"],
                profile
                | {
                    "status": SubscriberStatus.ACTIVE,
                    "access": grant,
                    "granted_at": now,
                    "granted_by": f"a verified address at {domain}",
                },
            )
            self._record(org, subscriber, "granted", grant, by=f"verified domain {domain}")
            self._activate(subscriber["id"], [dict(subscription)], now)
            return "done"
        if policy.has_leads:
            if status != SubscriberStatus.REQUESTED or not same_org:
                self._store.update_subscriber(
                    subscriber["id"], profile | {"status": SubscriberStatus.REQUESTED, "requested_at": now}
                )
                self._record(org, subscriber, "requested", "", by="the person, by email")
            self._store.set_subscription_status(
                subscriber["id"], subscription["id"], SubscriberStatus.PENDING, {"address_confirmed_at": now}
            )
            return "requested"
        return "closed"

    # ---- a lead's decisions ---------------------------------------------------------------------

    def approve(self, member: Subscriber, access: Access, by: str) -> Subscriber:
        """A request (or an earlier refusal) approved: a member with this access, and the alerts
        they confirmed switched on."""
        if member.get("status") not in (SubscriberStatus.REQUESTED, SubscriberStatus.REFUSED):
            raise Conflict("That request has already been decided. Reload the page to see where it stands.")
        now = clock.iso()
        updated = self._store.update_subscriber(
            member["id"],
            {"status": SubscriberStatus.ACTIVE, "access": access, "granted_at": now, "granted_by": by},
        )
        pending = [
            s
            for s in self._store.subscriptions_of(member["id"])
            if s.get("status") == SubscriberStatus.PENDING and s.get("address_confirmed_at")
        ]
        self._activate(member["id"], pending, now)
        self._record(member.get("organisation", ""), member, "approved", access, by=by)
        return updated

    def refuse(self, member: Subscriber, by: str) -> Subscriber:
        if member.get("status") != SubscriberStatus.REQUESTED:
            raise Conflict("That request has already been decided. Reload the page to see where it stands.")
        updated = self._store.update_subscriber(member["id"], {"status": SubscriberStatus.REFUSED})
        self._record(member.get("organisation", ""), member, "refused", "", by=by)
        return updated

    def change_access(self, member: Subscriber, access: Access, by: str) -> Subscriber:
        if member.get("status") != SubscriberStatus.ACTIVE:
            raise ValidationFailed([{"field": "member", "message": "Only an active member's role can change"}], {})
        if member.get("access") == access:
            return member
        if member.get("access") == Access.LEAD:
            self._keep_a_lead(member)
        updated = self._store.update_subscriber(member["id"], {"access": access})
        self._record(member.get("organisation", ""), member, "changed", access, by=by, was=member.get("access", ""))
        return updated

    def freeze(self, member: Subscriber, by: str) -> Subscriber:
        """A leaver: from now on none of their links works and no alert reaches them. Their past
        responses stay public, attributed, as they were."""
        if member.get("status") != SubscriberStatus.ACTIVE:
            raise ValidationFailed([{"field": "member", "message": "Only an active member can be frozen"}], {})
        if member.get("access") == Access.LEAD:
            self._keep_a_lead(member)
        now = clock.iso()
        # The person first: their links stop before their alerts do.
        updated = self._store.update_subscriber(
            member["id"], {"status": SubscriberStatus.FROZEN, "frozen_at": now, "links_valid_after": now}
        )
        for sub in self._store.subscriptions_of(member["id"]):
            if sub.get("status") == SubscriberStatus.ACTIVE:
                self._store.set_subscription_status(member["id"], sub["id"], SubscriberStatus.PAUSED)
        self._record(member.get("organisation", ""), member, "frozen", member.get("access", ""), by=by)
        return updated

    def restore(self, member: Subscriber, by: str) -> Subscriber:
        """Undo a freeze. Their old links stay dead; new alerts bring new ones."""
        if member.get("status") != SubscriberStatus.FROZEN:
            raise ValidationFailed([{"field": "member", "message": "Only a frozen member can be restored"}], {})
        updated = self._store.update_subscriber(member["id"], {"status": SubscriberStatus.ACTIVE})
        for sub in self._store.subscriptions_of(member["id"]):
            if sub.get("status") == SubscriberStatus.PAUSED:
                self._store.set_subscription_status(member["id"], sub["id"], SubscriberStatus.ACTIVE)
        self._record(member.get("organisation", ""), member, "restored", member.get("access", ""), by=by)
        return updated

    def name_lead(self, org: Mapping[str, Any], email: str, by: str, name: str = "") -> str:
        """Make an address a lead of an organisation (the directory file, or a moderator): "created",
        "updated" or "unchanged". Vouched for, so no confirmation is asked."""
        now = clock.iso()
        person = self._store.find_subscriber(email)
        if person is None:
            profile = {
                "id": ids.new_id(),
                "email": email,
                "name": name or email.partition("@")[0],
                "display_name": name or email.partition("@")[0],
                "role": "Patient experience lead",
                "organisation": org["slug"],
                "organisation_name": org["name"],
                "status": SubscriberStatus.ACTIVE,
                "access": Access.LEAD,
                "created_at": now,
                "confirmed_at": now,
                "granted_at": now,
                "granted_by": by,
                "links_valid_after": "",
                "source": "named lead",
            }
            if self._store.create_subscriber(profile):
                self._record(org["slug"], profile, "granted", Access.LEAD, by=by)
                return "created"
            person = self._store.find_subscriber(email)
        assert person is not None
        if person.get("organisation") not in (None, "", org["slug"]) and person.get("access"):
            raise ValidationFailed(
                [
                    {
                        "field": "email",
                        "message": f"That address is a member of another organisation ({person.get('organisation_name', '')})",
                    }
                ],
                {},
            )
        if (
            person.get("access") == Access.LEAD
            and person.get("status") == SubscriberStatus.ACTIVE
            and person.get("organisation") == org["slug"]
        ):
            return "unchanged"
        self._store.update_subscriber(
            person["id"],
            {
                "organisation": org["slug"],
                "organisation_name": org["name"],
                "status": SubscriberStatus.ACTIVE,
                "access": Access.LEAD,
                "granted_at": now,
                "granted_by": by,
                "confirmed_at": person.get("confirmed_at") or now,
            },
        )
        self._record(org["slug"], person, "granted", Access.LEAD, by=by, was=person.get("access", ""))
        return "updated"

    def remove_lead(self, org: Mapping[str, Any], email: str, by: str) -> str:
        """A lead back to responder ("updated"), or "unchanged" if the address is not a lead here."""
        person = self._store.find_subscriber(email)
        if not person or person.get("organisation") != org["slug"] or person.get("access") != Access.LEAD:
            return "unchanged"
        self._store.update_subscriber(person["id"], {"access": Access.RESPONDER})
        self._record(org["slug"], person, "changed", Access.RESPONDER, by=by, was=Access.LEAD)
        return "updated"

    # ---- pieces ---------------------------------------------------------------------------------

    def _keep_a_lead(self, member: Mapping[str, Any]) -> None:
        others = [p for p in self._store.leads(member.get("organisation", ""), limit=2) if p["id"] != member["id"]]
        if not others:
            raise ValidationFailed(
                [
                    {
                        "field": "member",
                        "message": "An organisation needs at least one lead: make someone else a lead first",
                    }
                ],
                {},
            )

    def _activate(self, subscriber_id: str, subscriptions: Iterable[Mapping[str, Any]], now: str) -> None:
        for sub in subscriptions:
            if sub.get("status") == SubscriberStatus.PENDING:
                self._store.set_subscription_status(
                    subscriber_id, sub["id"], SubscriberStatus.ACTIVE, {"confirmed_at": now}
                )

    def _record(self, org: str, member: Mapping[str, Any], action: str, access: str, by: str, was: str = "") -> None:
        record_grant(self._store, org, member, action, access, by, was)


def record_grant(
    store: Any, org: str, member: Mapping[str, Any], action: str, access: str, by: str, was: str = ""
) -> None:
    """One grant, change or removal in the organisation's private record: who, what, by whom, when."""
    store.record_grant(org, clock.iso(), ids.new_id(), grant_entry(member, action, access, by, was))


def grant_entry(member: Mapping[str, Any], action: str, access: str, by: str, was: str = "") -> dict[str, str]:
    """What a grant record says (its time and reference are its key)."""
    return {
        "member_id": member.get("id", ""),
        "member_name": member.get("name", ""),
        "action": action,
        "access": str(access),
        "was": str(was),
        "by": by,
    }
