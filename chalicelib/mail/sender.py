"""Composing emails (plain text and HTML from template pairs) and sending them through SES.

Sending is separate from deciding who gets what (notifications.py), as in FixMyStreet.
"""

from __future__ import annotations

import re
from email.headerregistry import Address
from email.message import EmailMessage
from email.policy import EmailPolicy
from email.utils import formataddr, formatdate, make_msgid, parseaddr
from functools import lru_cache
from typing import Any

from ..core import i18n, templating
from ..core.calendar import lifetime
from ..core.identifying import find
from ..core.labels import sendable
from ..core.observability import logger, metrics

_SPACE = re.compile(r"\s+")


# Headers are folded only past RFC 5322's hard limit: folded at 78, a long List-Unsubscribe URL
# would be written as RFC 2047 encoded words, which RFC 2369 clients do not decode.
_WIRE = EmailPolicy(max_line_length=998)


class Permanent(Exception):
    """SES will never accept mail to this address (suppressed, blacklisted, invalid, or an unverified
    recipient in the sandbox); retrying is pointless."""


class Rejected(Exception):
    """SES refused the message for a reason that is not its address (the sender's identity, the
    account, the content): something an operator can put right, so the job is retried and, past the
    mail queue's retries, dead-lettered; the reason is logged under the job's message id."""


# MessageRejected causes that are about the recipient's address alone (SES's own wording).
_ADDRESS_CAUSES = re.compile(r"blacklist|suppress|illegal address|invalid address|missing final '@", re.IGNORECASE)
_FAILED_IDENTITIES = re.compile(r"failed the check in region [\w-]+:\s*(.+)$", re.IGNORECASE | re.DOTALL)


def about_the_address(message: str, sender: str) -> bool:
    """Is a MessageRejected about the recipient's address (permanent) rather than anything else?
    "Email address is not verified" names the identities that failed: only when the sender's (its
    address or domain) is not among them is it the recipient's (the SES sandbox)."""
    if _ADDRESS_CAUSES.search(message):
        return True
    failed = _FAILED_IDENTITIES.search(message)
    if "not verified" not in message.lower() or not failed:
        return False
    identities = {i.strip().strip("<>.").lower() for i in re.split(r"[,\s]+", failed.group(1)) if i.strip()}
    address = parseaddr(sender)[1].lower()
    return bool(identities) and not ({address, address.rpartition("@")[2]} & identities)


@lru_cache(maxsize=1)
def _templates():
    from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

    class Letters(PackageLoader):
        """`<name>.txt#subject` and `<name>.txt#body` are the two parts of a letter's text, each a
        template of its own: loaded (and compiled, or read compiled, core/templating.py) as any other."""

        def get_source(self, environment: Any, template: str) -> tuple[str, str, Any]:
            name, _, part = template.partition("#")
            source, filename, uptodate = super().get_source(environment, name)
            if part:
                subject, _, body = source.partition("\n")
                source = subject.removeprefix("Subject:").strip() if part == "subject" else body.lstrip("\n")
            return source, filename, uptodate

    env = Environment(
        loader=Letters("chalicelib", "templates/email"),
        # A letter is written in its reader's language (issue 19): render() sets it from the context.
        extensions=["jinja2.ext.i18n"],
        autoescape=select_autoescape(enabled_extensions=("html",), default_for_string=False),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.install_gettext_translations(i18n.CURRENT, newstyle=True)  # type: ignore[attr-defined]  # jinja2.ext.i18n
    env.filters["lifetime"] = lifetime
    return templating.attach(env, "letters")


def letter_templates() -> tuple[str, Any, list[str]]:
    """The letters' environment and every template in it, each text in its two parts (core/templating.py)."""
    env = _templates()
    names = env.list_templates()
    parts = [
        f"{n}#{part}" for n in names if n.endswith(".txt") and not n.startswith("_") for part in ("subject", "body")
    ]
    return "letters", env, [n for n in names if not n.endswith(".txt") or n.startswith("_")] + parts


def header_safe(value: str, limit: int = 200) -> str:
    """One line, whatever the input: CR, LF and other breaks become spaces.

    "=?" is broken with an invisible word joiner: the email package decodes RFC 2047 encoded
    words when a header is set, and Pythons before 3.11.10 write a decoded CR LF out raw,
    so "=?utf-8?q?=0D=0ABcc:...?=" in a title would otherwise become a header of its own."""
    return _SPACE.sub(" ", value.replace("\x00", "")).strip()[:limit].replace("=?", "=\u2060?")


def without_details(text: str) -> str:
    """`text` with each detail identifying.find sees (an address, a phone number, ...) replaced by its kind."""
    for f in reversed(find(text)):
        text = f"{text[: f.start]}<{f.kind}>{text[f.end :]}"
    return text


def render(name: str, context: dict[str, Any]) -> tuple[str, str, str]:
    """(subject, text, html) from templates/email/<name>.txt and .html; the subject is the text's first line."""
    if "language" not in context:
        return _render(name, context)  # in the language in use: English, unless the caller chose one
    with i18n.using(i18n.known(context["language"])):  # the reader's (issue 19)
        return _render(name, context)


def _render(name: str, context: dict[str, Any]) -> tuple[str, str, str]:
    import css_inline

    env = _templates()
    # The subject is rendered apart from the body, so nothing in a value can spill out of the subject line.
    subject = env.get_template(f"{name}.txt#subject").render(**context)
    text = env.get_template(f"{name}.txt#body").render(**context)
    html = env.get_template(f"{name}.html").render(**context)
    return header_safe(subject), text, css_inline.inline(html)


def compose(
    sender: str, to: str, subject: str, text: str, html: str, headers: dict[str, str] | None = None
) -> EmailMessage:
    if not sendable(to):
        # Stored before sign-up refused such addresses: no header can carry it; never retried.
        raise Permanent("the address cannot be written in an email header")
    msg = EmailMessage()
    name, addr = parseaddr(sender)
    msg["From"] = formataddr((header_safe(name), addr))
    msg["To"] = Address(addr_spec=to)
    msg["Subject"] = header_safe(subject)
    msg["Date"] = formatdate(usegmt=True)
    msg["Message-ID"] = make_msgid(domain=addr.rpartition("@")[2] or None)
    for key, value in (headers or {}).items():
        msg[key] = header_safe(value, 2000)
    msg.set_content(text)
    msg.add_alternative(html, subtype="html")
    return msg


class Mailer:
    def __init__(self, ses: Any, sender: str, configuration_set: str = ""):
        self._ses = ses
        self._sender = sender
        # Sending through the configuration set is what routes bounces and complaints to SNS.
        self._extra = {"ConfigurationSetName": configuration_set} if configuration_set else {}

    def send(self, to: str, template: str, context: dict[str, Any], headers: dict[str, str] | None = None) -> str:
        subject, text, html = render(template, context)
        msg = compose(self._sender, to, subject, text, html, headers)
        try:
            resp = self._ses.send_raw_email(RawMessage={"Data": msg.as_bytes(policy=_WIRE)}, **self._extra)
        except self._ses.exceptions.MessageRejected as e:
            # SES may quote the address ("... failed the check in region EU-WEST-2: <address>"), and
            # the reason is logged: it goes without it, and without SES's error chained to it.
            reason = without_details(str(e))
            if about_the_address(str(e), self._sender):
                metrics.add_metric(name="EmailsRejected", unit="Count", value=1)
                raise Permanent(reason) from None
            metrics.add_metric(name="EmailsRefusedForRetry", unit="Count", value=1)
            raise Rejected(reason) from None
        # Throttling and other transient errors propagate: the queue retries them (with backoff).
        metrics.add_metric(name="EmailsSent", unit="Count", value=1)
        logger.info("email sent", extra={"template": template, "ses_message_id": resp.get("MessageId")})
        return resp["MessageId"]
