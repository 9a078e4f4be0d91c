"""Whether an address a stranger typed may be fetched (issue 21: a lead registers a source by its address).

A lead's source is fetched by the platform, from inside its network: an address that resolves to this
machine, a private network, a link-local range (the cloud's instance metadata at 169.254.169.254) or any
other range that is not the public internet would let whoever typed it read internal services. So such an
address is refused when it is saved and again each time it is fetched (a name may resolve elsewhere later),
and so is every address a fetch is redirected to. The local stack's demo source is on 127.0.0.1: it runs
with FF_SOURCES_ALLOW_LOCAL=1, which AWS never sets. The admin command (tools/sources.py) is trusted and
reads through core/sources.fetch_or_read as before.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

from .sources import MAX_BYTES, SourceUnreadable, http_get

Resolver = Callable[..., list[Any]]  # socket.getaddrinfo's shape
NOT_PUBLIC = "must be on the public internet: not this machine, a private network or a link-local address"


def address_problem(location: str, allow_local: bool = False, resolve: Resolver | None = None) -> str:
    """Why the platform may not fetch this address, or "" when it may (`resolve`: socket.getaddrinfo)."""
    try:
        parts = urlsplit(location)
        port = parts.port
    except ValueError:
        return "must be an http(s) address"
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return "must be an http(s) address"
    if parts.username or parts.password:
        return "must not hold a user name or password"
    if allow_local:
        return ""
    try:
        found = (resolve or socket.getaddrinfo)(
            parts.hostname, port or (443 if parts.scheme == "https" else 80), type=socket.SOCK_STREAM
        )
    except (OSError, UnicodeError, ValueError):
        return "names a host that cannot be found"
    for info in found:
        ip = ipaddress.ip_address(str(info[4][0]).split("%", 1)[0])
        mapped = ip.ipv4_mapped if isinstance(ip, ipaddress.IPv6Address) else None
        if not ip.is_global or ip.is_multicast or (mapped is not None and not mapped.is_global):
            return NOT_PUBLIC
    return "" if found else "names a host that cannot be found"


def guarded_fetch(allow_local: bool, timeout: float = 20.0, limit: int = MAX_BYTES) -> Callable[[str], bytes]:
    """A reader for the importer that fetches only public http(s) addresses, redirects included."""
    import urllib.request  # only where a lead's source is fetched, not on any other request's path

    class Checked(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, req: Any, fp: Any, code: int, msg: str, headers: Any, newurl: str) -> Any:
            problem = address_problem(newurl, allow_local)
            if problem:
                raise SourceUnreadable(f"source: it redirects to an address that {problem}")
            return super().redirect_request(req, fp, code, msg, headers, newurl)

    opener = urllib.request.build_opener(Checked)

    def read(location: str) -> bytes:
        problem = address_problem(location, allow_local)
        if problem:
            raise SourceUnreadable(f"source: its address {problem}")
        body = http_get(location, timeout, limit, opener.open)
        if len(body) > limit:
            raise SourceUnreadable(f"source: larger than {limit} bytes")
        return body

    return read
