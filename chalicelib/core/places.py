"""Places: the town and postcode district each service of the directory carries, and finding a place
from what a person types ("Northbridge", "nb1", "NB1 4XY", "northbrige").

A postcode district is a postcode's outward code ("NB1", "SW1A"): enough to say where a service is
without naming a street, and what people know of where they live. The directory file gives a node
its town and district, and its children inherit them (a ward is where its hospital is).

The directory flow keeps one summary of the places (`summary`) in the finder's item, so the site's
place pages and the "find stories near" answer read one small item, never the whole directory.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

from .finder import fold

# A UK outward code: one or two letters, a digit, then a digit or a letter (A9, A99, AA9, A9A, AA99, AA9A).
OUTWARD = re.compile(r"^[A-Z]{1,2}[0-9][A-Z0-9]?$")
# A full postcode typed where a district was asked for: its outward code is what is used (never kept).
FULL_POSTCODE = re.compile(r"^([A-Z]{1,2}[0-9][A-Z0-9]?)\s*[0-9][A-Z]{2}$")
MAX_TYPED = 60  # characters of a place typed into the form
SUGGESTIONS = 5


def tidy(typed: object) -> str:
    """What was typed, as it is matched: characters that print (a pasted zero-width space or control
    character goes), and runs of spaces as one."""
    return " ".join("".join(c for c in str(typed or "") if c.isprintable() or c.isspace()).split())


def district(value: str) -> str | None:
    """A postcode district in its usual form ("nb1 " -> "NB1"), or None if it is not an outward code."""
    text = "".join(str(value).split()).upper()
    return text if OUTWARD.match(text) else None


def town_slug(name: str) -> str:
    """A town's address on the site: "St Aldhelm's" -> "st-aldhelms", "Ynys Môn" -> "ynys-mon"."""
    return "-".join(re.findall(r"[a-z0-9]+", fold(name)))


def summary(services: Iterable[Mapping[str, Any]]) -> dict[str, Any]:
    """The places of a flattened directory (parents before children): each town with its name, its
    districts and the services there that are not within another service of the same town (a
    hospital, not each of its wards: slug, names and trail), and each district with its towns."""
    towns: dict[str, dict[str, Any]] = {}
    districts: dict[str, set[str]] = {}
    town_of: dict[str, str] = {}
    aliases: dict[str, str] = {}
    for svc in services:
        name = svc.get("town")
        if not name:
            continue
        slug = town_slug(name)
        town_of[svc["slug"]] = slug
        town = towns.setdefault(slug, {"name": name, "districts": set(), "services": []})
        if svc.get("town_cy"):  # its Welsh name (issue 19's pages), found by it too
            town["name_cy"] = svc["town_cy"]
            aliases[town_slug(svc["town_cy"])] = slug
        if svc.get("postcode_district"):
            town["districts"].add(svc["postcode_district"])
            districts.setdefault(svc["postcode_district"], set()).add(slug)
        if town_of.get(svc.get("parent") or "") != slug:
            # Named here, with where it sits, so a town's page reads no service item for its list.
            keep = ("slug", "name", "name_cy", "trail")
            town["services"].append({k: svc[k] for k in keep if k in svc})
    return {
        "towns": {s: {**t, "districts": sorted(t["districts"])} for s, t in sorted(towns.items())},
        "districts": {d: sorted(ts) for d, ts in sorted(districts.items())},
        "aliases": {a: s for a, s in sorted(aliases.items()) if a not in towns},
    }


def find(places: Mapping[str, Any], typed: str) -> dict[str, Any]:
    """Where a typed place leads: {"towns": [slugs]} that match it (one: go there; several: a district
    that covers more than one town), with "suggestions" (town slugs) when none does."""
    towns: Mapping[str, Any] = places.get("towns", {})
    districts: Mapping[str, list[str]] = places.get("districts", {})
    text = tidy(typed)
    upper = text.upper()
    full = FULL_POSTCODE.match(upper)
    code = district(full.group(1) if full else upper)
    if code and code in districts:
        return {"towns": list(districts[code]), "district": code, "suggestions": []}
    slug = town_slug(text)
    slug = places.get("aliases", {}).get(slug, slug)  # a town's Welsh name
    if slug in towns:
        return {"towns": [slug], "district": "", "suggestions": []}
    return {"towns": [], "district": code or "", "suggestions": suggest(places, slug, code)}


def _area(code: str) -> str:
    """A district's postcode area: its leading letters ("NB" of "NB12")."""
    return re.sub(r"[0-9].*$", "", code)


def suggest(places: Mapping[str, Any], slug: str, code: str | None) -> list[str]:
    """Towns a person may have meant: by spelling (a typo, a town's start), or, for a district we do
    not know, the towns of known districts in the same postcode area ("NB7" -> those of NB1, NB2)."""
    from rapidfuzz import fuzz, process, utils  # only when nothing matched: the common answer needs none

    towns: Mapping[str, Any] = places.get("towns", {})
    found: list[str] = []
    if code:
        for d, ts in places.get("districts", {}).items():
            if _area(d) == _area(code):
                found += [t for t in ts if t not in found]
    if slug:
        names = {s: s.replace("-", " ") for s in towns}
        query = slug.replace("-", " ")
        found += [s for s in names if s.startswith(slug) and s not in found]
        for _name, score, s in process.extract(
            query, names, scorer=fuzz.WRatio, processor=utils.default_process, limit=SUGGESTIONS
        ):
            if score >= 70 and s not in found:
                found.append(s)
    return found[:SUGGESTIONS]
