"""A published story and a member of staff with a read-and-respond link: where a conversation starts."""

from __future__ import annotations

import json

from chalicelib import wiring
from chalicelib.core import clock
from chalicelib.core.ids import new_id
from chalicelib.moderation import Moderator
from tests.support import moto_state
from tests.support.factories import story_body

JSON_H = {"Content-Type": "application/json"}
MOD = Moderator("mod@example.org", "Mo Derator")
AUTHOR = "author.conversation@example.org"
STAFF = {
    "email": "alex.morgan@nhs.example",
    "name": "Alexandra Morgan",
    "display_name": "Alex Morgan",
    "role": "Ward Manager",
    "organisation": "riverside-trust",
    "organisation_name": "Riverside NHS Foundation Trust",
}


@moto_state.remembered
def publish_story(client, pump, criticality: int = 3, **overrides) -> str:
    resp = client.http.post("/api/stories", body=json.dumps(story_body(email=AUTHOR, **overrides)), headers=JSON_H)
    assert resp.status_code == 201, resp.body
    story_id = json.loads(resp.body)["id"]
    wiring.store().confirm_contact(story_id, clock.iso())  # as its owner would from the first email (issue 18)
    pump.drain()
    version = wiring.store().get_story(story_id, consistent=True)["version"]
    wiring.moderation().decide(story_id, {"action": "publish", "version": version, "criticality": criticality}, MOD)
    pump.drain()
    return story_id


def make_staff(service="riverside-ward-7", service_name="Ward 7 (Acute Medicine)", **overrides) -> dict:
    """An active member with one active subscription, written straight to the store: by default a
    responder past their first responses (so a response publishes at once unless it is risky)."""
    store = wiring.store()
    now = clock.iso()
    profile = {
        "id": new_id(),
        **STAFF,
        "status": "active",
        "access": "responder",
        "responses_sent": 3,
        "created_at": now,
        "confirmed_at": now,
        "links_valid_after": "",
    }
    profile.update(overrides)
    assert store.create_subscriber(profile)
    subscription = {
        "id": new_id(),
        "subscriber_id": profile["id"],
        "service": service,
        "service_name": service_name,
        "tags": [],
        "min_criticality": 0,
        "frequency": "immediate",
        "status": "active",
        "created_at": now,
    }
    store.put_subscription(subscription)
    return {"profile": profile, "subscription": subscription}


def respond_link(story_id: str, staff: dict, days: int | None = None) -> str:
    from chalicelib.core.settings import get_settings

    p, s = staff["profile"], staff["subscription"]
    return wiring.links().issue(
        "respond",
        story_id,
        p["id"],
        days or get_settings().respond_link_days,
        subscriber_id=p["id"],
        subscription_id=s["id"],
        service=s["service"],
    )
