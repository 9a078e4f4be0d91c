"""The static site, served from the S3 bucket the renderer writes to, as CloudFront would.

moto serves objects but not index documents (`/dir/` is a 404 there), so this small server
maps clean URLs onto keys and reads each object with boto3:

    /            -> index.html
    /x/          -> x/index.html
    /x           -> the object x, or a redirect to /x/ when x/index.html exists
    /i/<code>    -> a redirect to the API's /api/i/<code> (an invitation's short link, issue 19)
    anything else that is missing -> 404.html with status 404

It passes on the object's Content-Type, Cache-Control, Content-Encoding, ETag and
Last-Modified, and answers If-None-Match with 304.
"""

from __future__ import annotations

import re
import threading
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import unquote, urlsplit

NOT_FOUND_KEY = "404.html"
PASSED_HEADERS = (
    ("ContentType", "Content-Type"),
    ("CacheControl", "Cache-Control"),
    ("ContentEncoding", "Content-Encoding"),
    ("ContentLanguage", "Content-Language"),
    ("ETag", "ETag"),
)


def key_for(path: str) -> str | None:
    """The object key a URL path names, or None for a path no key can answer."""
    path = unquote(urlsplit(path).path)
    if not path.startswith("/") or "\x00" in path:
        return None
    parts = path.split("/")
    if any(p in (".", "..") for p in parts):
        return None
    key = path.lstrip("/")
    if key == "" or key.endswith("/"):
        key += "index.html"
    return key


class SiteHandler(BaseHTTPRequestHandler):
    server_version = "FeedForwardLocalSite/1.0"
    protocol_version = "HTTP/1.1"
    s3: Any = None
    bucket: str = ""
    api_url: str = ""

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - quiet: the stack prints its own lines
        pass

    def do_HEAD(self) -> None:
        self._serve(head=True)

    def do_GET(self) -> None:
        self._serve(head=False)

    def _get(self, key: str) -> dict[str, Any] | None:
        from botocore.exceptions import ClientError

        try:
            return self.s3.get_object(Bucket=self.bucket, Key=key)
        except ClientError as e:
            if e.response.get("Error", {}).get("Code") in ("NoSuchKey", "404", "NotFound", "NoSuchBucket"):
                return None
            raise

    def _exists(self, key: str) -> bool:
        from botocore.exceptions import ClientError

        try:
            self.s3.head_object(Bucket=self.bucket, Key=key)
            return True
        except ClientError:
            return False

    def _serve(self, head: bool) -> None:
        try:
            invite = re.fullmatch(r"/+i/([A-Za-z0-9]{1,40})/?", urlsplit(self.path).path)
            if invite and self.api_url:  # as CloudFront's site function does
                self._redirect(f"{self.api_url.rstrip('/')}/api/i/{invite.group(1)}", HTTPStatus.FOUND)
                return
            key = key_for(self.path)
            obj = self._get(key) if key else None
            if obj is None and key and not key.endswith("index.html") and self._exists(f"{key}/index.html"):
                query = urlsplit(self.path).query
                self._redirect(urlsplit(self.path).path + "/" + (f"?{query}" if query else ""))
                return
            if obj is None:
                self._not_found(head)
                return
            self._send_object(obj, HTTPStatus.OK, head)
        except (BrokenPipeError, ConnectionResetError):
            pass
        except Exception as e:  # the emulator is gone or broken: say so plainly
            self._plain(HTTPStatus.BAD_GATEWAY, f"Could not read the site bucket: {e}\n", head)

    def _send_object(self, obj: dict[str, Any], status: int, head: bool) -> None:
        body = obj["Body"].read()
        etag = obj.get("ETag")
        if status == HTTPStatus.OK and etag and etag in (self.headers.get("If-None-Match") or ""):
            self.send_response(HTTPStatus.NOT_MODIFIED)
            self.send_header("ETag", etag)
            if obj.get("CacheControl"):
                self.send_header("Cache-Control", obj["CacheControl"])
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        self.send_response(status)
        for field, header in PASSED_HEADERS:
            if obj.get(field):
                self.send_header(header, obj[field])
        if not obj.get("ContentType"):
            self.send_header("Content-Type", "application/octet-stream")
        if obj.get("LastModified"):
            self.send_header("Last-Modified", self.date_time_string(obj["LastModified"].timestamp()))
        self.send_header("X-Content-Type-Options", "nosniff")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if not head:
            self.wfile.write(body)

    def _not_found(self, head: bool) -> None:
        page = self._get(NOT_FOUND_KEY)
        if page is not None:
            self._send_object(page, HTTPStatus.NOT_FOUND, head)
        else:
            self._plain(HTTPStatus.NOT_FOUND, "Not found.\n", head)

    def _redirect(self, location: str, status: HTTPStatus = HTTPStatus.MOVED_PERMANENTLY) -> None:
        self.send_response(status)
        self.send_header("Location", location)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def _plain(self, status: int, text: str, head: bool) -> None:
        body = text.encode()
        self.send_response(status)
        self.send_header("Content-Type", "text/plain; charset=utf-8")
        self.send_header("Cache-Control", "no-store")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if not head:
            self.wfile.write(body)


class StaticServer:
    """A threaded HTTP server for the site bucket, run in a daemon thread."""

    def __init__(self, s3: Any, bucket: str, host: str = "127.0.0.1", port: int = 8080, api_url: str = ""):
        handler = type("BoundSiteHandler", (SiteHandler,), {"s3": s3, "bucket": bucket, "api_url": api_url})
        self.httpd = ThreadingHTTPServer((host, port), handler)
        self.httpd.daemon_threads = True
        self._thread = threading.Thread(target=self.httpd.serve_forever, name="static-site", daemon=True)

    @property
    def url(self) -> str:
        host, port = self.httpd.server_address[:2]
        return f"http://{host}:{port}/"

    def start(self) -> StaticServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        self._thread.join(timeout=5)
