"""A lead's own sources over HTTP (issue 21, chalicelib/lead_sources.py): JSON in and out, from the lead's
emailed "manage your organisation" link. A malformed body is refused first, as on every route; then the
link, before any field (lead_sources.py), so a bad link is refused alike whatever the fields say. Every
answer is for one person, never kept by a browser or a proxy."""

from __future__ import annotations

from typing import Any

from chalice import Response

from .http import private_json, read_body


def listing(token: str, flow: Any) -> Response:
    return private_json(flow.sources(token))


def add(request: Any, token: str, flow: Any, settings: Any) -> Response:
    _, data = read_body(request, settings.max_body_bytes)
    return private_json(flow.add(token, data), status=201)


def act(request: Any, token: str, slug: str, flow: Any, settings: Any) -> Response:
    _, data = read_body(request, settings.max_body_bytes)
    return private_json(flow.act(token, slug, data))
