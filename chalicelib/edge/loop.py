"""Closing the loop, as HTTP: a reader's "me too" (metoo.py) and the emailed "did the change make
a difference?" link (change_check.py). The flows return data; the pages are built here.

Both pages are reached from a story or an email, so they are never indexed.
"""

from __future__ import annotations

from typing import Any

from chalice import Response

from ..core.errors import Conflict, ValidationFailed
from ..core.models import CHECK_COMMENT_MAX
from ..site.pages import render_page
from ..views import VERDICT_WORDS
from .forms import Form, error_summary, form_or_json
from .http import html_response, json_response, page_csp, redirect

ME_TOO = Form(checkboxes=("consent",))
CHECK = Form(only=("answer", "comment"))
NOINDEX = {"X-Robots-Tag": "noindex, nofollow"}
ME_TOO_FIELD_IDS = {"email": "email", "consent": "consent"}
CHECK_FIELD_IDS = {"answer": "answer-yes", "comment": "comment"}


def _page(html: str, settings: Any, status: int = 200) -> Response:
    return html_response(html, status=status, csp=page_csp(settings), headers=NOINDEX)


# ---- me too ----------------------------------------------------------------------------------------


def me_too_page(
    story: dict[str, Any],
    settings: Any,
    *,
    done: bool = False,
    has_email: bool = False,
    status: int = 200,
    errors: list[dict[str, str]] | None = None,
    values: dict[str, Any] | None = None,
) -> Response:
    """The thank-you page, or the form again with an error summary linking to each field."""
    site, api = settings.site_url.rstrip("/"), settings.api_url.rstrip("/")
    summary, by_field = error_summary(
        errors,
        ME_TOO_FIELD_IDS,
        lambda e: {"href": "#email", "message": "Leave the hidden field empty and send the form again"},
    )
    values = values or {}
    html = render_page(
        "me_too.html",
        site_base=site,
        robots="noindex, nofollow",
        story={"id": story["id"], "title": story.get("title", ""), "url": f"{site}/stories/{story['id']}/"},
        done=done,
        has_email=has_email,
        summary=summary,
        errors=by_field,
        values={"email": str(values.get("email") or ""), "consent": bool(values.get("consent"))},
        action=f"{api}/api/stories/{story['id']}/me-too",
        tell_url=f"{site}/tell-your-story/?related={story['id']}",
    )
    return _page(html, settings, status=status)


def me_too(request: Any, story_id: str, metoo: Any, client: str, settings: Any) -> Response:
    """JSON: 201 (new) or 200 (already said today). A form: the thank-you page, or the form again (422)."""
    return form_or_json(
        request,
        settings.max_body_bytes,
        ME_TOO,
        lambda data: metoo.say(story_id, data, client),
        json=lambda result: json_response(result, status=201 if result["created"] else 200),
        done=lambda result: me_too_page(
            metoo.published_story(story_id), settings, done=True, has_email=result["has_email"]
        ),
        again=lambda e, _: me_too_page(
            metoo.published_story(story_id), settings, errors=e.fields, values=e.values, status=e.status
        ),
    )


# ---- the change check ------------------------------------------------------------------------------


def check_page(
    token: str,
    checks: Any,
    settings: Any,
    *,
    done: bool = False,
    status: int = 200,
    values: dict[str, Any] | None = None,
    errors: list[dict[str, str]] | None = None,
) -> Response:
    """The question (GET: changes nothing), the answer given, or the form again with an error summary."""
    question = checks.question(token)
    story, answered = question["story"], question["answered"]
    summary, by_field = error_summary(
        errors,
        CHECK_FIELD_IDS,
        lambda e: {"href": "#answered" if answered else "#answer-yes", "message": e.get("message", "")},
    )
    values = values or {}
    site = settings.site_url.rstrip("/")
    html = render_page(
        "check.html",
        site_base=site,
        robots="noindex, nofollow",
        story={"id": story["id"], "title": story.get("title", ""), "url": f"{site}/stories/{story['id']}/"},
        is_author=question["is_author"],
        change=question["change"],
        answered=answered | {"words": VERDICT_WORDS.get(answered.get("answer") or "", "")} if answered else None,
        done=done,
        summary=summary,
        errors=by_field,
        values={"answer": str(values.get("answer", "")), "comment": str(values.get("comment", ""))},
        choices=[("yes", "Yes"), ("partly", "Partly"), ("no", "No")],
        comment_max=CHECK_COMMENT_MAX,
        action=f"{settings.api_url.rstrip('/')}/api/check/{token}",
    )
    return _page(html, settings, status=status)


def check_answer(request: Any, token: str, checks: Any, client: str, settings: Any) -> Response:
    """JSON: 201 (recorded) or 200 (the same answer again). A form: 303 back to the link's page,
    which shows the answer; or the page again with an error summary (422), or the first answer (409)."""

    def again(e: Any, _data: dict[str, Any]) -> Response:
        if isinstance(e, ValidationFailed):
            return check_page(token, checks, settings, values=e.values, errors=e.fields, status=e.status)
        return check_page(token, checks, settings, errors=[{"field": "", "message": e.message}], status=e.status)

    return form_or_json(
        request,
        settings.max_body_bytes,
        CHECK,
        lambda data: checks.answer(token, data, client),
        json=lambda result: json_response(result, status=201 if result["created"] else 200),
        done=lambda _: redirect(f"{settings.api_url.rstrip('/')}/api/check/{token}?done=1"),
        again=again,
        shown=(ValidationFailed, Conflict),
    )
