"""Staff subscriptions: signing up (double opt-in), confirming, managing, unsubscribing, bulk loading.

A member of staff asks for alerts about a subtree of the directory (a trust, a hospital, a ward),
optionally narrowed by tags and a minimum criticality, as they happen or as a daily digest.

Request handlers here only validate and write state. The confirmation email follows from the
stream: a pending subscription's INSERT becomes a "subscription_confirm" mail job, written by
mail/letters/subscription.py. A GET on any emailed link changes nothing; each action is a POST.
The methods return data; the pages are built from it in the edge (edge/staff.py).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from .core import clock, ids
from .core.errors import NotFound, ValidationFailed, pydantic_fields
from .core.models import SubscriptionRequest, clean_line
from .core.observability import logger, metrics
from .core.status import Access, SubscriberStatus
from .links import NOT_VALID
from .store import MEMBERS_PER_TRANSACTION
from .subscription_rows import load_row, new_member, settings_key, subscription_settings
from .views import FREQUENCY_WORDS, subscription_view
from .views.links import manage_url

if TYPE_CHECKING:
    from .core.settings import Settings
    from .links import Links
    from .membership import Membership
    from .store import Subscriber, Subscription, SubscriptionStore

LABELS = {
    "name": "your full name",
    "display_name": "the name to show",
    "role": "your job title",
    "organisation": "your organisation",
    "email": "your work email address",
    "service": "the services you want to hear about",
    "tags": "tags",
    "min_criticality": "which stories you want",
    "frequency": "how often",
    "website": "this field",
}
# Words for mistakes a person makes in a select, a radio or an address (pydantic's are for developers).
CHOICE_MESSAGES = {
    "organisation": "Choose your organisation",
    "service": "Choose the services you want to hear about",
    "tags": "Write up to 10 subjects in letters and numbers, separated by commas, for example Waiting times, Discharge",
    "min_criticality": "Choose which stories you want to hear about",
    "frequency": "Choose how often you want to hear from us",
    "email": "Enter your work email address, like firstname.lastname@trust.nhs.uk",
}
_TAG_SPLIT = re.compile(r"[,;\n]+")
# Why a vouched-for row was left alone.
SKIPPED: dict[str, str] = {
    SubscriberStatus.UNSUBSCRIBED: "This person unsubscribed themselves, so they were left alone. "
    "They can sign up again on the site.",
    SubscriberStatus.FROZEN: "This person is frozen (a leaver), so they were left alone. Restore them first.",
    "other-organisation": "This address belongs to a member of another organisation, so it was left alone.",
}
# A confirmed sign-up that is not on yet: what the person's own status says about it.
WAITING: dict[str, str] = {
    SubscriberStatus.REQUESTED: "requested",
    SubscriberStatus.REFUSED: "refused",
    SubscriberStatus.FROZEN: "frozen",
}


# ---- tags as typed ---------------------------------------------------------------------------------


def split_tags(values: Iterable[str]) -> list[str]:
    """Tags as typed ("Waiting times, discharge") as the directory's tags (waiting-times, discharge)."""
    out: list[str] = []
    for value in values:
        for part in _TAG_SPLIT.split(str(value)):
            tag = "-".join(part.strip().lower().split())
            if tag and tag not in out:
                out.append(tag)
    return out


def tags_as_written(data: dict[str, Any]) -> dict[str, Any]:
    """A sign-up with its subjects as people write them ("Waiting times") made the directory's tags,
    from a program or a file as from the form; anything else is left for the model to refuse."""
    tags = data.get("tags") if isinstance(data, dict) else None
    if isinstance(tags, str) or (isinstance(tags, list) and all(isinstance(t, str) for t in tags)):
        return {**data, "tags": split_tags([tags] if isinstance(tags, str) else tags)}
    return data


# ---- the manage page's one form that has free text -----------------------------------------------


class ProfileChange(BaseModel):
    model_config = ConfigDict(extra="ignore", defer_build=True)

    display_name: str = Field(default="", max_length=80)
    role: str = Field(min_length=2, max_length=80)

    @field_validator("display_name", "role", mode="before")
    @classmethod
    def _line(cls, v):
        return clean_line(v) if isinstance(v, str) else v


def _first(data: dict[str, Any], name: str) -> str:
    value = data.get(name, "")
    if isinstance(value, list):
        value = value[-1] if value else ""
    return str(value) if value is not None else ""


# ---- the flow ---------------------------------------------------------------------------------------


class Subscriptions:
    def __init__(self, store: SubscriptionStore, links: Links, settings: Settings, membership: Membership):
        self._store = store
        self._links = links
        self._settings = settings
        self._membership = membership

    # ---- signing up --------------------------------------------------------------------------

    def validate(
        self,
        data: dict[str, Any],
        restrict_domains: bool = True,
        services: Callable[[list[str]], dict[str, dict[str, Any]]] | None = None,
    ) -> tuple[SubscriptionRequest, dict[str, Any], dict[str, Any]]:
        """(the request, its organisation, its service), or ValidationFailed naming each field."""
        data = tags_as_written(data)
        try:
            req = SubscriptionRequest.model_validate(data)
        except ValidationError as e:
            raise ValidationFailed(_named(pydantic_fields(e, LABELS)), data) from e
        found = (services or self._store.get_services)([req.organisation, req.service])
        org, svc = found.get(req.organisation), found.get(req.service)
        fields: list[dict[str, str]] = []
        if not org or org.get("parent"):
            fields.append({"field": "organisation", "message": "Choose your organisation from the list"})
        if not svc:
            fields.append({"field": "service", "message": "We do not know that service. Choose one from the list"})
        elif org and not org.get("parent") and svc["path"][0] != org["slug"]:
            fields.append(
                {"field": "service", "message": f"Choose a service within {org['name']}, or change your organisation"}
            )
        if fields:
            raise ValidationFailed(fields, data)
        assert org and svc  # the checks above name each one not found
        if restrict_domains:
            refusal = self._membership.policy(org).refusal(str(req.email), self._settings.moderators_email)
            if refusal:
                raise ValidationFailed([refusal], data)
        return req, org, svc

    def sign_up(self, data: dict[str, Any]) -> dict[str, Any]:
        """Ask for alerts. The answer is the same whoever the address belongs to: the confirmation
        email (or nothing, if these exact alerts are already on) is the only difference."""
        req, org, svc = self.validate(data)
        now = clock.iso()
        requested = {
            "name": req.name,
            "display_name": req.display_name or req.name,
            "role": req.role,
            "organisation": org["slug"],
            "organisation_name": org["name"],
        }
        # The stored profile, or the one just written (a plain dict, as asked).
        subscriber: Mapping[str, Any] | None = self._store.find_subscriber(str(req.email))
        if subscriber is None:
            profile = {
                "id": ids.new_id(),
                "email": str(req.email),
                **requested,
                "status": SubscriberStatus.PENDING,
                "created_at": now,
                "confirmed_at": "",
                "links_valid_after": "",
            }
            subscriber = (
                profile if self._store.create_subscriber(profile) else self._store.find_subscriber(str(req.email))
            )
        if subscriber is None:  # pragma: no cover - the address was taken and removed in between
            raise ValidationFailed([{"field": "email", "message": "Please try again in a moment"}], data)
        wanted = settings_key(req.service, req.tags, req.min_criticality, req.frequency.value)
        if subscriber.get("status") == SubscriberStatus.ACTIVE and any(
            s.get("status") == SubscriberStatus.ACTIVE
            and settings_key(s["service"], s.get("tags", []), s.get("min_criticality", 0), s.get("frequency", ""))
            == wanted
            for s in self._store.subscriptions_of(subscriber["id"])
        ):
            logger.info("sign-up for alerts already on", extra={"subscriber_id": subscriber["id"]})
            return {"status": "check-your-email"}
        sub = {
            "id": ids.new_id(),
            "subscriber_id": subscriber["id"],
            **subscription_settings(req, svc),
            "status": SubscriberStatus.PENDING,
            "created_at": now,
            "source": "sign-up",
            # Who asked, applied to the profile only once the address's owner confirms.
            "requested": requested,
        }
        self._store.put_subscription(sub)
        metrics.add_metric(name="SubscriptionsRequested", unit="Count", value=1)
        logger.info(
            "subscription requested",
            extra={"subscriber_id": subscriber["id"], "subscription_id": sub["id"], "service_slug": svc["slug"]},
        )
        return {"status": "check-your-email"}

    # ---- confirming (double opt-in) --------------------------------------------------------------

    def _confirmation(self, token: str) -> tuple[dict[str, Any], Subscriber, Subscription]:
        found = self._links.resolve(token, "confirm")
        subscriber = self._store.get_subscriber(found.get("subscriber_id", ""))
        sub = (
            self._store.get_subscription(found.get("subscriber_id", ""), found.get("subscription_id", ""))
            if subscriber and subscriber.get("status") != SubscriberStatus.FROZEN  # a leaver's links all stop
            else None
        )
        if not subscriber or not sub:
            raise NotFound(NOT_VALID)
        return found, subscriber, sub

    def confirmation(self, token: str) -> dict[str, Any]:
        """What confirming would switch on (`state` "ask"), or where it stands already.
        Changes nothing (mail scanners fetch links)."""
        _, subscriber, sub = self._confirmation(token)
        state = "ask"
        if sub["status"] == SubscriberStatus.ACTIVE:
            state = "already"
        elif sub["status"] != SubscriberStatus.PENDING:
            state = "stopped"
        elif sub.get("address_confirmed_at"):
            state = WAITING.get(subscriber.get("status", ""), "ask")
        return self._confirmed(subscriber, sub, state, manage="")

    def confirm(self, token: str) -> dict[str, Any]:
        """The person confirms their address: the alerts go on if they are (or now become) a member
        of the organisation; otherwise its leads are asked (membership.py). Confirming twice is harmless."""
        _, subscriber, sub = self._confirmation(token)
        if sub["status"] in (SubscriberStatus.UNSUBSCRIBED, SubscriberStatus.PAUSED):
            return self._confirmed(subscriber, sub, "stopped", manage="")
        state = "already" if sub["status"] == SubscriberStatus.ACTIVE else "done"
        if sub["status"] == SubscriberStatus.PENDING:
            state = self._membership.admit(subscriber, sub)
            subscriber = self._store.get_subscriber(subscriber["id"]) or subscriber
            sub = self._store.get_subscription(subscriber["id"], sub["id"]) or sub
            if state == "done":
                metrics.add_metric(name="SubscriptionsConfirmed", unit="Count", value=1)
            logger.info(
                "subscription confirmed",
                extra={"subscriber_id": subscriber["id"], "subscription_id": sub["id"], "outcome": state},
            )
        manage = (
            manage_url(self._links, self._settings, subscriber["id"])
            if subscriber.get("status") == SubscriberStatus.ACTIVE
            else ""
        )
        return self._confirmed(subscriber, sub, state, manage=manage)

    def _confirmed(
        self, subscriber: Mapping[str, Any], sub: Mapping[str, Any], state: str, manage: str
    ) -> dict[str, Any]:
        """The confirmation page's data: the state, who asked (as asked, until it is confirmed), for what."""
        person = dict(sub.get("requested") or {}) if state == "ask" else {}
        person = {
            k: person.get(k) or subscriber.get(k, "") for k in ("name", "display_name", "role", "organisation_name")
        }
        return {
            "state": state,
            "person": person,
            "subscription": subscription_view(sub, self._store.get_service(sub.get("service", ""))),
            "manage_url": manage,
        }

    # ---- unsubscribing (RFC 8058 one-click) ----------------------------------------------------------

    def _holder(self, token: str, purpose: str) -> Subscriber:
        found = self._links.resolve(token, purpose)
        subscriber = self._store.get_subscriber(found.get("subscriber_id", ""))
        if not subscriber or subscriber.get("status") == SubscriberStatus.FROZEN:
            raise NotFound(NOT_VALID)  # a leaver's links answer like links that never were
        return subscriber

    def unsubscribed(self, token: str) -> str:
        """ "done" if this person has stopped every alert already, else "ask". Changes nothing."""
        subscriber = self._holder(token, "unsubscribe")
        return "done" if subscriber.get("status") == SubscriberStatus.UNSUBSCRIBED else "ask"

    def unsubscribe(self, token: str) -> str:
        """Stop every alert to this person and revoke their read-and-respond links. Idempotent."""
        subscriber = self._holder(token, "unsubscribe")
        self.stop_everything(subscriber)
        return "done"

    def stop_everything(self, subscriber: Mapping[str, Any]) -> None:
        now = clock.iso()
        if subscriber.get("status") != SubscriberStatus.UNSUBSCRIBED:
            # The person first: from here on their respond links no longer resolve.
            self._store.update_subscriber(
                subscriber["id"],
                {"status": SubscriberStatus.UNSUBSCRIBED, "links_valid_after": now, "unsubscribed_at": now},
            )
            metrics.add_metric(name="Unsubscribed", unit="Count", value=1)
            logger.info("unsubscribed", extra={"subscriber_id": subscriber["id"]})
        for sub in self._store.subscriptions_of(subscriber["id"]):
            if sub.get("status") != SubscriberStatus.UNSUBSCRIBED:
                self._store.set_subscription_status(
                    subscriber["id"], sub["id"], SubscriberStatus.UNSUBSCRIBED, {"stopped_at": now}
                )

    # ---- managing ------------------------------------------------------------------------------------

    def alerts(self, token: str) -> dict[str, Any]:
        """The person (as shown, and their profile as saved) and their alerts, on first, stopped last.
        Changes nothing."""
        subscriber = self._holder(token, "manage")
        subs = self._store.subscriptions_of(subscriber["id"])
        services = self._store.get_services({s["service"] for s in subs}) if subs else {}
        order: dict[str, int] = {
            SubscriberStatus.ACTIVE: 0,
            SubscriberStatus.PENDING: 1,
            SubscriberStatus.UNSUBSCRIBED: 2,
        }
        subs.sort(key=lambda s: (order.get(s.get("status", ""), 3), s.get("created_at", "")))
        return {
            "person": {
                "name": subscriber.get("name", ""),
                "display_name": subscriber.get("display_name") or subscriber.get("name", ""),
                "role": subscriber.get("role", ""),
                "organisation_name": subscriber.get("organisation_name", ""),
                "status": subscriber.get("status", ""),
                # Only someone a lead or a verified domain let in sees reports (reports.member_report).
                "member": subscriber.get("status") == SubscriberStatus.ACTIVE
                and subscriber.get("access") in set(Access),
            },
            "profile": {"display_name": subscriber.get("display_name", ""), "role": subscriber.get("role", "")},
            "subscriptions": [subscription_view(s, services.get(s["service"])) for s in subs],
        }

    def manage(self, token: str, data: dict[str, Any]) -> str:
        """Apply one action from the manage page; returns what was done ("frequency", "stopped",
        "profile", "stopped-all"), which names the notice to show. Bad input names its field."""
        subscriber = self._holder(token, "manage")
        action = _first(data, "action")
        if action == "profile":
            try:
                change = ProfileChange.model_validate(
                    {k: _first(data, k) for k in ("display_name", "role") if k in data}
                )
            except ValidationError as e:
                raise ValidationFailed(
                    pydantic_fields(e, {"display_name": "the name to show", "role": "your job title"}), data
                ) from e
            self._store.update_subscriber(
                subscriber["id"],
                {"display_name": change.display_name or subscriber.get("name", ""), "role": change.role},
            )
            return "profile"
        if action == "stop_all":
            self.stop_everything(subscriber)
            return "stopped-all"
        if action not in ("frequency", "stop"):
            raise ValidationFailed([{"field": "action", "message": "Choose what to change"}], data)
        sub = (
            self._store.get_subscription(subscriber["id"], _first(data, "subscription"))
            if _first(data, "subscription")
            else None
        )
        if not sub or sub.get("status") == SubscriberStatus.UNSUBSCRIBED:
            raise ValidationFailed(
                [{"field": "subscription", "message": "Those alerts are already stopped, or are not yours"}], data
            )
        if action == "stop":
            self._store.set_subscription_status(
                subscriber["id"], sub["id"], SubscriberStatus.UNSUBSCRIBED, {"stopped_at": clock.iso()}
            )
            return "stopped"
        frequency = _first(data, "frequency")
        if frequency not in FREQUENCY_WORDS:
            raise ValidationFailed([{"field": "frequency", "message": CHOICE_MESSAGES["frequency"]}], data)
        self._store.set_subscription_status(subscriber["id"], sub["id"], sub["status"], {"frequency": frequency})
        return "frequency"

    # ---- bulk loading (admins, as from the console) -----------------------------------------------

    def bulk_load(
        self,
        rows: Iterable[tuple[int, dict[str, Any]]],
        progress: Callable[[Iterable], Iterable] = lambda it: it,
        *,
        only_organisation: str = "",
        by: str = "an admin's bulk load",
    ) -> dict[str, Any]:
        """Load rows of (line, fields) as ACTIVE members and subscriptions: an admin, or a lead for
        their own organisation (`only_organisation`), vouches for them. A row's `access` (reader,
        responder or lead; reader if blank) is granted and recorded.

        Every row is checked first; if any is bad, nothing is written and each problem is reported
        with its line and field. Loading the same rows again changes nothing. Someone who has
        unsubscribed is skipped (it was their choice); they can sign up again themselves.
        """
        rows = list(rows)
        known: dict[str, dict[str, Any] | None] = {}

        def services(slugs: list[str]) -> dict[str, dict[str, Any]]:
            missing = [s for s in slugs if s not in known]
            if missing:
                found = self._store.get_services(missing)
                known.update({s: found.get(s) for s in missing})
            return {s: svc for s in slugs if (svc := known.get(s))}

        report: dict[str, Any] = {"created": 0, "updated": 0, "unchanged": 0, "skipped": 0, "errors": [], "notes": []}
        checked = []
        for line, row in rows:
            row = dict(row)
            access = str(row.pop("access", "") or Access.READER).strip().lower()
            problems = []
            if access not in set(Access):
                problems.append({"field": "access", "message": "Write reader, responder or lead"})
            try:
                req, org, svc = self.validate(row, restrict_domains=False, services=services)
                if only_organisation and org["slug"] != only_organisation:
                    problems.append({"field": "organisation", "message": "Only members of your own organisation"})
                checked.append((line, req, org, svc, Access(access) if not problems else Access.READER))
            except ValidationFailed as e:
                problems += e.fields
            report["errors"] += [{"line": line, "field": f["field"], "message": f["message"]} for f in problems]
        if report["errors"]:
            return report

        def count(line: int, outcome_and_why: str) -> None:
            outcome, _, why = outcome_and_why.partition(":")
            report[outcome] += 1
            if outcome == "skipped":
                report["notes"].append({"line": line, "field": "email", "message": SKIPPED[why]})

        # People the table does not know yet are written MEMBERS_PER_TRANSACTION at a time; anyone
        # known, or met again further down the file, goes through load_row, which compares.
        on_file = {a.lower() for a in self._store.known_addresses(str(c[1].email) for c in checked)}
        batch: list[tuple[int, tuple[SubscriptionRequest, dict[str, Any], dict[str, Any], Access]]] = []
        waiting: set[str] = set()  # the addresses in the batch

        def flush() -> None:
            if not batch:
                return
            members = [new_member(*row, by) for _, row in batch]
            if self._store.create_members(members):
                report["created"] += len(batch)
            else:  # an address was taken meanwhile: compare row by row
                for line, row in batch:
                    count(line, load_row(self._store, *row, by))
            on_file.update(waiting)
            batch.clear()
            waiting.clear()

        for line, req, org, svc, access in progress(checked):
            address = str(req.email).lower()
            if address not in on_file and address not in waiting:
                batch.append((line, (req, org, svc, access)))
                waiting.add(address)
                if len(batch) == MEMBERS_PER_TRANSACTION:
                    flush()
                continue
            if address in waiting:  # their first row must be written before this one is compared with it
                flush()
            count(line, load_row(self._store, req, org, svc, access, by))
        flush()
        logger.info("subscriptions loaded", extra={f"rows_{k}": v for k, v in report.items() if isinstance(v, int)})
        return report


def _named(fields: list[dict[str, str]]) -> list[dict[str, str]]:
    """pydantic's field errors, with plain words for choices and the address."""
    return [
        {"field": f["field"], "message": CHOICE_MESSAGES[f["field"]]} if f["field"] in CHOICE_MESSAGES else f
        for f in fields
    ]
