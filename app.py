"""FeedForward: the routes and event handlers. Each one parses, calls one chalicelib function, returns.

Contents
  Public API       services search, telling a story, the author's private page, the OpenAPI document
  The public API   read-only JSON for other platforms: published stories, one story, one service
  The author       replying, withdrawing, asking for erasure (from the private link)
  Staff            subscribing, confirming, managing, one-click unsubscribe
  Reading and responding   the emailed read-and-respond link: the page, "I have read this", a response
  Organisations    a lead's link, the organisation's page, decisions on members, members in bulk
  Me too and change checks   a reader's "me too"; the emailed "did the change make a difference?" link
  Moderation       sign-in, the queue, one story, a decision, and the screen itself
  Reports          a lead's report, its CSV and XLSX export, the board report on or off; a member's
                   report on the services they follow
  Event handlers   the table's stream, the render, search and mail queues, SES events, the daily digest

The answers are shaped in chalicelib/edge/ (the flows return data); its page modules load on
first use (`edge.staff`, `edge.loop`...), so a cold start reads none of them.
"""

import os

from chalice import Chalice, Cron

from chalicelib import edge, wiring
from chalicelib.core.errors import FeedForwardError, NotFound
from chalicelib.core.observability import logger, metrics
from chalicelib.edge.http import (
    FORM,
    JSON,
    STORY_BODY_BYTES,
    check_size,
    error_page_response,
    error_response,
    framework_error,
    json_response,
    private_json,
    public_json,
    read_body,
    wants_html,
)
from chalicelib.wiring import get_settings  # lazy: settings imports pydantic

app = Chalice(app_name="feedforward")
# Uploaded files reach the handler as the bytes sent, and PDFs the browser as made (API Gateway would
# otherwise mangle binary bodies).
app.api.binary_types.extend(
    ["multipart/form-data", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", "application/pdf"]
)

# Placeholders: infra/ sets the real stream and queues at deploy time (chalice needs a literal here).
TABLE_STREAM_ARN = os.environ.get(
    "FF_TABLE_STREAM_ARN", "arn:aws:dynamodb:eu-west-2:000000000000:table/feedforward/stream/2026-01-01T00:00:00.000"
)
RENDER_QUEUE = os.environ.get("FF_RENDER_QUEUE_NAME", "feedforward-render")
MAIL_QUEUE = os.environ.get("FF_MAIL_QUEUE_NAME", "feedforward-mail")
SEARCH_QUEUE = os.environ.get("FF_SEARCH_QUEUE_NAME", "feedforward-search.fifo")  # FIFO: one rebuild at a time
DELIVERY_QUEUE = os.environ.get("FF_DELIVERY_QUEUE_NAME", "feedforward-deliveries")  # partners' webhooks
MAIL_EVENTS_TOPIC = os.environ.get("FF_MAIL_EVENTS_TOPIC", "feedforward-mail-events")  # SES bounces and complaints


@app.middleware("http")
def answer_errors(event, get_response):
    """Correlate log lines per request, and turn domain errors into HTTP answers in one place."""
    logger.set_correlation_id(event.context.get("requestId"))
    try:
        check_size(event, _max_body(event))  # even where the body is never read
        response = get_response(event)
        refused = framework_error(response, event, app.routes)  # chalice's own 405 and 415, in our shape
        if refused is not None:
            raise refused
        return response
    except FeedForwardError as error:
        e = _link_guesses(event, error)  # a link that did not work: counted, or 429 once the budget is spent
        # A person who followed an emailed link or posted a form reads a page; a program reads JSON.
        return error_page_response(e, get_settings()) if wants_html(event) else error_response(e)
    finally:
        metrics.flush_metrics()


# Routes that take a file or a long story, and the most they take (every other route: settings.max_body_bytes).
FILE_ROUTES = {"/api/organisation/{token}/members": 5 * 1024 * 1024, "/api/stories": STORY_BODY_BYTES}


# What a one-click unsubscribe (RFC 8058) or a confirm button may be posted as; with no content type
# chalice assumes JSON, so that works too. The body is never read: the token in the path is all it takes.
ANY_BODY = [FORM, "multipart/form-data", "text/plain", JSON]


def _max_body(request):
    return FILE_ROUTES.get(request.context.get("resourcePath", ""), get_settings().max_body_bytes)


def _limit(action, setting):
    """Spend one request of this client's budget for `action` (429 once it is spent)."""
    s = get_settings()
    wiring.limits().hit(action, edge.guards.client_of(app.current_request), getattr(s, setting), s.rate_window_seconds)


def _link_guesses(request, error):
    """Links in the path ({token}) that did not work spend the client's budget; past it, a 429."""
    if "token" in (request.uri_params or {}):
        return edge.guards.guard_links(request, error, wiring.limits(), get_settings())
    return error


# ---- Public API --------------------------------------------------------------------------


@app.route("/api/services", methods=["GET"], cors=True)
def find_services():
    q = (app.current_request.query_params or {}).get("q", "")
    return json_response({"services": wiring.directory().search(q)}, headers={"Cache-Control": "public, max-age=300"})


# No CORS on a route that changes state (issue 18): the site's forms post as plain forms, which need
# none, and no other website may make its visitors' browsers post stories, sign-ups or me-toos.
@app.route("/api/stories", methods=["POST"], content_types=[JSON, FORM])
def tell_story():
    _limit("stories", "story_limit")
    return edge.telling.tell_story(
        app.current_request,
        wiring.stories(),
        wiring.store(),
        get_settings(),
        app.lambda_context,
        invitations=wiring.invitations(),
    )


@app.route("/api/my/{token}", methods=["GET"])
def my_story(token):
    done = (app.current_request.query_params or {}).get("done", "")
    return edge.author.private_page(token, done, wiring.links(), wiring.store(), get_settings())


# The first email to an author's address asks, in fixed words, whether it is theirs (issue 18).
@app.route("/api/confirm/{token}", methods=["GET"])
def confirm_address_page(token):
    lang = (app.current_request.query_params or {}).get("lang", "")  # the letter's language (issue 19)
    return edge.author.address_page(token, wiring.replies().address(token), get_settings(), lang)


@app.route("/api/confirm/{token}", methods=["POST"], content_types=ANY_BODY)
def confirm_address(token):
    lang = (app.current_request.query_params or {}).get("lang", "")
    return edge.author.address_page(token, wiring.replies().confirm_address(token), get_settings(), lang)


@app.route("/api/openapi.json", methods=["GET"], cors=True)
def openapi():
    return json_response(edge.openapi.document())


# ---- The public API --------------------------------------------------------------------------
# Read-only, for other platforms: published stories only, public fields only, cached briefly.


@app.route("/api/public/stories", methods=["GET"], cors=True)
def public_stories():
    return public_json(wiring.public_api().stories(dict(app.current_request.query_params or {})))


@app.route("/api/public/stories/{story_id}", methods=["GET"], cors=True)
def public_story(story_id):
    return public_json(wiring.public_api().story(story_id))


@app.route("/api/public/services/{slug}", methods=["GET"], cors=True)
def public_service(slug):
    return public_json(wiring.public_api().service(slug))


# Browsing (issue 20): a service's stories filtered, as a page made from the API's answer; and where
# the home page's "find stories near" form leads (a 303 to a town's page, or suggestions).
@app.route("/api/public/services/{slug}/stories", methods=["GET"], cors=True)
def public_service_stories(slug):
    return edge.browse.service_stories(app.current_request, slug, wiring.public_api(), wiring.store(), get_settings())


@app.route("/api/places", methods=["GET"], cors=True)
def find_place():
    return edge.browse.find_place(app.current_request, wiring.directory(), get_settings())


# ---- The author ----------------------------------------------------------------------------


def _author_action(action, token):
    flow = wiring.messages() if action == "answer" else wiring.replies()
    return edge.author.author_action(
        action, app.current_request, token, flow, wiring.links(), wiring.store(), get_settings()
    )


@app.route("/api/my/{token}/replies", methods=["POST"], content_types=[JSON, FORM])
def author_reply(token):
    return _author_action("reply", token)


@app.route("/api/my/{token}/messages", methods=["POST"], content_types=[JSON, FORM])
def author_answer(token):
    """The author answers a moderator's message (kept privately, shown to moderators)."""
    return _author_action("answer", token)


@app.route("/api/my/{token}/withdraw", methods=["POST"], content_types=[JSON, FORM])
def author_withdraw(token):
    return _author_action("withdraw", token)


@app.route("/api/my/{token}/erase", methods=["POST"], content_types=[JSON, FORM])
def author_erase(token):
    return _author_action("erase", token)


@app.route("/api/my/{token}/correction", methods=["POST"], content_types=[JSON, FORM])
def author_correction(token):
    """The author asks for a correction of their published story (issue 16): a moderator checks it."""
    return edge.author.author_action(
        "correction", app.current_request, token, wiring.concerns(), wiring.links(), wiring.store(), get_settings()
    )


# ---- Staff ---------------------------------------------------------------------------------

# Members: a form's file upload, the file itself as the body, or JSON.
MEMBER_FILES = [
    JSON,
    FORM,
    "multipart/form-data",
    "text/csv",
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
]


@app.route("/api/subscriptions", methods=["POST"], content_types=[JSON, FORM])
def subscribe():
    _limit("subscriptions", "subscription_limit")
    return edge.staff.subscribe(app.current_request, wiring.subscriptions(), wiring.store(), get_settings())


@app.route("/api/subscriptions/confirm/{token}", methods=["GET"])
def confirm_subscription_page(token):
    return edge.staff.confirm_page(token, wiring.subscriptions().confirmation(token), get_settings())


@app.route("/api/subscriptions/confirm/{token}", methods=["POST"], content_types=ANY_BODY)
def confirm_subscription(token):
    return edge.staff.confirm_page(token, wiring.subscriptions().confirm(token), get_settings())


@app.route("/api/subscriptions/manage/{token}", methods=["GET"])
def manage_subscriptions_page(token):
    notice = (app.current_request.query_params or {}).get("notice", "")
    return edge.staff.manage_page(
        token,
        wiring.subscriptions(),
        get_settings(),
        notice=notice,
        invitations=wiring.invitations(),
        store=wiring.store(),
    )


@app.route("/api/subscriptions/manage/{token}", methods=["POST"], content_types=[FORM, JSON])
def manage_subscriptions(token):
    return edge.staff.manage(app.current_request, token, wiring.subscriptions(), get_settings())


@app.route("/api/unsubscribe/{token}", methods=["GET"])
def unsubscribe_page(token):
    return edge.staff.unsubscribe_page(token, wiring.subscriptions().unsubscribed(token), get_settings())


@app.route("/api/unsubscribe/{token}", methods=["POST"], content_types=ANY_BODY)
def unsubscribe(token):
    return edge.staff.unsubscribe_page(token, wiring.subscriptions().unsubscribe(token), get_settings())


# ---- Reading and responding ----------------------------------------------------------------


@app.route("/api/respond/{token}", methods=["GET"])
def respond_page(token):
    query = app.current_request.query_params or {}
    return edge.staff.respond_page(
        token, wiring.conversation(), get_settings(), sent=query.get("sent", ""), changed=query.get("changed", "")
    )


@app.route("/api/respond/{token}/read", methods=["POST"], content_types=[JSON, FORM])
def respond_read(token):
    return edge.staff.read(app.current_request, token, wiring.conversation(), get_settings())


@app.route("/api/respond/{token}", methods=["POST"], content_types=[JSON, FORM])
def respond(token):
    return edge.staff.respond(app.current_request, token, wiring.conversation(), get_settings())


@app.route("/api/respond/{token}/responses/{response_id}", methods=["POST"], content_types=[JSON, FORM])
def change_response(token, response_id):
    """Its author changes or deletes a published response, within minutes of sending it."""
    return edge.staff.change_response(
        app.current_request, token, response_id, wiring.response_edits(), wiring.conversation(), get_settings()
    )


@app.route("/api/respond/{token}/pass", methods=["POST"], content_types=[JSON, FORM])
def pass_story_on(token):
    """Pass the story to a colleague or another service, with a note (chalicelib/teamwork.py)."""
    flow = wiring.teamwork()
    return edge.staff.teamwork(
        app.current_request, token, flow.pass_on, wiring.conversation(), get_settings(), "passed"
    )


@app.route("/api/respond/{token}/tags", methods=["POST"], content_types=[JSON, FORM])
def tag_story(token):
    """Tag the story in one's own words: positive, negative or neutral; private, shared or public."""
    flow = wiring.teamwork()
    return edge.staff.teamwork(app.current_request, token, flow.tag, wiring.conversation(), get_settings(), "tagged")


# ---- Organisations -------------------------------------------------------------------------
# A lead's emailed link: who is in the organisation and what they may do (chalicelib/organisations.py).


@app.route("/api/organisation", methods=["GET"])
def organisation_link_page():
    return edge.organisation.ask_page(get_settings())


@app.route("/api/organisation", methods=["POST"], content_types=[JSON, FORM])
def organisation_link():
    _limit("organisation-links", "organisation_link_limit")
    return edge.organisation.ask(app.current_request, wiring.organisations(), get_settings())


@app.route("/api/organisation/{token}", methods=["GET"])
def organisation_page(token):
    query = app.current_request.query_params or {}
    return edge.organisation.page(
        token, wiring.organisations(), get_settings(), notice=query.get("notice", ""), number=query.get("page", "1")
    )


@app.route("/api/organisation/{token}", methods=["POST"], content_types=[JSON, FORM])
def organisation_decision(token):
    return edge.organisation.act(app.current_request, token, wiring.organisations(), get_settings())


@app.route("/api/organisation/{token}/members", methods=["POST"], content_types=MEMBER_FILES)
def organisation_members(token):
    return edge.organisation.upload(app.current_request, token, wiring.organisations(), get_settings())


# ---- Me too and change checks --------------------------------------------------------------


@app.route("/api/stories/{story_id}/me-too", methods=["POST"], content_types=[JSON, FORM])
def me_too(story_id):
    return edge.loop.me_too(
        app.current_request, story_id, wiring.metoo(), edge.guards.client_of(app.current_request), get_settings()
    )


# ---- Report a concern (issue 16) ------------------------------------------------------------
# From the "Report a concern" link on each published story (kind "story") and under each response
# and author reply (kind "responses" or "replies", with its id). A form page, and its post.


@app.route("/api/stories/{story_id}/concerns/{kind}", methods=["GET"])
def concern_form(story_id, kind):
    return edge.concerns.form_page(story_id, kind, "", wiring.concerns(), get_settings())


@app.route("/api/stories/{story_id}/concerns/{kind}", methods=["POST"], content_types=[JSON, FORM])
def concern_report(story_id, kind):
    client = edge.guards.client_of(app.current_request)
    return edge.concerns.report(app.current_request, story_id, kind, "", wiring.concerns(), client, get_settings())


@app.route("/api/stories/{story_id}/concerns/{kind}/{item_id}", methods=["GET"])
def concern_item_form(story_id, kind, item_id):
    return edge.concerns.form_page(story_id, kind, item_id, wiring.concerns(), get_settings())


@app.route("/api/stories/{story_id}/concerns/{kind}/{item_id}", methods=["POST"], content_types=[JSON, FORM])
def concern_item_report(story_id, kind, item_id):
    client = edge.guards.client_of(app.current_request)
    return edge.concerns.report(app.current_request, story_id, kind, item_id, wiring.concerns(), client, get_settings())


@app.route("/api/respond/{token}/concern", methods=["GET"])
def concern_service_form(token):
    """A member of staff asks for a review as the service, from their alert's read-and-respond link."""
    return edge.concerns.service_form(token, wiring.concerns(), get_settings())


@app.route("/api/respond/{token}/concern", methods=["POST"], content_types=[JSON, FORM])
def concern_service_report(token):
    return edge.concerns.service_report(app.current_request, token, wiring.concerns(), get_settings())


@app.route("/api/concerns/confirm/{token}", methods=["GET"])
def concern_address_page(token):
    return edge.concerns.address_page(token, wiring.concerns().address(token), get_settings())


@app.route("/api/concerns/confirm/{token}", methods=["POST"], content_types=ANY_BODY)
def concern_address(token):
    return edge.concerns.address_page(token, wiring.concerns().confirm_address(token), get_settings())


@app.route("/api/check/{token}", methods=["GET"])
def change_check_page(token):
    done = (app.current_request.query_params or {}).get("done", "") == "1"
    return edge.loop.check_page(token, wiring.change_checks(), get_settings(), done=done)


@app.route("/api/check/{token}", methods=["POST"], content_types=[JSON, FORM])
def change_check_answer(token):
    return edge.loop.check_answer(
        app.current_request, token, wiring.change_checks(), edge.guards.client_of(app.current_request), get_settings()
    )


# ---- Moderation --------------------------------------------------------------------------


def moderator():
    return wiring.authenticator().moderator(app.current_request.headers.get("authorization", ""))


@app.route("/api/moderation/sign-in", methods=["POST"], content_types=[JSON])
def moderator_sign_in():
    _, data = read_body(app.current_request, get_settings().max_body_bytes)
    edge.guards.guard_sign_in(app.current_request, data, wiring.limits(), get_settings())  # 429 past either budget
    return private_json(wiring.authenticator().sign_in(data))


@app.route("/api/moderation/queue", methods=["GET"])
def moderation_queue():
    who = moderator()
    status = (app.current_request.query_params or {}).get("status", "pending")
    if status == "replies":
        return private_json({"moderator": who.name, "items": wiring.moderation().replies_queue()})
    return private_json({"moderator": who.name, "stories": wiring.moderation().queue(status)})


@app.route("/api/moderation/stories/{story_id}", methods=["GET"])
def moderation_story(story_id):
    moderator()
    return private_json(wiring.moderation().story(story_id))


@app.route("/api/moderation/stories/{story_id}/decision", methods=["POST"], content_types=[JSON])
def moderation_decision(story_id):
    who = moderator()
    _, data = read_body(app.current_request, get_settings().max_body_bytes)
    return private_json({"story": wiring.moderation().decide(story_id, data, who)})


@app.route("/api/moderation/stories/{story_id}/messages", methods=["POST"], content_types=[JSON])
def moderation_message(story_id):
    """A message to the author of a held or pending story: kept, then emailed by the mail worker."""
    who = moderator()
    _, data = read_body(app.current_request, get_settings().max_body_bytes)
    return private_json({"message": wiring.messages().send(story_id, data, who)}, status=201)


@app.route("/api/moderation/highlights", methods=["POST"], content_types=[JSON])
def moderation_highlights():
    """The identifying-details check on the text as the moderator edits it (stores nothing)."""
    moderator()
    _, data = read_body(app.current_request, get_settings().max_body_bytes)
    return private_json(wiring.moderation().check(data))


@app.route("/api/moderation/stories/{story_id}/{kind}/{item_id}/decision", methods=["POST"], content_types=[JSON])
def moderation_item_decision(story_id, kind, item_id):
    """Publish or reject a held staff response (kind "responses") or a pending author reply ("replies")."""
    who = moderator()
    _, data = read_body(app.current_request, get_settings().max_body_bytes)
    return private_json({"item": wiring.moderation().decide_item(story_id, kind, item_id, data, who)})


@app.route("/api/moderation/concerns", methods=["GET"])
def moderation_concerns():
    """The reports queue (issue 16), riskiest then oldest, and the counts the screen shows."""
    who = moderator()
    flow = wiring.concerns()
    return private_json({"moderator": who.name, "cases": flow.queue(), "counts": flow.counts()})


@app.route("/api/moderation/concerns/{story_id}/{kind}/{item_id}", methods=["GET"])
def moderation_concern(story_id, kind, item_id):
    moderator()
    return private_json(wiring.concerns().case(story_id, kind, "" if kind == "story" else item_id))


@app.route("/api/moderation/concerns/{story_id}/{kind}/{item_id}/decision", methods=["POST"], content_types=[JSON])
def moderation_concern_decision(story_id, kind, item_id):
    who = moderator()
    _, data = read_body(app.current_request, get_settings().max_body_bytes)
    item = "" if kind == "story" else item_id
    return private_json({"case": wiring.concerns().decide(story_id, kind, item, data, who)})


@app.route("/api/moderation/stories", methods=["POST"], content_types=[JSON])
def moderation_take_story():
    """A moderator enters a story for someone who phoned or wrote (issue 19): pending, like any story."""
    who = moderator()
    _, data = read_body(app.current_request, get_settings().max_body_bytes)
    entered = {"kind": "moderator", "id": who.username, "name": who.name, "role": "Moderator", "organisation": ""}
    result = wiring.stories().take(data, entered, None)
    return json_response(
        result, status=201, headers={"Cache-Control": "no-store", "Location": f"/api/stories/{result['id']}"}
    )


@app.route("/api/moderate", methods=["GET"])
def moderation_screen():
    return edge.moderation_screen.screen_response(get_settings())


@app.route("/api/moderate/{asset}", methods=["GET"])
def moderation_asset(asset):
    return edge.moderation_screen.asset_response(asset)


# ---- Reports -------------------------------------------------------------------------------
# What the board sees (issue 15): a lead's report, its export, and the monthly board report's
# on/off (chalicelib/reports.py). The same lead's link as the organisation's page.


@app.route("/api/organisation/{token}/report", methods=["GET"])
def organisation_report(token):
    return edge.reports.page(app.current_request, token, wiring.reports(), get_settings())


@app.route("/api/organisation/{token}/report.csv", methods=["GET"])
def organisation_report_csv(token):
    return edge.reports.export(app.current_request, token, wiring.reports(), "csv")


@app.route("/api/organisation/{token}/report.xlsx", methods=["GET"])
def organisation_report_xlsx(token):
    return edge.reports.export(app.current_request, token, wiring.reports(), "xlsx")


@app.route("/api/organisation/{token}/report", methods=["POST"], content_types=[JSON, FORM])
def organisation_report_choice(token):
    return edge.reports.choose(app.current_request, token, wiring.reports(), get_settings())


# A lead's own sources (issue 21, chalicelib/lead_sources.py): the same lead's link.


@app.route("/api/organisation/{token}/sources", methods=["GET"])
def organisation_sources(token):
    return edge.sources.listing(token, wiring.lead_sources())


@app.route("/api/organisation/{token}/sources", methods=["POST"], content_types=[JSON, FORM])
def organisation_source_add(token):
    return edge.sources.add(app.current_request, token, wiring.lead_sources(), get_settings())


@app.route("/api/organisation/{token}/sources/{slug}", methods=["POST"], content_types=[JSON, FORM])
def organisation_source_act(token, slug):
    return edge.sources.act(app.current_request, token, slug, wiring.lead_sources(), get_settings())


# Any member's report on the services they follow, from their "manage your alerts" link.


@app.route("/api/subscriptions/manage/{token}/report", methods=["GET"])
def member_report(token):
    return edge.reports.page(app.current_request, token, wiring.reports(), get_settings(), edge.reports.MEMBER)


@app.route("/api/subscriptions/manage/{token}/report.csv", methods=["GET"])
def member_report_csv(token):
    return edge.reports.export(app.current_request, token, wiring.reports(), "csv", edge.reports.MEMBER)


@app.route("/api/subscriptions/manage/{token}/report.xlsx", methods=["GET"])
def member_report_xlsx(token):
    return edge.reports.export(app.current_request, token, wiring.reports(), "xlsx", edge.reports.MEMBER)


# The stories of a member's services waiting for a reply (issue 20), and a read-and-respond link for one.


@app.route("/api/subscriptions/manage/{token}/waiting", methods=["GET"])
def waiting_stories(token):
    return edge.waiting.page(app.current_request, token, wiring.waiting(), get_settings())


@app.route("/api/subscriptions/manage/{token}/waiting/{story_id}", methods=["POST"], content_types=[JSON, FORM])
def waiting_story_link(token, story_id):
    return edge.waiting.respond_link(app.current_request, token, story_id, wiring.waiting(), get_settings())


# ---- Invitations and stories taken for someone (issue 19) ----------------------------------------
# An invitation's short link <site>/i/<code> is redirected here (CloudFront's site function, the local
# static server). The rest hangs off a member's "manage your alerts" link (responders and leads only).


@app.route("/api/i/{code}", methods=["GET"])
def invitation_form(code):
    return edge.invitations.open_form(code, wiring.invitations(), wiring.store(), get_settings())


def _manage_again(token):
    """The manage page again, with the invitation form's error summary and what was typed."""

    def again(error, data):
        return edge.staff.manage_page(
            token,
            wiring.subscriptions(),
            get_settings(),
            status=error.status,
            errors=error.fields,
            values=data,
            invitations=wiring.invitations(),
            store=wiring.store(),
        )

    return again


@app.route("/api/subscriptions/manage/{token}/invitations", methods=["POST"], content_types=[JSON, FORM])
def make_invitation(token):
    return edge.invitations.create(
        app.current_request, token, wiring.invitations(), get_settings(), _manage_again(token)
    )


@app.route("/api/subscriptions/manage/{token}/invitations/{code}/end", methods=["POST"], content_types=[JSON, FORM])
def end_invitation(token, code):
    return edge.invitations.end(
        app.current_request, token, code, wiring.invitations(), get_settings(), _manage_again(token)
    )


@app.route("/api/subscriptions/manage/{token}/invitations/{code}/{kind}", methods=["GET"])
def invitation_printable(token, code, kind):
    if kind not in ("card", "poster"):
        raise NotFound("There is no such page.")
    return edge.invitations.printable(token, code, kind, wiring.invitations(), get_settings())


@app.route("/api/subscriptions/manage/{token}/invitations/{code}/{kind}/pdf", methods=["GET"])
def invitation_printable_pdf(token, code, kind):
    if kind not in ("card", "poster"):
        raise NotFound("There is no such page.")
    return edge.invitations.printable_pdf(app.current_request, token, code, kind, wiring.invitations())


@app.route("/api/subscriptions/manage/{token}/take", methods=["GET"])
def take_story_page(token):
    return edge.invitations.take_page(token, wiring.organisations(), wiring.store(), get_settings())


@app.route("/api/subscriptions/manage/{token}/stories", methods=["POST"], content_types=[JSON, FORM])
def take_story(token):
    return edge.invitations.take(
        app.current_request,
        token,
        wiring.organisations(),
        wiring.stories(),
        wiring.store(),
        get_settings(),
        spend=lambda: _limit("stories", "story_limit"),
    )


# ---- Event handlers ----------------------------------------------------------------------


@app.on_dynamodb_record(stream_arn=TABLE_STREAM_ARN, batch_size=100, starting_position="TRIM_HORIZON")
def on_table_change(event):
    from chalicelib.core.batches import stream_batch

    return stream_batch(event.to_dict(), wiring.changes().handle, wiring.queues().send)


@app.on_sqs_message(queue=RENDER_QUEUE, batch_size=10)
def render_worker(event):
    from chalicelib.core.batches import queue_batch
    from chalicelib.core.jobs import parse_render

    return queue_batch(event.to_dict(), lambda body: wiring.render(parse_render(body)))


@app.on_sqs_message(queue=SEARCH_QUEUE, batch_size=10)
def search_worker(event):
    """Search shards rebuilt (chalicelib/site/search.py): the batch's months at once, one batch at a time."""
    from chalicelib.core.batches import whole_batch
    from chalicelib.core.jobs import parse_search

    return whole_batch(event.to_dict(), lambda bodies: wiring.search_index().update(map(parse_search, bodies)))


@app.on_sqs_message(queue=MAIL_QUEUE, batch_size=10)
def mail_worker(event):
    from chalicelib.core.batches import queue_batch
    from chalicelib.core.jobs import parse_mail

    return queue_batch(
        event.to_dict(),
        lambda body: wiring.notifications().handle(parse_mail(body), event.context),
        wiring.queues().back_off_mail,
    )


@app.on_sqs_message(queue=DELIVERY_QUEUE, batch_size=10)
def delivery_worker(event):
    """Partners' webhooks (chalicelib/webhooks.py): a failed delivery comes back later, backed off."""
    from chalicelib.core.batches import queue_batch
    from chalicelib.core.jobs import parse_delivery

    return queue_batch(
        event.to_dict(),
        lambda body: wiring.webhooks().deliver(parse_delivery(body)),
        wiring.queues().back_off_delivery,
    )


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


@app.schedule(Cron(0, 7, "*", "*", "?", "*"))
def board_reports(event):
    """07:00 UTC daily; on the first working day of a month, last month's board report to each lead (reports.py)."""
    try:
        return wiring.reports().queue_board_reports()
    finally:
        metrics.flush_metrics()


@app.schedule(Cron(15, "*", "*", "*", "?", "*"))
def import_sources(event):
    """Every hour at :15: each feed source's new items, bounded and resumable (chalicelib/scheduled_import.py).
    It writes stories; the stream does the rest (moderation, alerts, pages), as for any story."""
    try:
        return wiring.scheduled_import().run()
    finally:
        metrics.flush_metrics()
