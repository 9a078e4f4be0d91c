"""The OpenAPI document's part for organisations: a lead's link, the organisation's page, a lead's
decisions, and members in bulk (chalicelib/organisations.py); and a member's changes to their own
response in its edit window (chalicelib/response_edits.py)."""

from __future__ import annotations

from typing import Any

from ..core.status import Access
from ..spreadsheets import MEMBER_COLUMNS, XLSX_TYPE
from .http import STORY_BODY_BYTES
from .openapi_parts import RESPOND_TOKEN, answer, errors

# On a request body that may be larger than the usual limit (settings.max_body_bytes): its limit.
MAX_BODY = "x-feedforward-max-body-bytes"
UPLOAD_BYTES = 5 * 1024 * 1024
# A story's body: required, and larger than other forms' (a long story; edge/http.py).
STORY_BODY = {"required": True, MAX_BODY: STORY_BODY_BYTES}
ORGANISATION_TOKEN = {
    "name": "token",
    "in": "path",
    "required": True,
    "schema": {"type": "string"},
    "description": 'A lead\'s emailed "manage your organisation" link',
}
_ACCESS = {"type": "string", "enum": [a.value for a in Access]}


def organisation_schemas() -> dict[str, Any]:
    member = {"type": "string", "minLength": 1, "maxLength": 40}
    return {
        "ResponseChange": {
            "type": "object",
            "required": ["action"],
            "properties": {
                "action": {"type": "string", "enum": ["edit", "delete"]},
                "text": {"type": "string", "description": "edit: the new text (the same rules as a response)"},
                "change_description": {"type": "string", "description": "edit: when the response marks a change"},
            },
        },
        "PublicStaffTag": {
            "type": "object",
            "required": ["tag", "polarity", "by"],
            "properties": {
                "tag": {"type": "string"},
                "polarity": {"type": "string", "enum": ["positive", "negative", "neutral"]},
                "by": {"type": "string", "description": "The organisation whose staff tagged it"},
            },
            "description": "A tag staff gave the story in their own words and made public, with its polarity",
        },
        "PassOn": {
            "type": "object",
            "required": ["to"],
            "properties": {
                "to": {"type": "string", "enum": ["colleague", "service"]},
                "colleague": {"type": "string", "description": "to=colleague: an active member of your organisation"},
                "service": {"type": "string", "description": "to=service: the service's name"},
                "note": {"type": "string", "maxLength": 500},
            },
        },
        "StaffTag": {
            "type": "object",
            "required": ["tag"],
            "properties": {
                "tag": {
                    "type": "string",
                    "description": "In your own words; kept as lower-case words joined by hyphens",
                },
                "polarity": {"type": "string", "enum": ["positive", "negative", "neutral"]},
                "visibility": {"type": "string", "enum": ["private", "shared", "public"]},
                "action": {"type": "string", "enum": ["add", "remove"]},
            },
        },
        "LinkAsk": {
            "type": "object",
            "required": ["email"],
            "properties": {"email": {"type": "string", "format": "email", "maxLength": 254}},
        },
        "OrganisationDecision": {
            "type": "object",
            "required": ["action", "member"],
            "properties": {
                "action": {"type": "string", "enum": ["approve", "refuse", "access", "freeze", "restore"]},
                "member": member,
                "access": _ACCESS | {"description": "approve (reader if left out) and access: the role to grant"},
            },
            "description": "A lead's decision about one person of their own organisation (any other is a 422)",
        },
        "MemberRows": {
            "type": "object",
            "required": ["members"],
            "properties": {
                "members": {
                    "type": "array",
                    "maxItems": 20_000,
                    "items": {
                        "type": "object",
                        "properties": {c: {"type": "string"} for c in MEMBER_COLUMNS if c != "tags"}
                        | {"tags": {"type": ["array", "string"]}, "access": _ACCESS},
                    },
                }
            },
        },
        "UploadReport": {
            "type": "object",
            "required": ["created", "updated", "unchanged", "skipped", "errors", "notes"],
            "properties": {
                "error": {"type": "object", "description": "With a 422: the usual error, each row's problem in fields"},
                **{k: {"type": "integer", "minimum": 0} for k in ("created", "updated", "unchanged", "skipped")},
                "errors": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "properties": {"line": {"type": "integer"}, "field": {"type": "string"}},
                    },
                    "description": "Each bad row's line and field; when there are any, nothing was written",
                },
                "notes": {"type": "array", "items": {"type": "object"}},
            },
        },
    }


def organisation_paths(html: dict[str, Any]) -> dict[str, Any]:
    def body(schema: str) -> dict[str, Any]:
        ref = {"schema": {"$ref": f"#/components/schemas/{schema}"}}
        return {"required": True, "content": {"application/json": ref, "application/x-www-form-urlencoded": ref}}

    report = {"$ref": "#/components/schemas/UploadReport"}

    def teamwork(summary: str, schema: str) -> dict[str, Any]:
        return {
            "post": {
                "summary": summary,
                "parameters": [RESPOND_TOKEN],
                "requestBody": body(schema),
                "responses": {
                    "200": answer("Done", {"type": "object"}),
                    "303": {"description": "A form post: back to the page, which says it is done"},
                    **errors(400, 404, 413, 415, 422),
                },
            }
        }

    return {
        "/api/respond/{token}/pass": teamwork(
            "Pass the story to a colleague in your organisation or to another service, with a note: they are "
            "emailed the story and a link of their own. Nothing public changes",
            "PassOn",
        ),
        "/api/respond/{token}/tags": teamwork(
            "Tag the story in your own words: positive, negative or neutral; kept private, shared with your "
            "organisation, or public (shown on the story's page and in the public API)",
            "StaffTag",
        ),
        "/api/respond/{token}/responses/{response_id}": {
            "post": {
                "summary": "Change or delete one's own published response, within "
                "FF_RESPONSE_EDIT_MINUTES (30) of sending it. The words before are kept privately; "
                "a changed text with identifying details waits for a moderator",
                "parameters": [
                    RESPOND_TOKEN,
                    {"name": "response_id", "in": "path", "required": True, "schema": {"type": "string"}},
                ],
                "requestBody": {
                    "required": True,
                    "content": {
                        t: {"schema": {"$ref": "#/components/schemas/ResponseChange"}}
                        for t in ("application/json", "application/x-www-form-urlencoded")
                    },
                },
                "responses": {
                    "200": answer("Changed or deleted: where it stands now", {"type": "object"}),
                    "303": {"description": "A form post: back to the page, which says what was done"},
                    **errors(400, 403, 404, 409, 413, 415, 422),
                },
            }
        },
        "/api/organisation": {
            "get": {
                "summary": 'The form a lead uses to ask for their "manage your organisation" link',
                "responses": {"200": answer("The page", html, "text/html")},
            },
            "post": {
                "summary": "Ask for a lead's link. The answer is the same for any address; only a lead is emailed",
                "requestBody": body("LinkAsk"),
                "responses": {
                    "202": answer("Asked (an email follows if the address is a lead's)", {"type": "object"}),
                    "200": answer("A form post: the page saying to check the mailbox", html, "text/html"),
                    **errors(400, 413, 415, 422, 429),
                },
            },
        },
        "/api/organisation/{token}": {
            "get": {
                "summary": "A lead's organisation page: requests to join, members and their roles, frozen and "
                "refused people, the record of changes. Changes nothing.",
                "parameters": [
                    ORGANISATION_TOKEN,
                    {"name": "notice", "in": "query", "required": False, "schema": {"type": "string"}},
                    {"name": "page", "in": "query", "required": False, "schema": {"type": "string"}},
                ],
                "responses": {"200": answer("The page", html, "text/html"), **errors(404)},
            },
            "post": {
                "summary": "A lead's decision: approve or refuse a request, change a role, freeze or restore a leaver",
                "parameters": [ORGANISATION_TOKEN],
                "requestBody": body("OrganisationDecision"),
                "responses": {
                    "200": answer("Done", {"type": "object", "properties": {"done": {"type": "string"}}}),
                    "303": {"description": "A form post: back to the page, which says it is done"},
                    **errors(400, 404, 409, 413, 415, 422),
                },
            },
        },
        "/api/organisation/{token}/members": {
            "post": {
                "summary": "Members in bulk, as the lead vouches for them: a CSV or XLSX file (as the body, or a "
                "form's file) or JSON rows. Every row is checked first; one bad row and nothing is written. "
                "The same file twice changes nothing",
                "parameters": [ORGANISATION_TOKEN],
                "requestBody": {
                    "required": True,
                    MAX_BODY: UPLOAD_BYTES,
                    "content": {
                        "application/json": {"schema": {"$ref": "#/components/schemas/MemberRows"}},
                        "application/x-www-form-urlencoded": {
                            "schema": {
                                "type": "object",
                                "description": "A form sent without its file (no enctype): a 422 naming `file`",
                            }
                        },
                        "text/csv": {"schema": {"type": "string", "description": "A header row naming the columns"}},
                        XLSX_TYPE: {"schema": {"type": "string", "format": "binary"}},
                        "multipart/form-data": {
                            "schema": {
                                "type": "object",
                                "properties": {"file": {"type": "string", "format": "binary"}},
                            }
                        },
                    },
                },
                "responses": {
                    "200": answer("Loaded (a form post gets the page, which says so)", report)
                    | {"content": {"application/json": {"schema": report}, "text/html": {"schema": html}}},
                    **errors(400, 404, 413, 415, 422),
                },
                "x-feedforward-422": "also carries the UploadReport's fields (errors: each row's line and field)",
            }
        },
    }
