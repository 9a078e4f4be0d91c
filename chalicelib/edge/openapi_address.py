"""The OpenAPI document's part for the author's address (issue 18): the first email to it asks, in fixed
words, whether it is theirs; the private link is sent only once its owner says so."""

from __future__ import annotations

from typing import Any

from .openapi_parts import BUTTON, TOKEN, answer, errors


def address_paths(html: dict[str, Any]) -> dict[str, Any]:
    return {
        "/api/confirm/{token}": {
            "get": {
                "summary": "Is this your address? The page from the first email to a story's author, in fixed "
                "words. Changes nothing.",
                "parameters": [TOKEN],
                "responses": {"200": answer("The page", html, "text/html"), **errors(404, 429)},
            },
            "post": {
                "summary": "The address's owner confirms it is theirs: the private link is emailed to it next "
                "(twice is harmless). The body is not read.",
                "parameters": [TOKEN],
                "requestBody": BUTTON,
                "responses": {"200": answer("The page, confirmed", html, "text/html"), **errors(404, 413, 415, 429)},
            },
        },
    }
