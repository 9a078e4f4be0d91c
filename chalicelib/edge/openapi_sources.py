"""The OpenAPI document's part for a lead's own sources (issue 21, chalicelib/lead_sources.py): list, add,
change, remove and import now, from the lead's "manage your organisation" link."""

from __future__ import annotations

from typing import Any

from ..core.labels import Role
from ..core.models import SLUG
from ..core.sources import FIELDS, KINDS
from .openapi_organisations import ORGANISATION_TOKEN
from .openapi_parts import answer, errors

_SLUG = {"type": "string", "pattern": SLUG}
_FIELDS = {
    "name": {"type": "string", "minLength": 2, "maxLength": 60},
    "kind": {"type": "string", "enum": list(KINDS)},
    "location": {
        "type": "string",
        "maxLength": 2000,
        "description": "A public http(s) address: one on this machine, a private network or a link-local "
        "range is refused (422, field `location`), and so is any fetch redirected to one",
    },
    "service": {**_SLUG, "description": "One of the organisation's services: where an item that names none belongs"},
    "mapping": {
        "type": "object",
        "propertyNames": {"enum": list(FIELDS)},
        "additionalProperties": {"type": "string"},
        "description": "For a CSV or JSON export: the column of each of a story's fields",
    },
    "licensed": {
        "type": "boolean",
        "description": "May its items be republished on the public site? Who said so and when is kept",
    },
    "role": {"type": "string", "enum": [r.value for r in Role]},
}
SOURCE = {
    "type": "object",
    "properties": {
        "slug": _SLUG,
        **_FIELDS,
        "licensed_by": {"type": "string", "description": "The lead who said it may be republished"},
        "licensed_at": {"type": "string"},
        "moderated": {"type": "boolean", "description": "Set by an admin only"},
        "last_run_at": {"type": "string"},
    },
}
SUMMARY = {
    "type": "object",
    "properties": {
        "summary": {"type": "string", "examples": ["2 imported, 1 updated, 14 unchanged, 2 refused"]},
        "imported": {"type": "integer"},
        "updated": {"type": "integer"},
        "unchanged": {"type": "integer"},
        "refused": {"type": "array", "items": {"type": "string"}, "description": "line/field: reason"},
        "more": {"type": "boolean", "description": "Stopped at its bound: the next run goes on from there"},
    },
}
_MEDIA = ("application/json", "application/x-www-form-urlencoded")  # a form is read, and refused by field


def _body(schema: str) -> dict[str, Any]:
    return {"required": True, "content": {m: {"schema": {"$ref": f"#/components/schemas/{schema}"}} for m in _MEDIA}}


def source_schemas() -> dict[str, Any]:
    return {
        "Source": SOURCE,
        "NewSource": {
            "type": "object",
            "additionalProperties": False,
            "required": ["slug", "name", "kind", "location", "service"],
            "properties": {"slug": _SLUG, **_FIELDS},
        },
        "SourceAction": {
            "type": "object",
            "additionalProperties": False,
            "required": ["action"],
            "properties": {
                "action": {"type": "string", "enum": ["change", "remove", "run"]},
                **_FIELDS,
            },
            "description": "change: the fields given (the whole is checked again); remove and run take no other "
            "field. Removing a source keeps the stories it brought",
        },
    }


def source_paths() -> dict[str, Any]:
    slug = {"name": "slug", "in": "path", "required": True, "schema": _SLUG, "description": "The source's slug"}
    return {
        "/api/organisation/{token}/sources": {
            "get": {
                "summary": "The organisation's sources. Changes nothing.",
                "parameters": [ORGANISATION_TOKEN],
                "responses": {
                    "200": answer(
                        "The sources",
                        {
                            "type": "object",
                            "properties": {
                                "organisation": {"type": "string"},
                                "sources": {"type": "array", "items": {"$ref": "#/components/schemas/Source"}},
                            },
                        },
                    ),
                    **errors(404, 429),
                },
            },
            "post": {
                "summary": "Add a source of the organisation (only a lead of it; `moderated` is an admin's).",
                "parameters": [ORGANISATION_TOKEN],
                "requestBody": _body("NewSource"),
                "responses": {
                    "201": answer("The source", {"$ref": "#/components/schemas/Source"}),
                    **errors(400, 404, 413, 415, 422, 429),
                },
            },
        },
        "/api/organisation/{token}/sources/{slug}": {
            "post": {
                "summary": "Change, remove, or import now (at most 100 items, from where the last run stopped) "
                "one of the organisation's sources; another's is not found.",
                "parameters": [ORGANISATION_TOKEN, slug],
                "requestBody": _body("SourceAction"),
                "responses": {
                    "200": answer(
                        "What was done: the source as it is now (change), or the run's summary (run)",
                        {
                            "type": "object",
                            "required": ["done"],
                            "properties": {
                                "done": {"type": "string", "enum": ["changed", "removed", "run"]},
                                "source": {"$ref": "#/components/schemas/Source"},
                                "summary": SUMMARY,
                            },
                        },
                    ),
                    **errors(400, 404, 413, 415, 422, 429),
                },
            },
        },
    }
