"""The mailbox: a web page listing every email the emulator's SES has sent, newest first.

It reads `GET {endpoint}/moto-api/data.json` on each request. Raw messages (send_raw_email)
keep every part and header, so they are parsed with the email package; simple messages
(send_email) only keep the HTML body or the text. Each message opens on its own page with
its headers, its text part (links made clickable), its HTML part (shown in a sandboxed
frame, and as source) and a list of every link it holds. Everything is escaped.

Two buttons stand in for what AWS does on its own (each a POST, answered with a redirect):
"Send today's digests now" (the scheduled digest handler runs at 07:00 UTC; this sends the
digests of the stories published so far today), and, on each message, "It bounced" or
"Marked as spam", which publish the notification SES would to the SNS topic, so that the
event pump hands it to on_mail_event and the address is suppressed.
"""

from __future__ import annotations

import email
import email.policy
import html
import json
import re
import threading
import time
import urllib.request
from collections.abc import Callable
from datetime import UTC, datetime
from email.utils import parseaddr, parsedate_to_datetime
from html.parser import HTMLParser
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, unquote, urlencode, urlsplit

from local.hooks import MAX_BODY as MAX_HOOK_BODY
from local.hooks import HookInbox

URL = re.compile(r"""https?://[^\s<>"'()\[\]]+[^\s<>"'()\[\].,;:!?]""")
SAFE_SCHEMES = ("http://", "https://", "mailto:")


# ---- reading the emulator ------------------------------------------------------------------


class _Links(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.links: list[tuple[str, str]] = []
        self._href: str | None = None
        self._text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "a":
            self._href = dict(attrs).get("href") or ""
            self._text = []

    def handle_data(self, data: str) -> None:
        if self._href is not None:
            self._text.append(data)

    def handle_endtag(self, tag: str) -> None:
        if tag == "a" and self._href is not None:
            self.links.append((self._href, " ".join("".join(self._text).split())))
            self._href = None


def html_links(markup: str) -> list[tuple[str, str]]:
    parser = _Links()
    try:
        parser.feed(markup)
        parser.close()
    except Exception:  # a broken email must not break the mailbox
        pass
    return parser.links


class Mail:
    """One sent message, as the mailbox shows it."""

    def __init__(
        self,
        mid: str,
        sender: str,
        to: list[str],
        subject: str,
        when: datetime | None,
        text: str,
        html_part: str,
        headers: list[tuple[str, str]],
        raw: str,
    ):
        self.id, self.sender, self.to, self.subject, self.when = mid, sender, to, subject, when
        self.text, self.html, self.headers, self.raw = text, html_part, headers, raw

    @property
    def links(self) -> list[tuple[str, str]]:
        seen: dict[str, str] = {}
        for href, label in html_links(self.html):
            seen.setdefault(href, label)
        for href in URL.findall(self.text):
            seen.setdefault(href, "")
        for name, value in self.headers:
            if name.lower() == "list-unsubscribe":
                for href in re.findall(r"<([^>]+)>", value):
                    seen.setdefault(href, "List-Unsubscribe header")
        return list(seen.items())


def _from_raw(item: dict[str, Any]) -> Mail:
    msg = email.message_from_string(item.get("raw_data", ""), policy=email.policy.default)
    text = html_part = ""
    for part in msg.walk():
        if part.is_multipart() or part.get_content_disposition() == "attachment":
            continue
        ctype = part.get_content_type()
        try:
            content = part.get_content()
        except Exception:
            content = part.get_payload(decode=True) or b""
        if isinstance(content, bytes):
            content = content.decode("utf-8", "replace")
        if ctype == "text/plain" and not text:
            text = content
        elif ctype == "text/html" and not html_part:
            html_part = content
    when = None
    if msg.get("Date"):
        try:
            when = parsedate_to_datetime(str(msg["Date"]))
        except (TypeError, ValueError):
            when = None
    to = [str(a) for a in (item.get("destinations") or [])] or [str(msg.get("To", ""))]
    headers = [(k, str(v)) for k, v in msg.items()]
    return Mail(
        item.get("id", ""),
        str(msg.get("From", item.get("source", ""))),
        to,
        str(msg.get("Subject", "")),
        when,
        text,
        html_part,
        headers,
        item.get("raw_data", ""),
    )


def _from_simple(item: dict[str, Any]) -> Mail:
    dest = item.get("destinations") or {}
    to = (
        [a for k in ("ToAddresses", "CcAddresses", "BccAddresses") for a in dest.get(k, [])]
        if isinstance(dest, dict)
        else list(dest)
    )
    body = item.get("body") or ""
    is_html = bool(re.search(r"<[a-zA-Z][^>]*>", body))
    headers = [("From", item.get("source", "")), ("To", ", ".join(to)), ("Subject", item.get("subject", ""))]
    return Mail(
        item.get("id", ""),
        item.get("source", ""),
        to,
        item.get("subject", ""),
        None,
        "" if is_html else body,
        body if is_html else "",
        headers,
        "",
    )


class Inbox:
    """Sent mail read from the emulator; remembers when it first saw each message.

    `in_process`: the emulator runs in this process (`make run`), so read its SES backend
    directly; moto's data.json holds every service's state and takes seconds once the demo
    is loaded. Otherwise (python -m local.mailbox ENDPOINT) data.json it is.
    """

    def __init__(self, endpoint: str, in_process: bool = False):
        self._endpoint = endpoint.rstrip("/")
        self._in_process = in_process
        self._first_seen: dict[str, datetime] = {}
        self._parsed: dict[str, Mail] = {}  # a sent message never changes: parse it once
        self._lock = threading.Lock()

    def _sent(self) -> list[tuple[str, dict[str, Any]]]:
        """(kind, fields) of every message the emulator's SES accepted, in the order it keeps them."""
        if self._in_process:
            from moto.ses.models import ses_backends

            out = []
            for regions in list(ses_backends.values()):
                for backend in list(regions.values()):
                    for m in list(backend.sent_messages):
                        out.append(("RawMessage" if hasattr(m, "raw_data") else "Message", dict(vars(m))))
            return out
        with urllib.request.urlopen(f"{self._endpoint}/moto-api/data.json", timeout=60) as resp:  # nosec B310 - our own emulator
            data = json.load(resp)
        return [
            (kind, m)
            for service in ("ses", "sesv2")
            for kind in ("RawMessage", "Message")
            for m in (data.get(service) or {}).get(kind, [])
        ]

    def messages(self) -> list[Mail]:
        mails: list[Mail] = []
        for kind, item in self._sent():
            mid = item.get("id", "")
            if mid not in self._parsed:
                self._parsed[mid] = _from_raw(item) if kind == "RawMessage" else _from_simple(item)
            mails.append(self._parsed[mid])
        now = datetime.now().astimezone()
        with self._lock:
            for order, m in enumerate(mails):
                seen = self._first_seen.setdefault(m.id, now)
                if m.when is None:
                    m.when = seen
                m.order = order  # type: ignore[attr-defined]
        # Newest first: by time, then by the order the emulator keeps (send order) within one second.
        return sorted(mails, key=lambda m: (m.when.timestamp() if m.when else 0, m.order), reverse=True)  # type: ignore[attr-defined]

    def get(self, mid: str) -> Mail | None:
        return next((m for m in self.messages() if m.id == mid), None)


# ---- pages ------------------------------------------------------------------------------

e = html.escape

STYLE = """
body{font:16px/1.5 system-ui,sans-serif;margin:0;color:#0b0c0c;background:#f3f2f1}
header{background:#005eb8;color:#fff;padding:12px 24px}header a{color:#fff}
main{max-width:1000px;margin:0 auto;padding:16px 24px;background:#fff;min-height:80vh}
table{border-collapse:collapse;width:100%}th,td{text-align:left;padding:8px;border-bottom:1px solid #d8dde0;vertical-align:top}
pre{white-space:pre-wrap;word-break:break-word;background:#f8f8f8;padding:12px;border:1px solid #d8dde0}
iframe{width:100%;height:480px;border:1px solid #d8dde0;background:#fff}
dl{display:grid;grid-template-columns:max-content 1fr;gap:4px 16px}dt{font-weight:600}dd{margin:0;word-break:break-word}
.muted{color:#505a5f}a{color:#005eb8}main{overflow-wrap:anywhere}
.tools{margin:16px 0;padding:12px 16px;background:#f0f4f5;border-left:4px solid #005eb8}.tools h2{margin-top:0;font-size:1.1rem}
.notice{padding:12px 16px;border-left:4px solid #007f3b;background:#fff;font-weight:600}
button{font:inherit;padding:8px 14px;margin:4px 8px 4px 0;border:0;border-radius:4px;background:#007f3b;color:#fff;cursor:pointer}
button:focus{outline:3px solid #ffeb3b;outline-offset:0}.inline{display:inline}
@media (max-width:640px){main{padding:12px}thead{display:none}tr{display:block;padding:8px 0;border-bottom:1px solid #d8dde0}
td{display:block;border:0;padding:2px 0}}
"""


def page(title: str, body: str, refresh: bool = False) -> str:
    meta = '<meta http-equiv="refresh" content="5">' if refresh else ""
    return (
        f'<!doctype html><html lang="en"><head><meta charset="utf-8">{meta}'
        f'<meta name="viewport" content="width=device-width, initial-scale=1"><title>{e(title)}</title>'
        f'<style>{STYLE}</style></head><body><header><a href="/">FeedForward local mailbox</a></header>'
        f"<main>{body}</main></body></html>"
    )


def link(href: str, label: str = "") -> str:
    label = label or href
    if href.lower().startswith(SAFE_SCHEMES):
        return f'<a href="{e(href)}" target="_blank" rel="noopener noreferrer">{e(label)}</a>'
    return f'{e(label)} <span class="muted">({e(href)})</span>'


def linkify(text: str) -> str:
    out, last = [], 0
    for m in URL.finditer(text):
        out.append(e(text[last : m.start()]))
        out.append(link(m.group(0)))
        last = m.end()
    out.append(e(text[last:]))
    return "".join(out)


def with_base(markup: str) -> str:
    """The email's HTML with `<base target=_blank>`, so its links open outside the sandboxed frame."""
    head = re.search(r"<head[^>]*>", markup, re.I)
    base = '<base target="_blank">'
    return markup[: head.end()] + base + markup[head.end() :] if head else base + markup


def when_text(m: Mail) -> str:
    return m.when.strftime("%Y-%m-%d %H:%M:%S") if m.when else ""


_DAY = re.compile(r"^\d{4}-\d{2}-\d{2}$")
EVENT_WORDS = {
    "bounce": ("It bounced", "a permanent bounce"),
    "complaint": ("Marked as spam", "a complaint"),
}


def digest_notice(query: dict[str, list[str]]) -> str:
    """What the list page says after "Send today's digests now" (from the redirect's query; checked)."""
    count, day = (query.get("digests") or [""])[-1], (query.get("day") or [""])[-1]
    if not count.isdigit() or not _DAY.match(day):
        return ""
    n = int(count)
    if n == 0:
        return (
            f"No digests to send for {day}: no story published that day (UTC) reached anyone who chose a daily digest, "
            "or they have had theirs."
        )
    return f"Queued {n} digest{'s' if n != 1 else ''} for the stories published on {day} (UTC). They appear here in a few seconds."


def list_page(mails: list[Mail], notice: str = "", digests: bool = False, hooks: bool = False) -> str:
    if not mails:
        rows = "<p>No email has been sent yet. This page reloads itself every 5 seconds.</p>"
    else:
        rows = (
            "<table><thead><tr><th>To</th><th>Subject</th><th>Time</th></tr></thead><tbody>"
            + "".join(
                f'<tr><td>{e(", ".join(m.to))}</td><td><a href="/message/{e(m.id)}">{e(m.subject or "(no subject)")}</a></td>'
                f"<td>{e(when_text(m))}</td></tr>"
                for m in mails
            )
            + "</tbody></table>"
        )
    tools = ""
    if digests:
        tools = (
            '<section class="tools" aria-labelledby="digests-heading"><h2 id="digests-heading">Daily digests</h2>'
            "<p>Staff who chose a daily digest get one email each morning at 07:00 UTC, listing the stories published "
            "the day before; the event pump runs that scheduled handler while the stack runs. Each person gets at most "
            "one digest a day.</p>"
            '<form method="post" action="/digests"><button type="submit">Send today’s digests now</button></form></section>'
        )
    shown = f'<p class="notice" role="status">{e(notice)}</p>' if notice else ""
    if hooks:
        tools += '<p>What a partner\'s webhook receives: <a href="/webhooks">webhook deliveries</a>.</p>'
    return page(
        "Mailbox",
        f'<h1>Sent email ({len(mails)})</h1>{shown}<p class="muted">Newest first. Reloads every 5 seconds.</p>{tools}{rows}',
        refresh=True,
    )


def ses_notification(kind: str, addresses: list[str], message_id: str, sender: str) -> dict[str, Any]:
    """The notification SES publishes to SNS when an email bounces for good or is marked as spam."""
    at = datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    mail = {"timestamp": at, "messageId": message_id, "source": sender, "destination": addresses}
    feedback = f"local-{kind}-{int(time.time() * 1000)}"
    if kind == "bounce":
        return {
            "notificationType": "Bounce",
            "mail": mail,
            "bounce": {
                "bounceType": "Permanent",
                "bounceSubType": "General",
                "timestamp": at,
                "feedbackId": feedback,
                "reportingMTA": "dsn; local.mailbox",
                "bouncedRecipients": [
                    {
                        "emailAddress": a,
                        "action": "failed",
                        "status": "5.1.1",
                        "diagnosticCode": "smtp; 550 5.1.1 user unknown",
                    }
                    for a in addresses
                ],
            },
        }
    return {
        "notificationType": "Complaint",
        "mail": mail,
        "complaint": {
            "timestamp": at,
            "feedbackId": feedback,
            "complaintFeedbackType": "abuse",
            "complainedRecipients": [{"emailAddress": a} for a in addresses],
        },
    }


def message_page(m: Mail, event: str = "", mail_events: bool = False) -> str:
    heads = "".join(f"<dt>{e(k)}</dt><dd>{linkify(v)}</dd>" for k, v in m.headers)
    parts = [
        f"<h1>{e(m.subject or '(no subject)')}</h1>",
        f'<p class="muted">To {e(", ".join(m.to))} at {e(when_text(m))}</p>',
    ]
    if event in EVENT_WORDS:
        parts.append(
            f'<p class="notice" role="status">Sent {EVENT_WORDS[event][1]} for this email to the SNS topic, as SES would. '
            "The address is now on the suppression list: nothing more will be sent to it.</p>"
        )
    parts.append(f"<h2>Headers</h2><dl>{heads}</dl>")
    links = m.links
    if links:
        items = []
        for href, label in links:
            note = f' <span class="muted">— {e(label)}</span>' if label else ""
            items.append(f"<li>{link(href)}{note}</li>")
        parts.append("<h2>Links in this email</h2><ul>" + "".join(items) + "</ul>")
    if m.text:
        parts.append(f"<h2>Text part</h2><pre>{linkify(m.text)}</pre>")
    if m.html:
        framed = with_base(m.html)
        parts.append(
            "<h2>HTML part</h2>"
            f'<iframe title="The HTML part of this email" sandbox="allow-popups allow-popups-to-escape-sandbox" srcdoc="{e(framed)}"></iframe>'
            f"<details><summary>HTML source</summary><pre>{e(m.html)}</pre></details>"
        )
    if m.raw:
        parts.append(f"<details><summary>Raw message</summary><pre>{e(m.raw)}</pre></details>")
    if mail_events:
        buttons = "".join(
            f'<form class="inline" method="post" action="/message/{e(m.id)}/{kind}"><button type="submit">{words[0]}</button></form>'
            for kind, words in EVENT_WORDS.items()
        )
        parts.append(
            '<section class="tools" aria-labelledby="events-heading"><h2 id="events-heading">Bounces and complaints</h2>'
            "<p>Pretend this email bounced for good, or that its reader marked it as spam. SES would tell FeedForward "
            "through SNS; the address goes on the suppression list, and nothing more is sent to it.</p>"
            f"{buttons}</section>"
        )
    parts.append('<p><a href="/">Back to all email</a></p>')
    return page(m.subject or "Email", "".join(parts))


class MailboxHandler(BaseHTTPRequestHandler):
    server_version = "FeedForwardLocalMailbox/1.0"
    inbox: Inbox
    # What the buttons call (None: no button). send_digests() -> {"day", "digests"};
    # publish_mail_event(notification) publishes one SES notification to the SNS topic.
    send_digests: Callable[[], dict[str, Any]] | None = None
    publish_mail_event: Callable[[dict[str, Any]], Any] | None = None
    hooks: HookInbox | None = None  # the demo partner's webhook receiver (local/hooks.py)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        pass

    def do_POST(self) -> None:
        path = unquote(urlsplit(self.path).path)
        receiver = re.fullmatch(r"/webhooks/receive/([A-Za-z0-9_-]{1,40})", path)
        if receiver and self.hooks is not None:
            self._receive_hook(receiver.group(1))
            return
        try:
            length = int(self.headers.get("Content-Length") or 0)
            if length:
                self.rfile.read(min(length, 64 * 1024))  # the body says nothing: the address is the action
            origin = self.headers.get("Origin")
            if origin and urlsplit(origin).netloc != self.headers.get("Host"):
                self._html(HTTPStatus.FORBIDDEN, page("Forbidden", "<h1>Only this page's own buttons can do that</h1>"))
                return
            found = re.fullmatch(r"/message/([^/]+)/(bounce|complaint)", path)
            if path == "/digests" and self.send_digests:
                result = self.send_digests()
                self._redirect(
                    "/?" + urlencode({"digests": int(result.get("digests", 0)), "day": str(result.get("day", ""))})
                )
            elif found and self.publish_mail_event:
                m = self.inbox.get(found.group(1))
                if m is None:
                    self._html(
                        HTTPStatus.NOT_FOUND, page("Not found", '<h1>No such email</h1><p><a href="/">Back</a></p>')
                    )
                    return
                addresses = [parseaddr(a)[1] for a in m.to if "@" in a]
                self.publish_mail_event(ses_notification(found.group(2), addresses, m.id, parseaddr(m.sender)[1]))
                self._redirect(f"/message/{found.group(1)}?event={found.group(2)}")
            else:
                self._html(HTTPStatus.NOT_FOUND, page("Not found", '<h1>Not found</h1><p><a href="/">Back</a></p>'))
        except (BrokenPipeError, ConnectionResetError):
            pass
        except Exception as exc:
            self._html(HTTPStatus.BAD_GATEWAY, page("Error", f"<h1>That did not work</h1><pre>{e(repr(exc))}</pre>"))

    def _receive_hook(self, key: str) -> None:
        """A partner's delivery: the body is what is signed, so it is read whole (within a bound)."""
        assert self.hooks is not None
        length = int(self.headers.get("Content-Length") or 0)
        if length > MAX_HOOK_BODY:
            self._send(HTTPStatus.REQUEST_ENTITY_TOO_LARGE, "text/plain", b"too large")
            return
        body = self.rfile.read(length)
        verified = self.hooks.receive(key, self.headers, body)
        self._send(HTTPStatus.OK if verified else HTTPStatus.UNAUTHORIZED, "text/plain", b"ok" if verified else b"no")

    def _redirect(self, location: str) -> None:
        self.send_response(HTTPStatus.SEE_OTHER)
        self.send_header("Location", location)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def do_GET(self) -> None:
        path = unquote(urlsplit(self.path).path)
        query = parse_qs(urlsplit(self.path).query)
        try:
            if path == "/":
                self._html(
                    HTTPStatus.OK,
                    list_page(
                        self.inbox.messages(),
                        digest_notice(query),
                        digests=self.send_digests is not None,
                        hooks=self.hooks is not None,
                    ),
                )
            elif path == "/webhooks" and self.hooks is not None:
                self._html(HTTPStatus.OK, page("Webhook deliveries", "<h1>Webhook deliveries</h1>" + self.hooks.page()))
            elif path == "/webhooks.json" and self.hooks is not None:
                self._send(HTTPStatus.OK, "application/json", self.hooks.as_json())
            elif path == "/messages.json":
                body = json.dumps(
                    [
                        {
                            "id": m.id,
                            "to": m.to,
                            "subject": m.subject,
                            "time": when_text(m),
                            "text": m.text,
                            "html": m.html,
                            "links": [h for h, _ in m.links],
                        }
                        for m in self.inbox.messages()
                    ]
                )
                self._send(HTTPStatus.OK, "application/json", body.encode())
            elif path.startswith("/message/"):
                m = self.inbox.get(path[len("/message/") :])
                if m is None:
                    self._html(
                        HTTPStatus.NOT_FOUND, page("Not found", '<h1>No such email</h1><p><a href="/">Back</a></p>')
                    )
                else:
                    event = (query.get("event") or [""])[-1]
                    self._html(HTTPStatus.OK, message_page(m, event, mail_events=self.publish_mail_event is not None))
            else:
                self._html(HTTPStatus.NOT_FOUND, page("Not found", '<h1>Not found</h1><p><a href="/">Back</a></p>'))
        except (BrokenPipeError, ConnectionResetError):
            pass
        except Exception as exc:
            self._html(
                HTTPStatus.BAD_GATEWAY, page("Error", f"<h1>Could not read sent mail</h1><pre>{e(repr(exc))}</pre>")
            )

    def _html(self, status: int, markup: str) -> None:
        self._send(status, "text/html; charset=utf-8", markup.encode("utf-8"))

    def _send(self, status: int, ctype: str, body: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Cache-Control", "no-store")
        self.send_header("X-Content-Type-Options", "nosniff")
        self.send_header("Referrer-Policy", "no-referrer")
        self.send_header(
            "Content-Security-Policy",
            "default-src 'none'; style-src 'unsafe-inline'; img-src * data:; frame-src 'self'; form-action 'self'",
        )
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


class Mailbox:
    def __init__(
        self,
        endpoint: str,
        host: str = "127.0.0.1",
        port: int = 8025,
        send_digests: Callable[[], dict[str, Any]] | None = None,
        publish_mail_event: Callable[[dict[str, Any]], Any] | None = None,
        in_process: bool = False,
        hooks: HookInbox | None = None,
    ):
        handler = type(
            "BoundMailboxHandler",
            (MailboxHandler,),
            {
                "inbox": Inbox(endpoint, in_process),
                "send_digests": staticmethod(send_digests) if send_digests else None,
                "publish_mail_event": staticmethod(publish_mail_event) if publish_mail_event else None,
                "hooks": hooks,
            },
        )
        self.httpd = ThreadingHTTPServer((host, port), handler)
        self.httpd.daemon_threads = True
        self._thread = threading.Thread(target=self.httpd.serve_forever, name="mailbox", daemon=True)

    def start(self) -> Mailbox:
        self._thread.start()
        return self

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        self._thread.join(timeout=5)


if __name__ == "__main__":  # python -m local.mailbox [endpoint] [port]: a mailbox for an emulator already running
    import sys

    endpoint = sys.argv[1] if len(sys.argv) > 1 else "http://127.0.0.1:4566"
    port = int(sys.argv[2]) if len(sys.argv) > 2 else 8025
    Mailbox(endpoint, port=port).start()
    print(f"Mail: http://127.0.0.1:{port}/", flush=True)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        pass
