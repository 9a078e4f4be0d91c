"""A cap on the emails that go to an address on a stranger's say-so (issue 18, finding 2).

Anyone can type any address into a form: a story's, a sign-up's, a lead's-link request, a me-too.
Each such form makes an email to an address whose owner has not asked for it (is this your
address? confirm these alerts; here is your organisation's link; did the change help?). At most
`unconfirmed_mail_limit` of them go to one address in a UTC day, whatever the forms, connections
or stories; the rest are dropped without a word (the form's answer never says whether an address
is known, so nobody learns which emails went). The count is kept under a salted hash of the
address, never the address itself, and no log line names it.

Emails the owner asked for themselves (alerts they confirmed, replies to a story whose address
they confirmed) are not counted.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from typing import Any

from ..core.errors import TooManyRequests
from ..core.jobs import MailJob
from ..core.observability import logger, metrics
from .letters.base import Composer, Letter

# The mail job kinds a stranger's form can cause, and for change_check only those to a me-too
# reader (an address nobody ever confirms); the author's is sent only once theirs is confirmed.
UNCONFIRMED: dict[str, Callable[[MailJob], bool]] = {
    "author_confirmation": lambda job: True,
    "subscription_confirm": lambda job: True,
    "organisation_link": lambda job: True,
    "change_check": lambda job: job.ref != "author",
    "concern_confirm": lambda job: True,  # someone who reported a concern (issue 16)
}
ACTION = "unconfirmed-mail"
DAY = 24 * 3600


def capped(composers: dict[str, Composer], limits: Any, settings: Any) -> dict[str, Composer]:
    """The same composers, with those of UNCONFIRMED kinds counting each letter against its address."""
    out = dict(composers)
    for kind, applies in UNCONFIRMED.items():
        if kind in out:
            out[kind] = _counting(out[kind], applies, limits, settings)
    return out


def _counting(compose: Composer, applies: Callable[[MailJob], bool], limits: Any, settings: Any) -> Composer:
    def compose_counted(job: MailJob) -> Letter | None:
        letter = compose(job)
        if letter is None or not applies(job):
            return letter
        try:
            # Counted once per job: a retried delivery (SES throttled, say) is not another email.
            occasion = hashlib.sha256(job.key.encode()).hexdigest()[:32]
            limits.hit_once(ACTION, recipient_key(letter.to), occasion, settings.unconfirmed_mail_limit, DAY)
        except TooManyRequests:
            metrics.add_metric(name="EmailsCappedUnconfirmed", unit="Count", value=1)
            logger.info("email not sent: the address's daily cap is spent", extra={"kind": job.kind})
            return None
        return letter

    return compose_counted


def recipient_key(address: str) -> str:
    """What the count is kept under: a salted hash of the address (case-folded), never the address, and
    not the hash the subscriber and suppression items use, so the counter links to nothing else. It
    names no story and expires within a day, so an erasure leaves it to go by itself."""
    return hashlib.sha256(f"feedforward-recipient:{address.strip().lower()}".encode()).hexdigest()[:32]
