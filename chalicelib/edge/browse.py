"""Browsing as HTTP (issue 20): "find stories near" a place, and a service's stories filtered.

- `GET /api/places?place=…`: the home page's form (a plain GET, so it works without JavaScript). A
  town, or a postcode district of one town, is a 303 to that town's static page (site/places.py); a
  district that covers several towns, or a place we do not know, is a page of choices and suggestions
  with status 200, never an error page. Nothing typed, or too much, is a 400 naming `place` (the
  same page with the field marked, for a browser). A program that asks for JSON gets the same answer
  as JSON.
- `GET /api/public/services/{slug}/stories?responded=&tag=&month=&cursor=`: a service's stories
  filtered, as a page rendered here from the public JSON API's own answer (public_api.stories, the
  same parameters and the same 400s naming the field).

Why the filter is an API page and not more static pages: a static page per service and filter
would be re-rendered on every publication (the story's ward, hospital and trust, each with a
"not yet responded" page and a page per tag: about nine more pages and eighteen more objects with
the Welsh copies, twice the renders a publication costs now) and again on every first response,
which moves a story from one filter to the other; month filters, which static pages do have (the
month archives), stay links to them. Here a publication costs nothing more, a filtered page costs
its reader a few calls (the service and its figures, kept warm; the listing's Query, at most five
when a filter skips many; the tags in use, one Query; the services named, one BatchGetItem), and
paging comes from the API's cursor. The answer may be cached briefly, like the JSON API's.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlencode

from chalice import Response

from ..core import i18n
from ..core.errors import BadRequest, NotFound
from ..site import pages
from ..views import listing_entry_view, month_year, service_link, service_name
from .http import PUBLIC_CACHE, html_response, json_response, page_csp, redirect, wants_html

FILTERS = ("responded", "tag", "month")
SLUG = re.compile(r"^[a-z0-9][a-z0-9-]{0,79}$")  # a path that is no slug is no service: a 404, not a 400
MONTH_LINKS = 12
PLACE_LISTS = (
    "towns",
    "suggestions",
    "everywhere",
)  # the lists of towns a place search shows  # the newest months offered as filter links


def _site(settings: Any) -> str:
    return str(settings.site_url).rstrip("/")


def _languages(address: str, query: dict[str, str]) -> dict[str, Any]:
    """The language switch of a page the API serves: the same address and query in each language (`lang`)."""
    here = i18n.current()
    each = [
        {
            "lang": i18n.LANG_TAGS[loc],
            "name": i18n.NAMES[loc],
            "href": f"{address}?{urlencode(query | ({'lang': loc} if loc != i18n.DEFAULT else {}))}".rstrip("?"),
        }
        for loc in i18n.LOCALES
    ]
    return {"alternates": each, "other": [o for o, loc in zip(each, i18n.LOCALES, strict=True) if loc != here]}


# ---- find stories near -----------------------------------------------------------------------


def find_place(request: Any, directory: Any, settings: Any) -> Response:
    params = request.query_params or {}
    locale = i18n.known(params.get("lang", ""))
    typed = str(params.get("place", ""))
    browser = wants_html(request)
    try:
        found = directory.find_place(typed)
    except BadRequest as error:
        if not browser:
            raise
        message = error.fields[0]["message"] if error.fields else error.message
        return _place_page(settings, locale, typed[:60], {"towns": [], "suggestions": []}, message, status=400)
    base = f"{_site(settings)}{i18n.prefix(locale)}/places/"
    if not browser:
        for town in [*found["towns"], *found["suggestions"]]:
            town["url"] = f"{base}{town['slug']}/"
        return json_response(found, headers={"Cache-Control": PUBLIC_CACHE})
    if len(found["towns"]) == 1:
        return redirect(f"{base}{found['towns'][0]['slug']}/")
    if not found["towns"] and not found["suggestions"]:  # nothing close: every town, so the page still leads on
        towns = directory.places().get("towns", {})
        found["everywhere"] = sorted(({"slug": k, **v} for k, v in towns.items()), key=lambda t: t["name"].lower())
    return _place_page(settings, locale, found["place"], found, "")


def _place_page(
    settings: Any, locale: str, typed: str, found: dict[str, Any], error: str, status: int = 200
) -> Response:
    with i18n.using(locale):
        # Each town in the language in use (its Welsh name on a Welsh page, where it has one).
        found = {k: [v | {"name": service_name(v)} for v in found.get(k, [])] for k in PLACE_LISTS} | {
            "district": found.get("district", "")
        }
        html = pages.render_page(
            "place_search.html",
            site_base=_site(settings),
            robots="noindex",
            found=found,
            find_place=f"{str(settings.api_url).rstrip('/')}/api/places",
            place_value=typed,
            place_error=i18n.gettext(error) if error else "",
            languages=_languages(f"{str(settings.api_url).rstrip('/')}/api/places", {"place": typed}),
        )
    return html_response(html, status=status, csp=page_csp(settings), headers={"Cache-Control": PUBLIC_CACHE})


# ---- a service's stories, filtered -------------------------------------------------------------


def service_stories(request: Any, slug: str, api: Any, store: Any, settings: Any) -> Response:
    """The filter page: the public API's page of stories for this service and these filters, as HTML."""
    if not SLUG.match(slug or ""):
        raise NotFound("There is no service with that slug.")
    params = dict(request.query_params or {})
    locale = i18n.known(params.get("lang", ""))
    chosen = {k: str(params[k]) for k in FILTERS if params.get(k)}
    asked = chosen | ({"cursor": str(params["cursor"])} if params.get("cursor") else {})
    # 400 naming the field, 404 for no such service; reads the service, kept warm for the lines below.
    entries, services, cursor, _query = api.page(asked | {"service": slug})
    service = store.get_service(slug) or {"slug": slug, "name": slug}
    months = sorted(store.figures(slug).get("months", {}), reverse=True)[:MONTH_LINKS]
    tags = sorted(set(store.registered_names("tags")) | ({chosen["tag"]} if "tag" in chosen else set()))
    here = f"{str(settings.api_url).rstrip('/')}/api/public/services/{slug}/stories"
    lang = {"lang": locale} if locale != i18n.DEFAULT else {}

    def link(**change: str) -> str:
        query = {k: v for k, v in {**chosen, **change}.items() if v} | lang
        return f"{here}?{urlencode(query)}" if query else here

    with i18n.using(locale):
        responded = [
            ("", i18n.gettext("All stories")),
            ("no", i18n.gettext("Not yet responded to")),
            ("yes", i18n.gettext("Responded to")),
        ]
        html = pages.render_page(
            "service_filter.html",
            site_base=_site(settings),
            robots="noindex, follow",
            service={"slug": slug, "name": service_name(service)},
            trail=[service_link(a) for a in service.get("trail", [])],
            chosen=chosen,
            stories=[listing_entry_view(e, services) for e in entries],
            action=here,
            # Each choice as a plain link too (with the other filters kept), and as the form's options.
            responded=[
                {"value": v, "label": label, "href": link(responded=v), "current": chosen.get("responded", "") == v}
                for v, label in responded
            ],
            tags=[{"value": t, "label": t.replace("-", " ")} for t in tags],
            months=[{"value": m, "label": month_year(m)} for m in months],
            said={
                "responded": dict(responded).get(chosen.get("responded", ""), "") if "responded" in chosen else "",
                "tag": chosen.get("tag", "").replace("-", " "),
                "month": month_year(chosen["month"]) if "month" in chosen else "",
            },
            clear=link(responded="", tag="", month=""),
            next=f"{here}?{urlencode({**chosen, **lang, 'cursor': cursor})}" if cursor else "",
            languages=_languages(here, chosen),
        )
    return html_response(html, csp=page_csp(settings), headers={"Cache-Control": PUBLIC_CACHE})
