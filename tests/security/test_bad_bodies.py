"""Bad input (issue 6): the classic malformed requests, sent to every route that takes a body.

The routes come from the OpenAPI document (every operation with a request body), so a new route is
covered with no change here. In process (chalice's test client and moto), where each request costs
milliseconds; test_schema_fuzz.py sends schemathesis' requests to the real stack. Every answer must
be a 4xx that says what is wrong (JSON, or the error page for a form post), and the table must be
exactly as it was. The rate limits are off: they keep counters in the table, which would be writes
of their own (and are tested in test_limits.py).
"""

from __future__ import annotations

import json
import re

import pytest

from chalicelib import wiring
from chalicelib.core.settings import Settings
from chalicelib.edge.openapi import IGNORED, document
from chalicelib.edge.openapi_organisations import MAX_BODY
from tests.support.auth import bearer

JSON, FORM = "application/json", "application/x-www-form-urlencoded"
LIMIT = Settings().max_body_bytes  # the default, which the test stage runs with
DEEP = 10_000

# (what, content type, body, status, words the answer must hold, the field it must name)
CORPUS = [
    ("a body over the size limit", JSON, b'{"text": "' + b"x" * LIMIT + b'"}', 413, "the most we accept", None),
    ("a form over the size limit", FORM, b"text=" + b"x" * LIMIT, 413, "the most we accept", None),
    ("invalid UTF-8", JSON, b'{"text": "caf\xe9"}', 400, "not valid UTF-8", None),
    ("invalid UTF-8 in a form", FORM, b"text=caf\xe9", 400, "not valid UTF-8", None),
    (f"a list nested {DEEP:,} deep", JSON, b"[" * DEEP + b"]" * DEEP, 400, "nested too deeply", None),
    (f"an object nested {DEEP:,} deep", JSON, b'{"a":' * DEEP + b"1" + b"}" * DEEP, 400, "nested too deeply", None),
    ("text/plain", "text/plain", b'{"text": "hello"}', 415, "not text/plain", None),
    ("application/xml", "application/xml", b"<text>hello</text>", 415, "not application/xml", None),
    (
        "multipart",
        "multipart/form-data; boundary=b",
        b'--b\r\nContent-Disposition: form-data; name="text"\r\n\r\nhello\r\n--b--\r\n',
        415,
        "not multipart/form-data",
        None,
    ),
    ("no content type", "", b'{"text": "hello"}', 415, "no content type", None),
    ("an empty body", JSON, b"", 400, "not valid JSON", None),
    ("a list", JSON, b'["text"]', 400, "must be an object, not a list", None),
    ("a number", JSON, b"42", 400, "must be an object, not a number", None),
    ("null", JSON, b"null", 400, "must be an object, not null", None),
    ("a string", JSON, b'"text"', 400, "must be an object, not a string", None),
    ("a duplicate key", JSON, b'{"text": "one", "text": "two"}', 400, "more than once", "text"),
    ("a huge integer", JSON, b'{"version": ' + b"9" * 5000 + b"}", 400, "too large", None),
    ("an integer past 2^53", JSON, b'{"version": 9007199254740993}', 400, "too large", None),
    ("1e999", JSON, b'{"version": 1e999}', 400, "too large", None),
    ("NaN", JSON, b'{"version": NaN}', 400, "NaN", None),
    ("Infinity", JSON, b'{"version": -Infinity}', 400, "Infinity", None),
    ("an escaped NUL", JSON, b'{"text": "a\\u0000b"}', 400, "NUL", "text"),
    ("a raw NUL", JSON, b'{"text": "a\x00b"}', 400, "not valid JSON", None),
    ("a NUL deep in a list", JSON, b'{"services": ["a", ["b\\u0000"]]}', 400, "NUL", "services"),
    ("a NUL in a form", FORM, b"text=a%00b", 400, "NUL", "text"),
    ("a lone surrogate", JSON, b'{"text": "\\ud800"}', 400, "surrogate", "text"),
    ("a lone low surrogate in a key", JSON, b'{"\\udc00": "x"}', 400, "surrogate", None),
    ("a reversed surrogate pair", JSON, b'{"text": "\\udc00\\ud800"}', 400, "surrogate", "text"),
]


def operations_with_a_body() -> list[tuple[str, str, dict]]:
    return [
        (method.upper(), path, op)
        for path, ops in document()["paths"].items()
        for method, op in ops.items()
        if "requestBody" in op
    ]


def _path(path: str) -> str:
    """Values for the path's parameters that look right (the body is refused before they are looked up)."""
    values = {
        "story_id": "0" * 17,
        "token": "t" * 43,
        "kind": "replies",
        "item_id": "i" * 17,
        "response_id": "r" * 17,
        "code": "c" * 12,
        "slug": "a-source",
    }
    return re.sub(r"\{(\w+)\}", lambda m: values[m.group(1)], path)


@pytest.fixture
def limits_off(aws, monkeypatch):
    for name in ("STORY", "SUBSCRIPTION", "ME_TOO", "CHECK_ANSWER", "BAD_LINK", "ORGANISATION_LINK"):
        monkeypatch.setenv(f"FF_{name}_LIMIT", "0")
    wiring.reset()


def scan(aws) -> list[dict]:
    return aws.client("dynamodb").scan(TableName=aws.resources.table, ConsistentRead=True)["Items"]


def test_the_corpus_covers_every_route_with_a_body():
    found = {(m, p) for m, p, _ in operations_with_a_body()}
    from app import app

    # Cross-checked against the routes themselves: every POST route is in the document with its body.
    posts = {("POST", path) for path, methods in app.routes.items() if "POST" in methods}
    assert posts == found
    assert len(found) >= 15


@pytest.mark.parametrize("method, path, op", operations_with_a_body(), ids=lambda v: v if isinstance(v, str) else "")
def test_every_malformed_body_gets_a_clear_4xx_and_writes_nothing(
    client, aws, directory, limits_off, token, method, path, op
):  # noqa: F811
    accepts = set(op["requestBody"]["content"])
    ignored = op["requestBody"].get(IGNORED, False)
    headers = bearer(token) if op.get("security") else {}
    before = scan(aws)
    wrong: list[str] = []
    most = op["requestBody"].get(MAX_BODY)  # a route that takes files takes more
    for what, media, body, status, words, field in CORPUS:
        expected, says = status, words
        if most and status == 413:
            body = body[: body.index(b"x")] + b"x" * most + body[body.rindex(b"x") + 1 :]
        if status == 415 and media.split(";")[0] in accepts and not ignored:
            # A file upload's multipart form is read only once its link works: this fake one is a 404.
            expected, says, field = 404, "", None
        if ignored and status != 413:
            # The route never reads its body (one-click unsubscribe, "I have read this"): the link decides.
            expected, says = (415, f"not {media.split(';')[0]}") if media.split(";")[0] not in accepts else (404, "")
            if not media:
                expected, says = 404, ""
        elif status != 413 and media and media.split(";")[0] not in accepts:
            expected, says = 415, f"not {media.split(';')[0]}"
        resp = client.http.request(
            method, _path(path), body=body, headers={**headers, **({"Content-Type": media} if media else {})}
        )
        problem = _check(resp, media, expected, says, field if expected == status else None)
        if problem:
            wrong.append(f"{what}: {problem}")
    assert wrong == [], f"{method} {path}:\n  " + "\n  ".join(wrong)
    assert scan(aws) == before


def _check(resp, media: str, status: int, words: str, field: str | None) -> str:
    """What is wrong with the answer, or ""."""
    if resp.status_code != status:
        return f"{resp.status_code}, not {status}: {resp.body[:200]!r}"
    kind = resp.headers.get("Content-Type", "")
    text = resp.body.decode("utf-8")
    if media.startswith(FORM):
        # A person posted a form: the error page, with the problem in words.
        if not kind.startswith("text/html") or "<h1" not in text:
            return f"a form post got {kind}, not the error page"
        return "" if words in text else f"the page does not say {words!r}"
    if kind != JSON:
        return f"answered {kind}"
    error = json.loads(text).get("error", {})
    if not error.get("code") or words not in error.get("message", ""):
        return f"the error does not say {words!r}: {error}"
    if field and field not in [f.get("field") for f in error.get("fields", [])]:
        return f"the error does not name {field!r}: {error}"
    return ""


def test_a_method_a_route_does_not_take_is_a_405_in_the_apis_own_shape(client, aws):
    resp = client.http.request("PUT", "/api/stories", body=b"{}", headers={"Content-Type": JSON})
    assert resp.status_code == 405
    assert resp.headers["Allow"] == "POST"
    assert json.loads(resp.body)["error"] == {
        "code": "MethodNotAllowed",
        "message": "This address does not take PUT; use POST.",
    }
    # A browser gets the error page, with the same status and Allow header.
    resp = client.http.request("DELETE", "/api/services", headers={"Accept": "text/html"})
    assert resp.status_code == 405 and resp.headers["Allow"] == "GET"
    assert (
        resp.headers["Content-Type"].startswith("text/html")
        and "This address does not take DELETE" in resp.body.decode()
    )
