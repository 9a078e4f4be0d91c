"""A story told through the API and published by a moderator: the two steps most flow tests start from."""

from __future__ import annotations

import json

from chalicelib import wiring
from chalicelib.moderation import Moderator
from tests.support.factories import story_body

JSON_H = {"Content-Type": "application/json"}
MOD = Moderator("mod@example.org", "Mo Derator")


def submit(client, **overrides) -> str:
    resp = client.http.post("/api/stories", body=json.dumps(story_body(**overrides)), headers=JSON_H)
    assert resp.status_code == 201, resp.body
    return json.loads(resp.body)["id"]


def publish(story_id, **extra):
    version = wiring.store().get_story(story_id, consistent=True)["version"]
    return wiring.moderation().decide(
        story_id, {"action": "publish", "version": version, "criticality": 2, **extra}, MOD
    )
