"""The author's private page: where their story is, the whole conversation on it, and what they
can do (reply, withdraw, erase). Reached by a capability link; a GET of it never changes anything.

The page is built from one Query of the story's partition and one BatchGetItem for its services' names.
Fields are chosen one by one (here and in views/), so nothing private about anyone else reaches the
template.
"""

from __future__ import annotations

import secrets
from typing import Any

from chalice import Response

from ..core import i18n
from ..core.concerns import AFTER_PUBLICATION
from ..core.errors import Conflict, NotFound, ValidationFailed
from ..core.status import ItemStatus, Status
from ..links import NOT_VALID
from ..site import pages
from ..views import conversation as thread_conversation
from ..views import service_link
from .forms import Form, form_or_json
from .http import html_response, json_response, page_csp, redirect

STATUS_WORDS = {
    Status.PENDING: (
        "Waiting for a moderator",
        f"A moderator will read your story within {pages.MODERATION_WORKING_DAYS} working days. "
        "They check it for names, dates of birth and contact details before it is published.",
    ),
    Status.PUBLISHED: (
        "Published",
        "Your story is on FeedForward for everyone to read. Staff who look after the services you named have been told about it.",
    ),
    Status.HELD: (
        "We are taking a careful look",
        "Something in your story made us want to take a careful look before we publish it. A moderator may contact you.",
    ),
    "rejected": ("Not published", "A moderator decided not to publish your story."),
    "withdrawn": (
        "Withdrawn",
        "Your story has been withdrawn. It comes off FeedForward within a few minutes of that: its own "
        "page, the service pages, the home page, the feeds and the API.",
    ),
    # After a report (issue 16): the author keeps their private page whatever a moderator decided.
    "hidden": (
        "Being checked",
        "Someone reported a concern about your story. Until a moderator has checked it, it is not shown to the public.",
    ),
    "restricted": (
        "Restricted",
        "After a report, a moderator restricted your story: its page now says only who asked for that, and why.",
    ),
    "removed": (
        "Taken off FeedForward",
        "After a report, a moderator took your story off FeedForward. Only you can still read it, here.",
    ),
    "erasing": (
        "Being erased",
        "We are erasing your story and everything we hold about it. This link will stop working soon.",
    ),
}
# What ?done=... on the private page says after an action (fixed words: nothing from the address is shown).
NOTICES = {
    "reply": "Thank you. Your reply will appear once a moderator has checked it.",
    # Only "done": the status below says what withdrawing does (it said it twice, and differently).
    "withdrawn": "Done: you have withdrawn your story.",
    "correction": "Thank you. A moderator will check your correction, and publish it if it can be.",
    "answer": "Thank you. Your answer has gone to the moderators. It will not be published.",
}
# Where an error summary's link takes the reader, per form.
FIELD_IDS = {
    ("answer", "text"): "answer-text",
    ("reply", "text"): "reply-text",
    ("withdraw", "confirm"): "withdraw-confirm",
    ("erase", "confirm"): "erase-confirm",
    ("correction", "title"): "correction-title",
    ("correction", "story"): "correction-story",
}
GENERAL = {
    "answer": "Something went wrong while sending your answer. Send it again.",
    "reply": "Something went wrong while sending your reply. Send it again.",
    "withdraw": "Something went wrong. Try again.",
    "erase": "Something went wrong. Try again.",
    "correction": "Something went wrong. Try again.",
}
CAN_REPLY = (Status.PUBLISHED,)
CAN_WITHDRAW = (Status.PENDING, Status.HELD, Status.PUBLISHED)
CAN_ERASE = (Status.PENDING, Status.HELD, Status.PUBLISHED, Status.REJECTED, Status.WITHDRAWN, *AFTER_PUBLICATION)


def _gone() -> Exception:
    return NotFound(NOT_VALID)


def author_page(
    token: str,
    links: Any,
    store: Any,
    settings: Any,
    *,
    notice: str = "",
    form: str = "",
    errors: list[dict[str, str]] | None = None,
    values: dict[str, Any] | None = None,
) -> str:
    """The private page for one author. An unknown, expired or revoked token raises NotFound.

    `form` names the form that was sent ("reply", "withdraw", "erase") when `errors` (each
    {field, message}) are shown again with the `values` the author typed.
    """
    found = links.resolve(token, "author")
    items = store.story_thread(found["story_id"], consistent=True)
    story = next((i for i in items if i["item"] == "story"), None)
    if not story:
        raise _gone()
    status = story.get("status", Status.PENDING)
    heading, explanation = STATUS_WORDS.get(status, (status.capitalize(), ""))
    site = settings.site_url.rstrip("/")
    api = settings.api_url.rstrip("/")
    values = values or {}
    errors = errors or []
    summary, field_errors = _summary(form, errors)
    found = store.get_services(story.get("services", []))
    view = {
        "id": story["id"],
        "title": story.get("title", ""),
        "story": story.get("story", ""),
        "good": story.get("good", ""),
        "improve": story.get("improve", ""),
        "pseudonym": story.get("pseudonym", ""),
        "role": pages.role_label(story.get("role")),
        "experience": pages.month_year(story.get("experience")),
        "submitted_at": story.get("submitted_at", ""),
        "published_at": story.get("published_at", ""),
        "withdrawn_at": story.get("withdrawn_at", ""),
        "feelings": [pages.feeling_label(f) for f in story.get("feelings", [])],
        "reference": pages.reference(story["id"]),
        # Named in full ("Northbridge General Hospital › Medicine › Ward 12"): one BatchGetItem.
        "services": [service_link(found[s]) for s in story.get("services", []) if s in found],
    }
    conversation = thread_conversation(items, for_author=True)
    # A moderator's questions and the author's answers (issue 20): never who wrote them, nor an address.
    messages = [{k: m.get(k, "") for k in ("sender", "text", "at")} for m in store.messages(story["id"])]
    reply_id = values.get("reply_id") if form == "reply" and not field_errors.get("reply_id") else None
    return pages.render_page(
        "author.html",
        site_base=site,
        robots="noindex",
        story=view,
        status=status,
        status_heading=heading,
        status_explanation=explanation,
        # Only a rejection's reason is for the author; a hold's note is for moderators.
        reason=story.get("decision_note", "") if status == Status.REJECTED else "",
        edited=bool(story.get("edited_fields")) and status == Status.PUBLISHED,
        public_url=f"{site}/stories/{story['id']}/" if status == Status.PUBLISHED else "",
        notice=notice,
        summary=summary,
        errors=field_errors,
        form=form,
        progress=_progress(story, conversation["progress"])
        if story.get("published_at") or status in CAN_WITHDRAW
        else None,
        conversation=conversation,
        not_published=_not_published(items),
        can_reply=status in CAN_REPLY,
        can_withdraw=status in CAN_WITHDRAW,
        can_erase=status in CAN_ERASE,
        reply_text=str(values.get("text", "")) if form == "reply" else "",
        reply_id=reply_id if isinstance(reply_id, str) and reply_id else secrets.token_urlsafe(16),
        reply_max=5000,
        messages=messages,
        can_answer=any(m["sender"] == "moderator" for m in messages) and status not in ("withdrawn", "erasing"),
        answer_text=str(values.get("text", "")) if form == "answer" else "",
        answer_id=secrets.token_urlsafe(16),
        answer_max=2000,
        actions={
            "answer": f"{api}/api/my/{token}/messages",
            "reply": f"{api}/api/my/{token}/replies",
            "withdraw": f"{api}/api/my/{token}/withdraw",
            "erase": f"{api}/api/my/{token}/erase",
            "correction": f"{api}/api/my/{token}/correction",  # issue 16
        },
        correction=values if form == "correction" else {},
    )


def private_page(token: str, done: str, links: Any, store: Any, settings: Any) -> Response:
    """The private page after a GET; `done` (from ?done=) picks a fixed notice, never words from the address."""
    return html_response(
        author_page(token, links, store, settings, notice=NOTICES.get(done, "")), csp=page_csp(settings)
    )


def address_page(token: str, state: str, settings: Any, lang: str = "") -> Response:
    """Is this your address? ("ask", with the button) or thank you ("done"). Fixed words: nothing
    about the story is shown to whoever holds this link before the address is confirmed. In the
    language of the letter that linked here (?lang=, issue 19: the story's; English when not one of ours)."""
    api = settings.api_url.rstrip("/")
    locale = i18n.known(lang)
    with i18n.using(locale):
        html = pages.render_page(
            "author_address.html",
            site_base=settings.site_url.rstrip("/"),
            robots="noindex",
            state=state,
            action=f"{api}/api/confirm/{token}" + (f"?lang={locale}" if locale != i18n.DEFAULT else ""),
        )
    return html_response(html, csp=page_csp(settings))


def erasing_page(settings: Any) -> str:
    """What the author sees once they have asked for erasure (their link is about to stop working)."""
    return pages.render_page("author_erasing.html", site_base=settings.site_url.rstrip("/"), robots="noindex")


def _summary(form: str, errors: list[dict[str, str]]) -> tuple[list[dict[str, str]], dict[str, str]]:
    """The error summary (message, and the id of the field it links to) and each field's own message."""
    summary: list[dict[str, str]] = []
    by_field: dict[str, str] = {}
    for e in errors:
        target = FIELD_IDS.get((form, e.get("field", "")))
        if target:
            by_field.setdefault(e["field"], e["message"])
            summary.append({"message": e["message"], "href": f"#{target}"})
        elif e.get("field"):
            # A field the author cannot see (the reply id): one plain message, and a fresh id.
            by_field.setdefault(e["field"], e["message"])
            summary.append({"message": GENERAL.get(form, GENERAL["withdraw"]), "href": ""})
        else:
            summary.append({"message": e["message"], "href": ""})
    return summary, by_field


def _progress(story: dict[str, Any], public: dict[str, Any]) -> list[dict[str, Any]]:
    """Sent, then the public steps (published, read, responded, change planned, change made), with dates."""
    return [{"key": "sent", "label": "Sent", "at": story.get("submitted_at") or None}] + public["steps"]


def _not_published(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The author's replies a moderator did not publish, with the reason they were given."""
    out = [
        {"id": i["id"], "text": i.get("text", ""), "at": i.get("created_at", ""), "reason": i.get("decision_note", "")}
        for i in items
        if i["item"] == "reply" and i.get("status") == ItemStatus.REJECTED
    ]
    return sorted(out, key=lambda r: (r["at"], r["id"]))


# ---- the author's actions, as HTTP answers (form posts and JSON) ---------------------------------

AUTHOR_FORM = Form()


def author_action(
    action: str, request: Any, token: str, replies: Any, links: Any, store: Any, settings: Any
) -> Response:
    """Run one of the author's actions and shape the answer.

    A form post (JavaScript off) gets a 303 back to the private page with a notice, the erasure
    page, or the private page again with an error summary (422, or 409 for a conflict). A JSON
    client gets JSON; its errors are raised for the error middleware to answer.
    """
    # `replies` is the flow of the action: Replies (reply, withdraw, erase), Messages (answer) or,
    # for a correction (issue 16), the concerns flow.
    method = {"reply": "reply", "withdraw": "withdraw", "erase": "erase", "answer": "answer"}
    run = getattr(replies, {**method, "correction": "request_correction"}[action])
    csp = page_csp(settings)

    def json(result: dict[str, Any]) -> Response:
        if action == "reply":
            return json_response({"reply": result["reply"], "message": NOTICES["reply"]}, status=202)
        if action == "answer":
            return json_response({"answer": result["answer"], "message": NOTICES["answer"]}, status=201)
        return json_response(result, status=202 if action == "erase" else 200)

    def done(_result: Any) -> Response:
        if action == "erase":
            return html_response(erasing_page(settings), status=200, csp=csp)
        notice = action if action in ("reply", "answer", "correction") else "withdrawn"
        return redirect(f"{settings.api_url.rstrip('/')}/api/my/{token}?done={notice}")

    def again(e: Any, data: dict[str, Any]) -> Response:
        if isinstance(e, ValidationFailed):
            html = author_page(token, links, store, settings, form=action, errors=e.fields, values=data)
        else:
            # A conflict: keep the words the author typed; the page gives a fresh reply id.
            kept = {"text": data.get("text", "")} if action in ("reply", "answer") else {}
            html = author_page(
                token, links, store, settings, form=action, errors=[{"field": "", "message": e.message}], values=kept
            )
        return html_response(html, status=e.status, csp=csp)

    return form_or_json(
        request,
        settings.max_body_bytes,
        AUTHOR_FORM,
        lambda data: run(token, data),
        json=json,
        done=done,
        again=again,
        shown=(ValidationFailed, Conflict),
    )
