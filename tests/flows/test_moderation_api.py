"""The moderation API and screen, end to end: chalice's test client, moto, and the event pump."""

from __future__ import annotations

import json
import re
from html.parser import HTMLParser

import pytest

from chalicelib import wiring
from tests.support.auth import bearer, error_of, sign_in
from tests.support.stories import submit as tell

JSON_HEADERS = {"Content-Type": "application/json"}
SCREEN_CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self' data:; "
    "base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)


@pytest.fixture
def auth(token):  # noqa: F811
    return {**bearer(token), **JSON_HEADERS}


def queue(client, auth, status="pending") -> list[dict]:
    resp = client.http.get(f"/api/moderation/queue?status={status}", headers=auth)
    assert resp.status_code == 200, resp.body
    return json.loads(resp.body)["stories"]


def open_story(client, auth, story_id):
    return client.http.get(f"/api/moderation/stories/{story_id}", headers=auth)


def decide(client, auth, story_id, **decision):
    return client.http.post(f"/api/moderation/stories/{story_id}/decision", body=json.dumps(decision), headers=auth)


def fields_of(resp) -> list[str]:
    return [f["field"] for f in error_of(resp).get("fields", [])]


# ---- the queue and one story -------------------------------------------------------------


def test_the_queue_is_oldest_first_and_shows_no_private_details(client, directory, auth):
    ids = [tell(client, title=f"Story number {n}") for n in range(3)]
    stories = queue(client, auth)
    assert [s["id"] for s in stories] == ids
    assert [s["title"] for s in stories] == ["Story number 0", "Story number 1", "Story number 2"]
    assert "author@example.org" not in json.dumps(stories)
    assert queue(client, auth, "held") == []
    assert client.http.get("/api/moderation/queue?status=published", headers=auth).status_code == 404


def test_a_story_opens_with_its_services_and_no_history_yet(client, directory, auth):
    sid = tell(client, services=["riverside-ward-7", "hillside-district-nursing"])
    resp = open_story(client, auth, sid)
    assert resp.status_code == 200
    data = json.loads(resp.body)
    assert data["story"]["id"] == sid and data["story"]["status"] == "pending" and data["story"]["version"] == 1
    assert [s["name"] for s in data["services"]] == ["Ward 7 (Acute Medicine)", "District Nursing"]
    assert data["original"] is None and data["audit"] == []
    assert "author@example.org" not in resp.body.decode()


def test_unknown_stories_are_404(client, aws, auth):
    assert open_story(client, auth, "nosuchstory000000").status_code == 404
    resp = decide(client, auth, "nosuchstory000000", action="publish", version=1, criticality=1)
    assert resp.status_code == 404
    assert error_of(resp)["code"] == "NotFound"


def test_moderation_routes_need_a_moderator(client, directory, jwks):  # noqa: F811
    sid = tell(client)
    assert client.http.get("/api/moderation/queue").status_code == 401
    assert client.http.get(f"/api/moderation/stories/{sid}").status_code == 401
    resp = client.http.post(
        f"/api/moderation/stories/{sid}/decision",
        body=json.dumps({"action": "publish", "version": 1, "criticality": 0}),
        headers=JSON_HEADERS,
    )
    assert resp.status_code == 401
    assert resp.headers["WWW-Authenticate"].startswith("Bearer")
    # Nothing changed.
    assert wiring.store().get_story(sid)["status"] == "pending"


def test_a_signed_in_non_moderator_cannot_decide(client, aws, directory, jwks):  # noqa: F811
    from local.resources import create_moderator

    create_moderator(aws.session, aws.resources, "porter@feedforward.example", "Porter-2026-pw!", "A Porter", group="")
    tok = sign_in(client, "porter@feedforward.example", "Porter-2026-pw!")["body"]["id_token"]
    sid = tell(client)
    resp = decide(client, {**bearer(tok), **JSON_HEADERS}, sid, action="publish", version=1, criticality=0)
    assert resp.status_code == 403
    assert wiring.store().get_story(sid)["status"] == "pending"


# ---- decisions ---------------------------------------------------------------------------


def test_publishing_with_edits_keeps_the_original_privately_and_records_who_and_when(
    client, directory, auth, pump, moderator_user
):
    sid = tell(
        client,
        title="Nurse Jane Smith on Ward 7 was kind",
        story="Jane Smith, the nurse on Ward 7, sat with me all night.",
    )
    resp = decide(
        client,
        auth,
        sid,
        action="publish",
        version=1,
        title="A nurse on Ward 7 was kind",
        story="The nurse on Ward 7 sat with me all night.",
        good="They listened.",
        improve="The wait for a bed was long.",
        pseudonym="Night owl",
        criticality=2,
        tags=["kindness", "night-care", "kindness"],
        note="Removed the nurse's name.",
    )
    assert resp.status_code == 200, resp.body
    story = json.loads(resp.body)["story"]
    assert story["status"] == "published" and story["version"] == 2
    assert story["title"] == "A nurse on Ward 7 was kind"
    assert story["story"] == "The nurse on Ward 7 sat with me all night."
    assert story["criticality"] == 2 and story["tags"] == ["kindness", "night-care"]
    assert story["edited_fields"] == ["title", "story"]
    assert story["decided_by"] == moderator_user["username"] and story["decided_at"]
    assert sid not in [s["id"] for s in queue(client, auth)]

    pump.drain()
    full = wiring.moderation().story(sid)
    assert full["original"]["title"] == "Nurse Jane Smith on Ward 7 was kind"
    assert full["original"]["story"] == "Jane Smith, the nurse on Ward 7, sat with me all night."
    assert full["story"]["title"] == "A nurse on Ward 7 was kind"
    [event] = full["audit"]
    assert (event["from"], event["to"], event["by"]) == ("pending", "published", moderator_user["username"])
    assert event["at"] == story["decided_at"] and event["note"] == "Removed the nurse's name."
    assert event["edited"] == ["title", "story"]

    # The screen sees the same through the API.
    data = json.loads(open_story(client, auth, sid).body)
    assert data["original"]["title"] == "Nurse Jane Smith on Ward 7 was kind"
    assert data["audit"][0]["by"] == moderator_user["username"]
    # And the original never reaches the public story item.
    assert "Jane Smith" not in json.dumps(wiring.store().get_story(sid))


def test_publish_needs_a_criticality(client, directory, auth):
    sid = tell(client)
    resp = decide(client, auth, sid, action="publish", version=1)
    assert resp.status_code == 422
    assert fields_of(resp) == ["criticality"]
    resp = decide(client, auth, sid, action="publish", version=1, criticality=6)
    assert resp.status_code == 422
    assert fields_of(resp) == ["criticality"]
    assert wiring.store().get_story(sid)["status"] == "pending"


@pytest.mark.parametrize("action", ["hold", "reject"])
def test_hold_and_reject_need_a_note(client, directory, auth, action):
    sid = tell(client)
    resp = decide(client, auth, sid, action=action, version=1, note="   ")
    assert resp.status_code == 422
    assert fields_of(resp) == ["note"]
    resp = decide(
        client, auth, sid, action=action, version=1, note="Mentions a risk of harm; passed to the safeguarding lead."
    )
    assert resp.status_code == 200
    assert json.loads(resp.body)["story"]["status"] == {"hold": "held", "reject": "rejected"}[action]


def test_edits_are_validated_field_by_field(client, directory, auth):
    sid = tell(client)
    resp = decide(client, auth, sid, action="publish", version=1, criticality=1, title="x", tags=["Not A Slug"])
    assert resp.status_code == 422
    assert set(fields_of(resp)) == {"title", "tags"}


def test_a_stale_version_is_a_conflict_and_only_one_decision_wins(client, directory, auth):
    sid = tell(client)
    first = decide(client, auth, sid, action="reject", version=1, note="Not about a care service.")
    second = decide(client, auth, sid, action="publish", version=1, criticality=0)
    assert sorted([first.status_code, second.status_code]) == [200, 409]
    assert error_of(second)["code"] == "Conflict"
    story = wiring.store().get_story(sid, consistent=True)
    assert story["status"] == "rejected" and story["version"] == 2
    # A rejected story cannot be decided again, even with its current version.
    assert decide(client, auth, sid, action="publish", version=2, criticality=0).status_code == 409


def test_a_held_story_moves_to_the_held_queue_and_can_then_be_published(client, directory, auth, pump, moderator_user):
    sid = tell(client)
    assert decide(client, auth, sid, action="hold", version=1, note="Safeguarding check.").status_code == 200
    assert [s["id"] for s in queue(client, auth, "held")] == [sid]
    assert queue(client, auth, "pending") == []
    resp = decide(client, auth, sid, action="publish", version=2, criticality=4, tags=["safeguarding"])
    assert resp.status_code == 200
    assert queue(client, auth, "held") == []

    pump.drain()
    audit = wiring.moderation().story(sid)["audit"]
    assert [(e["from"], e["to"], e["by"]) for e in audit] == [
        ("pending", "held", moderator_user["username"]),
        ("held", "published", moderator_user["username"]),
    ]
    assert all(e["at"] for e in audit)


# ---- the screen --------------------------------------------------------------------------


class ScreenParser(HTMLParser):
    def __init__(self):
        super().__init__()
        self.tags: list[tuple[str, dict]] = []
        self.script_text = ""
        self._in_script = False
        self.label_for: set[str] = set()

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        self.tags.append((tag, a))
        if tag == "script":
            self._in_script = True
        if tag == "label" and a.get("for"):
            self.label_for.add(a["for"])

    def handle_endtag(self, tag):
        if tag == "script":
            self._in_script = False

    def handle_data(self, data):
        if self._in_script:
            self.script_text += data


def test_the_moderation_screen_is_served_with_a_strict_csp(client, aws):
    resp = client.http.get("/api/moderate")
    assert resp.status_code == 200
    assert resp.headers["Content-Type"].startswith("text/html")
    assert resp.headers["Content-Security-Policy"] == SCREEN_CSP
    html = resp.body.decode()
    assert html.startswith("<!DOCTYPE html>")
    assert '<html lang="en-GB">' in html

    page = ScreenParser()
    page.feed(html)
    scripts = [a for t, a in page.tags if t == "script"]
    assert scripts and all(a.get("src", "").startswith("moderate/app.js") for a in scripts)
    assert page.script_text.strip() == ""  # no inline script
    assert "<style" not in html and not any("style" in a for _, a in page.tags)  # no inline style
    assert not any(k.startswith("on") for _, a in page.tags for k in a)  # no inline handlers
    fields = [a for t, a in page.tags if t in ("input", "textarea", "select") and a.get("type") != "hidden"]
    assert {"username", "password", "answer", "title", "story", "good", "improve", "pseudonym", "tags", "note"} <= {
        a.get("id") for a in fields
    }
    unlabelled = [a.get("id") for a in fields if a.get("id") not in page.label_for]
    assert unlabelled == []
    # The edit boxes take what the form took: a long story is not cut to 8,000 (issue 20).
    assert {a["id"]: a.get("maxlength") for a in fields if a.get("id") in ("title", "story", "good")} == {
        "title": "120",
        "story": "30000",
        "good": "3000",
    }
    radios = [a for a in fields if a.get("name") == "criticality"]
    assert [a["value"] for a in radios] == ["0", "1", "2", "3", "4", "5"]
    for label in (
        "Not critical",
        "Minimally critical",
        "Mildly critical",
        "Moderately critical",
        "Strongly critical",
        "Severely critical",
    ):
        assert label in html
    for button in ("Publish", "Hold for safeguarding", "Reject"):
        assert re.search(rf"<button[^>]*>{button}", html)


@pytest.mark.parametrize("name, kind", [("app.js", "text/javascript"), ("app.css", "text/css")])
def test_the_screen_assets_are_served(client, aws, name, kind):
    resp = client.http.get(f"/api/moderate/{name}")
    assert resp.status_code == 200
    assert resp.headers["Content-Type"].startswith(kind)
    assert resp.headers["X-Content-Type-Options"] == "nosniff"
    assert len(resp.body) > 1000


def test_the_script_never_writes_html_from_data(client, aws):
    js = client.http.get("/api/moderate/app.js").body.decode()
    assert "innerHTML" not in js and "outerHTML" not in js and "insertAdjacentHTML" not in js
    assert "document.write" not in js and "eval(" not in js
    assert "sessionStorage" in js and "localStorage" not in js
    for path in ("moderation/sign-in", "moderation/queue", "moderation/stories/", "/decision"):
        assert path in js


def test_an_unknown_asset_is_404(client, aws):
    resp = client.http.get("/api/moderate/secrets.py")
    assert resp.status_code == 404
    assert client.http.get("/api/moderate/..%2Fauth.py").status_code == 404


def test_a_pending_story_comes_with_its_likely_identifying_details_marked(client, directory, auth):
    text = "My husband Peter Wright was seen on 3 March 2025. Ring me on 07700 900123. Ward 7 was kind."
    sid = tell(client, story=text, good="Dr Patel was lovely.")
    data = json.loads(open_story(client, auth, sid).body)
    marks = data["highlights"]["story"]
    assert "".join(s["text"] for s in marks["segments"]) == text  # the segments rebuild the saved text
    assert [(s["kind"], s["text"]) for s in marks["segments"] if "kind" in s] == [
        ("name", "Peter Wright"),
        ("date", "3 March 2025"),
        ("phone", "07700 900123"),
    ]
    assert marks["count"] == 3 and marks["kinds"] == ["a person’s full name", "an exact date", "a phone number"]
    # A title and a surname is a name for the moderator's eye too (issue 20): "Dr Patel" is marked.
    assert [(s["kind"], s["text"]) for s in data["highlights"]["good"]["segments"] if "kind" in s] == [
        ("name", "Patel")
    ]
    assert "title" not in data["highlights"]


def test_every_moderation_answer_is_never_stored(client, auth, directory):
    """Issue 18: the queue and a story with its audit trail were sent without Cache-Control: no-store."""
    story_id = tell(client)
    answers = [
        client.http.get("/api/moderation/queue", headers=auth),
        client.http.get("/api/moderation/queue?status=replies", headers=auth),
        client.http.get(f"/api/moderation/stories/{story_id}", headers=auth),
        decide(client, auth, story_id, action="publish", version=1, criticality=1),
    ]
    for resp in answers:
        assert resp.status_code == 200, resp.body
        assert resp.headers["Cache-Control"] == "no-store"
