"""The jobs that state changes turn into, and the queues that carry them.

A render job names one page to build; a mail job names one email to send. Both are
small JSON bodies with a stable `key`, so a job delivered twice is recognised.

Jobs are frozen dataclasses, checked when made and when read from a queue, not pydantic models:
the workers that read them then never import pydantic (issue 17: it was a tenth of a worker's first
call). They keep the names of the pydantic methods their callers use (model_dump, model_dump_json,
model_validate, model_copy).
"""

from __future__ import annotations

import dataclasses
import json
import time
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, ClassVar, Literal, Self, get_args

# "tag": ref is the tag; "sitemap": ref is a month (YYYY-MM), that month's child sitemap.
# "archive": ref is "<listing>/<YYYY-MM>" (every page of that month's archive of a listing: a service
# slug, "_all" or "tag:<tag>") or "<listing>/<YYYY-MM>/since/<published_at>#<id>" (the pages from that
# story's to the newest; a job queued as ".../latest" is read as the newest story's).
# "search": ref empty (the search page and every shard: the full rebuild), or "drop/<YYYY-MM>/<story id>"
# (a story that left the public site: its fragment goes at once; its shard's rebuild is a SearchJob).
# "rebuild": ref is a step of the full rebuild's plan (site/rebuild.py): "", "stories/<after>", "keys/<after>".
PageKind = Literal["story", "service", "home", "static", "tag", "sitemap", "archive", "search", "rebuild", "place"]


class JobError(ValueError):
    """A job body that is not one of ours: an unknown kind, a missing or extra field, a wrong type."""


@dataclass(frozen=True)
class _Job:
    _choices: ClassVar[dict[str, tuple[str, ...]]] = {}  # a Literal field: the values it may take

    def __post_init__(self) -> None:
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            wanted = bool if f.type == "bool" else str
            if type(value) is not wanted:
                raise JobError(f"{type(self).__name__}.{f.name} must be a {wanted.__name__}")
            if f.name in self._choices and value not in self._choices[f.name]:
                raise JobError(f"{type(self).__name__}.{f.name} may not be {value!r}")

    @classmethod
    def model_validate(cls, data: Mapping[str, Any]) -> Self:
        if not isinstance(data, Mapping):
            raise JobError(f"a {cls.__name__} is a JSON object")
        names = {f.name for f in dataclasses.fields(cls)}
        if extra := set(data) - names:
            raise JobError(f"{cls.__name__} has no field {sorted(extra)[0]!r}")
        try:
            return cls(**data)
        except TypeError as e:  # a required field missing
            raise JobError(f"{cls.__name__}: {e}") from None

    def model_dump(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def model_dump_json(self) -> str:
        return json.dumps(self.model_dump(), separators=(",", ":"))

    def model_copy(self, update: Mapping[str, Any] | None = None) -> Self:
        return dataclasses.replace(self, **(update or {}))


@dataclass(frozen=True)
class RenderJob(_Job):
    _choices: ClassVar[dict[str, tuple[str, ...]]] = {"page": get_args(PageKind)}

    page: PageKind
    ref: str = ""  # story id, service slug, tag, month or town; empty for home and static
    # A full rebuild's job (site/rebuild.py): put only objects whose content differs from S3's ETag.
    skip_unchanged: bool = False

    @property
    def key(self) -> str:
        return f"{self.page}:{self.ref}"


MailKind = Literal[
    # to the author (ref: the version decided on, or the response id)
    "author_confirmation",  # fixed words: is this your address? (issue 18)
    "author_receipt",  # once it is confirmed: the story's title and the private link
    "author_published",
    "author_rejected",
    "author_removed",  # a moderator took it off the site after a report (issue 16)
    "author_restricted",  # a moderator restricted it: its page shows a placeholder
    "author_read",
    "author_response",
    "author_message",  # ref: the message id (a moderator's question about a story not yet published)
    # to staff
    "alert_fanout",  # one per published story: finds the recipients, queues one staff_alert each
    "staff_alert",  # ref: subscriber id
    "staff_digest",  # story_id empty; ref: "<day>:<subscriber id>"
    "staff_author_replied",  # ref: "<reply id>:<subscriber id>"
    "staff_response_decided",  # ref: response id (a held response was published or rejected)
    "subscription_confirm",  # story_id empty; ref: "<subscriber id>:<subscription id>"
    "story_passed",  # ref: "<pass id>:<subscriber id>" (a colleague passed them the story)
    # organisations (story_id empty)
    "membership_request",  # to a lead: ref "<requester id>:<lead id>" (someone asks to join)
    "membership_decided",  # to the person: ref "<subscriber id>:<status>:<at>" (approved or refused)
    "organisation_link",  # to a lead who asked for their link: ref the request id
    "change_check",  # CHECK: ref "author" or a me-too id: did the change make a difference?
    "ladder_reminder",  # LADDER: ref "reminder:<subscriber id>" (no reply at half the promise)
    "ladder_escalation",  # LADDER: ref "overdue:<subscriber id>" or "organisation:<subscriber id>"
    # concerns about what is published (issue 16), to a reporter who left an address
    "concern_confirm",  # ref: the report id (fixed words: is this your address?)
    "concern_decided",  # ref: "<report id>:<case version>" (only once the address is confirmed)
    # reports (story_id empty)
    "board_report",  # to a lead, monthly: ref "<YYYY-MM>:<lead id>" (that month against the one before)
    # partners (story_id empty)
    "webhook_paused",  # to a lead: ref "<partner id>:<lead id>:<paused_at>" (its webhook kept failing)
]


@dataclass(frozen=True)
class MailJob(_Job):
    _choices: ClassVar[dict[str, tuple[str, ...]]] = {"kind": get_args(MailKind)}

    kind: MailKind
    story_id: str = ""
    # Distinguishes two emails of the same kind about one story (e.g. the version decided on, the recipient).
    ref: str = ""

    @property
    def key(self) -> str:
        return f"{self.kind}:{self.story_id}:{self.ref}"


# The mail queue's VisibilityTimeout and maxReceiveCount (infra/template.yaml; a test checks they agree).
MAIL_VISIBILITY = 360
MAIL_MAX_RECEIVES = 12
_LONGEST_VISIBILITY = 12 * 3600  # SQS's limit


@dataclass(frozen=True)
class SearchJob(_Job):
    """Rebuild the search shard that holds this month's stories, because an indexed field of a
    story of that month changed. `gone` names a story that left the public site (its fragment was
    deleted at once by a render job): the rebuild uploads its fragment again if it is back."""

    month: str  # YYYY-MM, of the story's first publication
    gone: str = ""

    @property
    def key(self) -> str:
        return f"search:{self.month}:{self.gone}"


EventType = Literal["story.published", "story.withdrawn", "response.published", "change.marked"]


@dataclass(frozen=True, kw_only=True)
class DeliveryJob(_Job):
    """One event to one partner's webhook (chalicelib/webhooks.py). `id` is the delivery's, stable
    for this event and partner: the partner de-duplicates on it, however often it comes."""

    _choices: ClassVar[dict[str, tuple[str, ...]]] = {"type": get_args(EventType)}

    id: str
    partner_id: str
    type: EventType
    story_id: str
    ref: str = ""  # the response id, for response and change events
    created: str  # when the event happened (ISO 8601, UTC): the same on every retry

    @property
    def key(self) -> str:
        return f"delivery:{self.id}"


# The delivery queue's VisibilityTimeout and maxReceiveCount (infra/template.yaml; a test checks they agree).
DELIVERY_VISIBILITY = 360
DELIVERY_MAX_RECEIVES = 10
DELIVERY_FIRST_RETRY = 60


def delivery_retry_delay(receive_count: int, base: int = DELIVERY_FIRST_RETRY) -> int:
    """A failed delivery comes back after 1 minute, doubling, at most 2 hours: before the queue gives
    it up (DELIVERY_MAX_RECEIVES), its partner is paused (settings.webhook_pause_after) and the job kept."""
    return min(base * 2 ** max(0, receive_count - 1), 2 * 3600)


SEARCH_GROUP = "search"  # one message group: shard rebuilds run one at a time, in order


def search_dedup_id(job: SearchJob, debounce_seconds: int, now: float | None = None) -> str:
    """The FIFO queue keeps one message per id for five minutes: every change of a month within
    one debounce window becomes one rebuild. The queue delays each message by the window, so that
    rebuild runs after the last change of its window. A story that left keeps its own message."""
    if debounce_seconds <= 0:
        return uuid.uuid4().hex  # no debounce: every change rebuilds
    window = int((time.time() if now is None else now) // debounce_seconds)
    return f"{job.month}:{job.gone}:{window}"


Job = RenderJob | MailJob | SearchJob | DeliveryJob


class Queues:
    """Sends jobs to SQS, ten at a time, de-duplicated within one call."""

    def __init__(
        self,
        sqs: Any,
        render_queue_url: str,
        mail_queue_url: str,
        search_queue_url: str = "",
        search_debounce_seconds: int = 300,
        mail_retry_seconds: int = MAIL_VISIBILITY,
        delivery_queue_url: str = "",
    ):
        self._sqs = sqs
        self._mail_retry_seconds = mail_retry_seconds
        self._urls: dict[type, str] = {
            RenderJob: render_queue_url,
            MailJob: mail_queue_url,
            SearchJob: search_queue_url,
            DeliveryJob: delivery_queue_url,
        }
        self._debounce = search_debounce_seconds

    def send(self, jobs: Iterable[Job]) -> int:
        unique: dict[tuple[type, str], Job] = {}
        for job in jobs:
            unique.setdefault((type(job), job.key), job)
        by_queue: dict[str, list[Job]] = {}
        for (kind, _), job in unique.items():
            if not self._urls[kind]:
                raise RuntimeError(f"no queue is set for {kind.__name__} (FF_SEARCH_QUEUE_URL, FF_DELIVERY_QUEUE_URL?)")
            by_queue.setdefault(self._urls[kind], []).append(job)
        for url, batch in by_queue.items():
            for i in range(0, len(batch), 10):
                chunk = batch[i : i + 10]
                resp = self._sqs.send_message_batch(
                    QueueUrl=url, Entries=[self._entry(n, j) for n, j in enumerate(chunk)]
                )
                if resp.get("Failed"):
                    # Let the stream retry the record: jobs are idempotent, so re-sending is safe.
                    raise RuntimeError(f"SQS refused {len(resp['Failed'])} job(s): {resp['Failed'][0].get('Code')}")
        return len(unique)

    def back_off_mail(self, receipt_handle: str, receive_count: int) -> None:
        """Hold a failed mail job back longer each time it fails (mail_retry_delay), so that the mail
        queue's maxReceiveCount spans a long SES throttle instead of about half an hour."""
        if not self._mail_retry_seconds:
            return
        self._sqs.change_message_visibility(
            QueueUrl=self._urls[MailJob],
            ReceiptHandle=receipt_handle,
            VisibilityTimeout=mail_retry_delay(receive_count, self._mail_retry_seconds),
        )

    def back_off_delivery(self, receipt_handle: str, receive_count: int) -> None:
        """Hold a failed delivery back longer each time (delivery_retry_delay); off with no retry base."""
        if not self._mail_retry_seconds:
            return  # the local stack: its pump redelivers at once
        self._sqs.change_message_visibility(
            QueueUrl=self._urls[DeliveryJob],
            ReceiptHandle=receipt_handle,
            VisibilityTimeout=delivery_retry_delay(receive_count),
        )

    def _entry(self, n: int, job: Job) -> dict[str, Any]:
        entry: dict[str, Any] = {"Id": str(n), "MessageBody": job.model_dump_json()}
        if isinstance(job, SearchJob):
            entry["MessageGroupId"] = SEARCH_GROUP
            entry["MessageDeduplicationId"] = search_dedup_id(job, self._debounce)
        return entry


def mail_retry_delay(receive_count: int, base: int = MAIL_VISIBILITY) -> int:
    """Seconds before a mail job that failed on its `receive_count`th delivery comes back: 6 minutes,
    doubling, at most 12 hours. Over MAIL_MAX_RECEIVES deliveries that is about 60 hours (mail_retry_window)."""
    return min(base * 2 ** max(0, receive_count - 1), _LONGEST_VISIBILITY)


def mail_retry_window() -> int:
    """Seconds from a mail job's first delivery to its last, when every delivery fails."""
    return sum(mail_retry_delay(n) for n in range(1, MAIL_MAX_RECEIVES))


def parse_render(body: str) -> RenderJob:
    return RenderJob.model_validate(json.loads(body))


def parse_mail(body: str) -> MailJob:
    return MailJob.model_validate(json.loads(body))


def parse_search(body: str) -> SearchJob:
    return SearchJob.model_validate(json.loads(body))


def parse_delivery(body: str) -> DeliveryJob:
    return DeliveryJob.model_validate(json.loads(body))
