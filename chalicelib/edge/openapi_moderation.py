"""The OpenAPI document's part for what issue 20 added around moderation: the live identifying-details
check on edited text, a moderator's message to the author of a held or pending story, and the
author's answer from their private page (chalicelib/moderation.py, chalicelib/messages.py)."""

from __future__ import annotations

from typing import Any

from .openapi_parts import BEARER, STORY_ID, TOKEN, answer, errors

_TEXT = {"type": "string", "minLength": 2, "maxLength": 2000}


def moderation_paths() -> dict[str, Any]:
    fields = {f: {"type": "string", "maxLength": 20000} for f in ("title", "story", "good", "improve", "pseudonym")}
    json_body = lambda schema: {"required": True, "content": {"application/json": {"schema": schema}}}  # noqa: E731
    answer_body = {
        "type": "object",
        "required": ["text", "answer_id"],
        "properties": {"text": _TEXT, "answer_id": {"type": "string", "pattern": "^[A-Za-z0-9_-]{16,64}$"}},
    }
    return {
        "/api/moderation/highlights": {
            "post": {
                "summary": "The identifying-details check on text as a moderator edits it, marked in segments "
                "per field (as a story's `highlights`). Stores nothing",
                "security": BEARER,
                "requestBody": json_body({"type": "object", "properties": fields}),
                "responses": {
                    "200": answer("The marks, per field that has any", {"type": "object"}),
                    **errors(400, 401, 403, 413, 415, 422),
                },
            }
        },
        "/api/moderation/stories/{story_id}/messages": {
            "post": {
                "summary": "A message to the author of a held or pending story: kept privately, then emailed to "
                "the author by the mail worker (the moderator never sees the address). A story that is neither, "
                "or whose author confirmed no address, is a 409",
                "security": BEARER,
                "parameters": [STORY_ID],
                "requestBody": json_body({"type": "object", "required": ["text"], "properties": {"text": _TEXT}}),
                "responses": {
                    "201": answer("The message as kept", {"type": "object"}),
                    **errors(400, 401, 403, 404, 409, 413, 415, 422),
                },
            }
        },
        "/api/my/{token}/messages": {
            "post": {
                "summary": "The author answers a moderator's message from their private page: kept privately, "
                "shown to moderators only (the same answer_id again is the same answer)",
                "parameters": [TOKEN],
                "requestBody": {
                    "required": True,
                    "content": {
                        "application/json": {"schema": answer_body},
                        "application/x-www-form-urlencoded": {"schema": answer_body},
                    },
                },
                "responses": {
                    "201": answer("The answer is kept", {"type": "object"}),
                    "303": {"description": "A form post: back to the private page, with a notice"},
                    **errors(400, 404, 409, 413, 415, 422),
                },
            }
        },
    }
