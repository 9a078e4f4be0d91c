"""After publication, the whole site follows (issue 16): a report that hides an item and each
moderator's decision go through the real stream → render, search and mail path, and then every
public output is read (every S3 object, search fragments included, and the JSON API): a hidden,
restricted or removed item's words are nowhere; a dismissed one is back exactly as before; an edited
one shows only its new words and the notice. And the same change as a raw status edit on the table."""

from __future__ import annotations

import gzip
import json
from urllib.parse import urlencode

import pytest

from chalicelib import wiring
from chalicelib.core.ids import new_story_id
from chalicelib.moderation import Moderator
from tests.support import mailbox, moto_state
from tests.support.conversation import make_staff, publish_story, respond_link
from tests.support.prove import record

pytest.importorskip("pagefind_bin")

MOD = Moderator("mod@example.org", "Mo Derator")
FORM_H = {"Content-Type": "application/x-www-form-urlencoded"}
SECRET = "zanzibar"  # the reported story's own word
ANSWER = "quokkafeather"  # the reported response's own word
KEEP = "pelican"


def public(aws, client, sid: str) -> dict[str, str]:
    """Everything the public can read: every object in the bucket (gzip'd search data unpacked)
    and the JSON API's answers about the story and its services."""
    s3 = aws.client("s3")
    out: dict[str, str] = {}
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=aws.resources.bucket):
        for o in page.get("Contents", []):
            body = s3.get_object(Bucket=aws.resources.bucket, Key=o["Key"])["Body"].read()
            try:
                body = gzip.decompress(body)
            except OSError:
                pass
            out[o["Key"]] = body.decode("utf-8", "replace").lower()
    for path in (
        "/api/public/stories",
        f"/api/public/stories/{sid}",
        "/api/public/stories?service=riverside-ward-7",
        "/api/public/services/riverside-ward-7",
    ):
        resp = client.http.get(path)
        out[f"api:{path}"] = f"{resp.status_code} {resp.body.decode()}".lower()
    return out


def found(outputs: dict[str, str], word: str) -> list[str]:
    return sorted(k for k, v in outputs.items() if word.lower() in v)


def measured(case: str, outputs: dict[str, str], hidden: bool = True) -> None:
    """For docs/reliability.md (make prove): what was scanned after each decision, and what was found."""
    words = len(found(outputs, SECRET)) + len(found(outputs, ANSWER))
    record("takedown", {case: {"outputs_scanned": len(outputs), "words_found": words, "hidden_first": hidden}})


@pytest.fixture
def site(client, aws, pump, directory):
    """Two published stories, and a staff response on the one to be reported. Made once per worker
    (moto_state.kept)."""
    return moto_state.kept("takedown-site", lambda: _site(client, aws, pump), pump)


def _site(client, aws, pump) -> dict:
    keep = publish_story(client, pump, title=f"The {KEEP} crossing", story=f"A {KEEP} crossing outside the clinic.")
    sid = publish_story(client, pump, title=f"The {SECRET} lounge", story=f"The {SECRET} lounge was closed all night.")
    staff = make_staff()
    token = respond_link(sid, staff)
    rid = new_story_id()
    body = {"response_id": rid, "text": f"Thank you. The {ANSWER} room opens again on Monday."}
    resp = client.http.post(f"/api/respond/{token}", body=urlencode(body), headers=FORM_H)
    assert resp.status_code == 303, resp.body
    pump.drain()
    before = public(aws, client, sid)
    assert found(before, SECRET) and found(before, ANSWER) and found(before, KEEP)
    assert f"api:/api/public/stories/{sid}" in found(before, SECRET)
    assert any(k.startswith("pagefind/") for k in found(before, SECRET))  # the search index holds it
    return {"keep": keep, "sid": sid, "rid": rid, "before": before}


def _hide(pump, sid: str, kind: str = "story", item: str = "") -> int:
    out = wiring.concerns().report(sid, kind, item, {"reason": "identifies-someone"}, "client-1")
    assert out["hidden"]
    pump.drain()
    return wiring.concerns().case(sid, kind, item)["case"]["version"]


def _only_the_placeholder(outputs: dict[str, str], sid: str, words: str) -> None:
    assert found(outputs, SECRET) == [] and found(outputs, ANSWER) == []
    assert words.lower() in outputs[f"stories/{sid}/index.html"]
    assert outputs[f"api:/api/public/stories/{sid}"].startswith("404")


def test_a_risky_report_hides_the_story_everywhere_at_once(aws, client, pump, site):
    sid = site["sid"]
    _hide(pump, sid)
    after = public(aws, client, sid)
    _only_the_placeholder(after, sid, "This story is being checked by a moderator.")
    measured("hidden by a report", after)
    assert found(after, KEEP)  # the other story is untouched
    assert wiring.store().figures("_all")["published"] == 1


def test_restrict_leaves_a_placeholder_that_says_who_and_why_and_the_figures(aws, client, pump, site):
    sid = site["sid"]
    v = _hide(pump, sid)
    data = {"action": "restrict", "version": v, "asked_by": "author", "reason": "identifies-someone", "note": "Asked"}
    wiring.concerns().decide(sid, "story", "", data, MOD)
    pump.drain()
    after = public(aws, client, sid)
    _only_the_placeholder(after, sid, "Restricted at the request of the author because it identifies someone.")
    measured("restricted", after)
    assert wiring.store().figures("_all")["published"] == 1
    assert wiring.store().figures("riverside-ward-7")["published"] == 1


def test_remove_leaves_nothing_and_tells_the_author(aws, client, pump, site):
    sid = site["sid"]
    v = _hide(pump, sid)
    wiring.concerns().decide(sid, "story", "", {"action": "remove", "version": v, "note": "Libel"}, MOD)
    pump.drain()
    after = public(aws, client, sid)
    assert found(after, SECRET) == [] and found(after, ANSWER) == []
    assert f"stories/{sid}/index.html" not in after
    measured("removed", after)
    assert wiring.store().figures("_all")["published"] == 1
    assert [m for m in mailbox.to("author.conversation@example.org") if "taken off" in m["Subject"]]


def test_hold_for_safeguarding_takes_it_off_the_site_and_back_to_the_held_queue(aws, client, pump, site):
    sid = site["sid"]
    v = _hide(pump, sid)
    wiring.concerns().decide(sid, "story", "", {"action": "hold", "version": v, "note": "Safeguarding"}, MOD)
    pump.drain()
    after = public(aws, client, sid)
    assert found(after, SECRET) == [] and found(after, ANSWER) == []
    assert [s["id"] for s in wiring.moderation().queue("held")] == [sid]
    measured("held for safeguarding", after)


def test_dismiss_brings_everything_back_exactly_as_before(aws, client, pump, site):
    sid = site["sid"]
    v = _hide(pump, sid)
    wiring.concerns().decide(sid, "story", "", {"action": "dismiss", "version": v, "note": "Nobody named"}, MOD)
    pump.drain()
    after = public(aws, client, sid)
    changed = sorted(k for k in set(site["before"]) | set(after) if site["before"].get(k) != after.get(k))
    assert changed == []
    assert wiring.store().figures("_all")["published"] == 2


def test_edit_shows_only_the_new_words_and_the_notice(aws, client, pump, site):
    sid = site["sid"]
    v = _hide(pump, sid, "responses", site["rid"])
    data = {"action": "edit", "version": v, "text": "Thank you. The family room opens again on Monday."}
    wiring.concerns().decide(sid, "responses", site["rid"], data, MOD)
    v = wiring.concerns().report(sid, "story", "", {"reason": "offensive"}, "client-2") and 0
    v = wiring.concerns().case(sid, "story")["case"]["version"]
    data = {"action": "edit", "version": v, "title": "The lounge", "text": "The lounge was closed all night."}
    wiring.concerns().decide(sid, "story", "", data, MOD)
    pump.drain()
    after = public(aws, client, sid)
    assert found(after, SECRET) == [] and found(after, ANSWER) == []
    measured("edited", after)
    page = after[f"stories/{sid}/index.html"]
    assert "the lounge was closed all night." in page and "the family room opens again" in page
    assert page.count("edited by a moderator on") == 2  # the story's notice and the response's
    assert "the lounge was closed all night." in after[f"api:/api/public/stories/{sid}"]
    original = wiring.store().get_original(sid)
    assert SECRET in original["title"].lower()  # the author's words, kept privately


@pytest.mark.parametrize("action", ["restrict", "remove"])
def test_a_restricted_or_removed_response_leaves_the_story_page_and_the_api(aws, client, pump, site, action):
    sid, rid = site["sid"], site["rid"]
    v = _hide(pump, sid, "responses", rid)
    data = {"action": action, "version": v, "note": "Names a patient"}
    if action == "restrict":
        data |= {"asked_by": "service", "reason": "identifies-someone"}
    wiring.concerns().decide(sid, "responses", rid, data, MOD)
    pump.drain()
    after = public(aws, client, sid)
    assert found(after, ANSWER) == []
    assert found(after, SECRET)  # the story itself stays
    record("takedown", {f"response {action}": {"outputs_scanned": len(after), "words_found": 0, "hidden_first": True}})
    words = "restricted at the request of the service because it identifies someone."
    assert (words in after[f"stories/{sid}/index.html"]) is (action == "restrict")
    api = json.loads(after[f"api:/api/public/stories/{sid}"].split(" ", 1)[1])
    assert api["response_count"] == 0 and api["conversation"] == []
    assert wiring.store().get_story(sid).get("first_response_at") is None  # progress taken back


@pytest.mark.parametrize(("status", "words"), [("restricted", "restricted at the request of a moderator")])
def test_a_raw_status_edit_on_the_table_has_the_same_effect(aws, client, pump, site, status, words):
    sid = site["sid"]
    aws.client("dynamodb").update_item(
        TableName=aws.resources.table,
        Key={"PK": {"S": f"STORY#{sid}"}, "SK": {"S": "STORY"}},
        UpdateExpression="SET #s = :s",
        ExpressionAttributeNames={"#s": "status"},
        ExpressionAttributeValues={":s": {"S": status}},
    )
    pump.drain()
    after = public(aws, client, sid)
    _only_the_placeholder(after, sid, words)
    measured("restricted in the console", after, hidden=False)
    assert wiring.store().figures("_all")["published"] == 1
    # And back, in the console too: everything as before.
    aws.client("dynamodb").update_item(
        TableName=aws.resources.table,
        Key={"PK": {"S": f"STORY#{sid}"}, "SK": {"S": "STORY"}},
        UpdateExpression="SET #s = :s",
        ExpressionAttributeNames={"#s": "status"},
        ExpressionAttributeValues={":s": {"S": "published"}},
    )
    pump.drain()
    back = public(aws, client, sid)
    assert sorted(k for k in set(site["before"]) | set(back) if site["before"].get(k) != back.get(k)) == []
