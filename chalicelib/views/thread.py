"""The conversation on a story, as pages, emails and the JSON API show it: read receipts,
responses, author replies, progress.

Built from the one Query that fetches a story's partition (store.story_thread). Fields are
chosen one by one, so nothing private (a subscriber's address, a held response, a moderator's
note) can reach a template by accident.
"""

from __future__ import annotations

from typing import Any, Iterable

# What the public sees of a story's progress, in order, with the story attribute that dates each step.
STEPS = (
    ("published", "Published", "published_at"),
    ("read", "Read by staff", "first_read_at"),
    ("responded", "Responded to", "first_response_at"),
    ("planned", "Change planned", "change_planned_at"),
    ("made", "Change made", "change_made_at"),
)
# A list's one word on where a story stands (the furthest step reached).
PROGRESS_WORDS = {"published": "Not yet read", "read": "Read by staff", "responded": "Responded to",
                  "planned": "Change planned", "made": "Change made"}


def progress(story: dict[str, Any]) -> dict[str, Any]:
    """Each step with its date (or None), and the furthest step reached."""
    steps = [{"key": k, "label": label, "at": story.get(attr) or None} for k, label, attr in STEPS]
    reached = [s for s in steps if s["at"]]
    return {"steps": steps, "current": reached[-1]["key"] if reached else "published"}


def receipt_view(item: dict[str, Any]) -> dict[str, Any]:
    return {
        "name": item.get("name", ""),
        "role": item.get("role", ""),
        "service_name": item.get("service_name", ""),
        "organisation_name": item.get("organisation_name", ""),
        "read_at": item.get("read_at", ""),
    }


def entry_view(item: dict[str, Any]) -> dict[str, Any]:
    """A response or an author reply, as one entry of the conversation."""
    if item["item"] == "response":
        return {
            "kind": "response",
            "id": item["id"],
            "at": item.get("published_at") or item.get("created_at", ""),
            "name": item.get("name", ""),
            "role": item.get("role", ""),
            "service_name": item.get("service_name", ""),
            "organisation_name": item.get("organisation_name", ""),
            "text": item.get("text", ""),
            "change": item.get("change", "none"),
            "change_description": item.get("change_description", ""),
            "pending": False,
        }
    return {
        "kind": "reply",
        "id": item["id"],
        "at": item.get("published_at") or item.get("created_at", ""),
        "text": item.get("text", ""),
        "pending": item.get("status") == "pending",
    }


def conversation(items: Iterable[dict[str, Any]], for_author: bool = False) -> dict[str, Any]:
    """The story's conversation: receipts (first read first), and responses and replies in time order.

    The public sees published entries only. The author also sees their own replies that wait
    for a moderator (`pending`), never a held staff response.
    """
    items = list(items)
    story = next((i for i in items if i["item"] == "story"), {})
    receipts = sorted((receipt_view(i) for i in items if i["item"] == "read"), key=lambda r: r["read_at"])
    shown = []
    for i in items:
        if i["item"] == "response" and i.get("status") == "published":
            shown.append(entry_view(i))
        elif i["item"] == "reply" and (i.get("status") == "published" or (for_author and i.get("status") == "pending")):
            shown.append(entry_view(i))
    shown.sort(key=lambda e: (e["at"], e["id"]))
    return {
        "receipts": receipts,
        "entries": shown,
        "responses": sum(1 for e in shown if e["kind"] == "response"),
        "progress": progress(story),
    }


def made_change(items: list[dict[str, Any]]) -> dict[str, str]:
    """The change a change check asks about: the latest published response that marks a change as made."""
    made = [i for i in items if i["item"] == "response" and i.get("status") == "published" and i.get("change") == "made"]
    if not made:
        return {}
    r = max(made, key=lambda i: i.get("published_at") or i.get("created_at", ""))
    return {"description": r.get("change_description", ""), "name": r.get("name", ""), "role": r.get("role", ""),
            "service_name": r.get("service_name", ""), "at": r.get("published_at") or r.get("created_at", "")}
