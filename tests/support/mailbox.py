"""Reading back the mail that moto's SES accepted, in process."""

from __future__ import annotations

import email
from email import policy

from moto.core import DEFAULT_ACCOUNT_ID
from moto.ses.models import ses_backends

from local.resources import REGION


def sent() -> list[email.message.EmailMessage]:
    backend = ses_backends[DEFAULT_ACCOUNT_ID][REGION]
    out = []
    for m in backend.sent_messages:
        raw = getattr(m, "raw_data", None)
        if raw:
            out.append(email.message_from_string(raw, policy=policy.default))
    return out


def to(address: str) -> list[email.message.EmailMessage]:
    return [m for m in sent() if address in str(m["To"])]


def text_of(msg) -> str:
    return msg.get_body(preferencelist=("plain",)).get_content()


def html_of(msg) -> str:
    return msg.get_body(preferencelist=("html",)).get_content()
