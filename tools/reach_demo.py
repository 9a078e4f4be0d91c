"""The demo's reach (issue 19), seeded by `make run` after the demo stories: an invitation for a ward,
made by a responder from their manage link (its card and poster are generated on request), a story
told through its short link, a story a moderator entered for someone who phoned, and two stories told
in Welsh through the Welsh form (`language: cy`; their pages and letters are in Welsh).

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

# Told through the Welsh form (issue 19): the authors' own words, in Welsh.
WELSH_STORIES = [
    {
        "title": "Nyrsys caredig yn yr adran achosion brys",
        "story": "Es i i’r adran achosion brys gyda phoen yn fy mrest yng nghanol y nos.\n"
        "Roedd y nyrsys yn dawel ac yn garedig, ac fe wnaethon nhw esbonio popeth i mi yn Gymraeg.",
        "good": "Cefais siarad Cymraeg gyda’r nyrs a’r meddyg.",
        "improve": "Roedd yr aros am wely yn hir iawn, a doedd neb yn dweud pam.",
        "feelings": ["reassured", "listened-to"],
        "role": "patient",
        "pseudonym": "Claf o’r gogledd",
        "services": [WARD],
        "language": "cy",
    },
    {
        "title": "Gofal da i Mam ar y ward",
        "story": "Roedd Mam ar ward 7 am wythnos ar ôl iddi gwympo gartref.\n"
        "Roedd y staff yn amyneddgar gyda hi ac yn ein ffonio bob bore i ddweud sut roedd hi.",
        "good": "Roedd y staff bob amser yn fodlon ateb ein cwestiynau.",
        "improve": "Doedd dim arwyddion Cymraeg ar y ward, ac roedd yn anodd dod o hyd i’r tai bach.",
        "feelings": ["grateful", "informed"],
        "role": "relative",
        "pseudonym": "Merch ddiolchgar",
        "services": ["northbridge-general-ward-7"],
        "language": "cy",
    },
]


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
    welsh = [client.submit(s | when | {"submission_id": _stable("welsh", s["title"])})["id"] for s in WELSH_STORIES]
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
    for story_id in (invited["id"], phone["id"], *welsh):
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
        "card_pdf": f"{manage}/invitations/{invitation['code']}/card/pdf",
        "manage": f"{manage}#invitations",
        "invited_story": invited["id"],
        "phone_story": phone["id"],
        "welsh_stories": welsh,
    }
