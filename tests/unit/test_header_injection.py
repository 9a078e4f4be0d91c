"""Email header injection: every value that reaches a header, against a corpus of line breaks.

The end-to-end cases (a story title edited in the console, a staff name at sign-up) live in
test_alerts.py and test_subscriptions.py; this checks the composer itself with every payload
in every header position, and reads the bytes back the way a mail server would.
"""

from __future__ import annotations

import email
from email import policy

import pytest

from chalicelib.mail import sender as mail
from tests.support.prove import record

# Line breaks of every kind, trailing ones, folding, NUL, and RFC 2047 encoded words hiding CR LF.
PAYLOADS = [
    "Hello\r\nBcc: evil@attacker.example",
    "Hello\nBcc: evil@attacker.example",
    "Hello\rBcc: evil@attacker.example",
    "Hello\n",
    "Hello\r\n",
    "Hello\r\n\r\nInjected body",
    "Hello\r\n Bcc: evil@attacker.example",  # a folded continuation line
    "Hello\r\n\tX-Injected: 1",
    "Hello\x00\r\nBcc: evil@attacker.example",
    "Hello\u2028Bcc: evil@attacker.example",
    "Hello\u2029Bcc: evil@attacker.example",
    "Hello\x85Bcc: evil@attacker.example",
    "Hello\x0bBcc: evil@attacker.example",
    "Hello\x0cBcc: evil@attacker.example",
    "=?utf-8?q?Hello=0D=0ABcc:_evil@attacker.example?=",
    "=?utf-8?q?Hello=0ABcc:_evil@attacker.example?=",
    "=?utf-8?b?SGVsbG8NCkJjYzogZXZpbEBhdHRhY2tlci5leGFtcGxl?=",
    "=?iso-8859-1?q?Hello=0D=0AX-Injected:_1?=",
    "Hello =?utf-8?q?=0D=0A?=Bcc: evil@attacker.example",
    "%0D%0ABcc: evil@attacker.example",
]
EXPECTED = {
    "from",
    "to",
    "subject",
    "date",
    "message-id",
    "list-unsubscribe",
    "list-unsubscribe-post",
    "mime-version",
    "content-type",
}


def headers_of(raw: bytes) -> tuple[list[str], email.message.EmailMessage]:
    msg = email.message_from_bytes(raw, policy=policy.default)
    return [k.lower() for k in msg.keys()], msg


def wire(msg) -> bytes:
    return msg.as_bytes(policy=mail._WIRE)


@pytest.mark.parametrize("payload", PAYLOADS)
@pytest.mark.parametrize("position", ["subject", "sender_name", "list_unsubscribe"])
def test_no_payload_in_any_header_position_makes_a_header(payload, position):
    sender = f"{payload if position == 'sender_name' else 'FeedForward'} <stories@feedforward.example>"
    subject = payload if position == "subject" else "A subject"
    unsubscribe = (
        f"<https://api.test/api/unsubscribe/abc{payload}>" if position == "list_unsubscribe" else "<https://api.test/u>"
    )
    msg = mail.compose(
        sender,
        "reader@nhs.example",
        subject,
        "text",
        "<p>html</p>",
        {"List-Unsubscribe": unsubscribe, "List-Unsubscribe-Post": "List-Unsubscribe=One-Click"},
    )
    raw = wire(msg)
    names, parsed = headers_of(raw)
    assert set(names) == EXPECTED, names
    assert names.count("to") == 1 and "bcc" not in names and "x-injected" not in names
    assert str(parsed["To"]) == "reader@nhs.example"
    # Each header is one logical line: nothing after a break was taken as a header or the body.
    header_block = raw.split(b"\r\n\r\n", 1)[0] if b"\r\n\r\n" in raw else raw.split(b"\n\n", 1)[0]
    for line in header_block.splitlines():
        assert not line.lower().startswith((b"bcc:", b"x-injected:")), line
    assert b"Injected body" not in raw.split(b"\n\n", 1)[-1].split(b"text")[0]
    record("header_injection", {f"{position}:{PAYLOADS.index(payload)}": 0})  # extra headers seen


@pytest.mark.parametrize("payload", PAYLOADS)
def test_a_recipient_with_a_line_break_is_refused_or_stays_one_header(payload):
    # Addresses are validated on the way in (pydantic EmailStr); the composer is the last guard.
    try:
        msg = mail.compose(
            "FeedForward <stories@feedforward.example>", f"reader@nhs.example{payload}", "s", "t", "<p>h</p>"
        )
    except (ValueError, TypeError, mail.Permanent):
        return  # refused: nothing can be sent (Permanent: an address no header can carry, issue 22)
    names, _ = headers_of(wire(msg))
    assert names.count("to") == 1 and "bcc" not in names and "x-injected" not in names, names
