"""The staff pages served by the API, and their answers: signing up, confirming, managing and
stopping alerts (subscriptions.py), and reading and responding from an emailed link
(conversation.py). The flows return data; this module renders it and wraps it in a Response.

Pages reached from an emailed link are never indexed or cached, and never pass their address on.
"""

from __future__ import annotations

from typing import Any

from chalice import Response

from ..conversation import ALREADY_SENT, NOT_A_RESPONDER, RESPONSE_ID
from ..core.models import CONVERSATION_LIMITS
from ..core.status import ItemStatus, Status
from ..site.pages import render_page
from ..site.render import story_view
from ..site.subscribe import signup_form_with_errors, summary
from ..subscriptions import split_tags
from ..views import conversation, criticality_label, frequency_choices
from ..views import field_text as _text
from .forms import Form, form_or_json
from .http import FORM, html_response, json_response, media_type, page_csp, redirect
from .invitations import for_the_page, service_choices

SIGNUP = Form(parsers={"tags": split_tags})
MANAGE = Form()
RESPONSE = Form(only=("text", "change", "change_description", "response_id", "on_behalf_of"))
RESPONSE_CHANGE = Form(only=("action", "text", "change_description"))
TEAMWORK = Form(only=("to", "colleague", "service", "note", "tag", "polarity", "visibility", "action"))
# What the respond page says after a change to one's own response (never text from the request).
CHANGED = {
    "edited": "Saved. The story’s page shows your response as changed, and says it was edited.",
    "deleted": "Deleted. Your response is no longer on the story’s page.",
    "passed": "Passed on. We have emailed them the story, your note and a link of their own.",
    "tagged": "Saved your tag.",
    "held": "Your changed response seems to contain identifying details, so it is off the story’s page "
    "until a moderator has checked it.",
}

# ---- staff alerts ------------------------------------------------------------------------------

# The manage page: what each action's notice says once it is done (never text from the request).
NOTICES = {
    "frequency": "Saved. Those alerts will now come as you chose.",
    "stopped": "Done. You will not get those alerts any more.",
    "profile": "Saved. Your name and job title are updated.",
    "stopped-all": "You are unsubscribed. We will not send you any more alerts.",
    "invitation-made": "Your invitation is ready. Print its card or poster, or copy its link.",
    "invitation-ended": "That invitation has ended. Its link now opens the ordinary form.",
    "story-taken": "Thank you. The story is with a moderator, who checks it before it is published.",
}
MANAGE_FIELD_IDS = {
    "display_name": "display_name",
    "role": "role",
    "frequency": "frequency",
    "subscription": "subscriptions",
    "action": "subscriptions",
    # Invitations (issue 19)
    "service": "invite-service",
    "campaign": "campaign",
    "tags": "invite-tags",
    "expires_on": "expires_on",
    "invitation": "invitations",
}


def _page(html: str, settings: Any, status: int = 200) -> Response:
    return html_response(html, status=status, csp=page_csp(settings))


def subscribe(request: Any, subscriptions: Any, store: Any, settings: Any) -> Response:
    """JSON: 202. A form: 303 to the check-your-email page, or the sign-up form again."""
    return form_or_json(
        request,
        settings.max_body_bytes,
        SIGNUP,
        subscriptions.sign_up,
        json=lambda result: json_response(result, status=202),
        done=lambda _: redirect(f"{settings.site_url}/subscribe/check-your-email/"),
        again=lambda e, _: _page(
            signup_form_with_errors(e.values, e.fields, store, settings), settings, status=e.status
        ),
    )


def confirm_page(token: str, confirmation: dict[str, Any], settings: Any) -> Response:
    """The confirmation page, from Subscriptions.confirmation (GET) or .confirm (POST)."""
    site = settings.site_url.rstrip("/")
    html = render_page(
        "subscribe_confirm.html",
        site_base=site,
        robots="noindex",
        action=f"{settings.api_url}/api/subscriptions/confirm/{token}",
        signup_url=f"{site}/subscribe/",
        **confirmation,
    )
    return _page(html, settings)


def unsubscribe_page(token: str, state: str, settings: Any) -> Response:
    """Asking to stop every alert ("ask"), or that they are stopped ("done")."""
    site = settings.site_url.rstrip("/")
    html = render_page(
        "unsubscribe.html",
        site_base=site,
        robots="noindex",
        state=state,
        action=f"{settings.api_url}/api/unsubscribe/{token}",
        signup_url=f"{site}/subscribe/",
    )
    return _page(html, settings)


def manage_page(
    token: str,
    subscriptions: Any,
    settings: Any,
    *,
    notice: str = "",
    status: int = 200,
    errors: list[dict[str, str]] | None = None,
    values: dict[str, Any] | None = None,
    invitations: Any = None,
    store: Any = None,
) -> Response:
    """The person's alerts and public name, with a form for each change; after a mistake, the
    error summary and what they typed. A responder or lead also sees their organisation's
    invitations and a link to enter a story for someone (issue 19)."""
    alerts = subscriptions.alerts(token)
    inviting = for_the_page(invitations.listing(token)) if invitations is not None else None
    entries, by_field = summary(errors or [], MANAGE_FIELD_IDS, "subscriptions")
    values = values or {}
    saved = alerts["profile"]
    site = settings.site_url.rstrip("/")
    html = render_page(
        "manage.html",
        site_base=site,
        robots="noindex",
        action=f"{settings.api_url}/api/subscriptions/manage/{token}",
        person=alerts["person"],
        subscriptions=alerts["subscriptions"],
        notice=NOTICES.get(notice, ""),
        summary=entries,
        errors=by_field,
        values={k: str(values[k]) if k in values else saved[k] for k in ("display_name", "role")},
        frequencies=frequency_choices(),
        signup_url=f"{site}/subscribe/",
        limits={"display_name": 80, "role": 80},
        inviting=inviting,
        services=service_choices(store, inviting["organisation"]) if inviting and store is not None else [],
        invite={k: str((values or {}).get(k, "")) for k in ("service", "campaign", "tags", "expires_on")},
    )
    return _page(html, settings, status=status)


def manage(request: Any, token: str, subscriptions: Any, settings: Any) -> Response:
    """One change from the manage page: 303 back to it with a notice (JSON too), or the page
    again with the error summary (a JSON client gets the error)."""
    done = lambda notice: redirect(f"{settings.api_url}/api/subscriptions/manage/{token}?notice={notice}")  # noqa: E731
    return form_or_json(
        request,
        settings.max_body_bytes,
        MANAGE,
        lambda data: subscriptions.manage(token, data),
        json=done,
        done=done,
        again=lambda e, _: manage_page(
            token, subscriptions, settings, errors=e.fields, values=e.values, status=e.status
        ),
    )


# ---- reading and responding ----------------------------------------------------------------------

# Where an error summary entry takes the person: each field's id on the page.
RESPOND_FIELD_IDS = {
    "colleague": "colleague",
    "service": "service",
    "to": "to",
    "note": "note",
    "tag": "tag",
    "polarity": "polarity",
    "visibility": "visibility",
    "text": "text",
    "change": "change",
    "change_description": "change_description",
    "on_behalf_of": "on_behalf_of",
}
SEND_ID = "send-response"
GENERAL_MESSAGE = "Something went wrong while sending your response. Check it and send it again."


def _respond_page(html: str, settings: Any, status: int = 200) -> Response:
    # Shown from an emailed link: never indexed, never cached, never leaks its address onward.
    return html_response(html, status=status, csp=page_csp(settings), headers={"X-Robots-Tag": "noindex, nofollow"})


def _respond_url(token: str, settings: Any, query: str = "") -> str:
    return f"{settings.api_url.rstrip('/')}/api/respond/{token}{query}"


def respond_page(
    token: str,
    conversation_flow: Any,
    settings: Any,
    *,
    sent: str = "",
    changed: str = "",
    values: dict[str, Any] | None = None,
    errors: list[dict[str, str]] | None = None,
    outcome: dict[str, Any] | None = None,
    status: int = 200,
) -> Response:
    """The read-and-respond page: after a GET, or again after a form post (errors with values
    kept, or the news that a response is held)."""
    page = conversation_flow.page(token, sent if isinstance(sent, str) and RESPONSE_ID.match(sent) else "")
    story = page["story"]
    values = {} if outcome else (values or {})  # once a response is received, the form is for another one
    entries, by_field = _respond_errors(errors or [])
    api, site = settings.api_url.rstrip("/"), settings.site_url.rstrip("/")
    html = render_page(
        "respond.html",
        site_base=site,
        robots="noindex, nofollow",
        summary=entries,
        errors=by_field,
        values={
            "text": _text(values.get("text")),
            "change": _text(values.get("change")) or "none",
            "change_description": _text(values.get("change_description")),
            "on_behalf_of": _text(values.get("on_behalf_of")),
            **{
                k: _text(values.get(k)) for k in ("to", "colleague", "service", "note", "tag", "polarity", "visibility")
            },
        },
        limits={
            "on_behalf_of": 80,
            "text": CONVERSATION_LIMITS["response"][1],
            "change_description": CONVERSATION_LIMITS["change_description"][1],
        },
        outcome=outcome,
        send_id=SEND_ID,
        who=page["who"],
        story=story_view(story, page["services"])
        | {
            # Staff-only, and only for the organisation's own members.
            "criticality": criticality_label(story.get("criticality"))
            if page["member"] and story.get("criticality") is not None
            else "",
        },
        can_respond=page["can_respond"],
        is_lead=page["is_lead"],
        editable=page["editable"],
        team=page["team"],
        changed=CHANGED.get(changed, ""),
        not_a_responder=NOT_A_RESPONDER,
        conversation=conversation(page["items"]),
        read_at=page["read_at"],
        waiting=page["waiting"],
        sent=page["sent"],
        response_id=page["response_id"],
        action=f"{api}/api/respond/{token}",
        read_action=f"{api}/api/respond/{token}/read",
        story_url="" if story.get("staff_only") else f"{site}/stories/{story['id']}/",  # issue 21: no public page
        concern_url=f"{api}/api/respond/{token}/concern",  # a review asked for by the service (issue 16)
    )
    return _respond_page(html, settings, status=status)


def read(request: Any, token: str, conversation_flow: Any, settings: Any) -> Response:
    """ "I have read this": any body, the POST itself is the person's action."""
    result = conversation_flow.read(token)
    if media_type(request) == FORM:
        return redirect(_respond_url(token, settings, "#read"))
    return json_response(result)


def respond(request: Any, token: str, conversation_flow: Any, settings: Any) -> Response:
    """JSON: 201 (published) or 202 (held). A form: 303 to the page showing it, the page with the
    news that it is held (202), or the page again with the error summary."""

    def done(result: dict[str, Any]) -> Response:
        if result["status"] == Status.PUBLISHED:
            return redirect(_respond_url(token, settings, f"?sent={result['id']}#sent"))
        return respond_page(token, conversation_flow, settings, outcome=result, status=202)

    return form_or_json(
        request,
        settings.max_body_bytes,
        RESPONSE,
        lambda data: conversation_flow.respond(token, data),
        json=lambda result: json_response(result, status=201 if result["status"] == ItemStatus.PUBLISHED else 202),
        done=done,
        again=lambda e, _: respond_page(
            token, conversation_flow, settings, values=e.values, errors=e.fields, status=e.status
        ),
    )


def change_response(
    request: Any, token: str, response_id: str, edits: Any, conversation_flow: Any, settings: Any
) -> Response:
    """Change or delete one's own response within its window. JSON: 200 with where it stands. A form:
    303 back to the page, which says what was done; a mistake: the page with the error summary."""

    def done(result: dict[str, Any]) -> Response:
        what = "deleted" if result["status"] == ItemStatus.DELETED else "held" if result["flags"] else "edited"
        return redirect(_respond_url(token, settings, f"?changed={what}#yours"))

    return form_or_json(
        request,
        settings.max_body_bytes,
        RESPONSE_CHANGE,
        lambda data: edits.change(token, response_id, data),
        json=json_response,
        done=done,
        again=lambda e, _: respond_page(
            token, conversation_flow, settings, values={}, errors=e.fields, status=e.status
        ),
    )


def teamwork(request: Any, token: str, act: Any, conversation_flow: Any, settings: Any, what: str) -> Response:
    """Pass the story on, or tag it: JSON 200; a form, 303 back to the page saying it is done, or
    the page again with the error summary."""
    return form_or_json(
        request,
        settings.max_body_bytes,
        TEAMWORK,
        lambda data: act(token, data),
        json=json_response,
        done=lambda _: redirect(_respond_url(token, settings, f"?changed={what}#team")),
        again=lambda e, _: respond_page(
            token, conversation_flow, settings, values=e.values, errors=e.fields, status=e.status
        ),
    )


def _respond_errors(errors: list[dict[str, str]]) -> tuple[list[dict[str, str]], dict[str, str]]:
    """(the error summary's entries in page order, field → message)."""
    by_field: dict[str, str] = {}
    general: list[str] = []
    for e in errors:
        field, message = str(e.get("field", "")), str(e.get("message", ""))
        if field in RESPOND_FIELD_IDS:
            by_field.setdefault(field, message)
        else:
            general.append(ALREADY_SENT if message == ALREADY_SENT else GENERAL_MESSAGE)
    entries = [{"href": f"#{RESPOND_FIELD_IDS[f]}", "message": by_field[f]} for f in RESPOND_FIELD_IDS if f in by_field]
    entries += [{"href": f"#{SEND_ID}", "message": m} for m in dict.fromkeys(general)]
    return entries, by_field
