"""The OpenAPI 3 document of the HTTP API, built from the same pydantic models that validate requests."""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from ..core.models import (
    AuthorReply,
    ItemDecision,
    ModerationDecision,
    ResponseSubmission,
    Status,
    StorySubmission,
    SubscriptionRequest,
)
from .openapi_address import address_paths
from .openapi_browse import browse_paths, filter_parameters
from .openapi_concerns import concern_paths, concern_schemas, moderation_paths  # issue 16
from .openapi_invitations import invitation_paths, invitation_schemas  # invitations (issue 19)
from .openapi_loop import loop_paths, loop_schemas
from .openapi_organisations import STORY_BODY, organisation_paths, organisation_schemas
from .openapi_parts import (
    IGNORED,
    RESPOND_TOKEN,
    SPACE,
    TOKEN,
    answer,
    author_body,
    errors,
    public_paths,
    public_schemas,
    sign_in_schema,
    staff_paths,
    when,
)
from .openapi_reports import report_paths, report_schemas  # reports (issue 15)
from .openapi_sources import source_paths, source_schemas  # a lead's own sources (issue 21)


@lru_cache(maxsize=1)
def document() -> dict[str, Any]:
    submission = StorySubmission.model_json_schema(ref_template="#/components/schemas/{model}")
    decision = ModerationDecision.model_json_schema(ref_template="#/components/schemas/{model}")
    schemas: dict[str, Any] = {}
    for s in (submission, decision):
        schemas.update(s.pop("$defs", {}))
    # What the models check beyond their own JSON Schema, stated so that a client (and a fuzzer) knows.
    props = submission["properties"]
    props["consent"] = {"const": True, "description": "Must be true: the author agrees to the publishing terms"}
    for name in ("services", "feelings"):
        props[name]["uniqueItems"] = True
    props["services"]["description"] = "Slugs of services in the directory (GET /api/services); an unknown one is a 422"
    props["experience_year"]["description"] = (
        "With experience_month: a month within the last three years, not in the future (else 422)"
    )
    props["related_story"]["description"] = "A published story's id (else 422)"
    props["started"]["description"] = (
        "When the form was opened, in milliseconds since 1970 (the form's script fills it). A story sent "
        "less than FF_MIN_FORM_SECONDS (3) seconds later is a 422 naming this field; none, or a time in "
        "the future or long ago, is accepted"
    )
    schemas["StorySubmission"] = submission
    # The form (JavaScript off) makes its own submission id from the content when it has none.
    blank = {"type": "string", "maxLength": 0}
    schemas["StoryForm"] = {
        **submission,
        "required": [r for r in submission["required"] if r != "submission_id"],
        "description": "The story form's fields (feelings and services repeated); consent is yes, true or on",
        "properties": {
            **props,
            "email": {"anyOf": [blank, {"type": "string", "format": "email"}]},
            "related_story": {
                "anyOf": [blank, props["related_story"]["anyOf"][0]],
                "description": props["related_story"]["description"],
            },
            "started": {
                "anyOf": [blank, props["started"]["anyOf"][0]],
                "description": props["started"]["description"] + " (blank with JavaScript off)",
            },
        },
    }
    decision["allOf"] = [
        when(
            {"action": {"const": "publish"}},
            {"required": ["criticality"], "properties": {"criticality": {"type": "integer"}}},
        ),
        when(
            {"action": {"enum": ["hold", "reject"]}}, {"required": ["note"], "properties": {"note": {"minLength": 1}}}
        ),
    ]
    schemas["ModerationDecision"] = decision
    schemas["SignIn"] = sign_in_schema()
    # Staff subscriptions (self-service sign-up; the same model checks an admin's bulk file).
    subscription = SubscriptionRequest.model_json_schema(ref_template="#/components/schemas/{model}")
    schemas.update(subscription.pop("$defs", {}))
    schemas["SubscriptionRequest"] = subscription
    # The author's side: a reply carries a client-made id, so sending it twice makes one reply.
    reply = AuthorReply.model_json_schema(ref_template="#/components/schemas/{model}")
    reply["properties"]["reply_id"] = {
        "type": "string",
        "pattern": "^[A-Za-z0-9_-]{16,64}$",
        "description": "Made by the client (the form renders one); the same id again is the same reply",
    }
    reply["required"] = sorted(set(reply.get("required", [])) | {"reply_id"})
    schemas["AuthorReply"] = reply
    item = ItemDecision.model_json_schema(ref_template="#/components/schemas/{model}")
    item["allOf"] = [
        when({"action": {"const": "reject"}}, {"required": ["note"], "properties": {"note": {"minLength": 1}}})
    ]
    schemas["ItemDecision"] = item
    schemas["WithdrawConfirmation"] = {
        "type": "object",
        "required": ["confirm"],
        "properties": {
            "confirm": {
                "description": 'true (a form sends "yes")',
                "anyOf": [
                    {"const": True},
                    {"type": "string", "pattern": f"^{SPACE}*(?:[Yy][Ee][Ss]|[Tt][Rr][Uu][Ee]|[Oo][Nn]){SPACE}*$"},
                ],
            }
        },
    }
    schemas["EraseConfirmation"] = {
        "type": "object",
        "required": ["confirm"],
        "properties": {
            "confirm": {
                "description": 'The word "ERASE" (any case)',
                "type": "string",
                "pattern": f"^{SPACE}*[Ee][Rr][Aa][Ss\u017f][Ee]{SPACE}*$",
            }
        },
    }
    # Reading and responding: a response carries an optional client-made id, so sending it twice makes one.
    response = ResponseSubmission.model_json_schema(ref_template="#/components/schemas/{model}")
    schemas.update(response.pop("$defs", {}))
    response["properties"]["response_id"] = {
        "type": "string",
        "pattern": "^[0-9a-hjkmnp-tv-z]{17}$",
        "description": "Made by the page (a hidden field); the same id again is the same response",
    }
    schemas["ResponseSubmission"] = response
    schemas["ResponseAnswer"] = {
        "type": "object",
        "required": ["id", "status", "created_at"],
        "properties": {
            "id": {"type": "string"},
            "status": {"type": "string", "enum": [Status.PUBLISHED, Status.HELD]},
            "created_at": {"type": "string"},
            "published_at": {"type": "string"},
            "flags": {
                "type": "array",
                "items": {
                    "type": "string",
                    "enum": ["email", "phone", "nhs_number", "postcode", "date_of_birth", "name"],
                },
                "description": "When held: the kinds of identifying detail found",
            },
            "checks": {
                "type": "array",
                "items": {"type": "string", "enum": ["first-responses", "change-made", "high-criticality"]},
                "description": "When held: why a moderator checks it first besides identifying details",
            },
            "flag_words": {"type": "string"},
            "message": {
                "type": "string",
                "description": "When held: what was found, in plain words, and what happens next",
            },
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
    schemas.update(public_schemas())
    schemas.update(loop_schemas())  # CHECK
    schemas.update(organisation_schemas())
    schemas.update(source_schemas())
    schemas.update(report_schemas() | invitation_schemas())  # reports (issue 15), invitations (issue 19)
    schemas.update(concern_schemas())  # concerns about what is published (issue 16)
    schemas["ServiceMatch"] = {
        "type": "object",
        "required": ["slug", "name", "kind", "within"],
        "properties": {k: {"type": "string"} for k in ("slug", "name", "kind", "within")},
    }
    html = {"type": "string"}
    doc: dict[str, Any] = {
        "openapi": "3.1.0",
        "info": {
            "title": "FeedForward API",
            "version": "1.0.0",
            "description": "Tell a story of care, follow it, and moderate it. Public reads are served as static pages and feeds.\n\n"
            "Every body is at most 64 KiB (413). A JSON body is one object (400 otherwise) that repeats no key, whose "
            "numbers lie within ±(2^53 − 1) and whose strings hold no NUL and no unpaired UTF-16 surrogate (each a 400). "
            "Text is kept as plain text: control and bidi characters are removed and surrounding space trimmed before "
            "lengths are checked. Errors are JSON (`Error`); a browser (a form post, or an Accept header preferring "
            "HTML) gets the same status as a page.",
        },
        "servers": [{"url": "/"}],
        "components": {
            "schemas": schemas,
            "securitySchemes": {
                "moderatorToken": {"type": "http", "scheme": "bearer", "bearerFormat": "Cognito ID token (JWT)"}
            },
        },
        "paths": {
            "/api/services": {
                "get": {
                    "summary": "Find services by words in their names (for the form's picker)",
                    "parameters": [
                        {"name": "q", "in": "query", "required": False, "schema": {"type": "string", "maxLength": 100}}
                    ],
                    "responses": {
                        "200": answer(
                            "Up to 10 matching services",
                            {
                                "type": "object",
                                "properties": {
                                    "services": {
                                        "type": "array",
                                        "items": {"$ref": "#/components/schemas/ServiceMatch"},
                                    }
                                },
                            },
                        ),
                        **errors(400),
                    },
                }
            },
            "/api/stories": {
                "post": {
                    "summary": "Tell a story. It is pending, and private, until a moderator publishes it.",
                    "requestBody": {
                        **STORY_BODY,
                        "content": {
                            "application/json": {"schema": {"$ref": "#/components/schemas/StorySubmission"}},
                            "application/x-www-form-urlencoded": {"schema": {"$ref": "#/components/schemas/StoryForm"}},
                        },
                    },
                    "responses": {
                        "201": answer(
                            "The story is received (or was already, for the same submission_id)",
                            {
                                "type": "object",
                                "required": ["id", "status"],
                                "properties": {"id": {"type": "string"}, "status": {"type": "string"}},
                            },
                        ),
                        "303": {"description": "A form post was received; see the thank-you page"},
                        **errors(400, 409, 413, 415, 422),
                    },
                }
            },
            "/api/my/{token}": {
                "get": {
                    "summary": "The author's private page for their story (from the emailed link). Changes nothing.",
                    "parameters": [{"name": "token", "in": "path", "required": True, "schema": {"type": "string"}}],
                    "responses": {"200": answer("The page", html, "text/html"), **errors(404)},
                }
            },
            "/api/my/{token}/replies": {
                "post": {
                    "summary": "The author replies to the conversation on their published story; a moderator checks it first",
                    "parameters": [TOKEN],
                    "requestBody": author_body("AuthorReply"),
                    "responses": {
                        "202": answer(
                            "The reply waits for a moderator (the same reply_id again answers the same)",
                            {"type": "object"},
                        ),
                        "303": {"description": "A form post: back to the private page, with a notice"},
                        **errors(400, 404, 409, 413, 415, 422),
                    },
                }
            },
            "/api/my/{token}/withdraw": {
                "post": {
                    "summary": "The author withdraws their story: gone from pages, feeds and the API at the next render",
                    "parameters": [TOKEN],
                    "requestBody": author_body("WithdrawConfirmation"),
                    "responses": {
                        "200": answer("Withdrawn (twice is harmless)", {"type": "object"}),
                        "303": {"description": "A form post: back to the private page, with a notice"},
                        **errors(400, 404, 409, 413, 415, 422),
                    },
                }
            },
            "/api/my/{token}/erase": {
                "post": {
                    "summary": "The author asks for erasure: every item about the story and its author is deleted, and this link stops working",
                    "parameters": [TOKEN],
                    "requestBody": author_body("EraseConfirmation"),
                    "responses": {
                        "202": answer("Being erased", {"type": "object"}),
                        "200": answer("A form post: a page saying the story is being erased", html, "text/html"),
                        **errors(400, 404, 409, 413, 415, 422),
                    },
                }
            },
            "/api/respond/{token}": {
                "get": {
                    "summary": "A member of staff's read-and-respond page for one story (from their alert email). Changes nothing.",
                    "parameters": [
                        RESPOND_TOKEN,
                        {"name": "sent", "in": "query", "required": False, "schema": {"type": "string"}},
                    ],
                    "responses": {"200": answer("The page", html, "text/html"), **errors(404)},
                },
                "post": {
                    "summary": "Respond in public. Published at once, or held for a moderator when it seems to contain identifying details",
                    "parameters": [RESPOND_TOKEN],
                    "requestBody": {
                        "required": True,
                        "content": {
                            "application/json": {"schema": {"$ref": "#/components/schemas/ResponseSubmission"}},
                            "application/x-www-form-urlencoded": {
                                "schema": {"$ref": "#/components/schemas/ResponseSubmission"}
                            },
                        },
                    },
                    "responses": {
                        "201": answer(
                            "Published (or was already, for the same response_id)",
                            {"$ref": "#/components/schemas/ResponseAnswer"},
                        ),
                        "202": {
                            "description": "Held for a moderator; `flags` says why (a form post gets the page saying so)",
                            "content": {
                                "application/json": {"schema": {"$ref": "#/components/schemas/ResponseAnswer"}},
                                "text/html": {"schema": html},
                            },
                        },
                        "303": {"description": "A form post was published: back to the page, which says so"},
                        **errors(400, 403, 404, 409, 413, 415, 422, 429),
                    },
                },
            },
            "/api/respond/{token}/read": {
                "post": {
                    "summary": '"I have read this story": records this person\'s read receipt, the first time only. Any body.',
                    "parameters": [RESPOND_TOKEN],
                    "requestBody": {
                        "required": False,
                        "description": "Not read: the POST itself is the person's action",
                        IGNORED: True,
                        "content": {
                            t: {"schema": {"type": "object"}}
                            for t in ("application/json", "application/x-www-form-urlencoded")
                        },
                    },
                    "responses": {
                        "200": answer(
                            "When they first read it",
                            {"type": "object", "required": ["read_at"], "properties": {"read_at": {"type": "string"}}},
                        ),
                        "303": {"description": "A form post: back to the page"},
                        **errors(404, 415),
                    },
                }
            },
            **staff_paths(html),
            **public_paths(),
            **loop_paths(html),  # CHECK
            **address_paths(html),  # issue 18: the author confirms the address
            **organisation_paths(html),
            **source_paths(),
            **(report_paths(html) | invitation_paths(html)),  # reports (issue 15), invitations (issue 19)
            "/api/openapi.json": {
                "get": {"summary": "This document", "responses": {"200": answer("OpenAPI 3", {"type": "object"})}}
            },
            **browse_paths(html),  # find stories near a place, a service's stories filtered (issue 20)
            **moderation_paths(html),  # the moderation API, and the reports of concerns (issue 16)
            **concern_paths(html),
        },
    }
    doc["paths"]["/api/public/stories"]["get"]["parameters"] += filter_parameters()  # issue 20
    _rate_limited(doc["paths"])
    return doc


def _rate_limited(paths: dict[str, Any]) -> None:
    """429 + Retry-After wherever limits.py can refuse: the limited actions and every capability link."""
    limited = {("/api/stories", "post"), ("/api/subscriptions", "post"), ("/api/stories/{story_id}/me-too", "post")}
    limited |= {(p, "post") for p in paths if p.startswith("/api/stories/{story_id}/concerns/")}
    for path, operations in paths.items():
        for method, operation in operations.items():
            if "{token}" in path or (path, method) in limited:
                operation["responses"].update(errors(429))


if __name__ == "__main__":  # python -m chalicelib.edge.openapi > docs/openapi.json
    import json
    import sys

    json.dump(document(), sys.stdout, indent=2, sort_keys=True)
    sys.stdout.write("\n")
