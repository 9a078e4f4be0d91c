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


def pydantic_fields(
    exc: Any, labels: dict[str, str] | None = None, messages: dict[str, dict[str, str]] | None = None
) -> list[dict[str, str]]:
    """Turn a pydantic ValidationError into [{field, message}] in plain words.

    `messages` (field -> error type -> words, "*" for any type) says what a form means where the
    generic words would not do ("Choose who you are", not "Enter who you are"). Our own validators'
    words are already plain, so they are kept."""
    labels = labels or {}
    messages = messages or {}
    out: list[dict[str, str]] = []
    seen: set[str] = set()
    for err in exc.errors(include_url=False):
        loc = [str(p) for p in err.get("loc", ())]
        msg = err.get("msg", "is not valid")
        own = err.get("type") == "value_error" and msg.startswith("Value error, ")
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
        kind = _kind(err)
        said = messages.get(field, {})
        if not own and (kind in said or "*" in said):
            message = said.get(kind) or said["*"]
        else:
            message = _plain_message(err, kind, msg, labels.get(field, field.replace("_", " ")))
        out.append({"field": field, "message": message})
    return out


def _kind(err: dict[str, Any]) -> str:
    """The error's type, with a number left blank (a form sends "") counted as missing."""
    kind = str(err.get("type", ""))
    if kind.startswith("int_") and str(err.get("input", "x")).strip() == "":
        return "missing"
    return kind


BOUNDS = {
    "greater_than_equal": ("ge", "{} or more"),
    "less_than_equal": ("le", "{} or less"),
    "greater_than": ("gt", "more than {}"),
    "less_than": ("lt", "less than {}"),
}


def _plain_message(err: dict[str, Any], kind: str, msg: str, label: str) -> str:
    ctx = err.get("ctx", {})
    label_cap = label[:1].upper() + label[1:]
    if kind == "missing":
        return f"Enter {label}"
    if kind == "string_too_short":
        n = ctx.get("min_length")
        return f"Enter {label}" if not err.get("input") else f"{label_cap} must be at least {n:,} characters"
    if kind == "string_too_long":
        given = err.get("input")
        now = f". It has {len(given):,} now" if isinstance(given, str) else ""
        return f"{label_cap} must be {ctx.get('max_length'):,} characters or fewer{now}"
    if kind == "too_short":
        lo = ctx.get("min_length")
        return f"Choose {label}" if lo == 1 else f"Choose at least {lo}"
    if kind == "too_long":
        return f"Choose no more than {ctx.get('max_length')}"
    if kind == "enum":
        return f"Choose {label} from the list"
    if kind == "extra_forbidden":
        return "This field is not expected"
    if kind in BOUNDS:
        key, words = BOUNDS[kind]
        return f"{label_cap} must be {words.format(ctx.get(key))}"
    if kind.startswith("int_"):
        return f"{label_cap} must be a whole number"
    if kind.startswith("bool_"):
        return f"{label_cap} is not valid"
    if kind == "value_error" and msg.startswith("Value error, "):
        return msg[len("Value error, ") :]
    return msg[:1].upper() + msg[1:]


def invalid(
    exc: Any, labels: dict[str, str], values: dict[str, Any], messages: dict[str, dict[str, str]] | None = None
) -> ValidationFailed:
    return ValidationFailed(pydantic_fields(exc, labels, messages), values)
