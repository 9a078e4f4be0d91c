"""Invitations and stories taken for someone, as HTTP (issue 19).

- `/api/i/<code>`: where an invitation's short link `<site>/i/<code>` leads (CloudFront's site function
  and the local static server redirect there). The story form with the service chosen and who asked;
  an ended or unknown code gives the ordinary form with a short note, with status 200: never an error page.
- From a member's "manage your alerts" link: make an invitation, end one (leads), its printable card and
  poster, and the form to enter a story for someone who phoned, wrote or came in.

The cards are made on request rather than stored: a QR code of a short link is a few milliseconds of
pure Python (segno), nothing waits to be cleaned up when an invitation ends, and only a member's own
link reaches them.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

from chalice import Response

from ..core import i18n
from ..core.errors import Forbidden
from ..core.models import ROUTE_LABELS, TAKEN_ROUTES
from ..core.status import Access
from ..site.forms import cached_directory_groups, story_form_with_errors
from ..site.pages import render_page
from .forms import Form, form_or_json
from .http import html_response, json_response, page_csp, redirect
from .telling import STORY

INVITATION = Form(only=("service", "campaign", "tags", "expires_on"))
TAKEN = Form(
    lists=STORY.lists, checkboxes=STORY.checkboxes, numbers=STORY.numbers, finish=STORY.finish
)  # the story form's fields, and the route
NO_STORE = {"Cache-Control": "no-store"}


def _manage(settings: Any, token: str) -> str:
    return f"{settings.api_url}/api/subscriptions/manage/{token}"


# ---- the short link -------------------------------------------------------------------------------


def open_form(code: str, invitations: Any, store: Any, settings: Any) -> Response:
    """The form an invitation's short link opens. Changes nothing."""
    opened = invitations.opened(code)
    values: dict[str, Any] = {"submission_id": uuid.uuid4().hex}
    if opened["state"] == "active":
        values |= {"services": [opened["service"]], "invitation": opened["code"]}
    html = story_form_with_errors(values, [], store, settings, invited=opened)
    return html_response(html, csp=page_csp(settings), headers=NO_STORE)


# ---- a member's invitations ---------------------------------------------------------------------


# The manage page again with the invitation form's errors and what was typed (app.py gives edge.staff's).
PageAgain = Callable[[Any, dict[str, Any]], Response]


def create(request: Any, token: str, invitations: Any, settings: Any, again: PageAgain) -> Response:
    return form_or_json(
        request,
        settings.max_body_bytes,
        INVITATION,
        lambda data: invitations.create(token, data),
        json=lambda made: json_response(made, status=201, headers=NO_STORE),
        done=lambda _: redirect(f"{_manage(settings, token)}?notice=invitation-made#invitations"),
        again=again,
    )


def end(request: Any, token: str, code: str, invitations: Any, settings: Any, again: PageAgain) -> Response:
    return form_or_json(
        request,
        settings.max_body_bytes,
        Form(only=()),
        lambda _: invitations.end(token, code),
        json=lambda ended: json_response(ended, headers=NO_STORE),
        done=lambda _: redirect(f"{_manage(settings, token)}?notice=invitation-ended#invitations"),
        again=again,
    )


def service_choices(store: Any, organisation: str) -> list[dict[str, str]]:
    """The organisation's services for the invitation form (the form's cached directory, one group)."""
    for group in cached_directory_groups(store):
        if group["options"] and group["options"][0]["value"] == organisation:
            return list(group["options"])
    return []


def printable(token: str, code: str, kind: str, invitations: Any, settings: Any) -> Response:
    """An invitation's card (A6) or poster (A4): the QR code of its short link, the service, the link
    in large type and one line on anonymity. A print stylesheet lays it out; nothing comes from elsewhere."""
    from ..site.qr import qr_svg  # segno, only for a card or a poster

    invitation = invitations.get(token, code)
    html = render_page(
        "invitation_card.html",
        site_base=settings.site_url.rstrip("/"),
        robots="noindex",
        kind=kind,
        invitation=invitation,
        short=invitation["url"].split("://", 1)[-1],
        qr=qr_svg(invitation["url"]),
        back=f"{_manage(settings, token)}#invitations",
    )
    return html_response(html, csp=page_csp(settings), headers=NO_STORE)


PDF = "application/pdf"


# The PDFs' size as the manage page gives it beside their links: they differ by a few hundred bytes
# (the glyphs used), so one figure, kept true by tests/flows/test_invitations_pdf.py, saves making
# every invitation's card to list them.
PDF_KB = 45


def for_the_page(inviting: dict[str, Any] | None) -> dict[str, Any] | None:
    """The manage page's invitations, each with the lines for a discharge letter in English and Welsh
    (from the catalogue, whatever language the page is in) and the PDFs' size."""
    if not inviting:
        return inviting
    listed = []
    for invitation in inviting["invitations"]:
        link = invitation["url"].split("://", 1)[-1]
        letter = []
        for locale in i18n.LOCALES:
            with i18n.using(locale):
                text = i18n.gettext("Tell us about your care at %(link)s. You do not have to give your name.")
                letter.append(
                    {"lang": i18n.lang_tag(locale), "name": i18n.NAMES[locale], "text": text % {"link": link}}
                )
        listed.append(invitation | {"letter": letter, "pdf_kb": PDF_KB})
    return inviting | {"invitations": listed}


def printable_pdf(request: Any, token: str, code: str, kind: str, invitations: Any) -> Response:
    """An invitation's card (A6) or poster (A4) as PDF, for printing as it is (site/printed.py).

    Made on request, like the HTML card, rather than written to the site bucket: a PDF is some 20 ms,
    there is no private prefix to keep in step with invitations made and ended, nothing stored to
    clean up, and only a member's own link (checked as for every invitation) ever reaches one. `lang`
    (en or cy) chooses the language; without it the card is bilingual when the service has a Welsh name."""
    from ..site import printed  # ReportLab and its fonts, only for a PDF

    invitation = invitations.printable(token, code)
    asked = ((request.query_params or {}).get("lang") or "").strip()
    locales = printed.languages(invitation["service_name_cy"], asked if asked in ("en", "cy") else None)
    headers: dict[str, str | list[str]] = {
        **NO_STORE,
        "Content-Type": PDF,
        "Content-Disposition": f'inline; filename="invitation-{invitation["code"]}-{kind}.pdf"',
    }
    return Response(body=printed.pdf(invitation, kind, locales), status_code=200, headers=headers)


# ---- a story taken for someone ----------------------------------------------------------------------


def take_page(
    token: str,
    organisations: Any,
    store: Any,
    settings: Any,
    values: dict[str, Any] | None = None,
    errors: list[dict[str, str]] | None = None,
    status: int = 200,
) -> Response:
    """The story form, for a member entering a story for someone (a responder or lead only)."""
    person, _org = _taker(token, organisations)
    values = dict(values or {})
    values.setdefault("submission_id", uuid.uuid4().hex)
    taken = {
        "by": person.get("display_name") or person.get("name", ""),
        "routes": [{"value": r, "label": ROUTE_LABELS[r][:1].upper() + ROUTE_LABELS[r][1:]} for r in TAKEN_ROUTES],
        "route": str(values.get("route", "")),
        "action": f"{_manage(settings, token)}/stories",
        "back": _manage(settings, token),
    }
    html = story_form_with_errors(values, errors or [], store, settings, taken=taken)
    return html_response(html, status=status, csp=page_csp(settings), headers=NO_STORE)


def take(
    request: Any, token: str, organisations: Any, stories: Any, store: Any, settings: Any, spend: Callable[[], None]
) -> Response:
    """`spend`: one of the client's story allowance, spent only once the link works (a spoilt link spends
    only the budget of bad links)."""

    def act(data: dict[str, Any]) -> dict[str, Any]:
        person, org = _taker(token, organisations)
        spend()
        return stories.take(data, entered_by(person), org)

    return form_or_json(
        request,
        settings.max_body_bytes,
        TAKEN,
        act,
        json=lambda result: json_response(result, status=201, headers={"Location": f"/api/stories/{result['id']}"}),
        done=lambda _: redirect(f"{_manage(settings, token)}?notice=story-taken"),
        again=lambda e, data: take_page(token, organisations, store, settings, data, e.fields, e.status),
    )


def _taker(token: str, organisations: Any) -> tuple[dict[str, Any], str]:
    """A responder or lead of an organisation, from their manage link; anyone else is refused."""
    person, org, _ = organisations.member_of(token)
    if person.get("access") not in (Access.RESPONDER, Access.LEAD):
        raise Forbidden("Only responders and leads can enter a story for someone. Ask a lead of your organisation.")
    return dict(person), org


def entered_by(person: dict[str, Any]) -> dict[str, str]:
    """Who entered a story, as staff and moderators see it (never shown in public)."""
    return {
        "kind": "member",
        "id": str(person.get("id", "")),
        "name": str(person.get("name", "")),
        "role": str(person.get("role", "")),
        "organisation": str(person.get("organisation_name", "")),
    }
