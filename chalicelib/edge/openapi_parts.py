"""The OpenAPI document's building blocks (answers, errors, parameters) and its parts that stand
on their own: the staff pages, the public read-only API, the moderators' sign-in. openapi.py
puts them together (with openapi_loop.py)."""

from __future__ import annotations

from typing import Any

from .auth import CODE_CHALLENGES

ERROR = {"$ref": "#/components/schemas/Error"}


def answer(description: str, schema: dict[str, Any] | None = None, media: str = "application/json") -> dict[str, Any]:
    out: dict[str, Any] = {"description": description}
    if schema is not None:
        out["content"] = {media: {"schema": schema}}
    return out


# Rate limits (chalicelib/limits.py): how long to wait, on every 429.
RETRY_AFTER = {
    "Retry-After": {
        "required": True,
        "description": "Seconds until this client may try again",
        "schema": {"type": "integer", "minimum": 1},
    }
}


def errors(*codes: int) -> dict[str, Any]:
    """Error answers: JSON for programs; the same error as a page for a browser (a form post, or an
    Accept header that prefers HTML), from the error middleware in app.py."""
    words = {
        400: "The body is malformed (not JSON, not UTF-8, not an object)",
        401: "No valid moderator token",
        403: "Not allowed: signed in but not a moderator, or (responding) no grant to respond in public",
        404: "Not found",
        409: "The story changed since it was read, or the same submission is in progress",
        413: "The body is too large",
        415: "Unsupported content type",
        422: "A field is not valid; `error.fields` names each one (a form post gets its form again, each field's problem shown)",
        429: "Too many requests from this client; the Retry-After header says when to try again",
    }
    out: dict[str, Any] = {}
    for c in codes:
        given = answer(words[c], ERROR)
        given["content"]["text/html"] = {"schema": {"type": "string"}}
        if c == 429:
            given["headers"] = RETRY_AFTER
        out[str(c)] = given
    return out


BEARER: list[dict[str, list[str]]] = [{"moderatorToken": []}]
# On a request body that the route never reads (only its size is checked).
IGNORED = "x-feedforward-body-ignored"
RESPOND_TOKEN = {
    "name": "token",
    "in": "path",
    "required": True,
    "schema": {"type": "string"},
    "description": "The emailed read-and-respond link",
}
TOKEN = {"name": "token", "in": "path", "required": True, "schema": {"type": "string"}}
# A button's post: what app.py's ANY_BODY accepts; none of it is read.
BUTTON = {
    "required": False,
    "description": "Not read: the token in the path is all it takes",
    IGNORED: True,
    "content": {
        t: {"schema": {"type": "object"}}
        for t in ("application/x-www-form-urlencoded", "multipart/form-data", "text/plain", "application/json")
    },
}


def author_body(schema: str) -> dict[str, Any]:
    """A body from the author's private page: JSON, or the page's own form (JavaScript off)."""
    return {
        "required": True,
        "content": {
            "application/json": {"schema": {"$ref": f"#/components/schemas/{schema}"}},
            "application/x-www-form-urlencoded": {"schema": {"$ref": f"#/components/schemas/{schema}"}},
        },
    }


STORY_ID = {
    "name": "story_id",
    "in": "path",
    "required": True,
    "schema": {"type": "string", "pattern": "^[0-9a-z]{17}$"},
}
# Python's whitespace (str.strip, str.isspace), which is not quite ECMAScript's \\s.
SPACE = "[\\t-\\r\\x1c-\\x20\\x85\\xa0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000]"


def when(condition: dict[str, Any], then: dict[str, Any]) -> dict[str, Any]:
    """A rule across fields (a model validator): if these properties are present and match, then ..."""
    return {"if": {"required": list(condition), "properties": condition}, "then": then}


def staff_paths(html: dict[str, Any]) -> dict[str, Any]:
    """Subscribing, confirming, managing and one-click unsubscribe. The emailed links answer HTML pages;
    a GET never changes anything, a POST does."""
    token = {
        "name": "token",
        "in": "path",
        "required": True,
        "schema": {"type": "string"},
        "description": "From the emailed link",
    }
    page = answer("The page", html, "text/html")
    button = BUTTON
    return {
        "/api/subscriptions": {
            "post": {
                "summary": "A member of staff asks for alerts. Nothing is on until they confirm from the email we send. "
                "The answer is the same whether or not the address is known.",
                "requestBody": {
                    "required": True,
                    "content": {
                        "application/json": {"schema": {"$ref": "#/components/schemas/SubscriptionRequest"}},
                        "application/x-www-form-urlencoded": {
                            "schema": {"$ref": "#/components/schemas/SubscriptionRequest"}
                        },
                    },
                },
                "responses": {
                    "202": answer(
                        "Check your email",
                        {
                            "type": "object",
                            "required": ["status"],
                            "properties": {"status": {"type": "string", "enum": ["check-your-email"]}},
                        },
                    ),
                    "303": {"description": "A form post was received; see the check-your-email page"},
                    **errors(400, 413, 415, 422),
                },
            }
        },
        "/api/subscriptions/confirm/{token}": {
            "get": {
                "summary": "What confirming will switch on, with a Confirm button. Changes nothing.",
                "parameters": [token],
                "responses": {"200": page, **errors(404)},
            },
            "post": {
                "summary": "Confirm (double opt-in): the alerts are on. Confirming twice is harmless.",
                "parameters": [token],
                "requestBody": button,
                "responses": {"200": page, **errors(404, 415)},
            },
        },
        "/api/subscriptions/manage/{token}": {
            "get": {
                "summary": "The person's alerts and public name, with a form for each change. Changes nothing.",
                "parameters": [
                    token,
                    {
                        "name": "notice",
                        "in": "query",
                        "required": False,
                        "schema": {"type": "string", "enum": ["frequency", "stopped", "profile", "stopped-all"]},
                    },
                ],
                "responses": {"200": page, **errors(404)},
            },
            "post": {
                "summary": "One change: action=frequency (subscription, frequency), stop (subscription), profile (display_name, role) or stop_all",
                "parameters": [token],
                "requestBody": {
                    "required": True,
                    "content": {
                        t: {
                            "schema": {
                                "type": "object",
                                "required": ["action"],
                                "properties": {
                                    "action": {"type": "string", "enum": ["frequency", "stop", "profile", "stop_all"]},
                                    "subscription": {"type": "string"},
                                    "frequency": {"type": "string", "enum": ["immediate", "digest"]},
                                    "display_name": {"type": "string", "maxLength": 80},
                                    "role": {"type": "string", "minLength": 2, "maxLength": 80},
                                },
                            }
                        }
                        for t in ("application/x-www-form-urlencoded", "application/json")
                    },
                },
                "responses": {
                    "303": {"description": "Done: back to the page, with a notice"},
                    **errors(400, 404, 413, 415, 422),
                },
            },
        },
        "/api/unsubscribe/{token}": {
            "get": {
                "summary": "A button to unsubscribe from every alert. Changes nothing.",
                "parameters": [token],
                "responses": {"200": page, **errors(404)},
            },
            "post": {
                "summary": "RFC 8058 one-click unsubscribe (body List-Unsubscribe=One-Click, or any): stops every alert "
                "and revokes the person's read-and-respond links. No cookie needed. Idempotent.",
                "parameters": [token],
                "requestBody": button,
                "responses": {"200": page, **errors(404, 415)},
            },
        },
    }


# ---- the public read-only API (chalicelib/public_api.py) --------------------------------------------

_STR = {"type": "string"}
_WHEN = {"type": ["string", "null"], "description": "ISO 8601 UTC, or null until reached"}


def _obj(required: list[str], properties: dict[str, Any], description: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {
        "type": "object",
        "required": required,
        "properties": properties,
        "additionalProperties": False,
    }
    if description:
        out["description"] = description
    return out


def public_schemas() -> dict[str, Any]:
    link = _obj(["slug", "name", "url"], {"slug": _STR, "name": _STR, "url": {"type": "string", "format": "uri"}})
    progress = _obj(
        ["current", "dates"],
        {
            "current": {
                "type": "string",
                "enum": ["published", "read", "responded", "planned", "made"],
                "description": "The furthest step reached: published → read → responded → change planned → change made",
            },
            "dates": _obj(
                ["published", "read", "responded", "planned", "made"],
                {k: _WHEN for k in ("published", "read", "responded", "planned", "made")},
            ),
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
        "route": {"$ref": "#/components/schemas/Route"},  # issue 19: how it came in (never who invited or entered it)
        "progress": {"$ref": "#/components/schemas/PublicProgress"},
    }
    entry = _obj(
        ["kind", "id", "at", "text"],
        {
            "kind": {"type": "string", "enum": ["response", "author_reply"]},
            "id": _STR,
            "at": _STR,
            "text": _STR,
            "name": {"type": "string", "description": "response: the member of staff's public name"},
            "role": _STR,
            "service": _STR,
            "organisation": _STR,
            "on_behalf_of": {"type": "string", "description": "response: the colleague or team a lead answered for"},
            "verified_member": {
                "type": "boolean",
                "description": "response: sent by a confirmed member of that organisation with the grant to respond",
            },
            "change": {"type": "string", "enum": ["none", "planned", "made"]},
            "change_description": _STR,
        },
        "A published staff response, or a published reply by the story's author",
    )
    full_props = {k: v for k, v in summary_props.items() if k != "excerpt"} | {
        "story": _STR,
        "good": _STR,
        "improve": _STR,
        "response_count": {"type": "integer", "minimum": 0},
        "staff_tags": {"type": "array", "items": {"$ref": "#/components/schemas/PublicStaffTag"}},
        "read_by": {
            "type": "array",
            "items": _obj(
                ["name", "role", "service", "organisation", "read_at"],
                {k: _STR for k in ("name", "role", "service", "organisation", "read_at")},
            ),
            "description": "Read receipts: who first read the story, and when (first first)",
        },
        "conversation": {
            "type": "array",
            "items": {"$ref": "#/components/schemas/PublicConversationEntry"},
            "description": "Responses and author replies, oldest first",
        },
        "me_too_count": {
            "type": "integer",
            "minimum": 0,
            "description": "How many readers said this happened to them too",
        },
        "change_verdict": {
            "type": ["string", "null"],
            "enum": ["yes", "partly", "no", None],
            "description": "The author's answer to: did the change make a difference?",
        },
        "moderator_edited_at": _STR | {"description": "When a moderator edited it after a report, if one did"},
        "response_due_at": {
            "type": "string",
            "description": "When the service promised a first response (if it made a promise)",
        },
        "overdue": {
            "type": "boolean",
            "description": "The promise passed with no response (only with response_due_at)",
        },
    }
    return {
        "PublicServiceLink": link,
        "PublicProgress": progress,
        "PublicStorySummary": _obj(list(summary_props), summary_props),
        "PublicConversationEntry": entry,
        "PublicStory": _obj(
            [k for k in full_props if k not in ("response_due_at", "overdue", "moderator_edited_at")], full_props
        ),
        "PublicStoryPage": _obj(
            ["stories", "next_cursor", "next"],
            {
                "stories": {"type": "array", "items": {"$ref": "#/components/schemas/PublicStorySummary"}},
                "next_cursor": {
                    "type": ["string", "null"],
                    "description": "Pass as `cursor` for the next page; null on the last page",
                },
                "next": {"type": ["string", "null"], "description": "The next page's address (same filters), or null"},
            },
            "A page of stories. With both `service` and `tag` a page may hold fewer than `limit` (even none) "
            "and still have a next page: follow `next` until it is null.",
        ),
        "PublicService": _obj(
            ["slug", "name", "kind", "url", "widget_url", "feeds", "stories", "within", "children", "figures"],
            {
                "slug": _STR,
                "name": _STR,
                "kind": _STR,
                "url": {"type": "string", "format": "uri"},
                "widget_url": {
                    "type": "string",
                    "format": "uri",
                    "description": "A page made to sit in an iframe: the latest stories",
                },
                "feeds": _obj(
                    ["atom", "json"],
                    {"atom": {"type": "string", "format": "uri"}, "json": {"type": "string", "format": "uri"}},
                ),
                "stories": {
                    "type": "string",
                    "description": "This API's list of the service's stories (its whole subtree)",
                },
                "within": {
                    "type": "array",
                    "items": {"$ref": "#/components/schemas/PublicServiceLink"},
                    "description": "Its ancestors, top first",
                },
                "children": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "required": ["slug", "name", "url", "kind"],
                        "properties": {"slug": _STR, "name": _STR, "url": _STR, "kind": _STR},
                    },
                },
                "figures": {
                    "type": ["object", "null"],
                    "description": "For the service and everything below it: stories, response_rate (0-1), median_hours and "
                    "p90_hours to a first response, overdue, planned, made, confirmed, and months {YYYY-MM: stories}",
                    "properties": {
                        "stories": {"type": "integer"},
                        "response_rate": {"type": ["number", "null"]},
                        "median_hours": {"type": ["integer", "null"]},
                        "p90_hours": {"type": ["integer", "null"]},
                        "overdue": {"type": "integer"},
                        "planned": {"type": "integer"},
                        "made": {"type": "integer"},
                        "confirmed": {"type": "integer"},
                        "months": {"type": "object", "additionalProperties": {"type": "integer"}},
                    },
                },
            },
        ),
    }


def public_paths() -> dict[str, Any]:
    cache = {"Cache-Control": {"schema": {"type": "string"}, "description": "public, max-age=60"}}

    def ok(description: str, schema: str) -> dict[str, Any]:
        return answer(description, {"$ref": f"#/components/schemas/{schema}"}) | {"headers": cache}

    def q(name: str, schema: dict[str, Any], text: str) -> dict[str, Any]:
        return {"name": name, "in": "query", "required": False, "schema": schema, "description": text}

    # An empty value is as if the parameter were not there (a form's empty choice).
    blank = {"type": "string", "maxLength": 0}
    slug = {"type": "string", "pattern": "^(?:[a-z0-9][a-z0-9-]{0,79})?$"}
    day = {"anyOf": [blank, {"type": "string", "format": "date", "pattern": "^[0-9]{4}-[0-9]{2}-[0-9]{2}$"}]}
    bad = {"400": answer("A query value is not valid; `error.fields` names the parameter", ERROR)}
    return {
        "/api/public/stories": {
            "get": {
                "summary": "Published stories, newest first, for other platforms: filter by service (with everything below it), "
                "tag and publication date (UTC days, inclusive); page with the cursor",
                "parameters": [
                    q("service", slug, "A service's slug: its stories and those of every service below it"),
                    q(
                        "tag",
                        {"type": "string", "pattern": "^(?:[a-z0-9][a-z0-9-]{0,39})?$"},
                        "Only stories with this tag (an unknown tag gives an empty list)",
                    ),
                    q("from", day, "Published on or after this day (UTC)"),
                    q("to", day, "Published on or before this day (UTC)"),
                    q(
                        "limit",
                        {"anyOf": [{"type": "integer", "minimum": 1, "maximum": 100}, blank], "default": 20},
                        "Stories per page",
                    ),
                    q(
                        "cursor",
                        {"type": "string", "maxLength": 400},
                        "next_cursor from the previous page, with the same filters",
                    ),
                ],
                "responses": {
                    "200": ok("A page of stories", "PublicStoryPage"),
                    **bad,
                    "404": answer("No service has that slug (`error.fields` names `service`)", ERROR),
                },
            }
        },
        "/api/public/stories/{story_id}": {
            "get": {
                "summary": "One published story with its read receipts, published responses and author replies, and its progress",
                "parameters": [{"name": "story_id", "in": "path", "required": True, "schema": {"type": "string"}}],
                "responses": {"200": ok("The story", "PublicStory"), **errors(404)},
            }
        },
        "/api/public/services/{slug}": {
            "get": {
                "summary": "One service: where it sits, its sub-services, its figures, and where to find its stories",
                "parameters": [{"name": "slug", "in": "path", "required": True, "schema": {"type": "string"}}],
                "responses": {"200": ok("The service", "PublicService"), **errors(404)},
            }
        },
    }


def sign_in_schema() -> dict[str, Any]:
    """auth.SignIn: a password step, or the answer to a challenge (a 6-digit code for the app steps)."""
    username = {"type": "string", "minLength": 3, "maxLength": 254, "description": "Trimmed before it is checked"}
    text = lambda most: {"type": "string", "minLength": 1, "maxLength": most}  # noqa: E731
    none = {"type": "null"}
    challenge = {
        "type": "object",
        "additionalProperties": False,
        "required": ["username", "session", "challenge", "answer"],
        "properties": {
            "username": username,
            "password": none,
            "session": text(4096),
            "challenge": {"enum": ["NEW_PASSWORD_REQUIRED", *CODE_CHALLENGES]},
            "answer": text(256),
        },
    }
    challenge.update(
        when({"challenge": {"enum": list(CODE_CHALLENGES)}}, {"properties": {"answer": {"pattern": "^[0-9]{6}$"}}})
    )
    return {
        "oneOf": [
            {
                "type": "object",
                "additionalProperties": False,
                "required": ["username", "password"],
                "properties": {
                    "username": username,
                    "password": text(256),
                    "session": none,
                    "challenge": none,
                    "answer": none,
                },
            },
            challenge,
        ]
    }
