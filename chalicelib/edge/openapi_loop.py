"""The OpenAPI document's part for closing the loop: a reader's "me too" and the change check's answer."""

from __future__ import annotations

from typing import Any

from ..core.models import CheckAnswer, MeToo
from .openapi_parts import STORY_ID, answer, errors, when


def loop_schemas() -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name, model in (("MeToo", MeToo), ("CheckAnswer", CheckAnswer)):
        schema = model.model_json_schema(ref_template="#/components/schemas/{model}")
        out.update(schema.pop("$defs", {}))
        out[name] = schema
    out["MeToo"]["allOf"] = [
        when({"email": {"type": "string"}}, {"required": ["consent"], "properties": {"consent": {"const": True}}})
    ]
    return out


def loop_paths(html: dict[str, Any]) -> dict[str, Any]:
    def body(schema: str) -> dict[str, Any]:
        ref = {"schema": {"$ref": f"#/components/schemas/{schema}"}}
        return {"required": True, "content": {"application/json": ref, "application/x-www-form-urlencoded": ref}}

    check_token = {
        "name": "token",
        "in": "path",
        "required": True,
        "schema": {"type": "string"},
        "description": "The emailed change-check link",
    }
    return {
        "/api/stories/{story_id}/me-too": {
            "post": {
                "summary": '"This happened to me too", about a published story. No account; an address only to be asked, '
                "six weeks after a change is made, whether it made a difference. One per client and day.",
                "parameters": [STORY_ID],
                "requestBody": body("MeToo"),
                "responses": {
                    "201": answer("Counted (the story's count follows within moments)", {"type": "object"}),
                    "200": answer(
                        "Already said today from here (nothing more counted); a form post gets a thank-you page",
                        {"type": "object"},
                    )
                    | {"content": {"application/json": {"schema": {"type": "object"}}, "text/html": {"schema": html}}},
                    **errors(400, 404, 413, 415, 422, 429),
                },
            }
        },
        "/api/check/{token}": {
            "get": {
                "summary": "Did the change make a difference? The page behind the emailed link. Changes nothing.",
                "parameters": [
                    check_token,
                    {"name": "done", "in": "query", "required": False, "schema": {"type": "string"}},
                ],
                "responses": {"200": answer("The page", html, "text/html"), **errors(404, 429)},
            },
            "post": {
                "summary": "Answer yes, partly or no, with an optional comment (moderated). The first answer from a link stands.",
                "parameters": [check_token],
                "requestBody": body("CheckAnswer"),
                "responses": {
                    "201": answer("Recorded", {"type": "object"}),
                    "200": answer("The same answer again: nothing changed", {"type": "object"}),
                    "303": {"description": "A form post: back to the page, which shows the answer"},
                    **errors(400, 404, 409, 413, 415, 422, 429),
                },
            },
        },
    }
