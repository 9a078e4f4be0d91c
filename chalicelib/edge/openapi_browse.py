"""The OpenAPI document's part for browsing (issue 20): "find stories near" a town or postcode district,
a service's stories filtered (a page made from the public API's answer), and the public API's own
`responded` and `month` filters."""

from __future__ import annotations

from typing import Any

from .openapi_parts import ERROR, answer

BLANK = {"type": "string", "maxLength": 0}  # an empty value is as if the parameter were not there
RESPONDED = {"type": "string", "enum": ["", "yes", "no"]}
MONTH = {"anyOf": [BLANK, {"type": "string", "pattern": "^(?:19|20)[0-9]{2}-(?:0[1-9]|1[0-2])$"}]}
TAG = {"type": "string", "pattern": "^(?:[a-z0-9][a-z0-9-]{0,39})?$"}
LANG = {"type": "string", "description": "cy for the page in Welsh; anything else is English"}
PUBLIC_CACHE = {"Cache-Control": {"schema": {"type": "string"}, "description": "public, max-age=60"}}


def _q(name: str, schema: dict[str, Any], text: str) -> dict[str, Any]:
    return {"name": name, "in": "query", "required": False, "schema": schema, "description": text}


def filter_parameters() -> list[dict[str, Any]]:
    """What GET /api/public/stories takes beyond service, tag, from, to, limit and cursor."""
    return [
        _q("responded", RESPONDED, "yes: only stories staff have responded to; no: only those not yet responded to"),
        _q("month", MONTH, "Only stories published in this month (UTC), YYYY-MM; not with from or to"),
    ]


def browse_paths(html: dict[str, Any]) -> dict[str, Any]:
    town = {
        "type": "object",
        "required": ["slug", "name", "districts", "url"],
        "properties": {
            "slug": {"type": "string"},
            "name": {"type": "string"},
            "name_cy": {"type": "string", "description": "Its Welsh name, where the directory gives one"},
            "districts": {"type": "array", "items": {"type": "string"}},
            "url": {"type": "string", "description": "The town's page on the site"},
        },
    }
    found = {
        "type": "object",
        "required": ["place", "district", "towns", "suggestions"],
        "properties": {
            "place": {"type": "string", "description": "What was typed, its spaces tidied"},
            "district": {"type": "string", "description": "The postcode district it names, if it names one"},
            "towns": {"type": "array", "items": town, "description": "The towns it names (none when unknown)"},
            "suggestions": {"type": "array", "items": town, "description": "Towns it may mean, when it names none"},
        },
    }
    bad = answer(
        "A query value is not valid; `error.fields` names it (a browser gets the page, the field marked)", ERROR
    )
    return {
        "/api/places": {
            "get": {
                "summary": "Find stories near a place: the home page's form (a plain GET). A town, or a postcode "
                "district of one town, is a 303 to the town's page for a browser; several towns, or a place we do "
                "not know, a page of choices and suggestions (200, never an error). A program gets JSON. Changes nothing",
                "parameters": [
                    {
                        "name": "place",
                        "in": "query",
                        "required": True,
                        "schema": {"type": "string", "maxLength": 60, "pattern": "[^\\s]"},
                        "description": "A town, a postcode district (NB1) or a whole postcode (its district is used)",
                    },
                    _q("lang", LANG, "The language of the page and of the town's address"),
                ],
                "responses": {
                    "200": {
                        "description": "Where it leads",
                        "content": {"application/json": {"schema": found}, "text/html": {"schema": html}},
                        "headers": PUBLIC_CACHE,
                    },
                    "303": {"description": "A browser: to the one town's page"},
                    "400": bad,
                },
            }
        },
        "/api/public/services/{slug}/stories": {
            "get": {
                "summary": "A service's published stories (with those of every service below it), filtered by "
                "response, tag and month: a page made from GET /api/public/stories's answer, newest first, with "
                "plain links and a form for each filter and a link to the next page. Changes nothing",
                "parameters": [
                    {"name": "slug", "in": "path", "required": True, "schema": {"type": "string"}},
                    *filter_parameters(),
                    _q("tag", TAG, "Only stories with this tag"),
                    _q("cursor", {"type": "string", "maxLength": 400}, "From the page's 'Older stories' link"),
                    _q("lang", LANG, "The language of the page"),
                ],
                "responses": {
                    "200": answer("The page", html, "text/html") | {"headers": PUBLIC_CACHE},
                    "400": bad,
                    "404": answer("No service has that slug", ERROR),
                },
            }
        },
    }
