"""Domain errors. Each carries its HTTP status; app.py turns them into answers in one place.

They derive from chalice's ChaliceUnhandledError only so that chalice lets them reach the
error middleware instead of turning them into a bare 500.
"""

from __future__ import annotations

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
