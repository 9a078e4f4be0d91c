"""The service directory: loading the tree, and finding services by what people type."""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from .core import finder, places
from .core.calendar import CALENDARS
from .core.errors import BadRequest
from .core.i18n import N_
from .core.models import Service

if TYPE_CHECKING:
    from .store import DirectoryFileStore

MAX_RESULTS = 10
CANDIDATES = 100  # index entries read per partition (one Query page: ~1 kB each)
MAX_KEYS = 3  # partitions read per search: the rarest three of the query's terms
VOCABULARY_SECONDS = 300  # a warm process keeps the finder item this long (as the answer's Cache-Control)
MAX_RESPONSE_DAYS = 60  # working days: about three months
PLACE_FIELDS = ("town", "town_cy", "postcode_district")
PLACE_TOO_LONG = N_("Enter a shorter place (60 characters at most): a town or a postcode district, such as NB1")


def _named(svc: dict[str, Any]) -> dict[str, Any]:
    """A service as a trail names it: slug, name, and its Welsh name when it has one."""
    return {k: svc[k] for k in ("slug", "name", "name_cy") if k in svc}


def flatten(tree: Iterable[dict[str, Any]], parent: dict[str, Any] | None = None) -> list[dict[str, Any]]:
    """A nested directory file as a list of service items, parents before children."""
    out: list[dict[str, Any]] = []
    for node in tree:
        path = (parent["path"] if parent else []) + [node["slug"]]
        trail = (parent["trail"] + [_named(parent)]) if parent else []
        # Its town and postcode district (issue 20): its own, else its nearest ancestor's (a ward is
        # where its hospital is); a district without a town is refused, as it leads to no place page.
        where = {k: node.get(k, parent.get(k) if parent else None) for k in PLACE_FIELDS}
        for field in ("postcode_district", "town_cy"):
            if where[field] is not None and where["town"] is None:
                raise ValueError(f"Service {node.get('slug', '?')!r}: {field} needs a town beside it.")
        try:
            svc = Service(
                slug=node["slug"],
                name=node["name"],
                kind=node["kind"],
                parent=parent["slug"] if parent else None,
                path=path,
                **where,
            )
        except ValidationError as e:
            fields = ", ".join(f"{'.'.join(map(str, x['loc']))}: {x['msg']}" for x in e.errors())
            raise ValueError(f"Service {node.get('slug', '?')!r} is not valid: {fields}") from e
        except KeyError as e:
            raise ValueError(f"Service {node.get('slug', '?')!r} is not valid: {e} is missing") from e
        item = svc.model_dump(exclude={k for k in PLACE_FIELDS if where[k] is None}) | {"trail": trail}
        # Its name in Welsh, where the directory gives one (issue 19): Welsh pages use it.
        if "name_cy" in node:
            if not isinstance(node["name_cy"], str) or not 2 <= len(node["name_cy"].strip()) <= 120:
                raise ValueError(f"Service {node['slug']!r}: name_cy must be a name of 2 to 120 characters.")
            item["name_cy"] = node["name_cy"].strip()
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
        self._vocabulary: tuple[float, finder.Vocabulary] | None = None
        self._places: dict[str, Any] = {}

    def load(
        self,
        tree: list[dict[str, Any]],
        progress: Callable[[Iterable], Iterable] = lambda x: x,
        synonyms: Mapping[str, Any] | None = None,
    ) -> dict[str, int]:
        """Create or update every node, with its finder entries (`synonyms`: the groups of
        data/service_synonyms.json), then the finder's vocabulary. Loading the same files twice changes nothing."""
        items = flatten(tree)
        slugs = [i["slug"] for i in items]
        dupes = {s for s in slugs if slugs.count(s) > 1}
        if dupes:
            raise ValueError(f"Slugs must be unique; repeated: {', '.join(sorted(dupes))}")
        organisations = {node["slug"]: organisation_settings(node) for node in tree}
        groups = finder.Synonyms.parse(synonyms)
        fields = {i["slug"]: finder.search_fields(i, groups) for i in items}
        counts = {"created": 0, "updated": 0, "unchanged": 0}
        for item in progress(items):
            counts[self._store.put_service(item, fields[item["slug"]])] += 1
        for slug, settings in organisations.items():
            # Domains only: the leads become members (membership.name_lead), not settings.
            self._store.put_organisation(slug, {k: v for k, v in settings.items() if k != "leads"})
        # The places ride in the finder's item (core/places.py): one small read for the place pages.
        self._store.put_finder(finder.vocabulary(fields.values(), groups) | {"places": places.summary(items)})
        self._vocabulary = None
        return counts

    def vocabulary(self) -> finder.Vocabulary:
        """The finder item, read once per warm process every few minutes (one GetItem), never per keystroke."""
        now = time.monotonic()
        if self._vocabulary is None or now - self._vocabulary[0] > VOCABULARY_SECONDS:
            data = self._store.get_finder()
            self._vocabulary = (now, finder.Vocabulary(data))
            self._places = dict((data or {}).get("places") or {})
        return self._vocabulary[1]

    def places(self) -> dict[str, Any]:
        """The towns and postcode districts of the directory (core/places.py), from the finder item."""
        self.vocabulary()
        return self._places

    def find_place(self, typed: str) -> dict[str, Any]:
        """Where "find stories near" leads for what a person typed: the matching towns (slug and name),
        or suggestions. Nothing typed (once tidied), or too much, is a 400 naming `place`; a place we
        do not know is an answer (no towns, some suggestions), not an error."""
        text = places.tidy(typed)
        if not text or len(text) > places.MAX_TYPED:
            # Words a page shows in the language in use (edge/browse.py), so marked for translation.
            message = N_("Enter a town or a postcode district, such as NB1") if not text else PLACE_TOO_LONG
            raise BadRequest(f"place: {message}", fields=[{"field": "place", "message": message}])
        known = self.places()
        found = places.find(known, text)
        towns = known.get("towns", {})

        def named(slugs: list[str]) -> list[dict[str, Any]]:
            keep = ("name", "name_cy", "districts")
            return [{"slug": s, **{k: towns[s][k] for k in keep if k in towns[s]}} for s in slugs]

        return {
            "place": text,
            "district": found["district"],
            "towns": named(found["towns"]),
            "suggestions": named(found["suggestions"]),
        }

    def search(self, q: str) -> list[dict[str, Any]]:
        """Services for what a person typed, best first. At most MAX_KEYS + 1 Queries of the prefix
        index (one per rare term, and one more within a place named when a term's partition was
        cut short) and, when the warm process has not read it lately, the vocabulary (GetItem)."""
        if len(q) > 100:
            raise BadRequest("q must be 100 characters or fewer.")
        if not finder.sequence(q):
            return []
        vocab = self.vocabulary()
        terms = finder.parse(q, vocab)
        keys = finder.keys(terms, vocab, MAX_KEYS)
        if not keys:
            return []
        hits: dict[str, list[dict[str, Any]]] = {k: self._store.search_services(k, CANDIDATES) for k in keys}
        found = finder.rank((e for page in hits.values() for e in page), terms, q)
        full = [k for k, page in hits.items() if len(page) >= CANDIDATES]
        if full and len(found) < MAX_RESULTS:
            place = self._place(hits, full[0], terms)
            if place:
                hits[full[0] + "@"] = self._store.search_services(full[0], CANDIDATES, within=place["path"])
                found = finder.rank((e for page in hits.values() for e in page), terms, q)
        relaxed = finder.relax(terms, vocab) if not found else None
        if relaxed:
            found = finder.rank((e for page in hits.values() for e in page), relaxed, q)
        return [
            {
                "slug": h["slug"],
                "name": h["name"],
                "kind": h["kind"],
                "within": " › ".join(a["name"] for a in h.get("trail", [])),
            }
            for h in found[:MAX_RESULTS]
        ]

    @staticmethod
    def _place(hits: Mapping[str, list[dict[str, Any]]], cut: str, terms: list[finder.Term]) -> dict[str, Any] | None:
        """Where to look again when a common word's partition was cut short ("northbridge ward"): the
        service from the other partitions whose own name holds the most of the other terms, shallowest."""
        others = [t for t in terms if not t.optional and t.key != cut]
        best: tuple[int, int] | None = None
        chosen = None
        for key, page in hits.items():
            if key == cut:
                continue
            for raw in page:
                entry = finder.fields_of(raw)
                own = {**entry, "tw": []}
                named = sum(1 for t in others if finder.quality(t, own))
                rank = (-named, entry["depth"])
                if named and (best is None or rank < best):
                    best, chosen = rank, entry
        if chosen is None:
            return None
        return {"path": [a["slug"] for a in chosen.get("trail", [])] + [chosen["slug"]]}
