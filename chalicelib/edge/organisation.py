"""A lead's pages, served by the API: asking for the "manage your organisation" link, and the
organisation's page with each decision on it (organisations.py). The flow returns data; this
module renders it and wraps it in a Response.

Like every page reached from an emailed link, these are never indexed or cached, and never pass
their address on.
"""

from __future__ import annotations

from email.parser import BytesParser
from email.policy import HTTP
from typing import Any

from chalice import Response

from ..core.errors import ValidationFailed
from ..site.pages import render_page
from ..spreadsheets import read_rows
from .forms import Form, form_or_json
from .http import FORM, JSON, html_response, json_response, page_csp, read_body, redirect

ASK = Form(only=("email",))
ACT = Form(only=("action", "member", "access"))
# What the page says once a decision is made (never text from the request).
NOTICES = {
    "approve": "Approved. They are a member now, and the alerts they asked for are on.",
    "refuse": "Refused. They have been told, and they get no alerts.",
    "access": "Saved. Their role is changed.",
    "freeze": "Frozen. None of their links works any more; their past responses stay as they were.",
    "restore": "Restored. Their alerts are on again; the links sent before they were frozen stay stopped.",
    "uploaded": "Uploaded. The members in your file are loaded.",
}
MAX_UPLOAD_BYTES = 5 * 1024 * 1024


def _page(html: str, settings: Any, status: int = 200) -> Response:
    return html_response(html, status=status, csp=page_csp(settings), headers={"X-Robots-Tag": "noindex, nofollow"})


def _url(settings: Any, token: str = "", query: str = "") -> str:
    return f"{settings.api_url.rstrip('/')}/api/organisation{'/' + token if token else ''}{query}"


def ask_page(
    settings: Any, *, sent: bool = False, errors: list | None = None, values: dict | None = None, status: int = 200
) -> Response:
    """The form a lead uses to ask for their link, or the news that it is on its way."""
    errors = errors or []
    html = render_page(
        "organisation_ask.html",
        site_base=settings.site_url.rstrip("/"),
        robots="noindex, nofollow",
        action=_url(settings),
        sent=sent,
        summary=[{"href": "#email", "message": e.get("message", "")} for e in errors],
        errors={e.get("field", ""): e.get("message", "") for e in errors},
        values={"email": str((values or {}).get("email", ""))},
        moderators_email=settings.moderators_email,
    )
    return _page(html, settings, status=status)


def ask(request: Any, organisations: Any, settings: Any) -> Response:
    """JSON: 202. A form: the page saying an email is on its way (whoever asked), or the form again."""
    return form_or_json(
        request,
        settings.max_body_bytes,
        ASK,
        organisations.ask_for_link,
        json=lambda result: json_response(result, status=202),
        done=lambda _: ask_page(settings, sent=True),
        again=lambda e, _: ask_page(settings, errors=e.fields, values=e.values, status=e.status),
    )


def page(
    token: str,
    organisations: Any,
    settings: Any,
    *,
    notice: str = "",
    number: str = "1",
    errors: list[dict[str, Any]] | None = None,
    report: dict[str, Any] | None = None,
    status: int = 200,
) -> Response:
    data = organisations.page(token, int(number) if str(number).isdigit() and len(str(number)) < 6 else 1)
    html = render_page(
        "organisation.html",
        site_base=settings.site_url.rstrip("/"),
        robots="noindex, nofollow",
        action=_url(settings, token),
        upload_action=_url(settings, token, "/members"),
        page_url=_url(settings, token, "?page="),
        notice=NOTICES.get(notice, ""),
        summary=[{"href": "#" + (e.get("field") or "members"), "message": _line(e)} for e in errors or []],
        report=report,
        **data,
    )
    return _page(html, settings, status=status)


def _line(e: dict[str, Any]) -> str:
    return f"Line {e['line']}, {e['field']}: {e['message']}" if "line" in e else str(e.get("message", ""))


def act(request: Any, token: str, organisations: Any, settings: Any) -> Response:
    """One decision: 303 back to the page with a notice (JSON: {"done": action}), or the page again
    with the error summary."""
    return form_or_json(
        request,
        settings.max_body_bytes,
        ACT,
        lambda data: organisations.act(token, data),
        json=lambda action: json_response({"done": action}),
        done=lambda action: redirect(_url(settings, token, f"?notice={action}")),
        again=lambda e, _: page(token, organisations, settings, errors=e.fields, status=e.status),
    )


def upload(request: Any, token: str, organisations: Any, settings: Any) -> Response:
    """Members from a CSV or XLSX file (the body itself, or the one file of a multipart form), or as
    JSON ({"members": [{...}, ...]}). Every bad row is named and nothing is written; else the page
    with a notice (a program: the report as JSON)."""
    body = request.raw_body or b""
    if len(body) > MAX_UPLOAD_BYTES:
        raise ValidationFailed([{"field": "file", "message": "The file is too big: at most 5 MB"}], {})
    content_type = (request.headers.get("content-type") or "").lower()
    filename = ""
    if content_type.startswith(FORM):
        # A form sent without its file (no enctype): its own faults first, as on every route, then the link.
        read_body(request, settings.max_body_bytes)
        organisations.lead_of(token)
        raise ValidationFailed([{"field": "file", "message": "Choose a CSV or XLSX file to upload"}], {})
    # The body's own faults first (400, 413, 415), as on every route; then the link (404); then the rows (422).
    data = read_body(request, MAX_UPLOAD_BYTES)[1] if not content_type or content_type.startswith(JSON) else None
    organisations.lead_of(token)
    if data is not None:
        rows, problems = _json_rows(data)
    else:
        if content_type.startswith("multipart/form-data"):
            body, filename = _the_file(body, request.headers.get("content-type", ""))
        rows, problems = read_rows(body, filename, content_type.split(";")[0].strip())
    report: dict[str, Any] = (
        {"errors": problems, "created": 0, "updated": 0, "unchanged": 0, "skipped": 0, "notes": []}
        if problems
        else organisations.upload(token, rows)
    )
    if report["errors"]:
        # The answer every 422 has (error.fields), with the report beside it: each row's line and field.
        report["error"] = {
            "code": "ValidationFailed",
            "message": f"{len(report['errors'])} problem(s) in the file: nothing was loaded",
            "fields": [{"field": str(e["field"]), "message": _line(e)} for e in report["errors"]],
        }
    wants_json = "json" in (request.headers.get("accept") or "") or not content_type.startswith("multipart/")
    if wants_json:
        return json_response(report, status=422 if report["errors"] else 200)
    if report["errors"]:
        return page(token, organisations, settings, errors=report["errors"], status=422)
    return page(token, organisations, settings, notice="uploaded", report=report)


def _json_rows(data: dict[str, Any]) -> tuple[list[tuple[int, dict[str, Any]]], list[dict[str, Any]]]:
    members = data.get("members")
    if not isinstance(members, list) or not all(isinstance(m, dict) for m in members):
        return [], [{"line": 1, "field": "members", "message": "Send members as a list of objects"}]
    return [(n, dict(m)) for n, m in enumerate(members, start=1)], []


def _the_file(body: bytes, content_type: str) -> tuple[bytes, str]:
    """The first file in a multipart/form-data body: (its bytes, its name)."""
    message = BytesParser(policy=HTTP).parsebytes(
        b"Content-Type: " + content_type.encode("latin-1") + b"\r\n\r\n" + body
    )
    for part in message.iter_parts() if message.is_multipart() else []:
        name = part.get_filename()
        if name is not None:
            payload = part.get_payload(decode=True)
            return (payload if isinstance(payload, bytes) else b""), name
    raise ValidationFailed([{"field": "file", "message": "Choose a CSV or XLSX file to upload"}], {})
