"""A partner's webhook receiver: a real HTTP server on 127.0.0.1, in a thread, that answers each POST
with the next status of a script (then the last one, for good) and keeps what it was sent."""

from __future__ import annotations

import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


class Receiver:
    def __init__(
        self,
        statuses: list[int] | None = None,
        fault: Callable[[int], tuple[bool, int]] | None = None,
        on_post: Callable[[bytes], Any] | None = None,
    ):
        """`fault(n)`, for the nth POST (from 0): (whether the partner took it in, the status it answers);
        a delivery taken in and answered 5xx is a lost answer, so it comes again (a duplicate).
        `on_post(body)` runs for each POST before it is answered (a WebSub hub fetching what it was told of)."""
        self.statuses = list(statuses or [200])
        self.fault = fault
        self.taken: list[dict[str, Any]] = []  # what the partner took in, duplicates included
        # {"headers" (names in lower case, as HTTP's are case-blind), "body", "status"} for each POST, in order
        self.got: list[dict[str, Any]] = []
        self._lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 (http.server's name)
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                if on_post:
                    on_post(body)
                with receiver._lock:
                    status = receiver.statuses.pop(0) if len(receiver.statuses) > 1 else receiver.statuses[0]
                    took = 200 <= status < 300
                    if receiver.fault:
                        took, status = receiver.fault(len(receiver.got))
                    headers = {k.lower(): v for k, v in self.headers.items()}
                    receiver.got.append({"headers": headers, "body": body, "status": status})
                    if took:
                        receiver.taken.append(receiver.got[-1])
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}/hooks"

    def answer(self, *statuses: int) -> None:
        """From now on, answer with these (the last one for good)."""
        with self._lock:
            self.statuses = list(statuses)

    def delivered(self) -> list[dict[str, Any]]:
        """The POSTs it took (a 2xx answer)."""
        return [g for g in self.got if 200 <= g["status"] < 300]

    def __enter__(self) -> Receiver:
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self._server.shutdown()
        self._server.server_close()
