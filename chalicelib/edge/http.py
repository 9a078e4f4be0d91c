"""HTTP glue shared by the routes: reading bodies safely, and shaping answers."""

from __future__ import annotations

import json
import re
from typing import Any
from urllib.parse import parse_qs

from chalice import Response

from ..core.errors import BadRequest, FeedForwardError, MethodNotAllowed, PayloadTooLarge, UnsupportedMediaType

JSON = "application/json"
FORM = "application/x-www-form-urlencoded"
# The most a story's body may be (more than other forms'): the longest story (LIMITS in core/models, about 5,000
# words) with its title, good and improve at their limits, sent as a form in letters that are 3 bytes in UTF-8
# (9 bytes each once percent-encoded). Here, not beside LIMITS: app.py reads it without importing pydantic.
STORY_BODY_BYTES = 384 * 1024

SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    "Cache-Control": "no-store",
}
# Pages served by the API (form errors, the author's private page, the moderation screen). A form sent
# again from a page of errors is answered with a redirect to the site (the thank-you page), and browsers
# hold redirects of a form post to form-action too: so the site is there as well as the API.
HTML_CSP = (
    "default-src 'none'; style-src 'self' {site}; script-src 'self'; img-src 'self' {site} data:; "
    "form-action 'self' {api} {site}; connect-src 'self'; base-uri 'none'; frame-ancestors 'none'"
)


# The public API's answers: public facts only, so any cache may keep them, briefly.
PUBLIC_CACHE = "public, max-age=60"


def page_csp(settings: Any) -> str:
    return HTML_CSP.format(site=settings.site_url, api=settings.api_url)


def media_type(request: Any) -> str:
    return (request.headers.get("content-type") or "").split(";")[0].strip().lower()


# The largest number a JSON body may carry: what every JSON parser keeps exactly (RFC 7493, I-JSON),
# and well inside what DynamoDB stores (38 digits).
MAX_NUMBER = 2**53 - 1
# Characters no text of ours may hold: NUL, and UTF-16 surrogates ("\\ud800" is valid JSON but not text,
# and could never be stored or sent on as UTF-8).
_NOT_TEXT = re.compile("[\\x00\\ud800-\\udfff]")


class _BodyProblem(ValueError):
    """Something JSON allows that a body of ours may not hold; the message names it."""

    def __init__(self, message: str, field: str = ""):
        super().__init__(message)
        self.field = field


def check_size(request: Any, max_bytes: int) -> None:
    raw = request.raw_body or b""
    if len(raw) > max_bytes:
        raise PayloadTooLarge(f"The request body is {len(raw)} bytes; the most we accept is {max_bytes}.")


def read_body(request: Any, max_bytes: int) -> tuple[str, dict[str, Any]]:
    """The request's body as (media type, data). Every way a body can be wrong is a 4xx."""
    kind = media_type(request)
    check_size(request, max_bytes)
    try:
        text = (request.raw_body or b"").decode("utf-8")
    except UnicodeDecodeError as e:
        raise BadRequest(f"The request body is not valid UTF-8 (byte {e.start}).") from e
    try:
        if kind == JSON:
            data = _json_object(text)
        elif kind == FORM:
            try:
                data = parse_qs(text, keep_blank_values=True, strict_parsing=False, max_num_fields=200)
            except ValueError as e:
                raise BadRequest(f"The form body could not be read: {e}") from e
        else:
            raise UnsupportedMediaType(f"Send the body as {JSON} or {FORM}, not {kind or 'no content type'}.")
        _plain_text(data)
    except _BodyProblem as e:
        raise BadRequest(str(e), fields=[{"field": e.field, "message": str(e)}] if e.field else None) from None
    return kind, data


def _json_object(text: str) -> dict[str, Any]:
    try:
        data = json.loads(
            text, parse_constant=_reject_constant, parse_int=_int, parse_float=_float, object_pairs_hook=_object
        )
    except _BodyProblem:
        raise
    except RecursionError as e:
        raise BadRequest("The JSON body is nested too deeply.") from e
    except ValueError as e:
        raise BadRequest(f"The request body is not valid JSON: {e}") from e
    if not isinstance(data, dict):
        raise BadRequest(f"The JSON body must be an object, not {_json_kind(data)}.")
    return data


def _json_kind(value: Any) -> str:
    return (
        "null"
        if value is None
        else {list: "a list", str: "a string", bool: "true or false"}.get(type(value), "a number")
    )


def _reject_constant(name: str) -> Any:
    raise _BodyProblem(f"{name} is not a number JSON allows.")


def _int(digits: str) -> int:
    # Checked before int(): Python refuses to read over 4,300 digits, and costs time on fewer.
    if len(digits.lstrip("-")) > 16 or abs(int(digits)) > MAX_NUMBER:
        raise _too_large(digits)
    return int(digits)


def _float(digits: str) -> float:
    value = float(digits)
    if not abs(value) <= MAX_NUMBER:  # also inf, from 1e999
        raise _too_large(digits)
    return value


def _too_large(digits: str) -> _BodyProblem:
    shown = digits if len(digits) <= 24 else f"{digits[:12]}... ({len(digits)} characters)"
    return _BodyProblem(f"The number {shown} is too large: numbers must be between -{MAX_NUMBER} and {MAX_NUMBER}.")


def _object(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise _BodyProblem(f"The JSON body has {key[:40]!r} more than once.", field=key[:40])
        out[key] = value
    return out


def _plain_text(data: Any) -> None:
    """Refuse NUL and lone surrogates in any key or string (iteratively: depth is bounded by the parser)."""
    stack: list[tuple[str, Any]] = [("", data)]
    while stack:
        name, value = stack.pop()
        if isinstance(value, str):
            found = _NOT_TEXT.search(value)
            if found:
                what = "a NUL character" if found.group() == "\x00" else "half of a UTF-16 surrogate pair"
                raise _BodyProblem(f"{name or 'A field name'} contains {what}, which is not text.", field=name)
        elif isinstance(value, dict):
            for key, item in value.items():
                # The field named is the top-level one, and never a name that is itself not text.
                field = name or (key if isinstance(key, str) and not _NOT_TEXT.search(key) else "")
                stack.append((field, item))
                stack.append((name, key))
        elif isinstance(value, list):
            stack.extend((name, item) for item in value)


def json_response(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    # nosniff: an answer quoting what someone typed is never read as a page, whatever it holds.
    return Response(
        body=json.dumps(body),
        status_code=status,
        headers={"Content-Type": JSON, "X-Content-Type-Options": "nosniff", **(headers or {})},
    )


def private_json(body: Any, status: int = 200) -> Response:
    """An answer for one signed-in person (a moderator): never kept by a browser or a proxy."""
    return json_response(body, status=status, headers={"Cache-Control": "no-store"})


def public_json(body: Any) -> Response:
    return json_response(body, headers={"Cache-Control": PUBLIC_CACHE, "X-Content-Type-Options": "nosniff"})


def html_response(html: str, status: int = 200, csp: str = "", headers: dict[str, str] | None = None) -> Response:
    h: dict[str, str | list[str]] = {"Content-Type": "text/html; charset=utf-8", **SECURITY_HEADERS, **(headers or {})}
    if csp:
        h["Content-Security-Policy"] = csp
    return Response(body=html, status_code=status, headers=h)


def framework_error(response: Response, request: Any, routes: dict[str, Any]) -> FeedForwardError | None:
    """Chalice answers a method a route lacks (405) and a content type it does not take (415) itself,
    as {"Code", "Message"}: the same refusal as this API's own error (JSON, or a page for a browser)."""
    body = response.body
    if response.status_code not in (405, 415) or not (isinstance(body, dict) and "Code" in body):
        return None
    # A multi-valued header (Chalice allows lists) is said once, comma-separated, as HTTP reads it.
    headers = {
        k: v if isinstance(v, str) else ", ".join(v) for k, v in response.headers.items() if k.lower() != "content-type"
    }
    if response.status_code == 405:
        return MethodNotAllowed(
            f"This address does not take {request.method}; use {headers.get('Allow', 'another method')}.",
            headers=headers,
        )
    route = routes.get((request.context or {}).get("resourcePath", ""), {}).get(request.method)
    takes = " or ".join(route.content_types) if route else f"{JSON} or {FORM}"
    return UnsupportedMediaType(
        f"Send the body as {takes}, not {media_type(request) or 'no content type'}.", headers=headers
    )


def error_response(error: FeedForwardError) -> Response:
    return json_response(error.to_body(), status=error.status, headers=error.headers)


def _accept_q(accept: str) -> dict[str, float]:
    """Media type -> its q value, from an Accept header (a missing or unreadable q counts as 1)."""
    out: dict[str, float] = {}
    for part in accept.split(",")[:50]:
        media, *params = [p.strip().lower() for p in part.split(";")]
        q = 1.0
        for p in params:
            if p.startswith("q="):
                try:
                    q = max(0.0, min(1.0, float(p[2:])))
                except ValueError:
                    q = 1.0
        if media:
            out[media] = max(q, out.get(media, 0.0))
    return out


def wants_html(request: Any) -> bool:
    """A person's browser rather than a program: a form post, or an Accept that prefers HTML
    to JSON. A JSON body, or no Accept at all, means a program (it keeps the JSON errors)."""
    kind = media_type(request)
    if kind == JSON:
        return False
    if kind == FORM:
        return True
    q = _accept_q(request.headers.get("accept") or "")
    html = max(q.get("text/html", 0.0), q.get("application/xhtml+xml", 0.0))
    return html > 0 and html >= q.get(JSON, 0.0)


ERROR_HEADINGS = {
    400: "There is a problem with what was sent",
    401: "You need to sign in",
    403: "You cannot do this",
    404: "This page cannot be found",
    405: "This address cannot do that",
    409: "This has changed",
    413: "What you sent is too long",
    415: "There is a problem with what was sent",
    422: "There is a problem",
    429: "Too many requests",
}


def error_page_response(error: FeedForwardError, settings: Any) -> Response:
    """The HTML variant of error_response, for browsers: a heading, the message, any field
    errors, and a way home. The status is kept."""
    from ..site.pages import render_page  # lazy: jinja2, which a cold start (and a JSON error) does not need

    html = render_page(
        "error.html",
        site_base=settings.site_url.rstrip("/"),
        robots="noindex, nofollow",
        heading=ERROR_HEADINGS.get(error.status, "Something went wrong"),
        message=error.message,
        fields=[f for f in error.fields if f.get("message")],
        status=error.status,
    )
    return html_response(html, status=error.status, csp=page_csp(settings), headers=error.headers)


def redirect(location: str, status: int = 303) -> Response:
    return Response(body="", status_code=status, headers={"Location": location, **SECURITY_HEADERS})
