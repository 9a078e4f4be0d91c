"""The OpenAPI 3 document of the HTTP API, built from the same pydantic models that validate requests."""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from .models import AuthorReply, ItemDecision, ModerationDecision, ResponseSubmission, StorySubmission, SubscriptionRequest

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
RESPOND_TOKEN = {"name": "token", "in": "path", "required": True, "schema": {"type": "string"}, "description": "The emailed read-and-respond link"}
TOKEN = {"name": "token", "in": "path", "required": True, "schema": {"type": "string"}}


def _author_body(schema: str) -> dict[str, Any]:
    """A body from the author's private page: JSON, or the page's own form (JavaScript off)."""
    return {
        "required": True,
        "content": {
            "application/json": {"schema": {"$ref": f"#/components/schemas/{schema}"}},
            "application/x-www-form-urlencoded": {"schema": {"$ref": f"#/components/schemas/{schema}"}},
        },
    }
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
    # Staff subscriptions (self-service sign-up; the same model checks an admin's bulk file).
    subscription = SubscriptionRequest.model_json_schema(ref_template="#/components/schemas/{model}")
    schemas.update(subscription.pop("$defs", {}))
    schemas["SubscriptionRequest"] = subscription
    # The author's side: a reply carries a client-made id, so sending it twice makes one reply.
    reply = AuthorReply.model_json_schema(ref_template="#/components/schemas/{model}")
    reply["properties"]["reply_id"] = {"type": "string", "pattern": "^[A-Za-z0-9_-]{16,64}$",
                                       "description": "Made by the client (the form renders one); the same id again is the same reply"}
    reply["required"] = sorted(set(reply.get("required", [])) | {"reply_id"})
    schemas["AuthorReply"] = reply
    schemas["ItemDecision"] = ItemDecision.model_json_schema(ref_template="#/components/schemas/{model}")
    schemas["AuthorConfirmation"] = {
        "type": "object",
        "required": ["confirm"],
        "properties": {"confirm": {"description": 'Withdraw: true (a form sends "yes"). Erase: the word "ERASE".',
                                   "oneOf": [{"type": "boolean"}, {"type": "string"}]}},
    }
    # Reading and responding: a response carries an optional client-made id, so sending it twice makes one.
    response = ResponseSubmission.model_json_schema(ref_template="#/components/schemas/{model}")
    schemas.update(response.pop("$defs", {}))
    response["properties"]["response_id"] = {"type": "string", "pattern": "^[0-9a-hjkmnp-tv-z]{17}$",
                                             "description": "Made by the page (a hidden field); the same id again is the same response"}
    schemas["ResponseSubmission"] = response
    schemas["ResponseAnswer"] = {
        "type": "object",
        "required": ["id", "status", "created_at"],
        "properties": {
            "id": {"type": "string"},
            "status": {"type": "string", "enum": ["published", "held"]},
            "created_at": {"type": "string"},
            "published_at": {"type": "string"},
            "flags": {"type": "array", "items": {"type": "string", "enum": ["email", "phone", "nhs_number", "postcode", "date_of_birth", "name"]},
                      "description": "When held: the kinds of identifying detail found"},
            "flag_words": {"type": "string"},
            "message": {"type": "string", "description": "When held: what was found, in plain words, and what happens next"},
        },
    }
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
            "/api/my/{token}/replies": {
                "post": {
                    "summary": "The author replies to the conversation on their published story; a moderator checks it first",
                    "parameters": [TOKEN],
                    "requestBody": _author_body("AuthorReply"),
                    "responses": {
                        "202": _answer("The reply waits for a moderator (the same reply_id again answers the same)", {"type": "object"}),
                        "303": {"description": "A form post: back to the private page, with a notice"},
                        **_errors(400, 404, 409, 413, 415, 422),
                    },
                }
            },
            "/api/my/{token}/withdraw": {
                "post": {
                    "summary": "The author withdraws their story: gone from pages, feeds and the API at the next render",
                    "parameters": [TOKEN],
                    "requestBody": _author_body("AuthorConfirmation"),
                    "responses": {
                        "200": _answer("Withdrawn (twice is harmless)", {"type": "object"}),
                        "303": {"description": "A form post: back to the private page, with a notice"},
                        **_errors(400, 404, 409, 413, 415, 422),
                    },
                }
            },
            "/api/my/{token}/erase": {
                "post": {
                    "summary": "The author asks for erasure: every item about the story and its author is deleted, and this link stops working",
                    "parameters": [TOKEN],
                    "requestBody": _author_body("AuthorConfirmation"),
                    "responses": {
                        "202": _answer("Being erased", {"type": "object"}),
                        "200": _answer("A form post: a page saying the story is being erased", html, "text/html"),
                        **_errors(400, 404, 409, 413, 415, 422),
                    },
                }
            },
            "/api/respond/{token}": {
                "get": {
                    "summary": "A member of staff's read-and-respond page for one story (from their alert email). Changes nothing.",
                    "parameters": [RESPOND_TOKEN, {"name": "sent", "in": "query", "required": False, "schema": {"type": "string"}}],
                    "responses": {"200": _answer("The page", html, "text/html"), **_errors(404)},
                },
                "post": {
                    "summary": "Respond in public. Published at once, or held for a moderator when it seems to contain identifying details",
                    "parameters": [RESPOND_TOKEN],
                    "requestBody": {
                        "required": True,
                        "content": {
                            "application/json": {"schema": {"$ref": "#/components/schemas/ResponseSubmission"}},
                            "application/x-www-form-urlencoded": {"schema": {"$ref": "#/components/schemas/ResponseSubmission"}},
                        },
                    },
                    "responses": {
                        "201": _answer("Published (or was already, for the same response_id)", {"$ref": "#/components/schemas/ResponseAnswer"}),
                        "202": _answer("Held for a moderator; `flags` says why (a form post gets the page saying so)",
                                       {"$ref": "#/components/schemas/ResponseAnswer"}),
                        "303": {"description": "A form post was published: back to the page, which says so"},
                        **_errors(400, 404, 409, 413, 415, 422),
                    },
                },
            },
            "/api/respond/{token}/read": {
                "post": {
                    "summary": "\"I have read this story\": records this person's read receipt, the first time only. Any body.",
                    "parameters": [RESPOND_TOKEN],
                    "responses": {
                        "200": _answer("When they first read it", {"type": "object", "required": ["read_at"], "properties": {"read_at": {"type": "string"}}}),
                        "303": {"description": "A form post: back to the page"},
                        **_errors(404, 415),
                    },
                }
            },
            **_staff_paths(html),
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
                    "parameters": [{"name": "status", "in": "query", "schema": {"type": "string", "enum": ["pending", "held", "replies"]}}],
                    "responses": {
                        "200": _answer("The queue: `stories`, or for `replies` the held staff responses and pending author replies as `items`",
                                       {"type": "object"}),
                        **_errors(401, 403, 404),
                    },
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
            "/api/moderation/stories/{story_id}/{kind}/{item_id}/decision": {
                "post": {
                    "summary": "Publish (perhaps with edited text) or reject (with a reason) a held staff response or a pending author reply",
                    "security": BEARER,
                    "parameters": [
                        STORY_ID,
                        {"name": "kind", "in": "path", "required": True, "schema": {"type": "string", "enum": ["responses", "replies"]}},
                        {"name": "item_id", "in": "path", "required": True, "schema": {"type": "string"}},
                    ],
                    "requestBody": {"required": True, "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ItemDecision"}}}},
                    "responses": {"200": _answer("The item as decided", {"type": "object"}), **_errors(400, 401, 403, 404, 409, 413, 415, 422)},
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


def _staff_paths(html: dict[str, Any]) -> dict[str, Any]:
    """Subscribing, confirming, managing and one-click unsubscribe. The emailed links answer HTML pages;
    a GET never changes anything, a POST does."""
    token = {"name": "token", "in": "path", "required": True, "schema": {"type": "string"}, "description": "From the emailed link"}
    page = _answer("The page", html, "text/html")
    button = {"required": False, "content": {t: {"schema": {"type": "object"}} for t in (
        "application/x-www-form-urlencoded", "multipart/form-data", "text/plain", "application/json")}}
    return {
        "/api/subscriptions": {
            "post": {
                "summary": "A member of staff asks for alerts. Nothing is on until they confirm from the email we send. "
                           "The answer is the same whether or not the address is known.",
                "requestBody": {
                    "required": True,
                    "content": {
                        "application/json": {"schema": {"$ref": "#/components/schemas/SubscriptionRequest"}},
                        "application/x-www-form-urlencoded": {"schema": {"type": "object", "additionalProperties": True}},
                    },
                },
                "responses": {
                    "202": _answer("Check your email", {"type": "object", "required": ["status"],
                                                        "properties": {"status": {"type": "string", "enum": ["check-your-email"]}}}),
                    "303": {"description": "A form post was received; see the check-your-email page"},
                    **_errors(400, 413, 415, 422),
                },
            }
        },
        "/api/subscriptions/confirm/{token}": {
            "get": {"summary": "What confirming will switch on, with a Confirm button. Changes nothing.",
                    "parameters": [token], "responses": {"200": page, **_errors(404)}},
            "post": {"summary": "Confirm (double opt-in): the alerts are on. Confirming twice is harmless.",
                     "parameters": [token], "requestBody": button, "responses": {"200": page, **_errors(404, 415)}},
        },
        "/api/subscriptions/manage/{token}": {
            "get": {"summary": "The person's alerts and public name, with a form for each change. Changes nothing.",
                    "parameters": [token, {"name": "notice", "in": "query", "required": False,
                                           "schema": {"type": "string", "enum": ["frequency", "stopped", "profile", "stopped-all"]}}],
                    "responses": {"200": page, **_errors(404)}},
            "post": {
                "summary": "One change: action=frequency (subscription, frequency), stop (subscription), profile (display_name, role) or stop_all",
                "parameters": [token],
                "requestBody": {"required": True, "content": {t: {"schema": {"type": "object", "required": ["action"], "properties": {
                    "action": {"type": "string", "enum": ["frequency", "stop", "profile", "stop_all"]},
                    "subscription": {"type": "string"}, "frequency": {"type": "string", "enum": ["immediate", "digest"]},
                    "display_name": {"type": "string", "maxLength": 80}, "role": {"type": "string", "minLength": 2, "maxLength": 80}}}}
                    for t in ("application/x-www-form-urlencoded", "application/json")}},
                "responses": {"303": {"description": "Done: back to the page, with a notice"}, "422": _answer(
                    "A field is not valid: the page again with the field named (JSON clients get `error.fields`)", html, "text/html"),
                    **_errors(400, 404, 413, 415)},
            },
        },
        "/api/unsubscribe/{token}": {
            "get": {"summary": "A button to unsubscribe from every alert. Changes nothing.",
                    "parameters": [token], "responses": {"200": page, **_errors(404)}},
            "post": {"summary": "RFC 8058 one-click unsubscribe (body List-Unsubscribe=One-Click, or any): stops every alert "
                                "and revokes the person's read-and-respond links. No cookie needed. Idempotent.",
                     "parameters": [token], "requestBody": button, "responses": {"200": page, **_errors(404, 415)}},
        },
    }


if __name__ == "__main__":  # python -m chalicelib.openapi > docs/openapi.json
    import json
    import sys

    json.dump(document(), sys.stdout, indent=2, sort_keys=True)
    sys.stdout.write("\n")
