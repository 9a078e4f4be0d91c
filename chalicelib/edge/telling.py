"""Telling a story, as HTTP: the form on the site (JavaScript on or off) or a JSON client.

A JSON client gets 201 with the story's address. A form gets a 303 to the thank-you page, or
the form again with an error summary and everything the person typed.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from chalice import Response

from ..core import i18n
from ..site.forms import story_form_with_errors
from .forms import Form, form_or_json
from .http import STORY_BODY_BYTES, html_response, json_response, page_csp, redirect


def submission_id(data: dict[str, Any]) -> dict[str, Any]:
    """With JavaScript off nothing made an id: the same form sent twice has the same content,
    so it gets the same id (and makes one story)."""
    if not str(data.get("submission_id", "")).strip():
        canonical = json.dumps(data, sort_keys=True, ensure_ascii=False).encode("utf-8")
        data["submission_id"] = "form-" + hashlib.sha256(canonical).hexdigest()[:40]
    return data


STORY = Form(
    lists=("services", "feelings"),
    checkboxes=("consent",),
    numbers=("experience_month", "experience_year"),
    finish=submission_id,
)


def tell_story(
    request: Any, stories: Any, store: Any, settings: Any, lambda_context: Any, invitations: Any = None
) -> Response:
    return form_or_json(
        request,
        STORY_BODY_BYTES,  # a long story takes more than other forms
        STORY,
        lambda data: stories.submit(data, lambda_context),
        json=lambda result: json_response(result, status=201, headers={"Location": f"/api/stories/{result['id']}"}),
        # The story's id is its reference: the thank-you page shows it (only an id: it opens nothing private).
        done=lambda result: redirect(
            f"{settings.site_url}{i18n.prefix(result['language'])}/thank-you/?ref={result['id']}"
        ),
        again=lambda e, _: html_response(
            story_form_with_errors(e.values, e.fields, store, settings, invited=_invited(e.values, invitations)),
            status=e.status,
            csp=page_csp(settings),
        ),
    )


def _invited(values: dict[str, Any], invitations: Any) -> dict[str, Any] | None:
    """The form sent again from an invitation's link still says who asked (issue 19); no note otherwise."""
    code = str((values or {}).get("invitation") or "")
    if not code or invitations is None:
        return None
    opened = invitations.opened(code)
    return opened if opened["state"] == "active" else None
