"""The read-only public JSON API: filters, the service subtree, cursor paging, bad input, and privacy."""

from __future__ import annotations

import base64
import json
from datetime import timedelta
from urllib.parse import urlencode

import pytest

from chalicelib import wiring
from chalicelib.core import clock
from chalicelib.core.ids import new_id
from chalicelib.public_api import _checksum, _filters_digest
from tests.support import moto_state
from tests.support.conversation import AUTHOR, STAFF, make_staff, publish_story, respond_link
from tests.support.factories import story_body
from tests.support.published import START, seed

JSON_H = {"Content-Type": "application/json"}


def get(client, path: str, **params):
    resp = client.http.get(path + (f"?{urlencode(params)}" if params else ""))
    return resp, json.loads(resp.body)


def walk(client, **params) -> list[list[str]]:
    """Every page of a query, following next_cursor; the ids of each page."""
    pages = []
    cursor = None
    for _ in range(50):
        resp, body = get(client, "/api/public/stories", **params, **({"cursor": cursor} if cursor else {}))
        assert resp.status_code == 200, body
        pages.append([s["id"] for s in body["stories"]])
        cursor = body["next_cursor"]
        if not cursor:
            assert body["next"] is None
            return pages
        assert body["next"].startswith("/api/public/stories?") and "cursor=" in body["next"]
    raise AssertionError("paging never ended")


def assert_bad(resp, body, field: str, status: int = 400):
    assert resp.status_code == status, body
    assert [f["field"] for f in body["error"]["fields"]] == [field], body


# ---- stories: filters and paging ------------------------------------------------------------------


def test_paging_walks_a_subtree_newest_first_with_no_duplicates_or_gaps(client, directory):
    ward = seed(23, "riverside-ward-7")
    seed(4, "hillside-district-nursing", start=START + timedelta(minutes=30))
    pages = walk(client, service="riverside-trust", limit=5)
    assert [len(p) for p in pages] == [5, 5, 5, 5, 3]
    flat = [i for p in pages for i in p]
    assert flat == ward  # newest first, every one once
    # The whole site, in one page and in pages of 7: the same order.
    everything = walk(client, limit=100)
    assert len(everything) == 1 and len(everything[0]) == 27
    assert [i for p in walk(client, limit=7) for i in p] == everything[0]


def test_exactly_a_full_last_page_has_no_next(client, directory):
    seed(10)
    assert [len(p) for p in walk(client, service="riverside-ward-7", limit=5)] == [5, 5]
    assert walk(client, service="riverside-maternity") == [[]]


def test_a_service_lists_its_whole_subtree_and_nothing_else(client, directory):
    ward = seed(3, "riverside-ward-7")
    maternity = seed(2, "riverside-maternity", start=START + timedelta(minutes=10))
    hillside = seed(2, "hillside-district-nursing", start=START + timedelta(minutes=20))
    ids = lambda **p: {s["id"] for s in get(client, "/api/public/stories", **p)[1]["stories"]}  # noqa: E731
    assert ids(service="riverside-general") == set(ward) | set(maternity)
    assert ids(service="riverside-trust") == set(ward) | set(maternity)
    assert ids(service="riverside-maternity") == set(maternity)
    assert ids(service="hillside-trust") == set(hillside)
    assert ids() == set(ward) | set(maternity) | set(hillside)


def test_tag_filter_alone_and_within_a_service_pages_through_the_filter(client, directory):
    tagged_ward = seed(12, "riverside-ward-7", tags=["nursing", "night"])
    plain_ward = seed(30, "riverside-ward-7", start=START + timedelta(minutes=5))
    tagged_hill = seed(3, "hillside-district-nursing", tags=["nursing"], start=START + timedelta(minutes=9))
    assert plain_ward
    everywhere = [i for p in walk(client, tag="nursing", limit=4) for i in p]
    assert sorted(everywhere) == sorted(tagged_ward + tagged_hill) and len(set(everywhere)) == len(everywhere)
    within = [i for p in walk(client, service="riverside-trust", tag="nursing", limit=5) for i in p]
    assert within == tagged_ward
    assert walk(client, tag="never-used") == [[]]  # an unknown tag is an empty list, not an error
    body = get(client, "/api/public/stories", tag="night")[1]
    assert all("night" in s["tags"] for s in body["stories"]) and len(body["stories"]) == 12


def test_date_range_is_inclusive_by_utc_day(client, directory):
    ids = seed(10, step_hours=24)  # one a day from 1 March, newest first
    days = lambda **p: [s["published_at"][:10] for s in get(client, "/api/public/stories", **p)[1]["stories"]]  # noqa: E731
    assert days(**{"from": "2026-03-03", "to": "2026-03-05"}) == ["2026-03-05", "2026-03-04", "2026-03-03"]
    assert days(**{"from": "2026-03-09"}) == ["2026-03-10", "2026-03-09"]
    assert days(to="2026-03-01") == ["2026-03-01"]
    assert days(**{"from": "2027-01-01"}) == []
    pages = walk(client, **{"from": "2026-03-02", "to": "2026-03-08", "limit": 3})
    assert [i for p in pages for i in p] == ids[2:9]


def test_each_story_in_a_list_has_its_public_fields(client, directory):
    [sid] = seed(1, tags=["nursing"])
    resp, body = get(client, "/api/public/stories")
    assert resp.status_code == 200
    assert resp.headers["Cache-Control"].startswith("public, max-age=")
    assert resp.headers["Access-Control-Allow-Origin"] == "*"
    [story] = body["stories"]
    assert story["id"] == sid and story["url"] == f"https://site.test/stories/{sid}/"
    assert story["services"] == [
        {
            "slug": "riverside-ward-7",
            "name": "Ward 7 (Acute Medicine)",
            "url": "https://site.test/services/riverside-ward-7/",
        }
    ]
    assert story["tags"] == ["nursing"] and story["excerpt"] == "What happened 0."
    assert story["role"] == "patient" and story["role_label"] and story["experience"] == "2026-01"
    assert (
        story["progress"]["current"] == "published" and story["progress"]["dates"]["published"] == story["published_at"]
    )
    assert "criticality" not in json.dumps(body)


# ---- bad input ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "params, field",
    [
        ({"limit": "0"}, "limit"),
        ({"limit": "101"}, "limit"),
        ({"limit": "ten"}, "limit"),
        ({"limit": "-1"}, "limit"),
        ({"from": "2026-13-01"}, "from"),
        ({"from": "1/3/2026"}, "from"),
        ({"to": "2026-02-30"}, "to"),
        ({"to": "2026-03-01T00:00"}, "to"),
        ({"from": "2026-03-05", "to": "2026-03-01"}, "from"),
        ({"service": "Not A Slug"}, "service"),
        ({"service": "x" * 81}, "service"),
        ({"tag": "two words"}, "tag"),
        ({"tag": "-"}, "tag"),
    ],
)
def test_bad_query_values_are_400s_naming_the_parameter(client, directory, params, field):
    resp, body = get(client, "/api/public/stories", **params)
    assert_bad(resp, body, field)


def test_an_unknown_service_is_a_404_naming_it(client, directory):
    resp, body = get(client, "/api/public/stories", service="no-such-service")
    assert_bad(resp, body, "service", 404)


def test_tampered_garbage_and_foreign_cursors_are_400s(client, directory):
    seed(6)
    _, first = get(client, "/api/public/stories", service="riverside-ward-7", limit=2)
    cursor = first["next_cursor"]
    assert cursor
    body, check = cursor.split(".")
    payload = base64.urlsafe_b64decode(body + "=" * (-len(body) % 4))
    data = json.loads(payload)
    # A well-formed cursor whose key was changed and checksum recomputed: still only public
    # stories, but a key that is not a listing's sort key is refused.
    forged = json.dumps({"after": "9999-99-99#nothing", "f": data["f"]}).encode()
    forged_cursor = base64.urlsafe_b64encode(forged).decode().rstrip("=") + "." + _checksum(forged)
    # A cursor pointing outside the date range asked for.
    outside = json.dumps(
        {
            "after": data["after"],
            "f": _filters_digest({"service": "riverside-ward-7", "tag": "", "from": "", "to": "2026-03-01"}),
        }
    ).encode()
    outside_cursor = base64.urlsafe_b64encode(outside).decode().rstrip("=") + "." + _checksum(outside)
    flipped = body[:-2] + ("A" if body[-2] != "A" else "B") + body[-1] + "." + check
    bad = [
        "garbage",
        "",
        ".",
        "a.b.c",
        "%%%%.1234",
        "x" * 500,
        flipped,
        cursor[:-1],
        cursor + "0",
        "ü.ü",
        forged_cursor,
        base64.urlsafe_b64encode(b"[1,2]").decode() + "." + _checksum(b"[1,2]"),
    ]
    for value in bad:
        if not value:
            continue
        resp, answer = get(client, "/api/public/stories", service="riverside-ward-7", limit=2, cursor=value)
        assert_bad(resp, answer, "cursor")
    # Valid, but made for other filters.
    resp, answer = get(client, "/api/public/stories", service="riverside-general", limit=2, cursor=cursor)
    assert_bad(resp, answer, "cursor")
    resp, answer = get(
        client, "/api/public/stories", service="riverside-ward-7", to="2026-03-01", cursor=outside_cursor
    )
    assert_bad(resp, answer, "cursor")
    # The real one still works, with another page size too.
    resp, answer = get(client, "/api/public/stories", service="riverside-ward-7", limit=3, cursor=cursor)
    assert resp.status_code == 200 and len(answer["stories"]) == 3


# ---- one story, one service ------------------------------------------------------------------


@pytest.fixture
def conversation_story(client, pump, directory):
    """A story published through the pipeline, read and answered by staff, with an author reply.
    Made once per worker (moto_state.kept)."""
    return moto_state.kept("public-api-conversation", lambda: _conversation_story(client, pump), pump)


def _conversation_story(client, pump) -> dict:
    story_id = publish_story(client, pump)
    staff = make_staff()
    token = respond_link(story_id, staff)
    assert client.http.post(f"/api/respond/{token}/read", body="{}", headers=JSON_H).status_code == 200
    resp = client.http.post(
        f"/api/respond/{token}",
        headers=JSON_H,
        body=json.dumps(
            {
                "text": "Thank you for telling us. We have talked about it as a team.",
                "change": "planned",
                "change_description": "A second nurse at night.",
            }
        ),
    )
    assert resp.status_code == 201, resp.body
    now = clock.iso()
    wiring.store().put_reply(
        story_id,
        {
            "id": new_id(),
            "text": "Thank you for answering.",
            "status": "published",
            "created_at": now,
            "published_at": now,
        },
    )
    wiring.store().put_reply(
        story_id, {"id": new_id(), "text": "A reply still waiting.", "status": "pending", "created_at": now}
    )
    pump.drain()
    return {"id": story_id, "staff": staff}


def test_one_story_with_its_conversation(client, conversation_story):
    sid = conversation_story["id"]
    resp, story = get(client, f"/api/public/stories/{sid}")
    assert resp.status_code == 200, story
    assert resp.headers["Cache-Control"].startswith("public")
    assert story["id"] == sid and story["title"] == "Kind nurses on a busy night"
    assert story["story"].startswith("I was admitted at night") and story["good"] == "They listened."
    assert story["response_count"] == 1
    [reader] = story["read_by"]
    assert reader["name"] == STAFF["display_name"] and reader["role"] == "Ward Manager" and reader["read_at"]
    kinds = [(e["kind"], e["text"]) for e in story["conversation"]]
    assert kinds == [
        ("response", "Thank you for telling us. We have talked about it as a team."),
        ("author_reply", "Thank you for answering."),
    ]
    assert story["conversation"][0]["change"] == "planned"
    assert story["progress"]["current"] == "planned"
    assert all(story["progress"]["dates"][k] for k in ("published", "read", "responded", "planned"))
    assert story["progress"]["dates"]["made"] is None
    assert "A reply still waiting." not in json.dumps(story)


def test_unpublished_and_unknown_stories_are_404(client, pump, directory, conversation_story):
    resp = client.http.post("/api/stories", body=json.dumps(story_body()), headers=JSON_H)
    pending = json.loads(resp.body)["id"]
    pump.drain()
    for sid in (pending, "0" * 17, "not-an-id", "x" * 200):
        resp, body = get(client, f"/api/public/stories/{sid}")
        assert resp.status_code == 404, (sid, body)
    # Withdrawn: gone from the API at once, and from the lists after the stream.
    sid = conversation_story["id"]
    wiring.store().change_status(sid, ["published"], {"status": "withdrawn", "withdrawn_at": clock.iso()})
    assert get(client, f"/api/public/stories/{sid}")[0].status_code == 404
    pump.drain()
    assert sid not in json.dumps(get(client, "/api/public/stories")[1])


def test_a_service_with_its_children_and_figures(client, directory):
    resp, svc = get(client, "/api/public/services/riverside-general")
    assert resp.status_code == 200, svc
    assert svc["name"] == "Riverside General Hospital" and svc["url"] == "https://site.test/services/riverside-general/"
    assert [c["slug"] for c in svc["children"]] == ["riverside-maternity", "riverside-ward-7"]
    assert svc["within"] == [
        {
            "slug": "riverside-trust",
            "name": "Riverside NHS Foundation Trust",
            "url": "https://site.test/services/riverside-trust/",
        }
    ]
    assert svc["widget_url"] == "https://site.test/services/riverside-general/widget/"
    assert svc["stories"] == "/api/public/stories?service=riverside-general"
    assert "figures" in svc
    for slug in ("no-such-service", "Bad Slug"):
        assert get(client, f"/api/public/services/{slug}")[0].status_code == 404


# ---- privacy ------------------------------------------------------------------------------------


def test_no_answer_carries_a_contact_detail(client, pump, directory, conversation_story):
    sid = conversation_story["id"]
    contact = wiring.store().get_contact(sid)
    assert contact and contact["email"] == AUTHOR
    secrets = {v for v in contact.values() if isinstance(v, str) and len(v) >= 6}
    secrets |= {AUTHOR, STAFF["email"], STAFF["name"], conversation_story["staff"]["profile"]["id"]}
    answers = [
        get(client, "/api/public/stories")[0],
        get(client, "/api/public/stories", service="riverside-trust")[0],
        get(client, f"/api/public/stories/{sid}")[0],
        get(client, "/api/public/services/riverside-ward-7")[0],
        get(client, "/api/public/services/riverside-trust")[0],
    ]
    for resp in answers:
        assert resp.status_code == 200
        text = resp.body.decode()
        for secret in secrets:
            assert secret not in text, secret
        assert "criticality" not in text and "decided_by" not in text and "subscriber_id" not in text
