"""WebSub (W3C): telling a hub that feeds changed, so that feed readers and partners subscribed there
hear of a publication at once instead of polling (issue 21).

The feeds name the hub (`<link rel="hub">` in Atom, `hubs` in JSON Feed) when one is set
(FF_WEBSUB_HUB; none by default: nothing is announced and no ping leaves). After a render job has
written feeds, the render worker pings the hub once with their addresses (`hub.mode=publish`, one
`hub.url` per feed: the convention public hubs follow); the hub then fetches them and tells its
subscribers. The ping comes after the write, so a hub never fetches the feed as it was. A ping that
fails is logged and dropped: the pages are already written, and subscribers still poll.
"""

from __future__ import annotations

from urllib.parse import urlencode

from ..core.observability import logger
from ..core.webhooks import post


def announce(hub: str, urls: list[str], timeout: float) -> int:
    """Ping `hub` that `urls` changed; the hub's HTTP status (2xx: taken), 0 when it did not answer."""
    if not hub or not urls:
        return 0
    body = urlencode([("hub.mode", "publish"), *(("hub.url", u) for u in urls)]).encode()
    status = post(hub, body, {"Content-Type": "application/x-www-form-urlencoded"}, timeout)
    if not 200 <= status < 300:
        logger.warning("WebSub hub did not take the ping", extra={"status": status, "feeds": len(urls)})
    return status
