"""The demo's reach (issue 19), seeded by `make run` after the demo stories: an invitation for a ward,
made by a responder from their manage link (its card and poster are generated on request), a story
told through its short link, and a story a moderator entered for someone who phoned.

The invitation is made in process, as the responder's manage link would (the seed has no browser);
the stories go over HTTP, exactly as the form and the moderation API take them. Safe to run twice:
an invitation with the demo's campaign name is found, not made again, and the stories have stable
submission ids (the same ones give back the same stories).
"""

from __future__ import annotations

import hashlib
from datetime import date
from typing import Any

RESPONDER = "joanne.price@northbridge.nhs.example"
WARD = "northbridge-general-emergency"
CAMPAIGN = "Discharge cards (demo)"
INVITED_STORY = {
    "title": "A card at discharge asked me how it went",
    "story": "When I left the emergency department the nurse gave me a small card with a QR code and asked "
    "me to say how my visit had been.\nThe staff were calm and kind even though it was very busy.",
    "good": "Everyone explained what they were doing before they did it.",
    "improve": "The wait for an X-ray was long and nobody said why.",
    "feelings": ["reassured", "informed"],
    "role": "patient",
    "pseudonym": "Card in hand",
    "services": [WARD],
}
PHONE_STORY = {
    "route": "phone",
    "title": "My father's stay, told over the phone",
    "story": "My father does not use computers, so he phoned and asked for his story to be written down.\n"
    "He said the night staff on the ward were patient with him and helped him call home.",
    "good": "The night staff took time to help him call home.",
    "improve": "He was not told when he would be able to go home.",
    "feelings": ["listened-to"],
    "role": "patient",
    "pseudonym": "Told by phone",
    "services": ["northbridge-general-ward-7"],
}


def _stable(*parts: str) -> str:
    return "demo-reach-" + hashlib.sha256("\x1f".join(parts).encode()).hexdigest()[:20]


def seed_reach(client: Any, username: str, password: str, today: date | None = None) -> dict[str, Any]:
    """Returns the invitation (its short link, and the responder's card and poster pages) and the two
    story ids; errors are raised (the caller records them and goes on)."""
    from chalicelib import wiring
    from chalicelib.core.settings import get_settings

    today = today or date.today()
    store, settings = wiring.store(), get_settings()
    person = store.find_subscriber(RESPONDER)
    if person is None:
        raise RuntimeError(f"the demo responder {RESPONDER} is not loaded")
    token = wiring.links().issue("manage", "", person["id"], settings.subscriber_link_days, subscriber_id=person["id"])
    invitations = wiring.invitations()
    found = next(
        (
            i
            for i in store.invitations_of(person["organisation"])
            if i.get("campaign") == CAMPAIGN and not i.get("ended_at")
        ),
        None,
    )
    invitation = (
        invitations.view(found)
        if found
        else invitations.create(token, {"service": WARD, "campaign": CAMPAIGN, "tags": ["discharge"]})
    )
    when = {"experience_month": today.month, "experience_year": today.year, "consent": True}
    invited = client.submit(
        INVITED_STORY
        | when
        | {"invitation": invitation["code"], "submission_id": _stable("invited", INVITED_STORY["title"])}
    )
    if not client.token:
        client.sign_in(username, password)
    resp = client.http.post(
        client._url("/api/moderation/stories"),
        json=PHONE_STORY | when | {"submission_id": _stable("phone", PHONE_STORY["title"])},
        headers=client._auth(),
        timeout=client.timeout,
    )
    if resp.status_code != 201:
        raise RuntimeError(f"the demo phone story: HTTP {resp.status_code} {resp.text[:300]}")
    phone = resp.json()
    for story_id in (invited["id"], phone["id"]):
        story = client.story(story_id)
        if story.get("status") == "pending":
            client.decide(
                story_id,
                {
                    "action": "publish",
                    "version": int(story["version"]),
                    "criticality": 0,
                    "tags": story.get("tags", []),
                },
            )
    manage = f"{settings.api_url.rstrip('/')}/api/subscriptions/manage/{token}"
    return {
        "invitation": invitation["url"],
        "card": f"{manage}/invitations/{invitation['code']}/card",
        "poster": f"{manage}/invitations/{invitation['code']}/poster",
        "manage": f"{manage}#invitations",
        "invited_story": invited["id"],
        "phone_story": phone["id"],
    }
