"""A lead registers their organisation's sources themselves (issue 21), from their emailed "manage your
organisation" link: lists them, adds one, changes its address, licence or mapping, removes it, and runs an
import now.

Fail closed. Every step takes the lead's link (organisations.lead_of: still an active lead of the
organisation it was issued for), and a source is always of that organisation: one of another is answered
as one that does not exist. A source's fields are checked as the admin command's are (importer.SourceSpec,
each refusal naming its field), and its address must be a public http(s) one (core/addresses.py: a
stranger-typed address must not reach internal services). A lead may say a source is licensed for
republication, and who said so and when is kept on it (`licensed_by`, `licensed_at`), as that is what
puts its stories on the public site; only an admin may mark a source as moderated already, since that
would publish its items with no moderator here at all.

The methods return data; the edge renders it. An import run now writes stories like any run: the
stream does the rest (moderation queue, alerts, pages), never this request.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from .core import clock
from .core.addresses import address_problem
from .core.errors import NotFound, ValidationFailed, invalid
from .core.observability import logger, metrics
from .importer import LABELS, SourceSpec

if TYPE_CHECKING:
    from .importer import Importer
    from .organisations import Organisations
    from .store import ImportStore

# What a lead may set; `organisation` is their link's, `moderated` an admin's alone.
EDITABLE = ("name", "kind", "location", "service", "mapping", "licensed", "role")
# A run started from the page is bounded tighter than the command's, to answer within a request.
RUN_NOW = 100
NOT_YOURS = "There is no such source of your organisation."


class LeadSources:
    def __init__(self, store: ImportStore, importer: Importer, organisations: Organisations, allow_local: bool):
        self._store = store
        self._importer = importer
        self._organisations = organisations
        self._allow_local = allow_local

    def sources(self, token: str) -> dict[str, Any]:
        """The lead's organisation's sources (GET: changes nothing)."""
        _, org = self._organisations.lead_of(token)
        return {"organisation": org, "sources": [view(s) for s in self._store.sources_of(org)]}

    def add(self, token: str, data: Any) -> dict[str, Any]:
        lead, org = self._organisations.lead_of(token)
        body = _body(data, allowed=("slug", *EDITABLE))
        self._check_location(body)
        extra = _licence(lead, bool(body.get("licensed")), False)
        source = self._importer.add_source(body | {"organisation": org}, extra=extra)
        logger.info("source added by a lead", extra={"lead_id": lead["id"], "source": source["slug"]})
        metrics.add_metric(name="SourceAdded", unit="Count", value=1)
        return view(source)

    def edit(self, token: str, slug: str, data: Any) -> dict[str, Any]:
        """Change some of a source's fields; the whole is checked again as when it was added."""
        lead, org = self._organisations.lead_of(token)
        current = self._own(org, slug)
        body = _body(data, allowed=EDITABLE)
        self._check_location(body)
        merged = {k: current[k] for k in ("slug", "organisation", *EDITABLE, "moderated") if k in current} | body
        try:
            spec = SourceSpec.model_validate(merged)
        except ValidationError as e:
            raise invalid(e, LABELS, body) from e
        self._importer.check_service(spec)
        changes = {k: v for k, v in spec.model_dump(mode="json").items() if k in body}
        if "licensed" in body:
            changes |= _licence(lead, spec.licensed, bool(current.get("licensed")), current)
        if changes and not self._store.update_source(slug, org, changes):
            raise NotFound(NOT_YOURS)
        logger.info(
            "source changed by a lead", extra={"lead_id": lead["id"], "source": slug, "fields": sorted(changes)}
        )
        return view(current | changes)

    def remove(self, token: str, slug: str) -> None:
        """Its stories stay; its slug stays taken (store.delete_source says why)."""
        lead, org = self._organisations.lead_of(token)
        if not self._store.delete_source(slug, org, clock.iso()):
            raise NotFound(NOT_YOURS)
        logger.info("source removed by a lead", extra={"lead_id": lead["id"], "source": slug})

    def run(self, token: str, slug: str) -> dict[str, Any]:
        """Import now: at most RUN_NOW items, from where the last run stopped; the summary."""
        lead, org = self._organisations.lead_of(token)
        self._own(org, slug)
        summary = self._importer.run(slug, max_items=RUN_NOW)
        logger.info("source run by a lead", extra={"lead_id": lead["id"], "source": slug})
        return summary.as_dict()

    def check(self, token: str) -> None:
        """The link first: a bad one is refused as every bad link is, whatever the body holds."""
        self._organisations.lead_of(token)

    def act(self, token: str, slug: str, data: Any) -> dict[str, Any]:
        """One step on one source, named by `action`: change (its other fields), remove, or run (import now)."""
        self.check(token)
        body = dict(data) if isinstance(data, dict) else {}
        action = body.pop("action", None)
        if action == "change":
            return {"done": "changed", "source": self.edit(token, slug, body)}
        if action == "remove" and not body:
            self.remove(token, slug)
            return {"done": "removed"}
        if action == "run" and not body:
            return {"done": "run", "summary": self.run(token, slug)}
        raise ValidationFailed([{"field": "action", "message": "Choose change, remove or run"}], body)

    def _own(self, org: str, slug: str) -> dict[str, Any]:
        source = self._store.get_source(slug) if isinstance(slug, str) and slug else None
        if not source or source.get("organisation") != org or source.get("removed_at"):
            raise NotFound(NOT_YOURS)
        return source

    def _check_location(self, body: dict[str, Any]) -> None:
        if "location" in body:
            problem = address_problem(str(body["location"]).strip(), bool(self._allow_local))
            if problem:
                raise ValidationFailed([{"field": "location", "message": f"The address {problem}"}], body)


def _body(data: Any, allowed: tuple[str, ...]) -> dict[str, Any]:
    """A JSON object of the fields a lead may set: any other is refused by its name."""
    if not isinstance(data, dict):
        raise ValidationFailed([{"field": "body", "message": "Send a JSON object"}])
    others = sorted(k for k in data if k not in allowed)
    if others:
        message = (
            "Only an admin may mark a source as moderated already"
            if others[0] == "moderated"
            else "Not a field you may set"
        )
        raise ValidationFailed([{"field": str(others[0]), "message": message}], data)
    return dict(data)


def _licence(lead: Mapping[str, Any], now: bool, was: bool, current: dict[str, Any] | None = None) -> dict[str, Any]:
    """Who said a source may be republished, and when: kept while it stays licensed, cleared when it stops."""
    if now and was and current is not None:
        return {"licensed_by": current.get("licensed_by", ""), "licensed_at": current.get("licensed_at", "")}
    if now:
        return {"licensed_by": f"{lead.get('name', '')} ({lead['id']})".strip(), "licensed_at": clock.iso()}
    return {"licensed_by": "", "licensed_at": ""}


def view(source: dict[str, Any]) -> dict[str, Any]:
    """What a lead sees of a source (never its items, nor anything of the stories' authors)."""
    keys = ("slug", "name", "kind", "location", "service", "mapping", "licensed", "licensed_by", "licensed_at")
    return {k: source.get(k, "") for k in keys} | {
        "moderated": bool(source.get("moderated")),
        "role": source.get("role", "other"),
        "last_run_at": source.get("last_run_at", ""),
    }
