"""Domain errors. Each carries its HTTP status; app.py turns them into answers in one place.

They derive from chalice's ChaliceUnhandledError only so that chalice lets them reach the
error middleware instead of turning them into a bare 500.
"""

from __future__ import annotations

from chalice import ChaliceUnhandledError


class FeedForwardError(ChaliceUnhandledError):
    status = 400
    code = "BadRequest"

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


class BadRequest(FeedForwardError):
    status, code = 400, "BadRequest"


class ValidationFailed(FeedForwardError):
    status, code = 422, "ValidationFailed"

    def __init__(self, fields: list[dict[str, str]], values: dict | None = None):
        names = ", ".join(f["field"] for f in fields)
        super().__init__(f"There is a problem with: {names}", fields=fields)
        # The submitted values, so a form can be shown again without losing anything.
        self.values = values or {}


class Unauthorized(FeedForwardError):
    status, code = 401, "Unauthorized"


class Forbidden(FeedForwardError):
    status, code = 403, "Forbidden"


class NotFound(FeedForwardError):
    status, code = 404, "NotFound"


class MethodNotAllowed(FeedForwardError):
    status, code = 405, "MethodNotAllowed"


class Conflict(FeedForwardError):
    status, code = 409, "Conflict"


class PayloadTooLarge(FeedForwardError):
    status, code = 413, "PayloadTooLarge"


class UnsupportedMediaType(FeedForwardError):
    status, code = 415, "UnsupportedMediaType"



class TooManyRequests(FeedForwardError):
    """A rate limit (limits.py) was reached: 429 with Retry-After, naming the limit."""

    status, code = 429, "TooManyRequests"

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
