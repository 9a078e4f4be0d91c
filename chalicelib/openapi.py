"""The OpenAPI 3 document of the HTTP API, built from the same pydantic models that validate requests."""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from .models import ModerationDecision, StorySubmission

ERROR = {"$ref": "#/components/schemas/Error"}


def _answer(description: str, schema: dict[str, Any] | None = None, media: str = "application/json") -> dict[str, Any]:
    out: dict[str, Any] = {"description": description}
    if schema is not None:
        out["content"] = {media: {"schema": schema}}
    return out


def _errors(*codes: int) -> dict[str, Any]:
    words = {
        400: "The body is malformed (not JSON, not UTF-8, not an object)",
        401: "No valid moderator token",
        403: "Signed in, but not a moderator",
        404: "Not found",
        409: "The story changed since it was read, or the same submission is in progress",
        413: "The body is too large",
        415: "Unsupported content type",
        422: "A field is not valid; `error.fields` names each one",
    }
    return {str(c): _answer(words[c], ERROR) for c in codes}


BEARER = [{"moderatorToken": []}]
STORY_ID = {"name": "story_id", "in": "path", "required": True, "schema": {"type": "string", "pattern": "^[0-9a-z]{17}$"}}


@lru_cache(maxsize=1)
def document() -> dict[str, Any]:
    submission = StorySubmission.model_json_schema(ref_template="#/components/schemas/{model}")
    decision = ModerationDecision.model_json_schema(ref_template="#/components/schemas/{model}")
    schemas: dict[str, Any] = {}
    for s in (submission, decision):
        schemas.update(s.pop("$defs", {}))
    schemas["StorySubmission"] = submission
    schemas["ModerationDecision"] = decision
    schemas["Error"] = {
        "type": "object",
        "required": ["error"],
        "properties": {
            "error": {
                "type": "object",
                "required": ["code", "message"],
                "properties": {
                    "code": {"type": "string"},
                    "message": {"type": "string"},
                    "fields": {
                        "type": "array",
                        "items": {
                            "type": "object",
                            "required": ["field", "message"],
                            "properties": {"field": {"type": "string"}, "message": {"type": "string"}},
                        },
                    },
                },
            }
        },
    }
    schemas["ServiceMatch"] = {
        "type": "object",
        "required": ["slug", "name", "kind", "within"],
        "properties": {k: {"type": "string"} for k in ("slug", "name", "kind", "within")},
    }
    html = {"type": "string"}
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "FeedForward API",
            "version": "1.0.0",
            "description": "Tell a story of care, follow it, and moderate it. Public reads are served as static pages and feeds.",
        },
        "servers": [{"url": "/"}],
        "components": {
            "schemas": schemas,
            "securitySchemes": {"moderatorToken": {"type": "http", "scheme": "bearer", "bearerFormat": "Cognito ID token (JWT)"}},
        },
        "paths": {
            "/api/services": {
                "get": {
                    "summary": "Find services by words in their names (for the form's picker)",
                    "parameters": [{"name": "q", "in": "query", "required": False, "schema": {"type": "string", "maxLength": 100}}],
                    "responses": {
                        "200": _answer(
                            "Up to 10 matching services",
                            {"type": "object", "properties": {"services": {"type": "array", "items": {"$ref": "#/components/schemas/ServiceMatch"}}}},
                        ),
                        **_errors(400),
                    },
                }
            },
            "/api/stories": {
                "post": {
                    "summary": "Tell a story. It is pending, and private, until a moderator publishes it.",
                    "requestBody": {
                        "required": True,
                        "content": {
                            "application/json": {"schema": {"$ref": "#/components/schemas/StorySubmission"}},
                            "application/x-www-form-urlencoded": {"schema": {"type": "object", "additionalProperties": True}},
                        },
                    },
                    "responses": {
                        "201": _answer(
                            "The story is received (or was already, for the same submission_id)",
                            {"type": "object", "required": ["id", "status"], "properties": {"id": {"type": "string"}, "status": {"type": "string"}}},
                        ),
                        "303": {"description": "A form post was received; see the thank-you page"},
                        **_errors(400, 409, 413, 415, 422),
                    },
                }
            },
            "/api/my/{token}": {
                "get": {
                    "summary": "The author's private page for their story (from the emailed link). Changes nothing.",
                    "parameters": [{"name": "token", "in": "path", "required": True, "schema": {"type": "string"}}],
                    "responses": {"200": _answer("The page", html, "text/html"), **_errors(404)},
                }
            },
            "/api/openapi.json": {"get": {"summary": "This document", "responses": {"200": _answer("OpenAPI 3", {"type": "object"})}}},
            "/api/moderation/sign-in": {
                "post": {
                    "summary": "Sign a moderator in with Cognito (password, then any challenge)",
                    "requestBody": {"required": True, "content": {"application/json": {"schema": {"type": "object"}}}},
                    "responses": {"200": _answer("A token, or the next challenge", {"type": "object"}), **_errors(400, 401, 415, 422)},
                }
            },
            "/api/moderation/queue": {
                "get": {
                    "summary": "Stories waiting for a decision, oldest first",
                    "security": BEARER,
                    "parameters": [{"name": "status", "in": "query", "schema": {"type": "string", "enum": ["pending", "held"]}}],
                    "responses": {"200": _answer("The queue", {"type": "object"}), **_errors(401, 403, 404)},
                }
            },
            "/api/moderation/stories/{story_id}": {
                "get": {
                    "summary": "One story in full, with the author's original words and the audit trail",
                    "security": BEARER,
                    "parameters": [STORY_ID],
                    "responses": {"200": _answer("The story", {"type": "object"}), **_errors(401, 403, 404)},
                }
            },
            "/api/moderation/stories/{story_id}/decision": {
                "post": {
                    "summary": "Publish (with edits, criticality and tags), hold for safeguarding, or reject with a reason",
                    "security": BEARER,
                    "parameters": [STORY_ID],
                    "requestBody": {"required": True, "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ModerationDecision"}}}},
                    "responses": {"200": _answer("The story as decided", {"type": "object"}), **_errors(400, 401, 403, 404, 409, 413, 415, 422)},
                }
            },
            "/api/moderate": {"get": {"summary": "The moderation screen", "responses": {"200": _answer("The page", html, "text/html")}}},
            "/api/moderate/{asset}": {
                "get": {
                    "summary": "The moderation screen's script and style",
                    "parameters": [{"name": "asset", "in": "path", "required": True, "schema": {"type": "string"}}],
                    "responses": {"200": {"description": "The asset"}, **_errors(404)},
                }
            },
        },
    }


if __name__ == "__main__":  # python -m chalicelib.openapi > docs/openapi.json
    import json
    import sys

    json.dump(document(), sys.stdout, indent=2, sort_keys=True)
    sys.stdout.write("\n")
