"""One settings object, read from the environment on first use (never at import).

The chalice test client only sets a stage's environment variables during a call,
so nothing may read them at import time. A field `name` is read from FF_NAME (any case);
dict and list fields are JSON. A frozen dataclass and a small loader, not pydantic: the workers
that read settings then never import pydantic (issue 17; pydantic-settings had cost a tenth of the
cold start before that).
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

PREFIX = "FF_"


class SettingsError(ValueError):
    """A setting in the environment has a bad value; the message names the variable."""


def _bounded(default: int, ge: int | None = None, le: int | None = None) -> Any:
    """An int setting with its bounds, checked when the settings are made."""
    return field(default=default, metadata={"ge": ge, "le": le})


@dataclass(frozen=True)
class Settings:
    stage: str = "local"
    table_name: str = "feedforward"
    site_bucket: str = "feedforward-site"
    render_queue_url: str = ""
    mail_queue_url: str = ""
    # A failed mail job is held back this long, doubling with each delivery (jobs.mail_retry_delay);
    # 0 leaves the queue's own visibility timeout (the local stack, whose pump redelivers at once).
    mail_retry_seconds: int = _bounded(360, ge=0, le=12 * 3600)
    # Search: a FIFO queue of shard rebuilds (one message group: one rebuild at a time), and the
    # debounce window: a shard is rebuilt at most once a window, after the last change in it
    # (docs/search.md). 0 rebuilds at once (the local stack); the queue's delay matches it on AWS.
    search_queue_url: str = ""
    search_debounce_seconds: int = _bounded(300, ge=0, le=900)
    # The most stories a frozen shard holds: what a query downloads per shard grows with it.
    search_shard_stories: int = _bounded(10_000, ge=1, le=50_000)
    # 1 lets a lead's source be on this machine or a private network (core/addresses.py): only the local
    # stack, whose demo source is on 127.0.0.1. Never on AWS, where such an address reaches internal services.
    sources_allow_local: int = _bounded(0, ge=0, le=1)
    mail_from: str = "FeedForward <stories@feedforward.example>"
    # The SES configuration set whose bounce and complaint events go to SNS (on_mail_event); empty locally.
    mail_configuration_set: str = ""
    # Public addresses, used to build links in pages and emails.
    site_url: str = "http://127.0.0.1:8080"
    api_url: str = "http://127.0.0.1:8000"
    # Moderators sign in with this Cognito user pool.
    cognito_region: str = "eu-west-2"
    cognito_user_pool_id: str = ""
    cognito_client_id: str = ""
    # Only set locally: where the emulator serves the pool's JWKS and which issuer its tokens carry.
    cognito_jwks_url: str = ""
    moderator_group: str = "moderators"
    # How long the author's private link to their story keeps working.
    author_link_days: int = _bounded(730, ge=1)
    # Bound on any request body we accept.
    max_body_bytes: int = _bounded(64 * 1024, ge=1024)
    # How long a submission id is remembered, so a re-sent form makes no second story.
    submission_idempotency_seconds: int = _bounded(24 * 3600, ge=60)
    stories_per_page: int = _bounded(20, ge=1, le=100)
    # Staff links. A read-and-respond link lasts 60 days: long enough for leave and rotas,
    # short enough that a forwarded alert stops working (docs/emailed-links.md says why).
    respond_link_days: int = _bounded(60, ge=1)
    # Unsubscribe and manage links must keep working for as long as alerts might be read.
    subscriber_link_days: int = _bounded(400, ge=1)
    confirm_link_days: int = _bounded(7, ge=1)
    # Verified email domains an organisation's staff may sign up from by themselves, added to the ones
    # the directory file gives, as JSON: {"org-slug": ["trust.nhs.uk"]}. Empty adds none: an organisation
    # with no domain and no lead takes no sign-up at all (fail closed).
    signup_domains: dict[str, list[str]] = field(default_factory=dict)
    # Where staff and the public ask the moderators for help (an organisation not set up yet, say).
    moderators_email: str = "moderators@feedforward.example"
    # A lead's "manage your organisation" link: short, because it can change who speaks for a trust.
    organisation_link_days: int = _bounded(7, ge=1)
    # A responder's first responses go to a moderator before they are public.
    first_responses_checked: int = _bounded(3, ge=0)
    # How long after sending it a member of staff may still change or delete a published response.
    response_edit_minutes: int = _bounded(30, ge=0)
    # ---- CHECK: rate limits per client (hashed source IP) and window; 0 turns one off.
    rate_window_seconds: int = _bounded(3600, ge=1)  # one fixed window for every limit below
    me_too_limit: int = 10  # "this happened to me too" posts
    check_answer_limit: int = 20  # answers posted to change-check links
    story_limit: int = 100  # stories sent (generous: a family, a ward's shared computer)
    subscription_limit: int = 100  # staff sign-ups
    bad_link_limit: int = 50  # capability links that did not resolve (guessing)
    response_link_limit: int = 10  # responses sent from one read-and-respond link
    response_person_limit: int = 30  # responses sent by one member of staff, from all their links
    organisation_link_limit: int = 10  # asks for a lead's "manage your organisation" link
    # The story form: a story sent sooner than this after the form was opened (form.js's `started`) is
    # refused as a script's. Without JavaScript there is no time, and the story is accepted. 0 turns it off.
    min_form_seconds: int = _bounded(3, ge=0)
    # ---- Hardening (issue 18): limits that a stranger cannot step around.
    # What CloudFront sends as X-FF-Edge-Key (infra/template.yaml): only a request carrying it is believed
    # about X-FF-Viewer-Ip. Empty (the local stack, tests): no header is believed; the source IP is the client.
    edge_key: str = ""
    # Emails to one address on a stranger's say-so (mail/unconfirmed.py), per UTC day; it cannot be turned off.
    unconfirmed_mail_limit: int = _bounded(3, ge=1)
    me_too_story_limit: int = 3  # me-too posts about one story from one client, per window
    concern_limit: int = 10  # reports of a concern (issue 16) from one client, per window
    sign_in_limit: int = 30  # moderator sign-in steps (password, code) from one client, per window
    sign_in_user_limit: int = 20  # moderator sign-in steps for one user name, from anywhere, per window
    # How long a moderator's membership of the group, as Cognito says it, is trusted before it is asked
    # again (edge/auth.py): a moderator removed from the group loses access within this (at most 300).
    moderator_recheck_seconds: int = _bounded(60, ge=0, le=300)
    # The pool's keys (JWKS) are fetched again when older than this, so a key the pool drops stops working.
    jwks_max_age_seconds: int = _bounded(300, ge=60, le=3600)
    # ---- CHECK: change checks. Asked 6 weeks after a change is made; the link lasts 90 days.
    change_check_days: int = _bounded(42, ge=1)
    check_link_days: int = _bounded(90, ge=1)
    # ---- Webhooks for partners (chalicelib/webhooks.py, docs/partners.md).
    delivery_queue_url: str = ""
    # How a partner's secret is sealed at rest: a KMS key (AWS), else AES-GCM under a local key (32
    # bytes, base64; the local stack and tests). Neither set: no webhook is registered or sent (fail closed).
    webhook_kms_key_id: str = ""
    webhook_secret_key: str = ""
    webhook_timeout_seconds: int = _bounded(5, ge=1, le=30)
    # A partner whose deliveries failed this many times in a row is paused (its leads are told).
    webhook_pause_after: int = _bounded(5, ge=1, le=50)
    # A WebSub hub the feeds announce and the render worker pings (site/websub.py); none: neither.
    websub_hub: str = ""

    @property
    def cognito_issuer(self) -> str:
        return f"https://cognito-idp.{self.cognito_region}.amazonaws.com/{self.cognito_user_pool_id}"

    @property
    def jwks_url(self) -> str:
        return self.cognito_jwks_url or f"{self.cognito_issuer}/.well-known/jwks.json"

    def __post_init__(self) -> None:
        for f in dataclasses.fields(self):
            problem = _problem(f, getattr(self, f.name))
            if problem:
                raise SettingsError(f"bad setting: {PREFIX}{f.name.upper()}: {problem}")


def _problem(f: dataclasses.Field[Any], value: Any) -> str:
    """What is wrong with one field's value, or ""."""
    if f.type == "int":
        if type(value) is not int:
            return "must be a whole number"
        ge, le = f.metadata.get("ge"), f.metadata.get("le")
        if ge is not None and value < ge:
            return f"must be at least {ge}"
        if le is not None and value > le:
            return f"must be at most {le}"
    elif f.type == "str":
        if not isinstance(value, str):
            return "must be text"
    elif not (
        isinstance(value, dict)
        and all(
            isinstance(k, str) and isinstance(v, list) and all(isinstance(d, str) for d in v) for k, v in value.items()
        )
    ):
        return 'must be a JSON object of lists of text, as {"org-slug": ["trust.nhs.uk"]}'
    return ""


def load_settings(environ: Mapping[str, str] | None = None) -> Settings:
    """Settings from FF_* variables: unknown ones are ignored, a bad value raises SettingsError."""
    import json

    environ = os.environ if environ is None else environ
    fields = {f.name: f for f in dataclasses.fields(Settings)}
    values: dict[str, Any] = {}
    for key, raw in environ.items():
        if not key.upper().startswith(PREFIX):
            continue
        name = key[len(PREFIX) :].lower()
        if name not in fields:
            continue
        kind = fields[name].type
        try:
            value: Any = raw if kind == "str" else int(raw.strip()) if kind == "int" else json.loads(raw)
        except ValueError:
            value = raw
            if kind != "int":
                raise SettingsError(f"bad setting: {key}: must be JSON") from None
        problem = _problem(fields[name], value)
        if problem:
            raise SettingsError(f"bad setting: {key}: {problem}")
        values[name] = value
    return Settings(**values)


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return load_settings()


def reset_settings() -> None:
    """Forget the cached settings (tests change the environment between cases)."""
    get_settings.cache_clear()
