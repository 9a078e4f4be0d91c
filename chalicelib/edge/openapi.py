"""The OpenAPI 3 document of the HTTP API, built from the same pydantic models that validate requests."""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from ..core.models import AuthorReply, ItemDecision, ModerationDecision, ResponseSubmission, StorySubmission, SubscriptionRequest

ERROR = {"$ref": "#/components/schemas/Error"}


def _answer(description: str, schema: dict[str, Any] | None = None, media: str = "application/json") -> dict[str, Any]:
    out: dict[str, Any] = {"description": description}
    if schema is not None:
        out["content"] = {media: {"schema": schema}}
    return out


# Rate limits (chalicelib/limits.py): how long to wait, on every 429.
RETRY_AFTER = {"Retry-After": {"required": True, "description": "Seconds until this client may try again",
                               "schema": {"type": "integer", "minimum": 1}}}


def _errors(*codes: int) -> dict[str, Any]:
    """Error answers: JSON for programs; the same error as a page for a browser (a form post, or an
    Accept header that prefers HTML), from the error middleware in app.py."""
    words = {
        400: "The body is malformed (not JSON, not UTF-8, not an object)",
        401: "No valid moderator token",
        403: "Signed in, but not a moderator",
        404: "Not found",
        409: "The story changed since it was read, or the same submission is in progress",
        413: "The body is too large",
        415: "Unsupported content type",
        422: "A field is not valid; `error.fields` names each one (a form post gets its form again, each field's problem shown)",
        429: "Too many requests from this client; the Retry-After header says when to try again",
    }
    out: dict[str, Any] = {}
    for c in codes:
        answer = _answer(words[c], ERROR)
        answer["content"]["text/html"] = {"schema": {"type": "string"}}
        if c == 429:
            answer["headers"] = RETRY_AFTER
        out[str(c)] = answer
    return out


BEARER = [{"moderatorToken": []}]
# On a request body that the route never reads (only its size is checked).
IGNORED = "x-feedforward-body-ignored"
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
# Python's whitespace (str.strip, str.isspace), which is not quite ECMAScript's \\s.
_SP = "[\\t-\\r\\x1c-\\x20\\x85\\xa0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000]"


def _when(condition: dict[str, Any], then: dict[str, Any]) -> dict[str, Any]:
    """A rule across fields (a model validator): if these properties are present and match, then ..."""
    return {"if": {"required": list(condition), "properties": condition}, "then": then}


def _sign_in_schema() -> dict[str, Any]:
    """auth.SignIn: a password step, or the answer to a challenge (a 6-digit code for the app steps)."""
    from .auth import CODE_CHALLENGES

    username = {"type": "string", "minLength": 3, "maxLength": 254, "description": "Trimmed before it is checked"}
    text = lambda most: {"type": "string", "minLength": 1, "maxLength": most}  # noqa: E731
    none = {"type": "null"}
    challenge = {"type": "object", "additionalProperties": False, "required": ["username", "session", "challenge", "answer"],
                 "properties": {"username": username, "password": none, "session": text(4096),
                                "challenge": {"enum": ["NEW_PASSWORD_REQUIRED", *CODE_CHALLENGES]}, "answer": text(256)}}
    challenge.update(_when({"challenge": {"enum": list(CODE_CHALLENGES)}}, {"properties": {"answer": {"pattern": "^[0-9]{6}$"}}}))
    return {"oneOf": [
        {"type": "object", "additionalProperties": False, "required": ["username", "password"],
         "properties": {"username": username, "password": text(256), "session": none, "challenge": none, "answer": none}},
        challenge,
    ]}


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
    props["experience_year"]["description"] = "With experience_month: a month within the last three years, not in the future (else 422)"
    props["related_story"]["description"] = "A published story's id (else 422)"
    props["started"]["description"] = ("When the form was opened, in milliseconds since 1970 (the form's script fills it). A story sent "
                                       "less than FF_MIN_FORM_SECONDS (3) seconds later is a 422 naming this field; none, or a time in "
                                       "the future or long ago, is accepted")
    schemas["StorySubmission"] = submission
    # The form (JavaScript off) makes its own submission id from the content when it has none.
    blank = {"type": "string", "maxLength": 0}
    schemas["StoryForm"] = {**submission, "required": [r for r in submission["required"] if r != "submission_id"],
                            "description": "The story form's fields (feelings and services repeated); consent is yes, true or on",
                            "properties": {**props, "email": {"anyOf": [blank, {"type": "string", "format": "email"}]},
                                           "related_story": {"anyOf": [blank, props["related_story"]["anyOf"][0]],
                                                             "description": props["related_story"]["description"]},
                                           "started": {"anyOf": [blank, props["started"]["anyOf"][0]],
                                                       "description": props["started"]["description"] + " (blank with JavaScript off)"}}}
    decision["allOf"] = [
        _when({"action": {"const": "publish"}}, {"required": ["criticality"], "properties": {"criticality": {"type": "integer"}}}),
        _when({"action": {"enum": ["hold", "reject"]}}, {"required": ["note"], "properties": {"note": {"minLength": 1}}}),
    ]
    schemas["ModerationDecision"] = decision
    schemas["SignIn"] = _sign_in_schema()
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
    item = ItemDecision.model_json_schema(ref_template="#/components/schemas/{model}")
    item["allOf"] = [_when({"action": {"const": "reject"}}, {"required": ["note"], "properties": {"note": {"minLength": 1}}})]
    schemas["ItemDecision"] = item
    schemas["WithdrawConfirmation"] = {
        "type": "object",
        "required": ["confirm"],
        "properties": {"confirm": {"description": 'true (a form sends "yes")',
                                   "anyOf": [{"const": True}, {"type": "string", "pattern": f"^{_SP}*(?:[Yy][Ee][Ss]|[Tt][Rr][Uu][Ee]|[Oo][Nn]){_SP}*$"}]}},
    }
    schemas["EraseConfirmation"] = {
        "type": "object",
        "required": ["confirm"],
        "properties": {"confirm": {"description": 'The word "ERASE" (any case)', "type": "string",
                                   "pattern": f"^{_SP}*[Ee][Rr][Aa][Ss\u017f][Ee]{_SP}*$"}},
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
    schemas.update(_public_schemas())
    schemas.update(_loop_schemas())  # CHECK
    schemas["ServiceMatch"] = {
        "type": "object",
        "required": ["slug", "name", "kind", "within"],
        "properties": {k: {"type": "string"} for k in ("slug", "name", "kind", "within")},
    }
    html = {"type": "string"}
    doc = {
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
                            "application/x-www-form-urlencoded": {"schema": {"$ref": "#/components/schemas/StoryForm"}},
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
                    "requestBody": _author_body("WithdrawConfirmation"),
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
                    "requestBody": _author_body("EraseConfirmation"),
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
                        "202": {"description": "Held for a moderator; `flags` says why (a form post gets the page saying so)",
                                "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ResponseAnswer"}},
                                            "text/html": {"schema": html}}},
                        "303": {"description": "A form post was published: back to the page, which says so"},
                        **_errors(400, 404, 409, 413, 415, 422),
                    },
                },
            },
            "/api/respond/{token}/read": {
                "post": {
                    "summary": "\"I have read this story\": records this person's read receipt, the first time only. Any body.",
                    "parameters": [RESPOND_TOKEN],
                    "requestBody": {"required": False, "description": "Not read: the POST itself is the person's action", IGNORED: True,
                                    "content": {t: {"schema": {"type": "object"}} for t in ("application/json", "application/x-www-form-urlencoded")}},
                    "responses": {
                        "200": _answer("When they first read it", {"type": "object", "required": ["read_at"], "properties": {"read_at": {"type": "string"}}}),
                        "303": {"description": "A form post: back to the page"},
                        **_errors(404, 415),
                    },
                }
            },
            **_staff_paths(html),
            **_public_paths(),
            **_loop_paths(html),  # CHECK
            "/api/openapi.json": {"get": {"summary": "This document", "responses": {"200": _answer("OpenAPI 3", {"type": "object"})}}},
            "/api/moderation/sign-in": {
                "post": {
                    "summary": "Sign a moderator in with Cognito (password, then any challenge)",
                    "requestBody": {"required": True, "content": {"application/json": {"schema": {"$ref": "#/components/schemas/SignIn"}}}},
                    "responses": {"200": _answer("A token, or the next challenge", {"type": "object"}), **_errors(400, 401, 413, 415, 422, 429)},
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
                        {"name": "kind", "in": "path", "required": True, "schema": {"type": "string", "enum": ["responses", "replies", "checks"]},
                         "description": "A held staff response, a pending author reply, or a change check's comment"},
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
    _rate_limited(doc["paths"])
    return doc


def _rate_limited(paths: dict[str, Any]) -> None:
    """429 + Retry-After wherever limits.py can refuse: the limited actions, and every capability
    link (a client whose budget of links that did not work is spent is refused any link)."""
    limited = {("/api/stories", "post"), ("/api/subscriptions", "post"), ("/api/stories/{story_id}/me-too", "post")}
    for path, operations in paths.items():
        for method, operation in operations.items():
            if "{token}" in path or (path, method) in limited:
                operation["responses"].update(_errors(429))


def _staff_paths(html: dict[str, Any]) -> dict[str, Any]:
    """Subscribing, confirming, managing and one-click unsubscribe. The emailed links answer HTML pages;
    a GET never changes anything, a POST does."""
    token = {"name": "token", "in": "path", "required": True, "schema": {"type": "string"}, "description": "From the emailed link"}
    page = _answer("The page", html, "text/html")
    button = {"required": False, "description": "Not read: the token in the path is all it takes", IGNORED: True,
              "content": {t: {"schema": {"type": "object"}} for t in (
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
                        "application/x-www-form-urlencoded": {"schema": {"$ref": "#/components/schemas/SubscriptionRequest"}},
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
                "responses": {"303": {"description": "Done: back to the page, with a notice"},
                              **_errors(400, 404, 413, 415, 422)},
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


# ---- the public read-only API (chalicelib/public_api.py) --------------------------------------------

_STR = {"type": "string"}
_WHEN = {"type": ["string", "null"], "description": "ISO 8601 UTC, or null until reached"}


def _obj(required: list[str], properties: dict[str, Any], description: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {"type": "object", "required": required, "properties": properties, "additionalProperties": False}
    if description:
        out["description"] = description
    return out


def _public_schemas() -> dict[str, Any]:
    link = _obj(["slug", "name", "url"], {"slug": _STR, "name": _STR, "url": {"type": "string", "format": "uri"}})
    progress = _obj(
        ["current", "dates"],
        {
            "current": {"type": "string", "enum": ["published", "read", "responded", "planned", "made"],
                        "description": "The furthest step reached: published → read → responded → change planned → change made"},
            "dates": _obj(["published", "read", "responded", "planned", "made"], {k: _WHEN for k in ("published", "read", "responded", "planned", "made")}),
        },
    )
    summary_props = {
        "id": _STR,
        "url": {"type": "string", "format": "uri", "description": "The story's public page"},
        "title": _STR,
        "excerpt": {"type": "string", "description": "The start of the story, up to about 300 characters"},
        "pseudonym": {"type": "string", "description": "The name the author chose to show"},
        "role": {"type": "string", "description": "patient, carer, relative, ... (the form's choices)"},
        "role_label": {"type": "string", "description": "The role in words"},
        "experience": {"type": "string", "description": "The month the care happened: YYYY-MM"},
        "published_at": _STR,
        "services": {"type": "array", "items": {"$ref": "#/components/schemas/PublicServiceLink"}},
        "tags": {"type": "array", "items": _STR},
        "feelings": {"type": "array", "items": _STR},
        "progress": {"$ref": "#/components/schemas/PublicProgress"},
    }
    entry = _obj(
        ["kind", "id", "at", "text"],
        {
            "kind": {"type": "string", "enum": ["response", "author_reply"]},
            "id": _STR, "at": _STR, "text": _STR,
            "name": {"type": "string", "description": "response: the member of staff's public name"},
            "role": _STR, "service": _STR, "organisation": _STR,
            "change": {"type": "string", "enum": ["none", "planned", "made"]},
            "change_description": _STR,
        },
        "A published staff response, or a published reply by the story's author",
    )
    full_props = {k: v for k, v in summary_props.items() if k != "excerpt"} | {
        "story": _STR, "good": _STR, "improve": _STR,
        "response_count": {"type": "integer", "minimum": 0},
        "read_by": {"type": "array", "items": _obj(["name", "role", "service", "organisation", "read_at"],
                                                    {k: _STR for k in ("name", "role", "service", "organisation", "read_at")}),
                    "description": "Read receipts: who first read the story, and when (first first)"},
        "conversation": {"type": "array", "items": {"$ref": "#/components/schemas/PublicConversationEntry"},
                         "description": "Responses and author replies, oldest first"},
        "me_too_count": {"type": "integer", "minimum": 0, "description": "How many readers said this happened to them too"},
        "change_verdict": {"type": ["string", "null"], "enum": ["yes", "partly", "no", None],
                           "description": "The author's answer to: did the change make a difference?"},
        "response_due_at": {"type": "string", "description": "When the service promised a first response (if it made a promise)"},
        "overdue": {"type": "boolean", "description": "The promise passed with no response (only with response_due_at)"},
    }
    return {
        "PublicServiceLink": link,
        "PublicProgress": progress,
        "PublicStorySummary": _obj(list(summary_props), summary_props),
        "PublicConversationEntry": entry,
        "PublicStory": _obj([k for k in full_props if k not in ("response_due_at", "overdue")], full_props),
        "PublicStoryPage": _obj(
            ["stories", "next_cursor", "next"],
            {
                "stories": {"type": "array", "items": {"$ref": "#/components/schemas/PublicStorySummary"}},
                "next_cursor": {"type": ["string", "null"], "description": "Pass as `cursor` for the next page; null on the last page"},
                "next": {"type": ["string", "null"], "description": "The next page's address (same filters), or null"},
            },
            "A page of stories. With both `service` and `tag` a page may hold fewer than `limit` (even none) "
            "and still have a next page: follow `next` until it is null.",
        ),
        "PublicService": _obj(
            ["slug", "name", "kind", "url", "widget_url", "feeds", "stories", "within", "children", "figures"],
            {
                "slug": _STR, "name": _STR, "kind": _STR,
                "url": {"type": "string", "format": "uri"},
                "widget_url": {"type": "string", "format": "uri", "description": "A page made to sit in an iframe: the latest stories"},
                "feeds": _obj(["atom", "json"], {"atom": {"type": "string", "format": "uri"}, "json": {"type": "string", "format": "uri"}}),
                "stories": {"type": "string", "description": "This API's list of the service's stories (its whole subtree)"},
                "within": {"type": "array", "items": {"$ref": "#/components/schemas/PublicServiceLink"}, "description": "Its ancestors, top first"},
                "children": {"type": "array", "items": {"type": "object", "required": ["slug", "name", "url", "kind"],
                                                        "properties": {"slug": _STR, "name": _STR, "url": _STR, "kind": _STR}}},
                "figures": {
                    "type": ["object", "null"],
                    "description": "For the service and everything below it: stories, response_rate (0-1), median_hours and "
                                   "p90_hours to a first response, overdue, planned, made, confirmed, and months {YYYY-MM: stories}",
                    "properties": {
                        "stories": {"type": "integer"}, "response_rate": {"type": ["number", "null"]},
                        "median_hours": {"type": ["integer", "null"]}, "p90_hours": {"type": ["integer", "null"]},
                        "overdue": {"type": "integer"}, "planned": {"type": "integer"}, "made": {"type": "integer"},
                        "confirmed": {"type": "integer"}, "months": {"type": "object", "additionalProperties": {"type": "integer"}},
                    },
                },
            },
        ),
    }


def _public_paths() -> dict[str, Any]:
    cache = {"Cache-Control": {"schema": {"type": "string"}, "description": "public, max-age=60"}}

    def ok(description: str, schema: str) -> dict[str, Any]:
        return _answer(description, {"$ref": f"#/components/schemas/{schema}"}) | {"headers": cache}

    q = lambda name, schema, text: {"name": name, "in": "query", "required": False, "schema": schema, "description": text}  # noqa: E731
    # An empty value is as if the parameter were not there (a form's empty choice).
    blank = {"type": "string", "maxLength": 0}
    slug = {"type": "string", "pattern": "^(?:[a-z0-9][a-z0-9-]{0,79})?$"}
    day = {"anyOf": [blank, {"type": "string", "format": "date", "pattern": "^[0-9]{4}-[0-9]{2}-[0-9]{2}$"}]}
    bad = {"400": _answer("A query value is not valid; `error.fields` names the parameter", ERROR)}
    return {
        "/api/public/stories": {
            "get": {
                "summary": "Published stories, newest first, for other platforms: filter by service (with everything below it), "
                           "tag and publication date (UTC days, inclusive); page with the cursor",
                "parameters": [
                    q("service", slug, "A service's slug: its stories and those of every service below it"),
                    q("tag", {"type": "string", "pattern": "^(?:[a-z0-9][a-z0-9-]{0,39})?$"}, "Only stories with this tag (an unknown tag gives an empty list)"),
                    q("from", day, "Published on or after this day (UTC)"),
                    q("to", day, "Published on or before this day (UTC)"),
                    q("limit", {"anyOf": [{"type": "integer", "minimum": 1, "maximum": 100}, blank], "default": 20}, "Stories per page"),
                    q("cursor", {"type": "string", "maxLength": 400}, "next_cursor from the previous page, with the same filters"),
                ],
                "responses": {"200": ok("A page of stories", "PublicStoryPage"), **bad,
                              "404": _answer("No service has that slug (`error.fields` names `service`)", ERROR)},
            }
        },
        "/api/public/stories/{story_id}": {
            "get": {
                "summary": "One published story with its read receipts, published responses and author replies, and its progress",
                "parameters": [{"name": "story_id", "in": "path", "required": True, "schema": {"type": "string"}}],
                "responses": {"200": ok("The story", "PublicStory"), **_errors(404)},
            }
        },
        "/api/public/services/{slug}": {
            "get": {
                "summary": "One service: where it sits, its sub-services, its figures, and where to find its stories",
                "parameters": [{"name": "slug", "in": "path", "required": True, "schema": {"type": "string"}}],
                "responses": {"200": ok("The service", "PublicService"), **_errors(404)},
            }
        },
    }


# ---- CHECK: me too and change checks ----------------------------------------------------------


def _loop_schemas() -> dict[str, Any]:
    from ..core.models import CheckAnswer, MeToo

    out: dict[str, Any] = {}
    for name, model in (("MeToo", MeToo), ("CheckAnswer", CheckAnswer)):
        schema = model.model_json_schema(ref_template="#/components/schemas/{model}")
        out.update(schema.pop("$defs", {}))
        out[name] = schema
    out["MeToo"]["allOf"] = [_when({"email": {"type": "string"}}, {"required": ["consent"], "properties": {"consent": {"const": True}}})]
    return out


def _loop_paths(html: dict[str, Any]) -> dict[str, Any]:
    def body(schema: str) -> dict[str, Any]:
        ref = {"schema": {"$ref": f"#/components/schemas/{schema}"}}
        return {"required": True, "content": {"application/json": ref, "application/x-www-form-urlencoded": ref}}

    check_token = {"name": "token", "in": "path", "required": True, "schema": {"type": "string"},
                   "description": "The emailed change-check link"}
    return {
        "/api/stories/{story_id}/me-too": {
            "post": {
                "summary": "\"This happened to me too\", about a published story. No account; an address only to be asked, "
                           "six weeks after a change is made, whether it made a difference. One per client and day.",
                "parameters": [STORY_ID],
                "requestBody": body("MeToo"),
                "responses": {
                    "201": _answer("Counted (the story's count follows within moments)", {"type": "object"}),
                    "200": _answer("Already said today from here (nothing more counted); a form post gets a thank-you page",
                                   {"type": "object"}) | {"content": {"application/json": {"schema": {"type": "object"}},
                                                                      "text/html": {"schema": html}}},
                    **_errors(400, 404, 413, 415, 422, 429),
                },
            }
        },
        "/api/check/{token}": {
            "get": {
                "summary": "Did the change make a difference? The page behind the emailed link. Changes nothing.",
                "parameters": [check_token, {"name": "done", "in": "query", "required": False, "schema": {"type": "string"}}],
                "responses": {"200": _answer("The page", html, "text/html"), **_errors(404, 429)},
            },
            "post": {
                "summary": "Answer yes, partly or no, with an optional comment (moderated). The first answer from a link stands.",
                "parameters": [check_token],
                "requestBody": body("CheckAnswer"),
                "responses": {
                    "201": _answer("Recorded", {"type": "object"}),
                    "200": _answer("The same answer again: nothing changed", {"type": "object"}),
                    "303": {"description": "A form post: back to the page, which shows the answer"},
                    **_errors(400, 404, 409, 413, 415, 422, 429),
                },
            },
        },
    }


if __name__ == "__main__":  # python -m chalicelib.openapi > docs/openapi.json
    import json
    import sys

    json.dump(document(), sys.stdout, indent=2, sort_keys=True)
    sys.stdout.write("\n")
