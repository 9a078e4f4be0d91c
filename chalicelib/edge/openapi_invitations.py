"""The OpenAPI document's part for invitations and stories taken for someone (issue 19): the short
link's form, a member's invitations (make, end, card and poster, as a page or a PDF), and a story entered for someone who
phoned, wrote or came in, by a member or by a moderator (chalicelib/invitations.py, stories.py)."""

from __future__ import annotations

from typing import Any

from ..core.models import INVITATION_CODE, TAKEN_ROUTES, Route, TakenStory
from ..invitations import InvitationRequest
from .openapi_parts import BEARER, answer, errors
from .openapi_reports import MANAGE_TOKEN

CODE = {"name": "code", "in": "path", "required": True, "schema": {"type": "string", "maxLength": 40}}
_CREATED = {
    "type": "object",
    "required": ["id", "status"],
    "properties": {"id": {"type": "string"}, "status": {"type": "string"}},
}


def invitation_schemas() -> dict[str, Any]:
    request = InvitationRequest.model_json_schema(ref_template="#/components/schemas/{model}")
    request["properties"]["tags"]["description"] = "A list, or (a form) one field of words separated by commas"
    request["properties"]["expires_on"]["description"] = "The last day it works: today or later, within two years"
    taken = TakenStory.model_json_schema(ref_template="#/components/schemas/{model}")
    defs = taken.pop("$defs", {})
    taken["properties"]["consent"] = {"const": True, "description": "Must be true: the person agreed to publishing"}
    taken["properties"]["route"] = {"type": "string", "enum": list(TAKEN_ROUTES)}
    for name in ("services", "feelings"):  # as for a story sent on the form: each chosen once
        if name in taken["properties"]:
            taken["properties"][name]["uniqueItems"] = True
    return defs | {
        "InvitationRequest": request,
        "Invitation": {
            "type": "object",
            "description": "An invitation as its organisation's members see it (never public)",
            "properties": {
                "code": {"type": "string", "pattern": INVITATION_CODE},
                "url": {"type": "string", "description": "The short link, <site>/i/<code>"},
                "service": {"type": "string"},
                "service_name": {"type": "string"},
                "campaign": {"type": "string"},
                "tags": {"type": "array", "items": {"type": "string"}},
                "expires_on": {"type": "string", "description": "The last day it works, or empty for none"},
                "state": {"type": "string", "enum": ["active", "ended"]},
                "stories": {"type": "integer", "description": "Stories that came in through it"},
            },
        },
        "TakenStory": taken,
        "Route": {"type": "string", "enum": [r.value for r in Route], "description": "How a story came in"},
    }


def invitation_paths(html: dict[str, Any]) -> dict[str, Any]:
    def body(schema: str) -> dict[str, Any]:
        ref = {"schema": {"$ref": f"#/components/schemas/{schema}"}}
        return {"required": True, "content": {"application/json": ref, "application/x-www-form-urlencoded": ref}}

    invitation = answer("The invitation", {"$ref": "#/components/schemas/Invitation"})
    page = answer("The page", html, "text/html")
    return {
        "/api/i/{code}": {
            "get": {
                "summary": "Where an invitation's short link <site>/i/<code> leads: the story form with its service "
                "chosen and who asked. An ended or unknown code gives the ordinary form with a short note (200, "
                "never an error). Never who made the invitation. Changes nothing",
                # Any code at all: a short link is typed from a printed card, and a wrong one still opens the form.
                "parameters": [{"name": "code", "in": "path", "required": True, "schema": {"type": "string"}}],
                "responses": {"200": page},
            }
        },
        "/api/subscriptions/manage/{token}/invitations": {
            "post": {
                "summary": "A responder or lead makes an invitation for a service of their organisation",
                "parameters": [MANAGE_TOKEN],
                "requestBody": body("InvitationRequest"),
                "responses": {
                    "201": invitation,
                    "303": {"description": "A form post: back to the manage page, with a notice"},
                    **errors(400, 403, 404, 413, 415, 422),
                },
            }
        },
        "/api/subscriptions/manage/{token}/invitations/{code}/end": {
            "post": {
                "summary": "A lead ends one of their organisation's invitations: its link opens the ordinary form",
                "parameters": [MANAGE_TOKEN, CODE],
                "requestBody": {
                    "required": True,  # a button's form, or {} from a program: its media type says which answer
                    "content": {
                        "application/json": {"schema": {"type": "object"}},
                        "application/x-www-form-urlencoded": {"schema": {"type": "object"}},
                    },
                },
                "responses": {
                    "200": invitation,
                    "303": {"description": "A form post: back to the manage page, with a notice"},
                    **errors(400, 403, 404, 413, 415, 422),
                },
            }
        },
        "/api/subscriptions/manage/{token}/invitations/{code}/{kind}": {
            "get": {
                "summary": "An invitation's printable card (A6) or poster (A4): its QR code as SVG, the service, the "
                "short link in large type; a print stylesheet lays it out. Changes nothing",
                "parameters": [
                    MANAGE_TOKEN,
                    CODE,
                    {
                        "name": "kind",
                        "in": "path",
                        "required": True,
                        "schema": {"type": "string", "enum": ["card", "poster"]},
                    },
                ],
                "responses": {"200": page, **errors(403, 404)},
            }
        },
        "/api/subscriptions/manage/{token}/invitations/{code}/{kind}/pdf": {
            "get": {
                "summary": "An invitation's card (A6) or poster (A4) as PDF, made on request: the service, the QR "
                "code of the short link (vector), the link in large type and a line on anonymity; bilingual, "
                "Welsh first, when the service has a Welsh name or lang=cy. Nothing from elsewhere. Changes nothing",
                "parameters": [
                    MANAGE_TOKEN,
                    CODE,
                    {
                        "name": "kind",
                        "in": "path",
                        "required": True,
                        "schema": {"type": "string", "enum": ["card", "poster"]},
                    },
                    {
                        "name": "lang",
                        "in": "query",
                        "required": False,
                        "schema": {"type": "string", "enum": ["en", "cy"]},
                        "description": "en: English only; cy: Welsh and English",
                    },
                ],
                "responses": {
                    "200": {
                        "description": "The PDF",
                        "content": {"application/pdf": {"schema": {"type": "string", "format": "binary"}}},
                    },
                    **errors(403, 404),
                },
            }
        },
        "/api/subscriptions/manage/{token}/take": {
            "get": {
                "summary": "The form a responder or lead fills in for someone who phoned, wrote or came in",
                "parameters": [MANAGE_TOKEN],
                "responses": {"200": page, **errors(403, 404)},
            }
        },
        "/api/subscriptions/manage/{token}/stories": {
            "post": {
                "summary": "A responder or lead enters a story for someone (about their organisation's services): "
                "pending and moderated like any story; the author's address, if given, gets the private link",
                "parameters": [MANAGE_TOKEN],
                "requestBody": body("TakenStory"),
                "responses": {
                    "201": answer("The story is received", _CREATED),
                    "303": {"description": "A form post: back to the manage page, with a notice"},
                    **errors(400, 403, 404, 409, 413, 415, 422),
                },
            }
        },
        "/api/moderation/stories": {
            "post": {
                "summary": "A moderator enters a story for someone who phoned or wrote: pending, like any story",
                "security": BEARER,
                "requestBody": {
                    "required": True,
                    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/TakenStory"}}},
                },
                "responses": {
                    "201": answer("The story is received", _CREATED),
                    **errors(400, 401, 403, 409, 413, 415, 422),
                },
            }
        },
    }
