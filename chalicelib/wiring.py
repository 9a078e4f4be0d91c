"""Builds each domain object once, from settings and lazily created clients."""

from __future__ import annotations

from functools import lru_cache

from .core import aws


def get_settings():
    """The settings, imported on first use: settings pulls in pydantic, most of `import app`'s cost."""
    from .core.settings import get_settings as settings

    return settings()


def reset_settings() -> None:
    from .core.settings import reset_settings as reset

    reset()


@lru_cache(maxsize=1)
def store():
    from .store import Store

    return Store(aws.client("dynamodb"), get_settings().table_name)


@lru_cache(maxsize=1)
def queues():
    from .core.jobs import Queues

    s = get_settings()
    return Queues(aws.client("sqs"), s.render_queue_url, s.mail_queue_url)


@lru_cache(maxsize=1)
def stories():
    from .stories import Stories

    s = get_settings()
    return Stories(store(), store().idempotency_layer("stories"), s.submission_idempotency_seconds, s.min_form_seconds)


@lru_cache(maxsize=1)
def moderation():
    from .moderation import Moderation

    return Moderation(store())


@lru_cache(maxsize=1)
def directory():
    from .directory import Directory

    return Directory(store())


@lru_cache(maxsize=1)
def links():
    from .links import Links

    return Links(store())


@lru_cache(maxsize=1)
def replies():
    from .replies import Replies

    return Replies(store(), links())


@lru_cache(maxsize=1)
def changes():
    """The stream handler and its reactions, in order: the promise may end a record that only set it."""
    from .changes import ChangeHandler, ConversationReaction, StoryReaction
    from .reactions import change_check_reaction, me_too_reaction, promise_reaction

    s = store()
    return ChangeHandler([
        promise_reaction(s),
        StoryReaction(s),
        ConversationReaction(s),
        me_too_reaction(s),
        change_check_reaction(s),
    ])


@lru_cache(maxsize=1)
def authenticator():
    from .edge.auth import Authenticator

    return Authenticator(get_settings(), lambda: aws.client("cognito-idp"))


@lru_cache(maxsize=1)
def site():
    from .site.render import SiteRenderer
    from .site.publisher import Publisher

    return SiteRenderer(store(), Publisher(aws.client("s3"), get_settings().site_bucket), get_settings())


@lru_cache(maxsize=1)
def notifications():
    from .mail.dispatch import Notifications
    from .mail.letters import composers
    from .mail.sender import Mailer

    s = get_settings()
    # Every letter comes from mail/letters/; only the fan-out (one story to many staff) is the alerts flow's.
    return Notifications(store(), Mailer(aws.client("ses"), s.mail_from, s.mail_configuration_set), composers(store(), links(), s),
                         fan_out=alerts().fan_out)


@lru_cache(maxsize=1)
def alerts():
    from .alerts import Alerts

    return Alerts(store(), queues())


@lru_cache(maxsize=1)
def subscriptions():
    from .subscriptions import Subscriptions

    return Subscriptions(store(), links(), get_settings())


@lru_cache(maxsize=1)
def conversation():
    from .conversation import Conversation

    return Conversation(store(), links(), get_settings())


@lru_cache(maxsize=1)
def public_api():
    from .public_api import PublicApi

    return PublicApi(store(), get_settings())


# ---- CHECK: rate limits, me too, change checks

@lru_cache(maxsize=1)
def limits():
    from .limits import Limits

    return Limits(store())


@lru_cache(maxsize=1)
def metoo():
    from .metoo import MeTooes

    return MeTooes(store(), limits(), get_settings())


@lru_cache(maxsize=1)
def change_checks():
    from .change_check import ChangeChecks

    return ChangeChecks(store(), links(), get_settings(), queues(), limits())


# ---- LADDER: the escalation ladder (promise.py sets the promise from the stream)

@lru_cache(maxsize=1)
def ladder():
    from .ladder import Ladder

    return Ladder(store(), queues(), alerts().reach)


def reset() -> None:
    """Forget every built object, client and setting (tests switch environments)."""
    for f in (store, queues, stories, moderation, directory, links, replies, changes, authenticator, site, notifications, alerts, subscriptions,
              conversation, public_api, limits, metoo, change_checks, ladder):
        f.cache_clear()
    aws.reset_clients()
    reset_settings()
