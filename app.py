"""FeedForward: the routes and event handlers. Each one parses, calls one chalicelib function, returns.

Contents
  Public API       services search, telling a story, the author's private page, the OpenAPI document
  The author       replying, withdrawing, asking for erasure (from the private link)
  Staff            subscribing, confirming, managing, one-click unsubscribe
  Reading and responding   the emailed read-and-respond link: the page, "I have read this", a response
  Moderation       sign-in, the queue, one story, a decision, and the screen itself
  Event handlers   the table's stream, the render queue, the mail queue, SES events, the daily digest
"""

import os

from chalice import Chalice, Response

from chalicelib import wiring
from chalicelib.errors import FeedForwardError, ValidationFailed
from chalicelib.observability import logger, metrics
from chalicelib.settings import get_settings
from chalicelib.web import FORM, JSON, error_response, html_response, json_response, page_csp, read_body, redirect

app = Chalice(app_name="feedforward")

# Placeholders: infra/ sets the real stream and queues at deploy time (chalice needs a literal here).
TABLE_STREAM_ARN = os.environ.get(
    "FF_TABLE_STREAM_ARN", "arn:aws:dynamodb:eu-west-2:000000000000:table/feedforward/stream/2026-01-01T00:00:00.000"
)
RENDER_QUEUE = os.environ.get("FF_RENDER_QUEUE_NAME", "feedforward-render")
MAIL_QUEUE = os.environ.get("FF_MAIL_QUEUE_NAME", "feedforward-mail")


@app.middleware("http")
def answer_errors(event, get_response):
    """Correlate log lines per request, and turn domain errors into HTTP answers in one place."""
    logger.set_correlation_id(event.context.get("requestId"))
    try:
        return get_response(event)
    except FeedForwardError as e:
        return error_response(e)
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
    from chalicelib.site.private import author_page

    s = get_settings()
    return html_response(author_page(token, wiring.links(), wiring.store(), s), csp=page_csp(s))


@app.route("/api/openapi.json", methods=["GET"], cors=True)
def openapi():
    from chalicelib.openapi import document

    return json_response(document())


# ---- The author ----------------------------------------------------------------------------


# ---- Staff ---------------------------------------------------------------------------------


# ---- Reading and responding ----------------------------------------------------------------


# ---- Moderation --------------------------------------------------------------------------


def moderator():
    return wiring.authenticator().moderator(app.current_request.headers.get("authorization", ""))


@app.route("/api/moderation/sign-in", methods=["POST"], content_types=[JSON])
def moderator_sign_in():
    _, data = read_body(app.current_request, 4096)
    return json_response(wiring.authenticator().sign_in(data))


@app.route("/api/moderation/queue", methods=["GET"])
def moderation_queue():
    who = moderator()
    status = (app.current_request.query_params or {}).get("status", "pending")
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


@app.route("/api/moderate", methods=["GET"])
def moderation_screen():
    from chalicelib.site.moderation_screen import page

    return html_response(page(get_settings()), csp="default-src 'none'; script-src 'self'; style-src 'self'; "
                         "connect-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'self'; frame-ancestors 'none'")


@app.route("/api/moderate/{asset}", methods=["GET"])
def moderation_asset(asset):
    from chalicelib.site.moderation_screen import asset as load

    body, content_type = load(asset)
    return Response(body=body, status_code=200, headers={"Content-Type": content_type, "Cache-Control": "no-cache",
                                                         "X-Content-Type-Options": "nosniff"})


# ---- Event handlers ----------------------------------------------------------------------


@app.on_dynamodb_record(stream_arn=TABLE_STREAM_ARN, batch_size=100, starting_position="TRIM_HORIZON")
def on_table_change(event):
    from chalicelib.batches import stream_batch

    return stream_batch(event.to_dict(), wiring.changes().handle, wiring.queues().send)


@app.on_sqs_message(queue=RENDER_QUEUE, batch_size=10)
def render_worker(event):
    from chalicelib.batches import queue_batch
    from chalicelib.jobs import parse_render

    return queue_batch(event.to_dict(), lambda body: wiring.site().render(parse_render(body)))


@app.on_sqs_message(queue=MAIL_QUEUE, batch_size=10)
def mail_worker(event):
    from chalicelib.batches import queue_batch
    from chalicelib.jobs import parse_mail

    return queue_batch(event.to_dict(), lambda body: wiring.notifications().handle(parse_mail(body), event.context))
