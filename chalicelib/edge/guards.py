"""What stands before the routes: who the client is (a hash of the source IP, never kept raw),
and the budget of capability links that did not work (limits.py counts; this decides when).
"""

from __future__ import annotations

import hashlib
from typing import Any

from ..core.errors import TooManyRequests
from ..core.observability import logger
from ..limits import BAD_LINKS
from ..links import NOT_VALID

UNKNOWN = "unknown"  # no source IP in the request context: such requests share one budget


def client_of(request: Any) -> str:
    """The request's client as a hash of its source IP (or of "unknown" when there is none)."""
    context = getattr(request, "context", None) or {}
    identity = context.get("identity") if isinstance(context, dict) else None
    ip = identity.get("sourceIp") if isinstance(identity, dict) else None
    raw = ip if isinstance(ip, str) and ip.strip() else UNKNOWN
    return hashlib.sha256(f"feedforward-client:{raw.strip()}".encode()).hexdigest()[:32]


def guard_links(request: Any, error: Any, limits: Any, settings: Any) -> None:
    """Capability links are guessed one lookup at a time, so each client has a budget of links
    that did not work. Before the route (error None): refuse a client whose budget is spent.
    After a link did not work (NotFound with the links' own message): spend one. Never raises
    anything but the refusal: a failure to count must not hide the answer."""
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
