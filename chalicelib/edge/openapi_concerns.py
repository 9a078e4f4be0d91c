"""The OpenAPI document's part for the moderation API, and for concerns about what is published
(issue 16): the public "Report a concern" form and its post, the reporter's address link, and the
moderators' reports queue, one reported item, and a decision on it."""

from __future__ import annotations

from typing import Any

from ..core.concerns import KINDS
from ..core.models import ConcernDecision, ConcernReport, CorrectionRequest
from ..core.status import Status
from .openapi_parts import BEARER, BUTTON, STORY_ID, TOKEN, answer, author_body, errors, when

URL_KIND = {
    "name": "kind",
    "in": "path",
    "required": True,
    "schema": {"type": "string", "enum": ["story", "responses", "replies"]},
    "description": "What is reported: the story itself, or one of its staff responses or author replies",
}
ITEM_ID = {
    "name": "item_id",
    "in": "path",
    "required": True,
    "schema": {"type": "string", "pattern": "^[A-Za-z0-9_-]{1,64}$"},
    "description": "The response's or reply's id (for the story itself, in the moderation routes: `story`)",
}


def concern_schemas() -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name, model in (
        ("ConcernReport", ConcernReport),
        ("ConcernDecision", ConcernDecision),
        ("CorrectionRequest", CorrectionRequest),
    ):
        schema = model.model_json_schema(ref_template="#/components/schemas/{model}")
        out.update(schema.pop("$defs", {}))
        out[name] = schema
    out["ConcernKind"] = {"type": "string", "enum": list(KINDS)}
    # What the decision's model checks beyond its own JSON Schema, stated so a client (and a fuzzer) knows.
    note = {"required": ["note"], "properties": {"note": {"minLength": 1}}}
    out["ConcernDecision"]["allOf"] = [
        when(
            {"action": {"const": "edit"}},
            {"anyOf": [{"required": [f], "properties": {f: {"type": "string"}}} for f in ("title", "text")]},
        ),
        when(
            {"action": {"const": "restrict"}},
            {
                "required": ["asked_by", "reason", "note"],
                "properties": {"note": {"minLength": 1}, "asked_by": {"type": "string"}, "reason": {"type": "string"}},
            },
        ),
        when({"action": {"enum": ["remove", "hold"]}}, note),
    ]
    out["ConcernDecision"]["description"] = (
        "hold is for a story: on a response or reply it is a 409. A decision on a version that is not the "
        "case's current one is a 409."
    )
    return out


def concern_paths(html: dict[str, Any]) -> dict[str, Any]:
    body = {"schema": {"$ref": "#/components/schemas/ConcernReport"}}
    report_body = {"required": True, "content": {"application/json": body, "application/x-www-form-urlencoded": body}}
    page = {"200": answer("The form page", html, "text/html"), **errors(404)}

    def post(summary: str, params: list[dict[str, Any]]) -> dict[str, Any]:
        return {
            "summary": summary,
            "parameters": params,
            "requestBody": report_body,
            "responses": {
                "201": answer("Reported (and, under the risk rules, hidden at once)", {"type": "object"}),
                "200": answer(
                    "Already reported from here today (nothing more counted); a form post gets the "
                    '"what happens next" page',
                    {"type": "object"},
                )
                | {"content": {"application/json": {"schema": {"type": "object"}}, "text/html": {"schema": html}}},
                **errors(400, 404, 413, 415, 422),
            },
        }

    words = (
        "Report a concern about a published story (kind `story`). A reason from a fixed list, an optional "
        "explanation and address; no account. A risky reason, or the third report, hides it at once. "
        "An unknown or unpublished item answers 404, as nothing would."
    )
    item_words = "Report a concern about a published staff response or author reply on a published story."
    return {
        "/api/stories/{story_id}/concerns/{kind}": {
            "get": {
                "summary": "The form (works without JavaScript)",
                "parameters": [STORY_ID, URL_KIND],
                "responses": page,
            },
            "post": post(words, [STORY_ID, URL_KIND]),
        },
        "/api/stories/{story_id}/concerns/{kind}/{item_id}": {
            "get": {
                "summary": "The form, for a response or reply",
                "parameters": [STORY_ID, URL_KIND, ITEM_ID],
                "responses": page,
            },
            "post": post(item_words, [STORY_ID, URL_KIND, ITEM_ID]),
        },
        "/api/respond/{token}/concern": {
            "get": {
                "summary": "The form for a member of staff to ask for a review as the service (from the alert's "
                "read-and-respond link). Changes nothing.",
                "parameters": [TOKEN],
                "responses": {"200": answer("The form page", html, "text/html"), **errors(404, 429)},
            },
            "post": post(
                "A report from the service: it carries that weight in the moderators' queue. No address is kept.",
                [TOKEN],
            )
            | {"parameters": [TOKEN]},
        },
        "/api/my/{token}/correction": {
            "post": {
                "summary": "The author asks, from their private link, for a correction of their published story: "
                "new words for a moderator to check and publish as an edit. One a day.",
                "parameters": [TOKEN],
                "requestBody": author_body("CorrectionRequest"),
                "responses": {
                    "200": answer("Asked (or already asked today)", {"type": "object"}),
                    "303": {"description": "A form post: back to the private page, with a notice"},
                    **errors(400, 404, 409, 413, 415, 422),
                },
            }
        },
        "/api/concerns/confirm/{token}": {
            "get": {
                "summary": "Is this your address? The page from the one email to a reporter's address, in fixed "
                "words. Changes nothing.",
                "parameters": [TOKEN],
                "responses": {"200": answer("The page", html, "text/html"), **errors(404, 429)},
            },
            "post": {
                "summary": "The reporter confirms the address: they will be told the decision (twice is harmless)",
                "parameters": [TOKEN],
                "requestBody": BUTTON,
                "responses": {"200": answer("The page, confirmed", html, "text/html"), **errors(404, 413, 415, 429)},
            },
        },
    }


def moderation_paths(html: dict[str, Any]) -> dict[str, Any]:
    decide_body = {"application/json": {"schema": {"$ref": "#/components/schemas/ConcernDecision"}}}
    return {
        "/api/moderation/sign-in": {
            "post": {
                "summary": "Sign a moderator in with Cognito (password, then any challenge)",
                "requestBody": {
                    "required": True,
                    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/SignIn"}}},
                },
                "responses": {
                    "200": answer("A token, or the next challenge", {"type": "object"}),
                    **errors(400, 401, 413, 415, 422, 429),
                },
            }
        },
        "/api/moderation/queue": {
            "get": {
                "summary": "Stories waiting for a decision, oldest first",
                "security": BEARER,
                "parameters": [
                    {
                        "name": "status",
                        "in": "query",
                        "schema": {"type": "string", "enum": [Status.PENDING, Status.HELD, "replies"]},
                    }
                ],
                "responses": {
                    "200": answer(
                        "The queue: `stories`, or for `replies` the held staff responses and pending author replies as `items`",
                        {"type": "object"},
                    ),
                    **errors(401, 403, 404),
                },
            }
        },
        "/api/moderation/stories/{story_id}": {
            "get": {
                "summary": "One story in full, with the author's original words and the audit trail",
                "security": BEARER,
                "parameters": [STORY_ID],
                "responses": {"200": answer("The story", {"type": "object"}), **errors(401, 403, 404)},
            }
        },
        "/api/moderation/stories/{story_id}/decision": {
            "post": {
                "summary": "Publish (with edits, criticality and tags), hold for safeguarding, or reject with a reason",
                "security": BEARER,
                "parameters": [STORY_ID],
                "requestBody": {
                    "required": True,
                    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ModerationDecision"}}},
                },
                "responses": {
                    "200": answer("The story as decided", {"type": "object"}),
                    **errors(400, 401, 403, 404, 409, 413, 415, 422),
                },
            }
        },
        "/api/moderation/stories/{story_id}/{kind}/{item_id}/decision": {
            "post": {
                "summary": "Publish (perhaps with edited text) or reject (with a reason) a held staff response or a pending author reply",
                "security": BEARER,
                "parameters": [
                    STORY_ID,
                    {
                        "name": "kind",
                        "in": "path",
                        "required": True,
                        "schema": {"type": "string", "enum": ["responses", "replies", "checks"]},
                        "description": "A held staff response, a pending author reply, or a change check's comment",
                    },
                    {"name": "item_id", "in": "path", "required": True, "schema": {"type": "string"}},
                ],
                "requestBody": {
                    "required": True,
                    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ItemDecision"}}},
                },
                "responses": {
                    "200": answer("The item as decided", {"type": "object"}),
                    **errors(400, 401, 403, 404, 409, 413, 415, 422),
                },
            }
        },
        "/api/moderate": {
            "get": {"summary": "The moderation screen", "responses": {"200": answer("The page", html, "text/html")}}
        },
        "/api/moderate/{asset}": {
            "get": {
                "summary": "The moderation screen's script and style",
                "parameters": [{"name": "asset", "in": "path", "required": True, "schema": {"type": "string"}}],
                "responses": {"200": {"description": "The asset"}, **errors(404)},
            }
        },
        "/api/moderation/concerns": {
            "get": {
                "summary": "The reports queue: reported items, riskiest then oldest, with the counts of reports "
                "received, items hidden, cases decided and the hours to decide (median, 90th percentile)",
                "security": BEARER,
                "responses": {"200": answer("The queue and the counts", {"type": "object"}), **errors(401, 403)},
            }
        },
        "/api/moderation/concerns/{story_id}/{kind}/{item_id}": {
            "get": {
                "summary": "One reported item: the item, every report on it, its decisions and history. Never a "
                "reporter's address.",
                "security": BEARER,
                "parameters": [STORY_ID, URL_KIND, ITEM_ID],
                "responses": {"200": answer("The case", {"type": "object"}), **errors(401, 403, 404)},
            }
        },
        "/api/moderation/concerns/{story_id}/{kind}/{item_id}/decision": {
            "post": {
                "summary": "Dismiss (restore if hidden), edit, restrict (who asked, why), remove, or hold for "
                "safeguarding (stories) one version of a reported item's case; a second decision on the same "
                "version is a 409",
                "security": BEARER,
                "parameters": [STORY_ID, URL_KIND, ITEM_ID],
                "requestBody": {"required": True, "content": decide_body},
                "responses": {
                    "200": answer("The case as decided", {"type": "object"}),
                    **errors(400, 401, 403, 404, 409, 413, 415, 422),
                },
            }
        },
    }
