"""Rate limits: a fixed-window counter per action and client, one UpdateItem per hit.

The client is the request's source IP, hashed by the edge (edge/guards.py) before it is stored
or used (it is never logged raw). Windows start at multiples of `per_seconds` (epoch time), so
a counter item is keyed by its window start and expires with a TTL a little after the window ends.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .core import clock
from .core.errors import TooManyRequests

if TYPE_CHECKING:
    from .store import LoopStore

# A failed capability-link lookup spends from this budget; an exhausted one refuses every link.
BAD_LINKS = "bad-links"

WORDS = {
    "me-too": "“this happened to me too”",
    "me-too-story": "“this happened to me too” about this story",
    "concerns": "reports of a concern",
    "sign-in": "sign-in attempts",
    "sign-in-user": "sign-in attempts for this user name",
    "check-answer": "answers to a change check",
    "stories": "stories sent",
    "subscriptions": "sign-ups",
    BAD_LINKS: "links that did not work",
}


class Limits:
    def __init__(self, store: LoopStore, clock_module: Any = clock):
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

    def hit_once(self, action: str, client: str, occasion: str, limit: int, per_seconds: int) -> None:
        """As hit, but one occasion (a mail job, which SQS may deliver again after a failure) counts
        once: a retry gets the answer its first delivery got, without spending the budget again (issue
        22: five throttled deliveries of one email must not use up the address's day). The read first
        is the price of that; counting first would refuse the address's next emails sooner."""
        if limit <= 0:
            return
        start, now = self._window(per_seconds)
        key, expires = f"{action}#{client}#{occasion}", start + per_seconds + 60
        allowed = self._store.first_decision(key, None, expires)
        if allowed is None:
            allowed = self._store.count_hit(f"{action}#{client}", start, expires) <= limit
            allowed = self._store.first_decision(key, allowed, expires)
        if not allowed:
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
        wait = _wait(retry_after)
        return TooManyRequests(
            f"Too many {what} from your connection: at most {limit} in {span}. Try again in {wait}.",
            retry_after=retry_after,
            limit={"action": action, "limit": limit, "per_seconds": per_seconds},
        )


def _wait(seconds: int) -> str:
    """How long to wait, as a person says it: whole minutes, rounded up ("53 minutes", not "3146
    seconds"), and hours from two hours on. Retry-After keeps the exact seconds for programs."""
    minutes = max(1, -(-seconds // 60))
    if minutes < 120:
        return "a minute" if minutes == 1 else f"{minutes} minutes"
    return f"about {round(minutes / 60)} hours"


def _span(seconds: int) -> str:
    if seconds % 3600 == 0:
        n = seconds // 3600
        return "an hour" if n == 1 else f"{n} hours"
    if seconds % 60 == 0 and seconds >= 60:
        n = seconds // 60
        return "a minute" if n == 1 else f"{n} minutes"
    return "a second" if seconds == 1 else f"{seconds} seconds"
