"""Domain errors. Each carries its HTTP status; app.py turns them into answers in one place.

Also the plain words for a pydantic ValidationError (`pydantic_fields`, `invalid`): flows raise
ValidationFailed with them, so a flow needs nothing from the edge to say what is wrong.

They derive from chalice's ChaliceUnhandledError only so that chalice lets them reach the
error middleware instead of turning them into a bare 500.
"""

from __future__ import annotations

from typing import Any

from chalice import ChaliceUnhandledError


class FeedForwardError(ChaliceUnhandledError):
    status = 400
    code = "BadRequest"

    def __init_subclass__(cls, status: int | None = None, **kwargs: object) -> None:
        """`class NotFound(FeedForwardError, status=404)`: the code an API client sees is the class's name."""
        super().__init_subclass__(**kwargs)
        if status is not None:
            cls.status, cls.code = status, cls.__name__

    def __init__(self, message: str, fields: list[dict[str, str]] | None = None, headers: dict[str, str] | None = None):
        super().__init__(message)
        self.message = message
        self.fields = fields or []
        self.headers = headers or {}

    def to_body(self) -> dict:
        body: dict = {"error": {"code": self.code, "message": self.message}}
        if self.fields:
            body["error"]["fields"] = self.fields
        return body


class BadRequest(FeedForwardError, status=400):
    """The request cannot be read at all: a body that is not JSON or a form, a malformed parameter."""


class ValidationFailed(FeedForwardError, status=422):
    """Readable, but some fields are wrong: `fields` names each one, so a form can mark it."""

    def __init__(self, fields: list[dict[str, str]], values: dict | None = None):
        names = ", ".join(f["field"] for f in fields)
        super().__init__(f"There is a problem with: {names}", fields=fields)
        # The submitted values, so a form can be shown again without losing anything.
        self.values = values or {}


class Unauthorized(FeedForwardError, status=401):
    """No one is signed in, or the sign-in is no longer valid."""


class Forbidden(FeedForwardError, status=403):
    """Signed in, but not allowed to do this."""


class NotFound(FeedForwardError, status=404):
    """No such thing, or nothing this caller may see (a story that is not public looks the same)."""


class MethodNotAllowed(FeedForwardError, status=405):
    """The path exists, but not with this method."""


class Conflict(FeedForwardError, status=409):
    """The thing has moved on (a newer version, a finished step) and no longer allows this."""


class PayloadTooLarge(FeedForwardError, status=413):
    """The body is larger than any of our forms sends."""


class UnsupportedMediaType(FeedForwardError, status=415):
    """The body is neither JSON nor a form."""


class TooManyRequests(FeedForwardError, status=429):
    """A rate limit (limits.py) was reached: 429 with Retry-After, naming the limit."""

    def __init__(self, message: str, retry_after: int, limit: dict[str, int | str] | None = None):
        super().__init__(message, headers={"Retry-After": str(max(1, int(retry_after)))})
        self.retry_after = max(1, int(retry_after))
        self.limit = limit or {}

    def to_body(self) -> dict:
        body = super().to_body()
        body["error"]["retry_after"] = self.retry_after
        if self.limit:
            body["error"]["limit"] = self.limit
        return body


# ---- pydantic's errors in plain words --------------------------------------------------------------


def pydantic_fields(exc: Any, labels: dict[str, str] | None = None) -> list[dict[str, str]]:
    """Turn a pydantic ValidationError into [{field, message}] in plain words."""
    labels = labels or {}
    out: list[dict[str, str]] = []
    seen: set[str] = set()
    for err in exc.errors(include_url=False):
        loc = [str(p) for p in err.get("loc", ())]
        msg = err.get("msg", "is not valid")
        if err.get("type") == "value_error":
            msg = str(err.get("ctx", {}).get("error", msg))
            if ": " in msg and not loc:
                # Model-level checks name their field as "field: message".
                name, msg = msg.split(": ", 1)
                loc = [name]
        field = loc[0] if loc else "body"
        if field in seen:
            continue
        seen.add(field)
        out.append({"field": field, "message": _plain_message(err, msg, labels.get(field, field.replace("_", " ")))})
    return out


def _plain_message(err: dict[str, Any], msg: str, label: str) -> str:
    kind = err.get("type", "")
    ctx = err.get("ctx", {})
    label_cap = label[:1].upper() + label[1:]
    if kind == "missing":
        return f"Enter {label}"
    if kind == "string_too_short":
        n = ctx.get("min_length")
        return f"Enter {label}" if not err.get("input") else f"{label_cap} must be at least {n} characters"
    if kind == "string_too_long":
        return f"{label_cap} must be {ctx.get('max_length')} characters or fewer"
    if kind in ("too_short", "too_long"):
        lo, hi = ctx.get("min_length"), ctx.get("max_length")
        return f"Choose at least {lo}" if kind == "too_short" else f"Choose no more than {hi}"
    if kind == "enum":
        return f"Choose one of: {ctx.get('expected')}"
    if kind == "extra_forbidden":
        return "This field is not expected"
    if kind.startswith("int_") or kind.startswith("bool_"):
        return f"{label_cap} is not valid"
    if kind == "value_error" and msg.startswith("Value error, "):
        return msg[len("Value error, ") :]
    return msg[:1].upper() + msg[1:]


def invalid(exc: Any, labels: dict[str, str], values: dict[str, Any]) -> ValidationFailed:
    return ValidationFailed(pydantic_fields(exc, labels), values)
