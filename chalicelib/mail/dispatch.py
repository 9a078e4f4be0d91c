"""Who is told what, for each mail job. One email per job, however often the job arrives.

The letters themselves are in mail/letters/; this module sends them the same way: once, never
to a suppressed address, and never a second time when a job is delivered again. A fan-out job
(one story to many staff) is handed to the function wiring passes in.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from ..core.idempotency import once
from ..core.jobs import MailJob
from ..core.observability import logger, metrics
from ..store import mail_layer_name
from .letters.base import Composer, Letter
from .sender import Permanent, Rejected

if TYPE_CHECKING:
    from ..store import AlertStore


class _StoryErased(Exception):
    """Raised inside the idempotent send so powertools deletes its record: an erased story
    must leave nothing behind, not even a note that an email about it was not sent."""


class Notifications:
    def __init__(
        self,
        store: AlertStore,
        mailer: Any,
        composers: dict[str, Composer],
        fan_out: Callable[[MailJob], Any] | None = None,
    ):
        self._store = store
        self._mailer = mailer
        self._composers = composers
        self._fan_out = fan_out

    def handle(self, job: MailJob, lambda_context: Any = None) -> Any:
        """The mail worker's one entry point: a fan-out job queues emails, any other sends one."""
        if job.kind == "alert_fanout":
            if self._fan_out is None:
                raise RuntimeError("no fan-out configured")
            return self._fan_out(job)
        return self.send(job, lambda_context)

    def send(self, job: MailJob, lambda_context: Any = None) -> dict[str, Any]:
        from aws_lambda_powertools.utilities.idempotency.exceptions import IdempotencyPersistenceLayerError

        layer = self._store.idempotency_layer(mail_layer_name(job.story_id))
        done: dict[str, Any] = {}

        def send_noting(job: MailJob) -> dict[str, Any]:
            done["result"] = self._send(job)
            return done["result"]

        send_once = once(
            send_noting, layer, "notifications.send", 7 * 24 * 3600, lambda_context, data_keyword_argument="job"
        )
        try:
            return send_once(job=job)
        except _StoryErased:
            logger.info("no email: its story was erased", extra={"kind": job.kind})
            return {"sent": False, "why": "erased"}
        except IdempotencyPersistenceLayerError:
            if "result" not in done:
                raise  # nothing was sent: the queue retries the job
            # SES took the email but its record could not be marked done. Failing the job now would
            # send it again once the record's in-progress time ran out: the job is done.
            logger.warning(
                "email sent, its idempotency record left in progress",
                extra={"kind": job.kind, "story_id": job.story_id},
            )
            return done["result"]

    def _send(self, job: MailJob) -> dict[str, Any]:
        letter: Letter | None = self._composers[job.kind](job)
        if letter is None:
            # A job that arrives after its story was erased (one read, only when there is no letter).
            if job.story_id and not self._store.get_story(job.story_id, consistent=True):
                raise _StoryErased()
            return {"sent": False, "why": "no one to tell"}
        if self._store.suppression(letter.to):
            # Bounced or complained before: sending again would hurt the sender's reputation.
            metrics.add_metric(name="EmailsSuppressed", unit="Count", value=1)
            logger.info("email suppressed", extra={"kind": job.kind, "story_id": job.story_id})
            return {"sent": False, "why": "suppressed"}
        try:
            message_id = self._mailer.send(letter.to, letter.template, letter.context, letter.headers)
        except Permanent as e:
            # Retrying cannot help: recorded (this log line, the EmailsRejected metric and the job's
            # idempotency record, which keeps the result for a week) and the batch moves on.
            logger.warning(
                "email refused by SES for its address",
                extra={"story_id": job.story_id, "kind": job.kind, "reason": str(e)[:200]},
            )
            return {"sent": False, "why": "rejected"}
        except Rejected as e:
            # Not the address: the queue retries it, and past its retries it reaches the dead-letter
            # queue; the reason is logged under its message id (docs/operations.md).
            logger.error(
                "email refused by SES, to be retried",
                extra={"story_id": job.story_id, "kind": job.kind, "reason": str(e)[:200]},
            )
            raise
        return {"sent": True, "message_id": message_id}
