"""A story told through the API and published by a moderator: the two steps most flow tests start from."""

from __future__ import annotations

import json

from chalicelib import wiring
from chalicelib.core import clock
from chalicelib.moderation import Moderator
from tests.support.factories import story_body

JSON_H = {"Content-Type": "application/json"}
MOD = Moderator("mod@example.org", "Mo Derator")


def submit(client, confirmed: bool = True, **overrides) -> str:
    """A story sent through the API. An author's address given with it is confirmed as its owner would
    from the first email (issue 18), unless `confirmed=False`: only then does mail about the story reach it."""
    body = story_body(**overrides)
    resp = client.http.post("/api/stories", body=json.dumps(body), headers=JSON_H)
    assert resp.status_code == 201, resp.body
    story_id = json.loads(resp.body)["id"]
    if confirmed and body.get("email"):
        wiring.store().confirm_contact(story_id, clock.iso())
    return story_id


def publish(story_id, **extra):
    version = wiring.store().get_story(story_id, consistent=True)["version"]
    return wiring.moderation().decide(
        story_id, {"action": "publish", "version": version, "criticality": 2, **extra}, MOD
    )
