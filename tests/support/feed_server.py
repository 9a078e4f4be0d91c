"""A source's server: a real HTTP server on 127.0.0.1, in a thread, that answers each GET with the document
set for its path (and 404 for any other), so the importer fetches feeds as it would from another site.
A test changes a document between runs (an item edited at the source) with `serve`."""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


class FeedServer:
    def __init__(self) -> None:
        self.documents: dict[str, tuple[str, bytes]] = {}
        self.requests: list[str] = []  # the paths asked for, in order
        self.redirects: dict[str, str] = {}  # path -> where a GET of it is sent (302)
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 (http.server's name)
                server.requests.append(self.path)
                if self.path in server.redirects:
                    self.send_response(302)
                    self.send_header("Location", server.redirects[self.path])
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                found = server.documents.get(self.path)
                self.send_response(200 if found else 404)
                body = found[1] if found else b"not here"
                self.send_header("Content-Type", found[0] if found else "text/plain")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.base = f"http://127.0.0.1:{self._server.server_address[1]}"

    def serve(self, path: str, body: bytes | str, content_type: str = "application/feed+json") -> str:
        """Answer GET `path` with `body` from now on; its full address."""
        self.documents[path] = (content_type, body.encode() if isinstance(body, str) else body)
        return self.base + path

    def redirect(self, path: str, to: str) -> str:
        """Answer GET `path` with a redirect to `to`; its full address."""
        self.redirects[path] = to
        return self.base + path

    def __enter__(self) -> FeedServer:
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self._server.shutdown()
        self._server.server_close()
