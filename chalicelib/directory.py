"""The service directory: loading the tree, and finding services by words in their names."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from .core.calendar import CALENDARS
from .core.errors import BadRequest
from .core.models import Service
from .store import MIN_PREFIX, words

if TYPE_CHECKING:
    from .store import DirectoryFileStore

MAX_RESULTS = 10
CANDIDATES = 100
MAX_RESPONSE_DAYS = 60  # working days: about three months


def flatten(tree: Iterable[dict[str, Any]], parent: dict[str, Any] | None = None) -> list[dict[str, Any]]:
    """A nested directory file as a list of service items, parents before children."""
    out: list[dict[str, Any]] = []
    for node in tree:
        path = (parent["path"] if parent else []) + [node["slug"]]
        trail = (parent["trail"] + [{"slug": parent["slug"], "name": parent["name"]}]) if parent else []
        try:
            svc = Service(
                slug=node["slug"],
                name=node["name"],
                kind=node["kind"],
                parent=parent["slug"] if parent else None,
                path=path,
            )
        except (ValidationError, KeyError) as e:
            raise ValueError(f"Service {node.get('slug', '?')!r} is not valid: {e}") from e
        item = svc.model_dump() | {"trail": trail}
        # The response promise (working days to a first reply): the node's own, else its nearest ancestor's.
        days = node.get("response_days", parent.get("response_days") if parent else None)
        if days is not None:
            if isinstance(days, bool) or not isinstance(days, int) or not 1 <= days <= MAX_RESPONSE_DAYS:
                raise ValueError(
                    f"Service {node['slug']!r}: response_days must be a whole number from 1 to {MAX_RESPONSE_DAYS}."
                )
            item["response_days"] = days
        # Whose bank holidays its working days skip (core/calendar.py), inherited the same way.
        calendar = node.get("holidays", parent.get("holidays") if parent else None)
        if calendar is not None:
            if calendar not in CALENDARS:
                raise ValueError(f"Service {node['slug']!r}: holidays must be one of {', '.join(CALENDARS)}.")
            item["holidays"] = calendar
        out.append(item)
        out.extend(flatten(node.get("children", []), item))
    return out


_DOMAIN = re.compile(r"^(?=.{3,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$")
_EMAIL = re.compile(r"^[^@\s]{1,64}@[^@\s]{3,253}$")


def organisation_settings(node: dict[str, Any]) -> dict[str, Any]:
    """A top-level node's private settings: its verified domains, those that grant responder, and
    its named leads (addresses). Never part of a service item, so never public."""
    out: dict[str, Any] = {}
    for key in ("domains", "responder_domains"):
        values = node.get(key, [])
        if not isinstance(values, list) or not all(isinstance(v, str) and _DOMAIN.match(v.lower()) for v in values):
            raise ValueError(f"Organisation {node['slug']!r}: {key} must be a list of domains, like trust.nhs.uk.")
        out[key] = sorted({v.lower() for v in values})
    stray = [d for d in out["responder_domains"] if not any(d == x or d.endswith("." + x) for x in out["domains"])]
    if stray:
        raise ValueError(f"Organisation {node['slug']!r}: responder_domains must be among its domains: {stray}.")
    leads = node.get("leads", [])
    if not isinstance(leads, list) or not all(isinstance(v, str) and _EMAIL.match(v) for v in leads):
        raise ValueError(f"Organisation {node['slug']!r}: leads must be a list of email addresses.")
    out["leads"] = [v.strip().lower() for v in leads]
    return out


class Directory:
    def __init__(self, store: DirectoryFileStore):
        self._store = store

    def load(
        self, tree: list[dict[str, Any]], progress: Callable[[Iterable], Iterable] = lambda x: x
    ) -> dict[str, int]:
        """Create or update every node. Loading the same file twice changes nothing."""
        items = flatten(tree)
        slugs = [i["slug"] for i in items]
        dupes = {s for s in slugs if slugs.count(s) > 1}
        if dupes:
            raise ValueError(f"Slugs must be unique; repeated: {', '.join(sorted(dupes))}")
        organisations = {node["slug"]: organisation_settings(node) for node in tree}
        counts = {"created": 0, "updated": 0, "unchanged": 0}
        for item in progress(items):
            counts[self._store.put_service(item)] += 1
        for slug, settings in organisations.items():
            # Domains only: the leads become members (membership.name_lead), not settings.
            self._store.put_organisation(slug, {k: v for k, v in settings.items() if k != "leads"})
        return counts

    def search(self, q: str) -> list[dict[str, Any]]:
        if len(q) > 100:
            raise BadRequest("q must be 100 characters or fewer.")
        terms = words(q)
        if not terms or max(len(t) for t in terms) < MIN_PREFIX:
            return []
        hits = self._store.search_services(terms, CANDIDATES)
        matching = []
        for hit in hits:
            haystack = words(" ".join([hit["name"], hit.get("kind", "")] + [a["name"] for a in hit.get("trail", [])]))
            if all(any(w.startswith(t) for w in haystack) for t in terms):
                matching.append(hit)
        matching.sort(key=lambda h: (h["name"].lower() not in q.lower(), h["depth"], h["name"]))
        return [
            {
                "slug": h["slug"],
                "name": h["name"],
                "kind": h["kind"],
                "within": " › ".join(a["name"] for a in h.get("trail", [])),
            }
            for h in matching[:MAX_RESULTS]
        ]
