"""Report a concern, as HTTP (issue 16): the form page each published story, response and reply
links to (it works without JavaScript), the answer to a report, the "what happens next" page, and
the reporter's "is this your address?" link. The flow (chalicelib/concerns.py) returns data.

A report on nothing, or on something unpublished, answers 404 like any unknown page: the form
page and the post say the same, so neither tells which ids exist.
"""

from __future__ import annotations

from typing import Any

from chalice import Response

from ..core import clock
from ..core.concerns import REASON_LABELS, Reason
from ..core.errors import ValidationFailed
from ..site.pages import render_page
from .forms import Form, error_summary, form_or_json
from .http import html_response, json_response, page_csp

REPORT = Form(only=("reason", "explanation", "email", "website", "started"))
NOINDEX = {"X-Robots-Tag": "noindex, nofollow"}
FIELD_IDS = {"reason": "reason", "explanation": "explanation", "email": "email"}
REASONS = [{"value": str(r), "label": REASON_LABELS[r]} for r in Reason]
LIMITS = {"explanation": 2000, "email": 254}


def _page(html: str, settings: Any, status: int = 200) -> Response:
    return html_response(html, status=status, csp=page_csp(settings), headers=NOINDEX)


def _about(found: dict[str, Any], settings: Any) -> dict[str, Any]:
    """What the page says the report is about: the story's title and where it is, never more."""
    story = found["story"]
    site = settings.site_url.rstrip("/")
    anchor = f"#{found['kind']}-{found['item_id']}" if found["kind"] != "story" else ""
    what = {"story": "the story", "response": "a response to the story", "reply": "a reply by the author of"}
    return {
        "what": what[found["kind"]],
        "title": story.get("title", ""),
        "url": f"{site}/stories/{story['id']}/{anchor}",
    }


def form_page(
    story_id: str,
    kind: str,
    item_id: str,
    concerns: Any,
    settings: Any,
    *,
    done: dict[str, Any] | None = None,
    errors: list[dict[str, str]] | None = None,
    values: dict[str, Any] | None = None,
    status: int = 200,
    service_token: str = "",
) -> Response:
    """The form (with an error summary linking to each field), or what happens next once sent.
    With `service_token`, the form of a member of staff asking for a review from their alert's link."""
    found = concerns.reported_item(story_id, kind, item_id)
    summary, by_field = error_summary(
        errors,
        FIELD_IDS,
        lambda e: {"href": "#reason", "message": e.get("message", "Check the form and send it again")},
    )
    values = values or {}
    api = settings.api_url.rstrip("/")
    path = f"/api/stories/{story_id}/concerns/{kind}" + (f"/{item_id}" if item_id else "")
    if service_token:
        path = f"/api/respond/{service_token}/concern"
    html = render_page(
        "concern.html",
        site_base=settings.site_url.rstrip("/"),
        robots="noindex, nofollow",
        about=_about(found, settings),
        done=done,
        summary=summary,
        errors=by_field,
        limits=LIMITS,
        reasons=REASONS,
        values={k: str(values.get(k) or "") for k in ("reason", "explanation", "email")},
        # The time the form was shown, for the timing check: a person takes more than a few seconds.
        started=str(values.get("started") or int(clock.now().timestamp() * 1000)),
        action=f"{api}{path}",
        service=bool(service_token),
    )
    return _page(html, settings, status=status)


def service_form(token: str, concerns: Any, settings: Any) -> Response:
    return form_page(concerns.service_story(token), "story", "", concerns, settings, service_token=token)


def service_report(request: Any, token: str, concerns: Any, settings: Any) -> Response:
    """A member of staff asks for a review, as the service (from their read-and-respond link). The body
    is read before the link is looked up, as on every route: a malformed one is a 4xx whatever the link."""
    return form_or_json(
        request,
        settings.max_body_bytes,
        REPORT,
        lambda data: concerns.report_as_service(token, data),
        json=lambda result: json_response(result, status=201 if result["created"] else 200),
        done=lambda result: form_page(
            concerns.service_story(token), "story", "", concerns, settings, done=result, service_token=token
        ),
        again=lambda e, data: form_page(
            concerns.service_story(token),
            "story",
            "",
            concerns,
            settings,
            errors=e.fields,
            values=e.values or data,
            status=e.status,
            service_token=token,
        ),
        shown=(ValidationFailed,),
    )


def report(request: Any, story_id: str, kind: str, item_id: str, concerns: Any, client: str, settings: Any) -> Response:
    """JSON: 201 (a new report) or 200 (this connection reported it today already). A form: what
    happens next, or the form again (422) with what was typed kept."""
    return form_or_json(
        request,
        settings.max_body_bytes,
        REPORT,
        lambda data: concerns.report(story_id, kind, item_id, data, client),
        json=lambda result: json_response(result, status=201 if result["created"] else 200),
        done=lambda result: form_page(story_id, kind, item_id, concerns, settings, done=result),
        again=lambda e, data: form_page(
            story_id, kind, item_id, concerns, settings, errors=e.fields, values=e.values or data, status=e.status
        ),
        shown=(ValidationFailed,),
    )


def address_page(token: str, state: str, settings: Any) -> Response:
    """Is this your address? ("ask", with the button) or thank you ("done"): fixed words only."""
    html = render_page(
        "concern_address.html",
        site_base=settings.site_url.rstrip("/"),
        robots="noindex",
        state=state,
        action=f"{settings.api_url.rstrip('/')}/api/concerns/confirm/{token}",
    )
    return _page(html, settings)
