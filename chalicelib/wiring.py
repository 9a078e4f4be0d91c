"""The one composition root: builds each domain object once, from settings and lazily created clients.

Each Lambda handler builds only what it uses, and imports it on first use: the flows bring pydantic's
models, the site and the mail bring jinja2, and a cold start pays only for its own wing. That is
why the imports below sit in functions, one per wing.
"""

from __future__ import annotations

import importlib
from functools import lru_cache
from types import ModuleType, SimpleNamespace
from typing import Any

from .core import aws


def get_settings() -> Any:
    return _core().settings.get_settings()


def reset_settings() -> None:
    _core().settings.reset_settings()


# ---- the wings, each imported once, on first use -------------------------------------------------


@lru_cache(maxsize=1)
def _core() -> SimpleNamespace:
    from .core import jobs, settings  # cold start: pydantic

    return SimpleNamespace(jobs=jobs, settings=settings)


FLOWS = frozenset(
    {
        "alerts",
        "change_check",
        "changes",
        "concerns",  # concerns about what is published (issue 16)
        "conversation",
        "directory",
        "invitations",  # invitations (issue 19)
        "ladder",
        "limits",
        "links",
        "membership",
        "messages",  # a moderator's messages to an author (issue 20)
        "metoo",
        "moderation",
        "organisations",
        "promise",
        "public_api",
        "reactions",
        "replies",
        "reports",  # reports (issue 15)
        "response_edits",
        "stories",
        "subscriptions",
        "teamwork",
        "waiting",  # stories waiting for a reply (issue 20)
        "webhooks",  # webhooks for partners (issue 21)
        "importer",  # stories pulled in from other channels (issue 21)
        "lead_sources",  # a lead's own sources (issue 21)
        "scheduled_import",  # every feed source, hourly on AWS (issue 21)
    }
)


class _Flows:
    """The flow modules, each imported when first named (issue 17): a mail job that needs links, limits
    and the fan-out does not load the other flows' pydantic models (nor email_validator) on its cold start."""

    def __getattr__(self, name: str) -> ModuleType:
        if name not in FLOWS:
            raise AttributeError(name)
        module = importlib.import_module(f"{__package__}.{name}")
        setattr(self, name, module)
        return module


@lru_cache(maxsize=1)
def _flows() -> Any:
    return _Flows()


@lru_cache(maxsize=1)
def _store() -> ModuleType:
    from . import store  # cold start: boto3's type serializer

    return store


@lru_cache(maxsize=1)
def _site() -> SimpleNamespace:
    from .site import publisher, rebuild, render, search  # cold start: jinja2, for the render and search workers only

    return SimpleNamespace(publisher=publisher, rebuild=rebuild, render=render, search=search)


@lru_cache(maxsize=1)
def _mail() -> SimpleNamespace:
    from .mail import dispatch, letters, sender  # cold start: jinja2, for the mail worker only

    return SimpleNamespace(dispatch=dispatch, letters=letters, sender=sender)


@lru_cache(maxsize=1)
def _auth() -> ModuleType:
    from .edge import auth  # cold start: the sign-in and token checks, for moderators only

    return auth


# ---- the data and the queues ---------------------------------------------------------------------


@lru_cache(maxsize=1)
def store() -> Any:
    return _store().Store(aws.client("dynamodb"), get_settings().table_name)


@lru_cache(maxsize=1)
def queues() -> Any:
    s = get_settings()
    return _core().jobs.Queues(
        aws.client("sqs"),
        s.render_queue_url,
        s.mail_queue_url,
        s.search_queue_url,
        s.search_debounce_seconds,
        mail_retry_seconds=s.mail_retry_seconds,
        delivery_queue_url=s.delivery_queue_url,
    )


# ---- the flows -----------------------------------------------------------------------------------


@lru_cache(maxsize=1)
def stories() -> Any:
    s = get_settings()
    return _flows().stories.Stories(store(), s.submission_idempotency_seconds, s.min_form_seconds)


@lru_cache(maxsize=1)
def moderation() -> Any:
    return _flows().moderation.Moderation(store(), _flows().promise.plan)


@lru_cache(maxsize=1)
def directory() -> Any:
    return _flows().directory.Directory(store())


@lru_cache(maxsize=1)
def links() -> Any:
    return _flows().links.Links(store())


@lru_cache(maxsize=1)
def replies() -> Any:
    return _flows().replies.Replies(store(), links())


@lru_cache(maxsize=1)
def alerts() -> Any:
    return _flows().alerts.Alerts(store(), queues())


@lru_cache(maxsize=1)
def subscriptions() -> Any:
    return _flows().subscriptions.Subscriptions(store(), links(), get_settings(), membership())


@lru_cache(maxsize=1)
def teamwork() -> Any:
    return _flows().teamwork.Teamwork(store(), links(), directory())


@lru_cache(maxsize=1)
def response_edits() -> Any:
    return _flows().response_edits.ResponseEdits(store(), links(), get_settings())


@lru_cache(maxsize=1)
def membership() -> Any:
    return _flows().membership.Membership(store(), get_settings())


@lru_cache(maxsize=1)
def organisations() -> Any:
    return _flows().organisations.Organisations(store(), links(), get_settings(), membership(), subscriptions())


@lru_cache(maxsize=1)
def conversation() -> Any:
    return _flows().conversation.Conversation(store(), links(), get_settings(), limits())


@lru_cache(maxsize=1)
def public_api() -> Any:
    return _flows().public_api.PublicApi(store(), get_settings())


@lru_cache(maxsize=1)
def limits() -> Any:
    return _flows().limits.Limits(store())


@lru_cache(maxsize=1)
def metoo() -> Any:
    return _flows().metoo.MeTooes(store(), limits(), get_settings())


@lru_cache(maxsize=1)
def concerns() -> Any:
    return _flows().concerns.Concerns(store(), limits(), get_settings(), links())


@lru_cache(maxsize=1)
def change_checks() -> Any:
    return _flows().change_check.ChangeChecks(store(), links(), get_settings(), queues(), limits())


@lru_cache(maxsize=1)
def ladder() -> Any:
    """The escalation ladder (the promise itself is set from the stream, by the promise reaction)."""
    return _flows().ladder.Ladder(store(), queues(), alerts().reach)


# ---- Reports (issue 15) ----------------------------------------------------------------------------


@lru_cache(maxsize=1)
def reports() -> Any:
    """A lead's reports and exports, their board report choice, and the monthly run."""
    return _flows().reports.Reports(store(), organisations(), get_settings(), queues())


@lru_cache(maxsize=1)
def messages() -> Any:
    """Messages between a moderator and an author (issue 20)."""
    return _flows().messages.Messages(store(), links())


@lru_cache(maxsize=1)
def waiting() -> Any:
    """A member's stories waiting for a reply, and a read-and-respond link for one (issue 20)."""
    return _flows().waiting.Waiting(store(), organisations(), links(), get_settings())


@lru_cache(maxsize=1)
def invitations() -> Any:
    """Invitations and their short links (issue 19)."""
    return _flows().invitations.Invitations(store(), organisations(), get_settings())


# ---- the stream, the site, the mail, the moderators ------------------------------------------------


@lru_cache(maxsize=1)
def changes() -> Any:
    """The stream handler and its reactions, in order: the promise may end a record that only set it."""
    f, s = _flows(), store()
    return f.changes.ChangeHandler(
        [
            f.reactions.promise_reaction(s),
            f.changes.StoryReaction(s),
            f.reactions.staff_listing_reaction(s),  # a story kept for staff only, for reports (issue 21)
            f.changes.ConversationReaction(s),
            f.changes.MembershipReaction(s),
            f.reactions.me_too_reaction(s),
            f.reactions.change_check_reaction(s),
            f.reactions.teamwork_reaction(s),
            f.reactions.concern_reaction(s),  # a reporter's address and the decision (issue 16)
            f.reactions.invitation_reaction(s),
            f.reactions.webhook_reaction(s),
        ]
    )


# ---- Webhooks for partners (issue 21) --------------------------------------------------------------


@lru_cache(maxsize=1)
def webhooks() -> Any:
    """Registration (tools.ff), resuming, and the delivery worker; the secret sealed by KMS on AWS."""
    from .core import webhooks as hooks  # cold start: only the delivery worker and the admin tools

    s = get_settings()
    box = (
        hooks.KmsBox(aws.client("kms"), s.webhook_kms_key_id)
        if s.webhook_kms_key_id
        else hooks.LocalBox(s.webhook_secret_key)
        if s.webhook_secret_key
        else None
    )
    return _flows().webhooks.Webhooks(store(), box, queues(), s, public_api().story)


@lru_cache(maxsize=2)
def importer(local_files: bool = False) -> Any:
    """Sources and the importer (issue 21), fetching with core.sources.fetch; `local_files` for the admin
    command alone, which may also read an export from its own disk."""
    from .core import sources  # only the importer reads sources

    return _flows().importer.Importer(store(), sources.fetch_or_read if local_files else sources.fetch)


def lead_sources() -> Any:
    """A lead's own sources (issue 21): fetched only from public addresses (core/addresses.py), unless the
    local stack's FF_SOURCES_ALLOW_LOCAL lets its demo source on 127.0.0.1 through."""
    from .core import addresses  # only where a lead's source is fetched

    allow = bool(get_settings().sources_allow_local)
    importer = _flows().importer.Importer(store(), addresses.guarded_fetch(allow))
    return _flows().lead_sources.LeadSources(store(), importer, organisations(), allow)


def scheduled_import() -> Any:
    """Every feed source's new items, fetched only from public addresses as a lead's are (issue 21)."""
    from .core import addresses  # only where a source is fetched

    allow = bool(get_settings().sources_allow_local)
    importer = _flows().importer.Importer(store(), addresses.guarded_fetch(allow))
    return _flows().scheduled_import.ScheduledImport(store(), importer)


@lru_cache(maxsize=1)
def site() -> Any:
    site = _site()
    return site.render.SiteRenderer(
        store(), site.publisher.Publisher(aws.client("s3"), get_settings().site_bucket), get_settings()
    )


@lru_cache(maxsize=1)
def rebuild_planner() -> Any:
    """The full rebuild's planner (chalicelib/site/rebuild.py): its steps come as render jobs."""
    site = _site()
    publisher = site.publisher.Publisher(aws.client("s3"), get_settings().site_bucket)
    return site.rebuild.RebuildPlanner(store(), publisher, queues(), get_settings())


def render(job: Any) -> Any:
    """The render worker's one call: a page, or a step of the full rebuild's plan."""
    return rebuild_planner().run(job.ref) if job.page == "rebuild" else site().render(job)


def search_index() -> Any:
    """The search worker's shards (chalicelib/site/search.py)."""
    site, s = _site(), get_settings()
    return site.search.SearchIndex(
        store(), site.publisher.Publisher(aws.client("s3"), s.site_bucket), s.search_shard_stories
    )


@lru_cache(maxsize=1)
def notifications() -> Any:
    mail, s = _mail(), get_settings()
    # Every letter comes from mail/letters/; only the fan-out (one story to many staff) is the alerts flow's.
    sender = mail.sender.Mailer(aws.client("ses"), s.mail_from, s.mail_configuration_set)
    from .mail.unconfirmed import capped  # issue 18: a cap on mail a stranger's form can cause

    composers = capped(mail.letters.composers(store(), links(), s), limits(), s)
    return mail.dispatch.Notifications(store(), sender, composers, fan_out=alerts().fan_out)


@lru_cache(maxsize=1)
def authenticator() -> Any:
    # The group is asked of Cognito as well as read from the token (issue 18): see edge/auth.py.
    return _auth().Authenticator(get_settings(), lambda: aws.client("cognito-idp"), recheck_groups=True)


def reset(clients: bool = True) -> None:
    """Forget every built object, client and setting (tests switch environments). `clients=False`
    keeps the AWS clients, and what a test registered on them, when it puts a kept world back."""
    for f in (
        store,
        queues,
        stories,
        moderation,
        directory,
        links,
        replies,
        changes,
        authenticator,
        site,
        rebuild_planner,
        notifications,
        alerts,
        subscriptions,
        membership,
        organisations,
        response_edits,
        teamwork,
        conversation,
        public_api,
        limits,
        metoo,
        change_checks,
        concerns,
        ladder,
        reports,
        invitations,
        webhooks,
        importer,
    ):
        f.cache_clear()
    if clients:
        aws.reset_clients()
    reset_settings()
