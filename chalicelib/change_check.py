"""The author checks the change: six weeks after a response marks a change as made, the author
(and the me-too readers who left an address) are asked whether it made a difference.

- The stream (follow_up, one call from changes.py) schedules the check when a published story
  gets `change_made_at`, counts me-too items and applies answers to the story.
- The daily `change_checks` handler (queue_due) queues one `change_check` email per recipient
  for each check that is due, then closes it (a conditional update), so each is asked once.
- The email's "check" link shows the question (GET: changes nothing) and takes one answer
  (POST). The first answer from a link stands: the same answer again is harmless, a different
  one is refused (409), so a forwarded link cannot overturn what the author said.
- The author's answer sets `change_verdict` on the story; me-too readers' answers are counted
  as `me_too_yes`, `me_too_partly`, `me_too_no`. A comment waits on the replies queue for a
  moderator and shows in public only once published.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from pydantic import ValidationError

from .core import clock
from .core.errors import Conflict, NotFound
from .core.jobs import MailJob, RenderJob
from .links import NOT_VALID
from .core.models import CHECK_COMMENT_MAX, CheckAnswer
from .core.observability import logger, metrics
from .edge.http import invalid
from .views import AUTHOR, VERDICT_WORDS, VERDICTS, made_change

LABELS = {"answer": "whether the change made a difference", "comment": "your comment"}
FIELD_IDS = {"answer": "answer-yes", "comment": "comment"}
ALREADY = "You have already answered from this link. Your first answer stands."
GONE = "This story is no longer published, so there is nothing to answer here."


def form_to_data(fields: dict[str, list[str]]) -> dict[str, Any]:
    return {k: fields[k][-1] for k in ("answer", "comment") if fields.get(k)}


# ---- the stream ------------------------------------------------------------------------------


def follow_up(store: Any, record: dict[str, Any], change: Any) -> list:
    """What a stream record means for me-too counts and change checks; returns render jobs."""
    from . import metoo

    if change.kind == "story":
        old, new = change.old or {}, change.new or {}
        if new.get("status") == "published" and new.get("change_made_at") and not old.get("change_made_at"):
            schedule(store, change.story_id, new["change_made_at"])
        return []
    found = store.decode_loop(record)
    if not found:
        return []
    kind, story_id, ref, old, new = found
    if kind == "me_too":
        metoo.count(store, story_id, ref, new)
        return []
    if kind == "check" and new:
        if not new.get("counted") and new.get("answer") in VERDICTS:
            if new.get("recipient") == AUTHOR:
                store.set_change_verdict(story_id, new["answer"], new.get("created_at") or clock.iso())
            else:
                store.count_me_too_verdict(story_id, ref, new["answer"])
        if new.get("status") == "published" and (old or {}).get("status") != "published":
            return [RenderJob(page="story", ref=story_id)]
    return []


def schedule(store: Any, story_id: str, made_at: str) -> bool:
    from .core.settings import get_settings

    due = clock.parse(made_at) + timedelta(days=get_settings().change_check_days)
    return store.schedule_check(story_id, clock.iso(due), made_at)


# ---- the daily job ---------------------------------------------------------------------------


class ChangeChecks:
    def __init__(self, store: Any, links: Any, settings: Any, queues: Any = None, limits: Any = None):
        self._store = store
        self._links = links
        self._settings = settings
        self._queues = queues
        self._limits = limits

    def queue_due(self) -> dict[str, Any]:
        """Queue one change_check email per recipient of each check due now, then close the check.
        Jobs first, close second: a crash in between re-queues jobs that the mail worker sends once."""
        now = clock.iso()
        checks = stories = 0
        for due in self._store.due_checks(now):
            sid = due["story_id"]
            story = self._store.get_story(sid, consistent=True)
            jobs: list[MailJob] = []
            if story and story.get("status") == "published":
                if story.get("has_contact"):
                    jobs.append(MailJob(kind="change_check", story_id=sid, ref=AUTHOR))
                jobs += [MailJob(kind="change_check", story_id=sid, ref=m) for m in self._store.me_too_contacts(sid)]
                if jobs:
                    self._queues.send(jobs)
            if self._store.close_check(sid, now, len(jobs)):
                stories += 1
                checks += len(jobs)
        logger.info("change checks queued", extra={"stories": stories, "emails": checks})
        metrics.add_metric(name="ChangeChecksQueued", unit="Count", value=checks)
        return {"stories": stories, "emails": checks}

    # ---- the page (GET: changes nothing) and the answer (POST) ---------------------------------

    def _holder(self, token: str) -> tuple[dict[str, Any], list[dict[str, Any]], dict[str, Any]]:
        link = self._links.resolve(token, "check")
        items = self._store.story_thread(link["story_id"], consistent=True)
        story = next((i for i in items if i["item"] == "story"), None)
        if not story:
            raise NotFound(NOT_VALID)
        if story.get("status") != "published":
            raise NotFound(GONE)
        return link, items, story

    def page_html(self, token: str, done: bool = False, values: dict[str, Any] | None = None,
                  errors: list[dict[str, str]] | None = None) -> str:
        from .site.pages import render_page

        link, items, story = self._holder(token)
        recipient = link.get("recipient") or link.get("subject", "")
        answered = next((i for i in items if i["item"] == "check" and i.get("id") == recipient), None)
        values = values or {}
        by_field: dict[str, str] = {}
        summary = []
        for e in errors or []:
            field = e.get("field", "")
            if field in FIELD_IDS and field not in by_field:
                by_field[field] = e.get("message", "")
                summary.append({"href": f"#{FIELD_IDS[field]}", "message": by_field[field]})
            elif field not in FIELD_IDS:
                summary.append({"href": "#answered" if answered else "#answer-yes", "message": e.get("message", "")})
        site = self._settings.site_url.rstrip("/")
        return render_page(
            "check.html",
            site_base=site,
            robots="noindex, nofollow",
            story={"id": story["id"], "title": story.get("title", ""), "url": f"{site}/stories/{story['id']}/"},
            is_author=recipient == AUTHOR,
            change=made_change(items),
            answered={"answer": answered.get("answer"), "words": VERDICT_WORDS.get(answered.get("answer", ""), ""),
                      "comment": answered.get("text", ""), "at": answered.get("created_at", "")} if answered else None,
            done=done,
            summary=summary,
            errors=by_field,
            values={"answer": str(values.get("answer", "")), "comment": str(values.get("comment", ""))},
            choices=[("yes", "Yes"), ("partly", "Partly"), ("no", "No")],
            comment_max=CHECK_COMMENT_MAX,
            action=f"{self._settings.api_url.rstrip('/')}/api/check/{token}",
        )

    def answer(self, token: str, data: dict[str, Any], client: str) -> dict[str, Any]:
        """Record one answer (rate-limited per client). The first answer from a link stands."""
        s = self._settings
        link, _items, story = self._holder(token)
        # After the lookup: a link that does not work spends the guessing budget (limits.guard_links), not this one.
        self._limits.hit("check-answer", client, s.check_answer_limit, s.rate_window_seconds)
        recipient = link.get("recipient") or link.get("subject", "")
        try:
            given = CheckAnswer.model_validate(data)
        except ValidationError as e:
            raise invalid(e, LABELS, data) from e
        item = {
            "id": recipient,
            "recipient": AUTHOR if recipient == AUTHOR else "me_too",
            "answer": given.answer.value,
            "text": given.comment,
            # A comment is shown only once a moderator has published it.
            "status": "pending" if given.comment else "recorded",
            "created_at": clock.iso(),
        }
        if not self._store.put_check_answer(story["id"], item):
            earlier = self._store.get_thread_item(story["id"], "check", recipient) or {}
            if earlier.get("answer") != item["answer"] or earlier.get("text", "") != item["text"]:
                raise Conflict(ALREADY)
            return _view(earlier) | {"created": False}
        logger.info("change check answered", extra={"story_id": story["id"], "recipient": item["recipient"], "answer": item["answer"]})
        metrics.add_metric(name="ChangeChecksAnswered", unit="Count", value=1)
        return _view(item) | {"created": True}


def _view(item: dict[str, Any]) -> dict[str, Any]:
    return {"answer": item.get("answer"), "comment": item.get("text", ""), "status": item.get("status"),
            "created_at": item.get("created_at", "")}


# ---- the HTTP answer (a form post with JavaScript off, or JSON) ------------------------------------


def answer(token: str, kind: str, data: dict[str, Any], checks: Any, client: str, settings: Any) -> Any:
    """JSON: 201 (recorded) or 200 (the same answer again). A form: 303 back to the link's page,
    which shows the answer; or the page again with an error summary (422), or the first answer (409)."""
    from .core.errors import ValidationFailed
    from .edge.http import FORM, html_response, json_response, page_csp, redirect

    if kind != FORM:
        result = checks.answer(token, data, client)
        return json_response(result, status=201 if result["created"] else 200)
    data = form_to_data(data)
    headers = {"X-Robots-Tag": "noindex, nofollow"}
    try:
        checks.answer(token, data, client)
    except ValidationFailed as e:
        html = checks.page_html(token, values=e.values, errors=e.fields)
        return html_response(html, status=e.status, csp=page_csp(settings), headers=headers)
    except Conflict as e:
        html = checks.page_html(token, errors=[{"field": "", "message": e.message}])
        return html_response(html, status=e.status, csp=page_csp(settings), headers=headers)
    return redirect(f"{settings.api_url.rstrip('/')}/api/check/{token}?done=1")
