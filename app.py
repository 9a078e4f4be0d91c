"""FeedForward: the routes and event handlers. Each one parses, calls one chalicelib function, returns.

Contents
  Public API       services search, telling a story, the author's private page, the OpenAPI document
  The public API   read-only JSON for other platforms: published stories, one story, one service
  The author       replying, withdrawing, asking for erasure (from the private link)
  Staff            subscribing, confirming, managing, one-click unsubscribe
  Reading and responding   the emailed read-and-respond link: the page, "I have read this", a response
  Me too and change checks   a reader's "me too"; the emailed "did the change make a difference?" link
  Moderation       sign-in, the queue, one story, a decision, and the screen itself
  Event handlers   the table's stream, the render queue, the mail queue, SES events, the daily digest
"""

import os

from chalice import Chalice, Cron, Response

from chalicelib import wiring
from chalicelib.core.errors import FeedForwardError, ValidationFailed
from chalicelib.core.observability import logger, metrics
from chalicelib.wiring import get_settings  # lazy: settings imports pydantic
from chalicelib.edge.http import (
    FORM, JSON, check_size, error_response, framework_error, html_response, json_response, page_csp, read_body, redirect,
)

app = Chalice(app_name="feedforward")

# Placeholders: infra/ sets the real stream and queues at deploy time (chalice needs a literal here).
TABLE_STREAM_ARN = os.environ.get(
    "FF_TABLE_STREAM_ARN", "arn:aws:dynamodb:eu-west-2:000000000000:table/feedforward/stream/2026-01-01T00:00:00.000"
)
RENDER_QUEUE = os.environ.get("FF_RENDER_QUEUE_NAME", "feedforward-render")
MAIL_QUEUE = os.environ.get("FF_MAIL_QUEUE_NAME", "feedforward-mail")
MAIL_EVENTS_TOPIC = os.environ.get("FF_MAIL_EVENTS_TOPIC", "feedforward-mail-events")  # SES bounces and complaints


@app.middleware("http")
def answer_errors(event, get_response):
    """Correlate log lines per request, and turn domain errors into HTTP answers in one place."""
    logger.set_correlation_id(event.context.get("requestId"))
    try:
        check_size(event, get_settings().max_body_bytes)  # even where the body is never read
        _link_guesses(event)  # CHECK: refused before any lookup once a client's bad-link budget is spent
        response = get_response(event)
        refused = framework_error(response, event, app.routes)  # chalice's own 405 and 415, in our shape
        if refused is not None:
            raise refused
        return response
    except FeedForwardError as e:
        from chalicelib.edge.http import error_page_response, wants_html

        _link_guesses(event, e)

        # A person who followed an emailed link or posted a form reads a page; a program reads JSON.
        return error_page_response(e, get_settings()) if wants_html(event) else error_response(e)
    finally:
        metrics.flush_metrics()


# ---- Public API --------------------------------------------------------------------------


@app.route("/api/services", methods=["GET"], cors=True)
def find_services():
    q = (app.current_request.query_params or {}).get("q", "")
    return json_response({"services": wiring.directory().search(q)}, headers={"Cache-Control": "public, max-age=300"})


@app.route("/api/stories", methods=["POST"], content_types=[JSON, FORM], cors=True)
def tell_story():
    from chalicelib.stories import form_to_data

    _limit("stories", "story_limit")
    kind, data = read_body(app.current_request, get_settings().max_body_bytes)
    if kind == FORM:
        data = form_to_data(data)
        try:
            wiring.stories().submit(data, app.lambda_context)
        except ValidationFailed as e:
            from chalicelib.site.forms import story_form_with_errors

            s = get_settings()
            return html_response(story_form_with_errors(e.values, e.fields, wiring.store(), s), status=e.status, csp=page_csp(s))
        return redirect(f"{get_settings().site_url}/thank-you/")
    result = wiring.stories().submit(data, app.lambda_context)
    return json_response(result, status=201, headers={"Location": f"/api/stories/{result['id']}"})


@app.route("/api/my/{token}", methods=["GET"])
def my_story(token):
    from chalicelib.edge.author import NOTICES, author_page

    s = get_settings()
    done = (app.current_request.query_params or {}).get("done", "")
    return html_response(author_page(token, wiring.links(), wiring.store(), s, notice=NOTICES.get(done, "")), csp=page_csp(s))


@app.route("/api/openapi.json", methods=["GET"], cors=True)
def openapi():
    from chalicelib.edge.openapi import document

    return json_response(document())


# ---- The public API --------------------------------------------------------------------------
# Read-only, for other platforms: published stories only, public fields only, cached briefly.


def _public_json(body):
    from chalicelib.public_api import CACHE_CONTROL

    return json_response(body, headers={"Cache-Control": CACHE_CONTROL, "X-Content-Type-Options": "nosniff"})


@app.route("/api/public/stories", methods=["GET"], cors=True)
def public_stories():
    return _public_json(wiring.public_api().stories(dict(app.current_request.query_params or {})))


@app.route("/api/public/stories/{story_id}", methods=["GET"], cors=True)
def public_story(story_id):
    return _public_json(wiring.public_api().story(story_id))


@app.route("/api/public/services/{slug}", methods=["GET"], cors=True)
def public_service(slug):
    return _public_json(wiring.public_api().service(slug))


# ---- The author ----------------------------------------------------------------------------


def _author_action(action, token):
    from chalicelib.edge.author import author_action

    s = get_settings()
    kind, data = read_body(app.current_request, s.max_body_bytes)
    return author_action(action, token, kind, data, wiring.replies(), wiring.links(), wiring.store(), s)


@app.route("/api/my/{token}/replies", methods=["POST"], content_types=[JSON, FORM])
def author_reply(token):
    return _author_action("reply", token)


@app.route("/api/my/{token}/withdraw", methods=["POST"], content_types=[JSON, FORM])
def author_withdraw(token):
    return _author_action("withdraw", token)


@app.route("/api/my/{token}/erase", methods=["POST"], content_types=[JSON, FORM])
def author_erase(token):
    return _author_action("erase", token)


# ---- Staff ---------------------------------------------------------------------------------

# What a one-click unsubscribe (RFC 8058) may be posted as; with no content type chalice assumes
# JSON, so that works too. The body is never read: the token in the path is all it takes.
ANY_BODY = [FORM, "multipart/form-data", "text/plain", JSON]


def _staff_page(html, status=200):
    return html_response(html, status=status, csp=page_csp(get_settings()))


@app.route("/api/subscriptions", methods=["POST"], content_types=[JSON, FORM], cors=True)
def subscribe():
    from chalicelib.subscriptions import form_to_data, signup_form_with_errors

    _limit("subscriptions", "subscription_limit")
    s = get_settings()
    kind, data = read_body(app.current_request, s.max_body_bytes)
    if kind == FORM:
        data = form_to_data(data)
        try:
            wiring.subscriptions().sign_up(data)
        except ValidationFailed as e:
            return _staff_page(signup_form_with_errors(e.values, e.fields, wiring.store(), s), status=e.status)
        return redirect(f"{s.site_url}/subscribe/check-your-email/")
    return json_response(wiring.subscriptions().sign_up(data), status=202)


@app.route("/api/subscriptions/confirm/{token}", methods=["GET"])
def confirm_subscription_page(token):
    return _staff_page(wiring.subscriptions().confirm_page(token))


@app.route("/api/subscriptions/confirm/{token}", methods=["POST"], content_types=ANY_BODY)
def confirm_subscription(token):
    return _staff_page(wiring.subscriptions().confirm(token))


@app.route("/api/subscriptions/manage/{token}", methods=["GET"])
def manage_subscriptions_page(token):
    notice = (app.current_request.query_params or {}).get("notice", "")
    return _staff_page(wiring.subscriptions().manage_page(token, notice=notice))


@app.route("/api/subscriptions/manage/{token}", methods=["POST"], content_types=[FORM, JSON])
def manage_subscriptions(token):
    s = get_settings()
    kind, data = read_body(app.current_request, s.max_body_bytes)
    try:
        notice = wiring.subscriptions().manage(token, data)
    except ValidationFailed as e:
        if kind == JSON:
            raise
        return _staff_page(wiring.subscriptions().manage_page(token, errors=e.fields, values=e.values), status=e.status)
    return redirect(f"{s.api_url}/api/subscriptions/manage/{token}?notice={notice}")


@app.route("/api/unsubscribe/{token}", methods=["GET"])
def unsubscribe_page(token):
    return _staff_page(wiring.subscriptions().unsubscribe_page(token))


@app.route("/api/unsubscribe/{token}", methods=["POST"], content_types=ANY_BODY)
def unsubscribe(token):
    return _staff_page(wiring.subscriptions().unsubscribe(token))


# ---- Reading and responding ----------------------------------------------------------------


def _respond_page(html, status=200):
    # Shown from an emailed link: never indexed, never cached, never leaks its address onward.
    return html_response(html, status=status, csp=page_csp(get_settings()), headers={"X-Robots-Tag": "noindex, nofollow"})


def _respond_url(token, query=""):
    return f"{get_settings().api_url.rstrip('/')}/api/respond/{token}{query}"


@app.route("/api/respond/{token}", methods=["GET"])
def respond_page(token):
    sent = (app.current_request.query_params or {}).get("sent", "")
    return _respond_page(wiring.conversation().page_html(token, sent=sent))


@app.route("/api/respond/{token}/read", methods=["POST"], content_types=[JSON, FORM])
def respond_read(token):
    from chalicelib.edge.http import media_type

    result = wiring.conversation().read(token)  # any body: the POST itself is the person's action
    if media_type(app.current_request) == FORM:
        return redirect(_respond_url(token, "#read"))
    return json_response(result)


@app.route("/api/respond/{token}", methods=["POST"], content_types=[JSON, FORM])
def respond(token):
    from chalicelib.conversation import form_to_data

    kind, data = read_body(app.current_request, get_settings().max_body_bytes)
    conversation = wiring.conversation()
    if kind == JSON:
        result = conversation.respond(token, data)
        return json_response(result, status=201 if result["status"] == "published" else 202)
    try:
        result = conversation.respond(token, form_to_data(data))
    except ValidationFailed as e:
        return _respond_page(conversation.page_html(token, values=e.values, errors=e.fields), status=e.status)
    if result["status"] == "published":
        return redirect(_respond_url(token, f"?sent={result['id']}#sent"))
    return _respond_page(conversation.page_html(token, outcome=result), status=202)


# ---- Me too and change checks --------------------------------------------------------------


def _limit(action, setting):
    """Spend one request of this client's budget for `action` (429 once it is spent)."""
    from chalicelib.limits import client_of

    s = get_settings()
    wiring.limits().hit(action, client_of(app.current_request), getattr(s, setting), s.rate_window_seconds)


def _link_guesses(request, error=None):
    """Links in the path ({token}): before the route, refuse a client whose budget of links that
    did not work is spent; after a link did not work, spend one."""
    if "token" in (request.uri_params or {}):
        from chalicelib.limits import guard_links

        guard_links(request, error, wiring.limits(), get_settings())


@app.route("/api/stories/{story_id}/me-too", methods=["POST"], content_types=[JSON, FORM], cors=True)
def me_too(story_id):
    from chalicelib.limits import client_of
    from chalicelib.metoo import answer

    s = get_settings()
    kind, data = read_body(app.current_request, s.max_body_bytes)
    return answer(story_id, kind, data, wiring.metoo(), client_of(app.current_request), s)


@app.route("/api/check/{token}", methods=["GET"])
def change_check_page(token):
    done = (app.current_request.query_params or {}).get("done", "") == "1"
    return _respond_page(wiring.change_checks().page_html(token, done=done))


@app.route("/api/check/{token}", methods=["POST"], content_types=[JSON, FORM])
def change_check_answer(token):
    from chalicelib.change_check import answer
    from chalicelib.limits import client_of

    s = get_settings()
    kind, data = read_body(app.current_request, s.max_body_bytes)
    return answer(token, kind, data, wiring.change_checks(), client_of(app.current_request), s)


# ---- Moderation --------------------------------------------------------------------------


def moderator():
    return wiring.authenticator().moderator(app.current_request.headers.get("authorization", ""))


@app.route("/api/moderation/sign-in", methods=["POST"], content_types=[JSON])
def moderator_sign_in():
    _, data = read_body(app.current_request, get_settings().max_body_bytes)
    return json_response(wiring.authenticator().sign_in(data))


@app.route("/api/moderation/queue", methods=["GET"])
def moderation_queue():
    who = moderator()
    status = (app.current_request.query_params or {}).get("status", "pending")
    if status == "replies":
        return json_response({"moderator": who.name, "items": wiring.moderation().replies_queue()})
    return json_response({"moderator": who.name, "stories": wiring.moderation().queue(status)})


@app.route("/api/moderation/stories/{story_id}", methods=["GET"])
def moderation_story(story_id):
    moderator()
    return json_response(wiring.moderation().story(story_id))


@app.route("/api/moderation/stories/{story_id}/decision", methods=["POST"], content_types=[JSON])
def moderation_decision(story_id):
    who = moderator()
    _, data = read_body(app.current_request, get_settings().max_body_bytes)
    return json_response({"story": wiring.moderation().decide(story_id, data, who)})


@app.route("/api/moderation/stories/{story_id}/{kind}/{item_id}/decision", methods=["POST"], content_types=[JSON])
def moderation_item_decision(story_id, kind, item_id):
    """Publish or reject a held staff response (kind "responses") or a pending author reply ("replies")."""
    who = moderator()
    _, data = read_body(app.current_request, get_settings().max_body_bytes)
    return json_response({"item": wiring.moderation().decide_item(story_id, kind, item_id, data, who)})


@app.route("/api/moderate", methods=["GET"])
def moderation_screen():
    from chalicelib.edge.moderation_screen import page

    return html_response(page(get_settings()), csp="default-src 'none'; script-src 'self'; style-src 'self'; "
                         "connect-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'self'; frame-ancestors 'none'")


@app.route("/api/moderate/{asset}", methods=["GET"])
def moderation_asset(asset):
    from chalicelib.edge.moderation_screen import asset as load

    body, content_type = load(asset)
    return Response(body=body, status_code=200, headers={"Content-Type": content_type, "Cache-Control": "no-cache",
                                                         "X-Content-Type-Options": "nosniff"})


# ---- Event handlers ----------------------------------------------------------------------


@app.on_dynamodb_record(stream_arn=TABLE_STREAM_ARN, batch_size=100, starting_position="TRIM_HORIZON")
def on_table_change(event):
    from chalicelib.core.batches import stream_batch

    return stream_batch(event.to_dict(), wiring.changes().handle, wiring.queues().send)


@app.on_sqs_message(queue=RENDER_QUEUE, batch_size=10)
def render_worker(event):
    from chalicelib.core.batches import queue_batch
    from chalicelib.core.jobs import parse_render

    return queue_batch(event.to_dict(), lambda body: wiring.site().render(parse_render(body)))


@app.on_sqs_message(queue=MAIL_QUEUE, batch_size=10)
def mail_worker(event):
    from chalicelib.core.batches import queue_batch
    from chalicelib.core.jobs import parse_mail

    return queue_batch(event.to_dict(), lambda body: wiring.notifications().handle(parse_mail(body), event.context))


@app.on_sns_message(topic=MAIL_EVENTS_TOPIC)
def on_mail_event(event):
    from chalicelib.suppression import handle_sns

    return handle_sns(event.to_dict(), wiring.store())


@app.schedule(Cron(0, 7, "*", "*", "?", "*"))
def daily_digest(event):
    """07:00 UTC: yesterday's digests, one email per subscriber."""
    try:
        return wiring.alerts().queue_digests()
    finally:
        metrics.flush_metrics()


@app.schedule(Cron(30, "*", "*", "*", "?", "*"))
def escalation_ladder(event):
    """Every hour: the next step for each story still awaiting its first response (chalicelib/ladder.py)."""
    try:
        return wiring.ladder().run()
    finally:
        metrics.flush_metrics()


@app.schedule(Cron(0, 9, "*", "*", "?", "*"))
def change_checks(event):
    """09:00 UTC: ask the authors (and me-too readers) of changes made six weeks ago whether they helped."""
    try:
        return wiring.change_checks().queue_due()
    finally:
        metrics.flush_metrics()
