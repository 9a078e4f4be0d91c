"""Browsing by place (issue 20): /places/ lists the towns of the directory, and /places/<town>/ the
services there with the town's latest stories.

Static pages, like the rest of the site: the towns come from the one places summary the directory
load keeps in the finder's item (core/places.py), and a town's stories from its own listing
("place:<town>", written by the stream beside the services' and tags' listings), so a town page
costs one GetItem and one Query however big the site is (and a BatchGetItem for the services its
stories name, when the render process has not read them in the last minute). A publication re-renders
only the towns of the story's services (a "place" job: usually one). The index and every town page
are built by the static job (a deploy, a directory load, a full rebuild), so a town with no story
yet still has its page. "Find stories near" (edge/browse.py) leads to these pages.

A service page's filter links lead to the API's filter page (edge/browse.py says why it is not more
static pages); they are made here from what the page already read.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..core import i18n
from ..store import place_list
from ..views import listing_entry_view, service_name, within
from . import feeds
from .outputs import Output, Put, gone, localised
from .pages import HTML_CACHE

if TYPE_CHECKING:
    from ..core.settings import Settings
    from ..store import PublicStore

PLACES_KEY = "places/index.html"
PLACE_KEY = "places/{}/index.html"
SITEMAP_KEY = "sitemaps/places.xml"
FIND_PATH = "/api/places"  # the form's GET: a 303 to a town's page, or suggestions


def known_places(store: PublicStore) -> dict[str, Any]:
    """The directory's towns and districts (one GetItem: the finder's item)."""
    return dict((store.get_finder() or {}).get("places") or {})


def find_address(settings: Settings) -> str:
    """Where the "find stories near" form goes: the API's answer (edge/places.py)."""
    return f"{settings.api_url.rstrip('/')}{FIND_PATH}"


def index_page(places: dict[str, Any], settings: Settings) -> list[Output]:
    """/places/: every town, with its postcode districts, in name order."""

    def towns() -> list[dict[str, Any]]:  # named in the language in use
        named = ({"slug": s, "name": service_name(t), "districts": t["districts"]} for s, t in places["towns"].items())
        return sorted(named, key=lambda t: t["name"].lower())

    form = {"find_place": find_address(settings), "place_value": "", "place_error": ""}
    return localised(PLACES_KEY, "places.html", lambda: {"towns": towns() if places.get("towns") else [], **form})


def town_page(store: PublicStore, settings: Settings, slug: str, places: dict[str, Any] | None = None) -> list[Output]:
    """/places/<town>/: the services in the town and its latest stories; gone when no service is there."""
    key = PLACE_KEY.format(slug)
    places = places if places is not None else known_places(store)
    town = places.get("towns", {}).get(slug)
    if not town:
        return gone(key)
    listing = store.listing(place_list(slug), settings.stories_per_page)
    # The services its stories name (none read when this process read them in the last minute, as
    # a publication's earlier jobs did); the town's own services come named in the summary.
    services = store.get_services({s for e in listing for s in e.get("services", [])}) if listing else {}

    def context() -> dict[str, Any]:
        here = town["services"]
        return {
            "town": {"slug": slug, "name": service_name(town), "districts": town["districts"]},
            "services": sorted(
                ({"slug": s["slug"], "name": service_name(s), "within": within(s)} for s in here),
                key=lambda s: s["name"].lower(),
            ),
            "stories": [listing_entry_view(e, services) for e in listing],
        }

    return localised(key, "place.html", context)


def filter_links(settings: Settings, slug: str, listing: list[Any]) -> dict[str, Any]:
    """A service page's filter links (issue 20): the address of its filter page on the API
    (edge/browse.py), and the tags of its latest stories, for a link each. No read of its own."""
    tags = sorted({t for e in listing for t in e.get("tags", [])})
    return {
        "base": f"{settings.api_url.rstrip('/')}/api/public/services/{slug}/stories",
        "tags": [{"value": t, "label": t.replace("-", " ")} for t in tags],
    }


def sitemap(places: dict[str, Any], settings: Settings) -> Put:
    """sitemaps/places.xml: the places and every town's page, in every language (the sitemap index lists it)."""
    site = settings.site_url.rstrip("/")
    paths = ["/places/", *(f"/places/{t}/" for t in places.get("towns", {}))]
    urls = [(f"{site}{i18n.prefix(loc)}{p}", "") for loc in i18n.LOCALES for p in paths]
    return Put(SITEMAP_KEY, feeds.sitemap(urls), feeds.XML, HTML_CACHE)


def all_pages(store: PublicStore, settings: Settings) -> list[Output]:
    """The index, every town's page and their sitemap (the static job's share)."""
    places = known_places(store)
    out = index_page(places, settings)
    for slug in places.get("towns", {}):
        out += town_page(store, settings, slug, places)
    return [*out, sitemap(places, settings)]
