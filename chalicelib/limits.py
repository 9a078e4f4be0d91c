"""Rate limits: a fixed-window counter per action and client, one UpdateItem per hit.

The client is the request's source IP, hashed before it is stored or used (it is never
logged raw). Windows start at multiples of `per_seconds` (epoch time), so a counter item is
keyed by its window start and expires with a TTL a little after the window ends.
"""

from __future__ import annotations

import hashlib
from typing import Any

from .core import clock
from .core.errors import TooManyRequests

UNKNOWN = "unknown"  # no source IP in the request context: such requests share one budget
# A failed capability-link lookup spends from this budget; an exhausted one refuses every link.
BAD_LINKS = "bad-links"

WORDS = {
    "me-too": "“this happened to me too”",
    "check-answer": "answers to a change check",
    "stories": "stories sent",
    "subscriptions": "sign-ups",
    BAD_LINKS: "links that did not work",
}


def client_of(request: Any) -> str:
    """The request's client as a hash of its source IP (or of "unknown" when there is none)."""
    context = getattr(request, "context", None) or {}
    identity = context.get("identity") if isinstance(context, dict) else None
    ip = identity.get("sourceIp") if isinstance(identity, dict) else None
    raw = ip if isinstance(ip, str) and ip.strip() else UNKNOWN
    return hashlib.sha256(f"feedforward-client:{raw.strip()}".encode("utf-8")).hexdigest()[:32]


class Limits:
    def __init__(self, store: Any, clock_module: Any = clock):
        self._store = store
        self._clock = clock_module

    def _window(self, per_seconds: int) -> tuple[int, int]:
        now = int(self._clock.now().timestamp())
        return now - now % per_seconds, now

    def hit(self, action: str, client: str, limit: int, per_seconds: int) -> None:
        """Count one request; the (limit + 1)th in a window raises TooManyRequests. A limit of 0 or
        less means no limit (and costs no call)."""
        if limit <= 0:
            return
        start, now = self._window(per_seconds)
        count = self._store.count_hit(f"{action}#{client}", start, start + per_seconds + 60)
        if count > limit:
            raise self._refusal(action, limit, per_seconds, start + per_seconds - now)

    def check(self, action: str, client: str, limit: int, per_seconds: int) -> None:
        """Refuse if the budget is already spent, without spending any (one GetItem)."""
        if limit <= 0:
            return
        start, now = self._window(per_seconds)
        if self._store.hits(f"{action}#{client}", start) >= limit:
            raise self._refusal(action, limit, per_seconds, start + per_seconds - now)

    @staticmethod
    def _refusal(action: str, limit: int, per_seconds: int, retry_after: int) -> TooManyRequests:
        what = WORDS.get(action, action)
        span = _span(per_seconds)
        wait = _span(max(1, retry_after))
        return TooManyRequests(
            f"Too many {what} from your connection: at most {limit} in {span}. Try again in {wait}.",
            retry_after=retry_after,
            limit={"action": action, "limit": limit, "per_seconds": per_seconds},
        )


def _span(seconds: int) -> str:
    if seconds % 3600 == 0:
        n = seconds // 3600
        return "an hour" if n == 1 else f"{n} hours"
    if seconds % 60 == 0 and seconds >= 60:
        n = seconds // 60
        return "a minute" if n == 1 else f"{n} minutes"
    return "a second" if seconds == 1 else f"{seconds} seconds"


def guard_links(request: Any, error: Any, limits: Any, settings: Any) -> None:
    """Capability links are guessed one lookup at a time, so each client has a budget of links
    that did not work. Before the route (error None): refuse a client whose budget is spent.
    After a link did not work (NotFound with the links' own message): spend one. Never raises
    anything but the refusal: a failure to count must not hide the answer."""
    from .links import NOT_VALID
    from .core.observability import logger

    client = client_of(request)
    per, limit = settings.rate_window_seconds, settings.bad_link_limit
    if error is None:
        try:
            limits.check(BAD_LINKS, client, limit, per)
        except TooManyRequests:
            raise
        except Exception as e:  # noqa: BLE001 - the budget fails open: a link that works must keep working
            logger.warning("could not read the bad-link budget", extra={"error": repr(e)[:200]})
        return
    if getattr(error, "status", None) != 404 or getattr(error, "message", "") != NOT_VALID:
        return
    try:
        limits.hit(BAD_LINKS, client, limit, per)
    except TooManyRequests:
        pass  # this answer stays a 404; the next request is refused before its lookup
    except Exception as e:  # noqa: BLE001 - counting is best effort here
        logger.warning("could not count a bad link", extra={"error": repr(e)[:200]})
