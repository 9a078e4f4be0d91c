"""The one-machine stack's own machinery, in process with moto: the demo conversation that
`seed-demo` writes, the event pump's SNS delivery, coalesced renders, scheduled handlers and
hand-offs from other threads, the mailbox's buttons, and the local authenticator."""

from __future__ import annotations

import json
import threading
import urllib.error
import urllib.request
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace

import pytest

from chalicelib import wiring
from chalicelib.core.jobs import RenderJob
from tests.support import mailbox
from tests.support.auth import bearer
from tests.support.author import AUTHOR, JSON_H, publish, tell
from tests.support.subscriptions import active

ROOT = Path(__file__).resolve().parents[2]
STAFF = "priya.test@riverside.nhs.example"


# ---- the demo conversation ----------------------------------------------------------------------


class ModeratorApi:
    """tools.ff.ApiClient's decide_item, through the chalice test client."""

    def __init__(self, client, tok):
        self._client, self._headers = client, {**bearer(tok), **JSON_H}

    def decide_item(self, story_id, kind, item_id, body):
        resp = self._client.http.post(
            f"/api/moderation/stories/{story_id}/{kind}/{item_id}/decision",
            body=json.dumps(body),
            headers=self._headers,
        )
        return SimpleNamespace(
            status_code=resp.status_code, text=resp.body.decode(), json=lambda: json.loads(resp.body)
        )


@pytest.fixture
def published(client, aws, directory, pump):
    active(STAFF, access="responder", display_name="Priya, Ward Manager", service="riverside-general")
    story_id = tell(client)
    pump.drain()
    publish(story_id)
    pump.drain()
    return story_id


DEMO = {
    "title": "Kind nurses on a busy night",
    "conversation": {
        "responses": [
            {
                "by": STAFF,
                "text": "Thank you for telling us. We have talked about it as a team.",
                "change": "planned",
                "change_description": "A named nurse for every patient waiting for a bed.",
            }
        ],
        "reply": {"text": "Thank you, that would have helped me.", "decision": "publish"},
    },
}


def seed(client, tok, story_id, entry):
    from tools import ff

    result = {
        "errors": [],
        "conversation": {"read": 0, "responses": 0, "held responses": 0, "replies": 0, "replies pending": 0},
    }
    steps = []
    ff.ConversationSeeder(ModeratorApi(client, tok)).seed(story_id, entry, result, steps.append)
    assert len(steps) == ff.conversation_steps(entry["conversation"])  # the progress bar ends full
    return result


def test_the_demo_conversation_goes_through_the_real_code_and_its_effects_follow(client, aws, published, pump, token):  # noqa: F811
    result = seed(client, token, published, DEMO)
    assert result["errors"] == []
    assert result["conversation"] == {
        "read": 0,
        "responses": 1,
        "held responses": 0,
        "replies": 1,
        "replies pending": 0,
    }
    pump.drain()
    thread = wiring.store().story_thread(published, consistent=True)
    story = next(i for i in thread if i["item"] == "story")
    assert story.get("first_read_at") and story.get("first_response_at") and story.get("change_planned_at")
    [receipt] = [i for i in thread if i["item"] == "read"]
    assert receipt["name"] == "Priya, Ward Manager" and receipt["service_name"] == "Riverside General Hospital"
    [reply] = [i for i in thread if i["item"] == "reply"]
    assert reply["status"] == "published"
    subjects = {(str(m["To"]), str(m["Subject"])) for m in mailbox.sent()}
    assert (AUTHOR, "A reply to your story: Kind nurses on a busy night") in subjects
    assert (STAFF, "The author replied: Kind nurses on a busy night") in subjects

    # Seeding again writes nothing new and sends nothing more.
    before, mails = len(thread), len(mailbox.sent())
    again = seed(client, token, published, DEMO)
    assert again["errors"] == []
    pump.drain()
    assert len(wiring.store().story_thread(published, consistent=True)) == before
    assert len(mailbox.sent()) == mails


def test_a_demo_response_with_a_phone_number_is_held_and_a_pending_reply_waits(client, aws, published, pump, token):  # noqa: F811
    entry = {
        "title": "x",
        "conversation": {
            "read_by": [STAFF],
            "responses": [{"by": STAFF, "text": "Please ring me on 01632 960123 so we can talk.", "change": "none"}],
            "reply": {"text": "I would rather write, thank you.", "decision": "pending"},
        },
    }
    result = seed(client, token, published, entry)
    assert result["errors"] == []
    assert result["conversation"] == {
        "read": 1,
        "responses": 0,
        "held responses": 1,
        "replies": 0,
        "replies pending": 1,
    }
    queue = wiring.moderation().replies_queue()
    assert sorted(i["item"] for i in queue) == ["reply", "response"]


def test_a_demo_responder_who_does_not_cover_the_story_is_an_error_not_a_crash(client, aws, published, token):  # noqa: F811
    active("elsewhere@hillside.nhs.example", organisation="hillside-trust", service="hillside-district-nursing")
    entry = {"title": "x", "conversation": {"read_by": ["elsewhere@hillside.nhs.example", "nobody@example.org"]}}
    result = seed(client, token, published, entry)
    assert len(result["errors"]) == 2
    assert (
        "no subscription that covers" in result["errors"][0] and "not an active demo subscriber" in result["errors"][1]
    )
    assert result["conversation"]["read"] == 0


def test_the_demo_conversations_fit_the_demo_stories_and_subscriptions():
    """Each responder is a demo subscriber whose subscription covers the story; replies need an author to write them."""
    from chalicelib.core.models import CONVERSATION_LIMITS
    from chalicelib.directory import flatten
    from tools import ff

    services = {
        s["slug"]: s for s in flatten(json.loads((ROOT / "data" / "directory.json").read_text(encoding="utf-8")))
    }
    subscriptions = json.loads((ROOT / "data" / "demo_subscriptions.json").read_text(encoding="utf-8"))
    covers = {}
    for sub in subscriptions:
        covers.setdefault(sub["email"], set()).add(sub["service"])
    stories = ff.load_demo_stories()
    talked = [s for s in stories if s.get("conversation")]
    published = [s for s in stories if (s.get("moderation") or {}).get("decision") == "publish"]
    assert 0.5 * len(published) <= len(talked) <= len(published)
    changes = []
    for story in talked:
        assert story in published, story["title"]
        paths = {slug for svc in story["services"] for slug in services[svc]["path"]}
        c = story["conversation"]
        people = list(c.get("read_by", [])) + [r["by"] for r in c.get("responses", [])]
        for email in people:
            assert covers.get(email, set()) & paths, (story["title"], email)
        for r in c.get("responses", []):
            assert r["change"] in ("none", "planned", "made") and len(r["text"]) <= CONVERSATION_LIMITS["response"][1]
            assert bool(r.get("change_description")) == (r["change"] != "none"), story["title"]
            changes.append(r["change"])
        if c.get("reply"):
            assert story.get("email") and c["reply"]["decision"] in ("publish", "pending"), story["title"]
    assert changes.count("planned") >= 3 and changes.count("made") >= 3 and changes.count("none") >= 3


def test_stable_ids_have_the_shape_of_new_ids_and_do_not_collide():
    from chalicelib.conversation import RESPONSE_ID
    from tools import ff

    ids = {ff.stable_id("story", str(n), "text") for n in range(500)}
    assert len(ids) == 500 and all(RESPONSE_ID.match(i) for i in ids)
    assert ff.stable_id("a", "b") == ff.stable_id("a", "b") != ff.stable_id("a", "c")


# ---- the event pump -----------------------------------------------------------------------------


def counting(pump):
    calls = []
    real = pump._invoke

    def invoke(name, event):
        calls.append((name, len(event.get("Records", []))))
        return real(name, event)

    pump._invoke = invoke
    return calls


def test_bounces_published_to_the_sns_topic_reach_the_suppression_list(aws, client, pump):
    from local.mailbox import ses_notification

    sqs, sns = aws.client("sqs"), aws.client("sns")
    url = sqs.create_queue(QueueName="mail-events-test")["QueueUrl"]
    pump.subscribe(aws.resources.mail_events_topic_arn, url, "on_mail_event")
    calls = counting(pump)
    for kind, address in (("bounce", "gone@example.org"), ("complaint", "angry@example.org")):
        note = ses_notification(kind, [address], "m-1", "stories@feedforward.example")
        sns.publish(TopicArn=aws.resources.mail_events_topic_arn, Message=json.dumps(note))
    pump.drain()
    assert ("on_mail_event", 2) in calls
    store = wiring.store()
    assert store.suppression("gone@example.org")["reason"] == "bounce"
    assert store.suppression("angry@example.org")["reason"] == "complaint"
    assert store.suppression("someone.else@example.org") is None
    assert (
        sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages"])["Attributes"][
            "ApproximateNumberOfMessages"
        ]
        == "0"
    )


def test_a_coalesced_render_queue_renders_each_page_once_and_empties(aws, client, pump):
    res = aws.resources
    wiring.queues().send([RenderJob(page="home")])
    wiring.queues().send([RenderJob(page="home")])
    wiring.queues().send([RenderJob(page="static"), RenderJob(page="home")])
    pump.coalesce.add(res.render_queue_url)
    calls = counting(pump)
    assert pump.queue_once(res.render_queue_url, "render_worker") == 4
    assert calls == [("render_worker", 2)]
    assert pump.queue_once(res.render_queue_url, "render_worker") == 0
    assert aws.client("s3").get_object(Bucket=res.bucket, Key="index.html")["Body"].read()


def test_a_failed_coalesced_render_leaves_every_copy_on_the_queue(aws, client, pump):
    res = aws.resources
    wiring.queues().send([RenderJob(page="home")])
    wiring.queues().send([RenderJob(page="home")])
    pump.coalesce.add(res.render_queue_url)
    pump._invoke = lambda name, event: {
        "batchItemFailures": [{"itemIdentifier": r["messageId"]} for r in event["Records"]]
    }
    pump.expect_failures()
    assert pump.queue_once(res.render_queue_url, "render_worker") == 0
    assert [f.split(":")[0] for f in pump.failures] == ["render_worker"]  # one delivery, of the one distinct body
    sqs = aws.client("sqs")
    attrs = sqs.get_queue_attributes(
        QueueUrl=res.render_queue_url, AttributeNames=["ApproximateNumberOfMessagesNotVisible"]
    )
    assert attrs["Attributes"]["ApproximateNumberOfMessagesNotVisible"] == "2"  # back after their visibility timeout


def test_the_daily_digest_runs_at_its_time_once_a_day(aws, client, pump):
    from app import app
    from local.run import daily_schedules

    assert sorted(daily_schedules(app)) == [
        ("board_reports", 7, 0),
        ("change_checks", 9, 0),
        ("daily_digest", 7, 0),
        ("escalation_ladder", -1, 30),  # every hour at :30
        ("import_sources", -1, 15),  # every hour at :15 (issue 21)
    ]
    calls = counting(pump)
    at = datetime(2026, 11, 26, 6, 59, tzinfo=UTC)
    assert pump.daily("daily_digest", 7, 0, now=at) == datetime(2026, 11, 26, 7, 0, tzinfo=UTC)
    assert pump.scheduled_once(at) == 0
    assert pump.scheduled_once(at + timedelta(minutes=1)) == 1
    assert pump.scheduled_once(at + timedelta(minutes=2)) == 0  # not again until tomorrow
    assert pump.scheduled_once(at + timedelta(days=1, minutes=1)) == 1
    assert [name for name, _ in calls] == ["daily_digest", "daily_digest"]
    assert pump.errors == []


def test_the_sources_import_runs_every_hour_at_its_minute(aws, client, pump):
    calls = counting(pump)
    at = datetime(2026, 11, 26, 6, 20, tzinfo=UTC)
    assert pump.hourly("import_sources", 15, now=at) == datetime(2026, 11, 26, 7, 15, tzinfo=UTC)
    assert pump.scheduled_once(at + timedelta(minutes=54)) == 0
    assert pump.scheduled_once(at + timedelta(minutes=55)) == 1
    assert pump.scheduled_once(at + timedelta(minutes=56)) == 0  # not again until 08:15
    assert pump.scheduled_once(at + timedelta(hours=1, minutes=55)) == 1
    assert [name for name, _ in calls] == ["import_sources", "import_sources"]
    assert pump.errors == []


def test_work_handed_to_the_pump_runs_on_its_thread_with_its_result(aws, client, pump):
    ran_on = []
    ok = pump.call_soon(lambda: ran_on.append(threading.current_thread().name) or 42)
    bad = pump.call_soon(lambda: 1 / 0)
    stop = threading.Event()
    worker = threading.Thread(target=pump.run, args=(stop,), name="pump-thread")
    worker.start()
    try:
        assert ok.result(timeout=10) == 42
        with pytest.raises(ZeroDivisionError):
            bad.result(timeout=10)
    finally:
        stop.set()
        worker.join(timeout=10)
    assert ran_on == ["pump-thread"]


# ---- the mailbox's buttons ------------------------------------------------------------------------


class FakeInbox:
    def __init__(self, mails):
        self._mails = mails

    def messages(self):
        return self._mails

    def get(self, mid):
        return next((m for m in self._mails if m.id == mid), None)


@pytest.fixture
def mailbox_server():
    from local.mailbox import Mail, Mailbox

    digests, events = [], []
    box = Mailbox(
        "http://127.0.0.1:9",
        port=0,
        send_digests=lambda: digests.append(1) or {"day": "2026-11-26", "digests": 3},
        publish_mail_event=events.append,
    )
    mail = Mail(
        "m-1",
        "FeedForward <stories@feedforward.example>",
        ["Sam <sam@nhs.example>"],
        "New story about <Ward 7>",
        None,
        "Read it: http://127.0.0.1:8000/api/respond/abc",
        "",
        [("Subject", "New story about <Ward 7>")],
        "",
    )
    box.httpd.RequestHandlerClass.inbox = FakeInbox([mail])
    box.start()
    host, port = box.httpd.server_address[:2]
    yield SimpleNamespace(url=f"http://{host}:{port}", digests=digests, events=events)
    box.stop()


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


def post(url, origin=None):
    headers = {"Content-Type": "application/x-www-form-urlencoded"}
    if origin:
        headers["Origin"] = origin
    opener = urllib.request.build_opener(NoRedirect)
    try:
        resp = opener.open(urllib.request.Request(url, data=b"", headers=headers, method="POST"), timeout=10)
    except urllib.error.HTTPError as e:
        return e.code, e.headers.get("Location", ""), e.read().decode()
    return resp.status, resp.headers.get("Location", ""), resp.read().decode()


def get(url):
    with urllib.request.urlopen(url, timeout=10) as resp:
        return resp.read().decode()


def test_the_digest_button_posts_then_the_list_says_what_was_queued(mailbox_server):
    page = get(mailbox_server.url + "/")
    assert '<form method="post" action="/digests">' in page and "Send today’s digests now" in page
    assert "New story about &lt;Ward 7&gt;" in page
    assert mailbox_server.digests == []  # showing the page sends nothing
    status, location, _ = post(mailbox_server.url + "/digests", origin=mailbox_server.url)
    assert (status, location) == (303, "/?digests=3&day=2026-11-26")
    assert mailbox_server.digests == [1]
    assert "Queued 3 digests for the stories published on 2026-11-26 (UTC)" in get(mailbox_server.url + location)
    # The notice only repeats checked values from the address.
    forged = get(mailbox_server.url + "/?digests=3&day=%3Cscript%3E")
    assert "<script>" not in forged and "Queued" not in forged


def test_a_bounce_button_publishes_what_ses_would_for_that_emails_recipients(mailbox_server):
    assert 'action="/message/m-1/bounce"' in get(mailbox_server.url + "/message/m-1")
    status, location, _ = post(mailbox_server.url + "/message/m-1/bounce")
    assert (status, location) == (303, "/message/m-1?event=bounce")
    [note] = mailbox_server.events
    assert note["notificationType"] == "Bounce" and note["bounce"]["bounceType"] == "Permanent"
    assert [r["emailAddress"] for r in note["bounce"]["bouncedRecipients"]] == ["sam@nhs.example"]
    assert "suppression list" in get(mailbox_server.url + location)
    status, _, _ = post(mailbox_server.url + "/message/m-1/complaint")
    assert status == 303 and mailbox_server.events[-1]["complaint"]["complainedRecipients"] == [
        {"emailAddress": "sam@nhs.example"}
    ]


def test_the_mailbox_buttons_refuse_other_sites_and_unknown_things(mailbox_server):
    status, _, _ = post(mailbox_server.url + "/digests", origin="https://evil.example")
    assert status == 403 and mailbox_server.digests == []
    assert post(mailbox_server.url + "/message/nope/bounce")[0] == 404
    assert post(mailbox_server.url + "/message/m-1/delete")[0] == 404
    assert mailbox_server.events == []


# ---- the local authenticator ----------------------------------------------------------------------


def test_the_local_authenticator_gives_rfc_6238_codes(capsys):
    from local import totp

    # RFC 6238's SHA-1 test key ("12345678901234567890"), at 59 s: 94287082, of which an app shows 6 digits.
    assert totp.code("GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ", 59) == "287082"
    assert totp.code("gezd gnbv gy3t qojq gezd gnbv gy3t qojq", 59) == "287082"  # as a person might copy it
    assert totp.main(["not base32!"]) == 2
    assert totp.main([]) == 0 and len(capsys.readouterr().out.split()[0]) == 6


def test_the_local_pool_requires_an_authenticator_app_as_on_aws(aws, client, monkeypatch):
    """On c219401 the demo moderator signed in with a password alone: moto gives tokens to a user with
    no authenticator app even in a pool that requires MFA. The local stack now answers as AWS does."""
    from moto.cognitoidp.models import CognitoIdpBackend

    from local import cognito_mfa, totp
    from local.resources import create_moderator, enrol_authenticator

    monkeypatch.setenv("MOTO_COGNITO_IDP_USER_POOL_ENABLE_TOTP", "true")
    monkeypatch.setattr(CognitoIdpBackend, "initiate_auth", cognito_mfa.enforcing(CognitoIdpBackend.initiate_auth))
    idp = aws.client("cognito-idp")
    idp.set_user_pool_mfa_config(
        UserPoolId=aws.resources.user_pool_id, SoftwareTokenMfaConfiguration={"Enabled": True}, MfaConfiguration="ON"
    )
    who = {"username": "demo@feedforward.example", "password": "Moderate-2026!"}
    create_moderator(aws.session, aws.resources, who["username"], who["password"], "Demo")

    def sign_in(**step) -> dict:
        resp = client.http.post("/api/moderation/sign-in", body=json.dumps(step), headers=JSON_H)
        assert resp.status_code == 200, resp.body
        return json.loads(resp.body)

    # No app yet: a password alone brings the set-up, never a token.
    first = sign_in(**who)
    assert first["challenge"] == "MFA_SETUP" and "id_token" not in first and first["qr"]["d"]

    # With an app (as make run leaves the demo moderator): every sign-in asks for its code.
    enrol_authenticator(aws.session, aws.resources, who["username"], who["password"], totp.code)
    asked = sign_in(**who)
    assert asked["challenge"] == "SOFTWARE_TOKEN_MFA" and "id_token" not in asked
    done = sign_in(
        username=who["username"],
        session=asked["session"],
        challenge="SOFTWARE_TOKEN_MFA",
        answer=totp.fresh_code(totp.emulator_key()),
    )
    assert done["id_token"]
