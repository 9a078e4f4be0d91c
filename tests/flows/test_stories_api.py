"""Telling a story through the API: good input, every kind of bad input, and idempotency."""

from __future__ import annotations

import json
from datetime import date
from urllib.parse import urlencode

import pytest

from chalicelib import wiring
from tests.support.factories import story_body

JSON_H = {"Content-Type": "application/json"}
FORM_H = {"Content-Type": "application/x-www-form-urlencoded"}


def post_json(client, body, headers=JSON_H):
    raw = body if isinstance(body, (bytes, str)) else json.dumps(body)
    return client.http.post("/api/stories", body=raw, headers=headers)


def table_items(aws):
    ddb = aws.client("dynamodb")
    return ddb.scan(TableName=aws.resources.table)["Items"]


def story_items(aws):
    return [i for i in table_items(aws) if i["PK"]["S"].startswith(("STORY#", "PRIVATE#"))]


def error_fields(resp):
    return [f["field"] for f in json.loads(resp.body)["error"].get("fields", [])]


def test_a_valid_story_is_pending_and_its_email_is_private(client, aws, directory):
    resp = post_json(client, story_body())
    assert resp.status_code == 201
    created = json.loads(resp.body)
    assert created["status"] == "pending"
    story = wiring.store().get_story(created["id"])
    assert story["status"] == "pending" and story["version"] == 1
    assert story["story"].count("\n") == 1  # line breaks kept
    assert "author@example.org" not in json.dumps(story)
    assert wiring.store().get_contact(created["id"])["email"] == "author@example.org"
    assert [s["id"] for s in wiring.store().queue("pending", 10)] == [created["id"]]
    assert wiring.store().listing("_all", 10) == []  # nothing of it is public


def test_the_same_submission_id_twice_makes_one_story(client, aws, directory):
    body = story_body()
    first = json.loads(post_json(client, body).body)
    second_resp = post_json(client, body)
    assert second_resp.status_code == 201
    assert json.loads(second_resp.body)["id"] == first["id"]
    stories = [i for i in table_items(aws) if i["SK"]["S"] == "STORY"]
    assert len(stories) == 1


def test_a_classic_form_post_redirects_to_the_thank_you_page(client, aws, directory):
    body = story_body()
    fields = {k: v for k, v in body.items() if k not in ("feelings", "services", "consent")}
    pairs = (
        list(fields.items())
        + [("feelings", f) for f in body["feelings"]]
        + [("services", "riverside-ward-7"), ("services", "")]
    )
    pairs.append(("consent", "yes"))
    resp = client.http.post("/api/stories", body=urlencode(pairs), headers=FORM_H)
    assert resp.status_code == 303
    stories = [i for i in table_items(aws) if i["SK"]["S"] == "STORY"]
    assert len(stories) == 1
    # The thank-you page gets the story's reference (its id, which opens nothing private).
    assert resp.headers["Location"] == f"https://site.test/thank-you/?ref={stories[0]['id']['S']}"


def test_a_form_post_without_javascript_is_still_sent_only_once(client, aws, directory):
    body = story_body()
    pairs = [(k, v) for k, v in body.items() if k not in ("feelings", "services", "consent", "submission_id")]
    pairs += [("services", "riverside-ward-7"), ("consent", "yes")]
    for _ in range(2):
        assert client.http.post("/api/stories", body=urlencode(pairs), headers=FORM_H).status_code == 303
    assert len([i for i in table_items(aws) if i["SK"]["S"] == "STORY"]) == 1


def test_a_form_post_with_errors_shows_the_form_again_with_nothing_lost(client, aws, directory):
    pairs = [("title", "A title that stays"), ("story", "short"), ("role", "patient"), ("consent", "yes")]
    resp = client.http.post("/api/stories", body=urlencode(pairs), headers=FORM_H)
    assert resp.status_code == 422
    assert resp.headers["Content-Type"].startswith("text/html")
    html = resp.body.decode() if isinstance(resp.body, bytes) else resp.body
    assert "There is a problem" in html
    assert "A title that stays" in html
    assert story_items(aws) == []


@pytest.mark.parametrize(
    "overrides, field",
    [
        ({"title": ""}, "title"),
        ({"title": "x" * 121}, "title"),
        ({"story": "too short"}, "story"),
        ({"story": "x" * 30001}, "story"),
        ({"good": "x" * 3001}, "good"),
        ({"role": "surgeon"}, "role"),
        ({"feelings": ["delighted"]}, "feelings"),
        ({"feelings": ["anxious", "anxious"]}, "feelings"),
        ({"pseudonym": "J"}, "pseudonym"),
        ({"services": []}, "services"),
        ({"services": ["a", "b", "c", "d"]}, "services"),
        ({"services": ["no-such-service"]}, "services"),
        ({"services": ["Bad Slug!"]}, "services"),
        ({"email": "not-an-email"}, "email"),
        ({"consent": False}, "consent"),
        ({"website": "http://spam.example"}, "website"),
        ({"experience_month": 13}, "experience_month"),
        ({"experience_year": date.today().year + 1}, "experience_year"),
        ({"experience_year": date.today().year - 4}, "experience_year"),
        ({"submission_id": "short"}, "submission_id"),
        ({"unexpected": "field"}, "unexpected"),
    ],
)
def test_bad_fields_are_named_and_nothing_is_written(client, aws, directory, overrides, field):
    resp = post_json(client, story_body(**overrides))
    assert resp.status_code == 422, resp.body
    assert field in error_fields(resp)
    assert story_items(aws) == []


def test_missing_fields_are_each_named(client, aws, directory):
    resp = post_json(client, {"submission_id": "abcdefgh12"})
    assert resp.status_code == 422
    assert {"title", "story", "role", "pseudonym", "services", "consent"} <= set(error_fields(resp))


@pytest.mark.parametrize(
    "raw, headers, status",
    [
        ("{not json", JSON_H, 400),
        ("[1, 2]", JSON_H, 400),
        ('{"a": NaN}', JSON_H, 400),
        (b"\xff\xfe{}", JSON_H, 400),
        ("[" * 5000 + "]" * 5000, JSON_H, 400),
        ("{}", {"Content-Type": "text/plain"}, 415),
        ("x" * (400 * 1024), JSON_H, 413),
    ],
)
def test_malformed_bodies_get_a_clear_4xx(client, aws, directory, raw, headers, status):
    resp = post_json(client, raw, headers)
    assert resp.status_code == status
    body = json.loads(resp.body)
    assert body.get("error", {}).get("message") or body.get("Message")
    assert story_items(aws) == []


def test_a_failed_write_leaves_no_half_story(client, aws, directory, monkeypatch):
    store = wiring.store()

    def broken(*a, **k):
        raise store._db.exceptions.TransactionCanceledException(
            {"Error": {"Code": "TransactionCanceledException", "Message": "x"}}, "TransactWriteItems"
        )

    monkeypatch.setattr(store._db, "transact_write_items", broken)
    resp = post_json(client, story_body())
    assert resp.status_code >= 500 or resp.status_code == 409
    assert story_items(aws) == []


def test_service_search_finds_by_words_without_a_scan(client, aws, directory, monkeypatch):
    def no_scan(*a, **k):
        raise AssertionError("Scan used")

    monkeypatch.setattr(wiring.store()._db, "scan", no_scan)
    resp = client.http.get("/api/services?q=ward%207")
    found = json.loads(resp.body)["services"]
    assert [s["slug"] for s in found] == ["riverside-ward-7"]
    assert found[0]["within"] == "Riverside NHS Foundation Trust › Riverside General Hospital"
    hospital = json.loads(client.http.get("/api/services?q=riverside%20gen").body)["services"]
    assert hospital[0]["slug"] == "riverside-general"
    assert json.loads(client.http.get("/api/services?q=zzzz").body)["services"] == []
    assert json.loads(client.http.get("/api/services?q=").body)["services"] == []
    assert client.http.get("/api/services?q=" + "a" * 101).status_code == 400


def test_a_story_of_5000_words_is_taken_whole_and_one_past_the_limit_is_a_422_naming_it(client, aws, directory):
    """Issue 20: a 25,000-character story was cut at 8,000. The limit suits long stories, and the API says it."""
    long = ("The night staff were kind and patient, and I am grateful for the care. " * 420).strip()
    assert len(long.split()) > 5000 and 25_000 < len(long) <= 30_000
    body = story_body(story=long, title="A long story, in full", pseudonym="Ωmega “night” owl")
    # As a form of non-Latin letters would be: several times the usual body.
    resp = client.http.post(
        "/api/stories",
        body=urlencode({**body, "feelings": "anxious", "services": "riverside-ward-7", "consent": "yes"}),
        headers=FORM_H,
    )
    assert resp.status_code == 303, resp.body
    story = wiring.store().get_story(next(i["id"]["S"] for i in table_items(aws) if i["SK"]["S"] == "STORY"))
    assert story["story"] == long
    over = post_json(client, story_body(story="é" * 30_001))
    assert over.status_code == 422
    fields = json.loads(over.body)["error"]["fields"]
    assert fields == [
        {"field": "story", "message": "What happened must be 30,000 characters or fewer. It has 30,001 now"}
    ]


def test_loading_the_directory_twice_changes_nothing(aws, directory):
    counts = wiring.directory().load(directory)
    assert counts["created"] == 0 and counts["updated"] == 0 and counts["unchanged"] == 6


def test_a_story_whose_write_committed_but_whose_answer_was_lost_is_one_story_and_a_201(
    client, aws, directory, monkeypatch
):
    """Issue 22: under load the SDK retried a TransactWriteItems whose first attempt had been applied, and
    the retry failed its own condition: a 500 for a story that was in fact saved. Here the first call is
    applied, its answer is lost, and the SDK's retry goes ahead, as botocore would do it."""
    db = wiring.store()._db
    real = db.transact_write_items
    lost = []

    def applied_then_lost(**kwargs):
        if not lost:
            real(**kwargs)  # the write commits ...
            lost.append(True)  # ... the answer never arrives, and the SDK sends the same request again
        return real(**kwargs)

    monkeypatch.setattr(db, "transact_write_items", applied_then_lost)
    resp = client.http.post("/api/stories", body=json.dumps(story_body()), headers={"Content-Type": "application/json"})
    assert resp.status_code == 201, resp.body
    assert lost == [True]
    story_id = json.loads(resp.body)["id"]
    items = aws.client("dynamodb").scan(TableName=aws.resources.table)["Items"]
    assert [i["PK"]["S"] for i in items if i["SK"]["S"] == "STORY"] == [f"STORY#{story_id}"]
    assert sum(1 for i in items if i["PK"]["S"] == f"PRIVATE#{story_id}" and i["SK"]["S"] == "CONTACT") == 1
