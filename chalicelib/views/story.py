"""A story as lists, its page and its JSON show it: public fields only, chosen one by one.

Criticality, decision notes, who decided and any contact detail are left out here, so no
template and no answer can show them.
"""

from __future__ import annotations

from typing import Any

from .labels import feeling_label, month_year, role_label
from .promise import story_promise
from .thread import PROGRESS_WORDS, progress

EXCERPT_CHARS = 300
# A story's progress, in the order the public sees it: not yet read → read → responded → change planned → made.
PROGRESS = ("first_read_at", "first_response_at", "change_planned_at", "change_made_at")
# Change checks: the author's answer is kept under this recipient; the answers anyone may give, in words.
AUTHOR = "author"
VERDICTS = ("yes", "partly", "no")
VERDICT_WORDS = {"yes": "Yes, it made a difference", "partly": "Partly", "no": "No, it made no difference"}


def listing_entry(story: dict[str, Any]) -> dict[str, Any]:
    """What a list of stories shows of one story (the listing items the stream writes): public fields only."""
    text = story.get("story", "")
    excerpt = text if len(text) <= EXCERPT_CHARS else text[:EXCERPT_CHARS].rsplit(" ", 1)[0] + "…"
    return {
        "id": story["id"],
        "title": story["title"],
        "excerpt": excerpt,
        "pseudonym": story.get("pseudonym", ""),
        "role": story.get("role", ""),
        "experience": story.get("experience", ""),
        "published_at": story["published_at"],
        "services": story.get("services", []),
        "feelings": story.get("feelings", []),
        "tags": story.get("tags", []),
        # Progress, so lists can show where each story stands.
        **{k: story[k] for k in PROGRESS if story.get(k)},
    }


def within(service: dict[str, Any] | None) -> str:
    """Where a service sits: "Trust › Hospital"."""
    return " › ".join(a["name"] for a in (service or {}).get("trail", []))


def service_link(svc: dict[str, Any]) -> dict[str, Any]:
    return {"slug": svc["slug"], "name": svc["name"], "within": within(svc)}


def story_view(story: dict[str, Any], services: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """The public face of a published story."""
    return {
        "id": story["id"],
        "title": story.get("title", ""),
        "story": story.get("story", ""),
        "good": story.get("good", ""),
        "improve": story.get("improve", ""),
        "feelings": [feeling_label(f) for f in story.get("feelings", [])],
        "pseudonym": story.get("pseudonym", ""),
        "role": role_label(story.get("role")),
        "experience": month_year(story.get("experience")),
        "published_at": story.get("published_at", ""),
        "tags": list(story.get("tags", [])),
        "services": [service_link(services[s]) for s in story.get("services", []) if s in services],
        # The response promise: its dates and state, public facts by contract.
        "promise": story_promise(story, services),
    }


def listing_entry_view(entry: dict[str, Any], services: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """One story in a list, from a listing entry."""
    return {
        "id": entry["id"],
        "title": entry.get("title", ""),
        "excerpt": entry.get("excerpt", ""),
        "pseudonym": entry.get("pseudonym", ""),
        "role": role_label(entry.get("role")),
        "experience": month_year(entry.get("experience")),
        "published_at": entry.get("published_at", ""),
        "feelings": [feeling_label(f) for f in entry.get("feelings", [])],
        "services": [{"slug": s, "name": services[s]["name"]} for s in entry.get("services", []) if s in services],
        # Where the story stands (listing entries carry the story's progress dates).
        "progress": PROGRESS_WORDS[progress(entry)["current"]],
    }


def story_extras(story: dict[str, Any], items: list[dict[str, Any]], store: Any, settings: Any) -> dict[str, Any]:
    """The me-too count and form, the link to a related story, and the verdict on the change:
    public facts only (no address, no unpublished comment)."""
    related = None
    if story.get("related_story"):
        other = store.get_story(story["related_story"])
        if other and other.get("status") == "published":
            related = {"id": other["id"], "title": other.get("title", "")}
    author = next((i for i in items if i["item"] == "check" and i.get("id") == AUTHOR), None)
    others = {v: int(story.get(f"me_too_{v}") or 0) for v in VERDICTS}
    verdict = story.get("change_verdict") if story.get("change_verdict") in VERDICTS else ""
    return {
        "me_too_count": int(story.get("me_too_count") or 0),
        "me_too_action": f"{settings.api_url.rstrip('/')}/api/stories/{story['id']}/me-too",
        "tell_url": f"/tell-your-story/?related={story['id']}",
        "related": related,
        "verdict": verdict,
        "verdict_at": story.get("change_verdict_at", "") if verdict else "",
        "author_comment": author.get("text", "") if author and author.get("status") == "published" else "",
        "others": others | {"total": sum(others.values())},
    }
