"""The local stack's webhook receiver (issue 21), on the mailbox's port: what a partner would see.

`make run` registers one demo partner for a trust's events, whose endpoint is
`http://127.0.0.1:<mail port>/webhooks/receive/<key>`. Each delivery is kept in memory, with its
signature checked by the documented recipe (chalicelib/core/webhooks.verify, as docs/partners.md gives
it) against the secret the registration printed once, and `/webhooks` lists them, newest first.
A delivery under an unknown key, or with a bad signature, is kept too (marked so) and answered 401,
as a careful partner would: the platform then retries it, and pauses after repeated failures.
"""

from __future__ import annotations

import html
import json
import threading
import time
from dataclasses import dataclass
from typing import Any

MAX_BODY = 256 * 1024
KEPT = 200  # deliveries shown; older ones are forgotten


@dataclass(frozen=True)
class Delivery:
    key: str
    received: float
    event: str
    delivery_id: str
    verified: bool
    body: bytes


class HookInbox:
    def __init__(self) -> None:
        self._secrets: dict[str, str] = {}
        self._deliveries: list[Delivery] = []
        self._lock = threading.Lock()

    def add_receiver(self, key: str, secret: str) -> None:
        """The secret a registration printed, for the receiver at /webhooks/receive/<key>."""
        with self._lock:
            self._secrets[key] = secret

    def receive(self, key: str, headers: Any, body: bytes) -> bool:
        """Keep one delivery; True if its signature verifies with the receiver's secret."""
        from chalicelib.core.webhooks import SIGNATURE_HEADER, verify

        with self._lock:
            secret = self._secrets.get(key)
        verified = bool(secret) and verify(secret or "", headers.get(SIGNATURE_HEADER) or "", body)
        delivery = Delivery(
            key,
            time.time(),
            headers.get("FeedForward-Event") or "",
            headers.get("FeedForward-Delivery") or "",
            verified,
            body,
        )
        with self._lock:
            self._deliveries = [delivery, *self._deliveries][:KEPT]
        return verified

    def deliveries(self) -> list[Delivery]:
        with self._lock:
            return list(self._deliveries)

    def as_json(self) -> bytes:
        return json.dumps(
            [
                {
                    "receiver": d.key,
                    "received": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(d.received)),
                    "event": d.event,
                    "delivery": d.delivery_id,
                    "verified": d.verified,
                    "body": _parsed(d.body),
                }
                for d in self.deliveries()
            ]
        ).encode()

    def page(self) -> str:
        rows = []
        for d in self.deliveries():
            when = time.strftime("%H:%M:%S", time.localtime(d.received))
            check = "Signature verified" if d.verified else "Signature NOT verified"
            pretty = json.dumps(_parsed(d.body), indent=2, ensure_ascii=False)
            rows.append(
                f"<li><p><strong>{html.escape(d.event or 'unknown event')}</strong> at {when}, "
                f"delivery <code>{html.escape(d.delivery_id)}</code> to <code>{html.escape(d.key)}</code>: "
                f"<span class='{'ok' if d.verified else 'bad'}'>{check}</span></p>"
                f"<pre>{html.escape(pretty)}</pre></li>"
            )
        listing = f"<ol>{''.join(rows)}</ol>" if rows else "<p>No deliveries yet. Publish a story about the trust.</p>"
        return listing


def _parsed(body: bytes) -> Any:
    try:
        return json.loads(body)
    except ValueError:
        return body.decode("utf-8", "replace")
