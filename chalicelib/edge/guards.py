"""What stands before the routes: who the client is (a hash of the source IP, never kept raw),
and the budget of capability links that did not work (limits.py counts; this decides when).
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
from typing import Any

from ..core.errors import TooManyRequests
from ..core.observability import logger
from ..limits import BAD_LINKS
from ..links import NOT_VALID

UNKNOWN = "unknown"  # no source IP in the request context: such requests share one budget


def client_of(request: Any) -> str:
    """The request's client as a hash of its address (or of "unknown" when there is none). An IPv6
    client is its /64: one subscriber line gets a whole /64, so keying on the full address gave a
    client 2^64 budgets (issue 18)."""
    ip = viewer_ip(request) or source_ip(request)
    raw = ip.strip() if isinstance(ip, str) and ip.strip() else UNKNOWN
    return hashlib.sha256(f"feedforward-client:{network_of(raw)}".encode()).hexdigest()[:32]


def source_ip(request: Any) -> str | None:
    """API Gateway's identity.sourceIp: the address of whoever opened the connection to it. Behind
    CloudFront that is a CloudFront server, shared by every viewer it serves."""
    context = getattr(request, "context", None) or {}
    identity = context.get("identity") if isinstance(context, dict) else None
    ip = identity.get("sourceIp") if isinstance(identity, dict) else None
    return ip if isinstance(ip, str) else None


def viewer_ip(request: Any) -> str | None:
    """The viewer's address as CloudFront saw it (X-FF-Viewer-Ip, set by the API behaviour's viewer-request
    function), believed only with CloudFront's X-FF-Edge-Key: a caller of the execute-api address directly
    can send any header, but not the key, and is then keyed by its own source IP (docs/operations.md)."""
    from ..core.settings import get_settings  # cold start: settings import pydantic, read on a request only

    key = get_settings().edge_key
    headers = getattr(request, "headers", None) or {}
    sent = headers.get("x-ff-edge-key") if hasattr(headers, "get") else None
    if not key or not isinstance(sent, str) or not hmac.compare_digest(sent.encode(), key.encode()):
        return None
    ip = headers.get("x-ff-viewer-ip")
    try:
        return str(ipaddress.ip_address(ip.strip())) if isinstance(ip, str) else None
    except ValueError:
        return None


def network_of(address: str) -> str:
    """An IPv4 address as itself, an IPv6 address as its /64 (an IPv4-mapped one as the IPv4)."""
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return address
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped:
            return str(ip.ipv4_mapped)
        return str(ipaddress.ip_network(f"{ip}/64", strict=False))
    return str(ip)


def guard_sign_in(request: Any, data: Any, limits: Any, settings: Any) -> None:
    """Spend one moderator sign-in step from the client's budget and from the user name's (issue 18),
    before Cognito is asked: a 429 with Retry-After once either is spent. The user name is counted
    under a hash (lower-cased), so no key or log holds it; a guesser spreading over many addresses
    still meets the per-name budget, and Cognito's own threat protection behind it."""
    s = settings
    limits.hit("sign-in", client_of(request), s.sign_in_limit, s.rate_window_seconds)
    name = data.get("username") if isinstance(data, dict) else None
    if isinstance(name, str) and name.strip():
        who = hashlib.sha256(f"feedforward-user:{name.strip().lower()}".encode()).hexdigest()[:32]
        limits.hit("sign-in-user", who, s.sign_in_user_limit, s.rate_window_seconds)


def guard_links(request: Any, error: Any, limits: Any, settings: Any) -> Any:
    """After a capability link did not work (NotFound with the links' own message): spend one of the
    client's budget of bad links, or, once it is spent, answer 429 instead. The error to answer with.

    Checked only after the lookup, never before: a link that works always works, so a guesser, or a
    broken mail scanner, behind a trust's proxy cannot lock every member of staff there out of their
    own links (issue 18). What a guesser past the budget learns is only that their guesses fail: with
    256-bit links, no guess works. Never raises: a failure to count must not hide the answer."""
    if getattr(error, "status", None) != 404 or getattr(error, "message", "") != NOT_VALID:
        return error
    client = client_of(request)
    per, limit = settings.rate_window_seconds, settings.bad_link_limit
    try:
        limits.check(BAD_LINKS, client, limit, per)
    except TooManyRequests as refusal:
        return refusal  # spent: nothing more is counted or written
    except Exception as e:  # noqa: BLE001 - the budget fails open
        logger.warning("could not read the bad-link budget", extra={"error": repr(e)[:200]})
        return error
    try:
        limits.hit(BAD_LINKS, client, limit, per)
    except TooManyRequests:
        pass  # this answer stays a 404; the next bad link is refused
    except Exception as e:  # noqa: BLE001 - counting is best effort here
        logger.warning("could not count a bad link", extra={"error": repr(e)[:200]})
    return error
