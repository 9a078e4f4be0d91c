"""The one view layer: what pages, emails and the public API show of a story and of the people
around it: its entries in lists, its page, its progress and thread, the promise, its extras (me
too, the verdict on a change), and the words for criticality, roles, subscriptions and dates.

Fields are chosen one by one, so nothing private can reach a template, an email or an answer by
accident. Views import only core, never site, edge, mail or a flow, so every wing can use them
(the store's protocols and the settings are imported for their types alone).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from ..core import clock, i18n
from ..core.calendar import DEFAULT_CALENDAR, HOLIDAYS_SAID, uk_zone, working_days_between
from ..core.concerns import PLACEHOLDER, placeholder
from ..core.labels import CRITICALITY_WORDS, FEELING_LABELS, ROLE_LABELS, ROUTE_LABELS, TAKEN_ROUTES
from ..core.status import ItemStatus, Status, public

if TYPE_CHECKING:
    from ..core.settings import Settings
    from ..store import StoryStore

# ---- words for values: months, roles, feelings, criticality, days --------------------------------
# Pages, emails and the JSON API say each thing the same way because they take the words from here.

MONTHS = i18n.MONTHS  # English: translated where shown (i18n.month_name)


def month_year(value: Any) -> str:
    """ "2026-12" as "December 2026"."""
    text = str(value or "")
    year, _, month = text.partition("-")
    if year.isdigit() and month.isdigit() and 1 <= int(month) <= 12:
        return f"{i18n.month_name(int(month))} {int(year)}"
    return text


SOMEONE = i18n.N_("someone")


def role_label(value: Any) -> str:
    """A role as the public reads it (an unknown one is "someone")."""
    return i18n.gettext(ROLE_LABELS.get(str(value), SOMEONE))


def staff_role_label(role: str) -> str:
    """A role as a letter to staff names it (an unknown one is left out)."""
    return ROLE_LABELS.get(role, "")


def feeling_label(value: Any) -> str:
    known = FEELING_LABELS.get(str(value))
    return i18n.gettext(known) if known else str(value).replace("-", " ")


def field_text(value: Any) -> str:
    """A form field's value as the text to show back in it (the last, where a form sent several)."""
    if value is None or isinstance(value, bool):
        return ""
    if isinstance(value, list):
        return str(value[-1]) if value else ""
    return str(value)


def criticality_label(value: Any) -> str:
    """ "3 – moderately critical", for staff only ("" when unreadable)."""
    try:
        n = max(0, min(5, int(value)))
    except (TypeError, ValueError):
        return ""
    return f"{n} – {CRITICALITY_WORDS[n]}"


def day_label(day: str) -> str:
    """ "2026-11-26" -> "Thursday 26 November 2026"."""
    try:
        moment = clock.parse(f"{day}T00:00:00Z")
    except ValueError:
        return day
    return f"{moment:%A} {moment.day} {moment:%B %Y}"


def long_day(value: str) -> str:
    """An ISO timestamp as "Tuesday 5 January 2027" (UK time)."""
    moment = clock.parse(value).astimezone(uk_zone())
    return f"{moment:%A} {moment.day} {moment:%B %Y}"


# ---- the response promise, as pages, emails and the JSON API show it: public dates and states only --

# The ladder's steps in order: promise.py times them, ladder.py climbs them, the letters name them.
LADDER_STEPS = ("reminder", "overdue", "organisation")


def holidays_said(calendar: str | None) -> str:
    """Whose bank holidays a promise's working days skip, in words."""
    return i18n.gettext(HOLIDAYS_SAID.get(calendar or DEFAULT_CALENDAR, i18n.N_("bank holidays")))


def service_promise(service: dict[str, Any]) -> dict[str, Any] | None:
    """A service's own promise, for its page (None when it has none)."""
    if not service.get("response_days"):
        return None
    return {"response_days": service["response_days"], "holidays": holidays_said(service.get("holidays"))}


def story_promise(story: Mapping[str, Any], services: dict[str, dict[str, Any]] | None = None) -> dict[str, Any]:
    """The promise as the story page and its JSON show it: public dates and states only.
    {} for a story with no promise. Dates are stated rather than "N days ago", so a static
    page stays true as days pass; becoming overdue is a state change, which re-renders it.
    `services` (slug -> item) names the service whose promise it is (the strictest)."""
    days = story.get("response_days")
    if not days or not story.get("response_due_at"):
        return {}
    calendar = story.get("response_holidays") or DEFAULT_CALENDAR
    view: dict[str, Any] = {
        "days": int(days),
        "due_at": story["response_due_at"],
        "since": story.get("published_at", ""),
        "holidays": holidays_said(calendar),
    }
    known = services or {}
    mine = [known[s] for s in story.get("services", []) if s in known]
    named = [service_name(svc) for svc in mine if svc.get("response_days") == int(days)]
    view["service_name"] = named[0] if named else ""
    if story.get("first_response_at"):
        view["state"] = "responded"
        view["responded_at"] = story["first_response_at"]
        if story.get("published_at"):
            view["response_working_days"] = working_days_between(
                clock.parse(story["published_at"]), clock.parse(story["first_response_at"]), calendar=calendar
            )
    elif story.get("overdue_at"):
        view["state"] = "overdue"
        view["overdue_at"] = story["overdue_at"]
    else:
        view["state"] = "awaiting"
    return view


# ---- the conversation on a story, and its progress -----------------------------------------------
# The conversation on a story, as pages, emails and the JSON API show it: read receipts,
# responses, author replies, progress.
#
# Built from the one Query that fetches a story's partition (store.story_thread). Fields are
# chosen one by one, so nothing private (a subscriber's address, a held response, a moderator's
# note) can reach a template by accident.

# What the public sees of a story's progress, in order, with the story attribute that dates each step.
STEPS = (
    ("published", i18n.N_("Published"), "published_at"),
    ("read", i18n.N_("Read by staff"), "first_read_at"),
    ("responded", i18n.N_("Responded to"), "first_response_at"),
    ("planned", i18n.N_("Change planned"), "change_planned_at"),
    ("made", i18n.N_("Change made"), "change_made_at"),
)
# A list's one word on where a story stands (the furthest step reached).
PROGRESS_WORDS = {
    "published": i18n.N_("Not yet read"),
    "read": i18n.N_("Read by staff"),
    "responded": i18n.N_("Responded to"),
    "planned": i18n.N_("Change planned"),
    "made": i18n.N_("Change made"),
}


def _progress_words(story: Mapping[str, Any]) -> str:
    return PROGRESS_WORDS[progress(story)["current"]]


def progress(story: Mapping[str, Any]) -> dict[str, Any]:
    """Each step with its date (or None), and the furthest step reached."""
    steps = [{"key": k, "label": i18n.gettext(label), "at": story.get(attr) or None} for k, label, attr in STEPS]
    reached = [s for s in steps if s["at"]]
    return {"steps": steps, "current": reached[-1]["key"] if reached else "published"}


def receipt_view(item: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "name": item.get("name", ""),
        "role": item.get("role", ""),
        "service_name": item.get("service_name", ""),
        "organisation_name": item.get("organisation_name", ""),
        "read_at": item.get("read_at", ""),
    }


def entry_view(item: Mapping[str, Any]) -> dict[str, Any]:
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
            # A confirmed member of that organisation with the grant to respond (older ones carry nothing).
            "verified": bool(item.get("verified")),
            "edited_at": item.get("edited_at", ""),
            "on_behalf_of": item.get("on_behalf_of", ""),
            "text": item.get("text", ""),
            "change": item.get("change", "none"),
            "change_description": item.get("change_description", ""),
            "pending": False,
            "moderator_edited_at": item.get("moderator_edited_at", ""),
            "placeholder": placeholder("response", dict(item)),  # hidden or restricted (issue 16)
        }
    return {
        "kind": "reply",
        "id": item["id"],
        "at": item.get("published_at") or item.get("created_at", ""),
        "text": item.get("text", ""),
        ItemStatus.PENDING: item.get("status") == ItemStatus.PENDING,
        "moderator_edited_at": item.get("moderator_edited_at", ""),
        "placeholder": placeholder("reply", dict(item)),
    }


def conversation(items: Iterable[Mapping[str, Any]], for_author: bool = False) -> dict[str, Any]:
    """The story's conversation: receipts (first read first), and responses and replies in time order.

    The public sees published entries only. The author also sees their own replies that wait
    for a moderator (`pending`), never a held staff response.
    """
    items = list(items)
    story = next((i for i in items if i["item"] == "story"), {})
    receipts = sorted((receipt_view(i) for i in items if i["item"] == "read"), key=lambda r: r["read_at"])
    shown = []
    for i in items:
        status = i.get("status")
        own = for_author and i["item"] == "reply" and status == ItemStatus.PENDING  # the author's own, waiting
        if i["item"] in ("response", "reply") and (status == ItemStatus.PUBLISHED or own):
            shown.append(entry_view(i))
        elif i["item"] in ("response", "reply") and status in PLACEHOLDER:  # its place, none of its words
            shown.append(entry_view(i) | {"text": "", "change": "none", "change_description": ""})
    shown.sort(key=lambda e: (e["at"], e["id"]))
    return {
        # Staff tags made public (teamwork.py): each with its polarity and who tagged it.
        "staff_tags": sorted(
            (
                {
                    "tag": i.get("tag", ""),
                    "polarity": i.get("polarity", "neutral"),
                    "by": i.get("organisation_name", ""),
                }
                for i in items
                if i["item"] == "stafftag" and i.get("visibility") == "public"
            ),
            key=lambda t: (t["by"], t["tag"]),
        ),
        "receipts": receipts,
        "entries": shown,
        "responses": sum(1 for e in shown if e["kind"] == "response" and not e["placeholder"]),
        "progress": progress(story),
    }


def made_change(items: Iterable[Mapping[str, Any]]) -> dict[str, str]:
    """The change a change check asks about: the latest published response that marks a change as made."""
    made = [
        i
        for i in items
        if i["item"] == "response" and i.get("status") == ItemStatus.PUBLISHED and i.get("change") == "made"
    ]
    if not made:
        return {}
    r = max(made, key=lambda i: i.get("published_at") or i.get("created_at", ""))
    return {
        "description": r.get("change_description", ""),
        "name": r.get("name", ""),
        "role": r.get("role", ""),
        "service_name": r.get("service_name", ""),
        "at": r.get("published_at") or r.get("created_at", ""),
    }


# ---- a story in lists and on its page, and its extras --------------------------------------------
# A story as lists, its page and its JSON show it: public fields only, chosen one by one.
#
# Criticality, decision notes, who decided and any contact detail are left out here, so no
# template and no answer can show them.

EXCERPT_CHARS = 300
# A story's progress, in the order the public sees it: not yet read → read → responded → change planned → made.
PROGRESS = ("first_read_at", "first_response_at", "change_planned_at", "change_made_at")
# Change checks: the author's answer is kept under this recipient; the answers anyone may give, in words.
AUTHOR = "author"
VERDICTS = ("yes", "partly", "no")
VERDICT_WORDS = {"yes": "Yes, it made a difference", "partly": "Partly", "no": "No, it made no difference"}


def listing_entry(story: Mapping[str, Any]) -> dict[str, Any]:
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
        "route": story.get("route") or "web",  # how it came in (issue 19): public, never who invited or entered it
        # Progress, so lists can show where each story stands.
        **{k: story[k] for k in PROGRESS if story.get(k)},
    }


def service_name(svc: Mapping[str, Any]) -> str:
    """A service's name in the language in use: its Welsh name on Welsh pages, where it has one (issue 19)."""
    return str(svc.get(f"name_{i18n.current()}") or svc["name"])


def within(service: dict[str, Any] | None) -> str:
    """Where a service sits: "Trust › Hospital"."""
    return " › ".join(service_name(a) for a in (service or {}).get("trail", []))


def service_link(svc: dict[str, Any]) -> dict[str, Any]:
    """A service as a story names it, with where it sits: as words, and as the services to link (issue 20)."""
    trail = [{"slug": a["slug"], "name": service_name(a)} for a in svc.get("trail", [])]
    return {"slug": svc["slug"], "name": service_name(svc), "within": within(svc), "trail": trail}


def story_view(story: Mapping[str, Any], services: dict[str, dict[str, Any]]) -> dict[str, Any]:
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
        "moderator_edited_at": story.get("moderator_edited_at", ""),  # "edited by a moderator on …"
        # How it came in (issue 19): staff always see it; the public, when someone wrote it down for its author.
        "route": i18n.gettext(ROUTE_LABELS.get(story.get("route") or "web", "")),
        "told_through": story.get("route") in TAKEN_ROUTES,
        # Pulled in (issue 21): the source's name and the original's address, public where the story is.
        "source": {"name": src.get("name", ""), "url": src.get("url", "")} if (src := story.get("source")) else None,
        "staff_only": bool(story.get("staff_only")),
        "language": i18n.lang_tag(i18n.known(story.get("language"))),  # the language it was told in (issue 19)
    }


def listing_entry_view(entry: Mapping[str, Any], services: dict[str, dict[str, Any]]) -> dict[str, Any]:
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
        "services": [
            {"slug": s, "name": service_name(services[s])} for s in entry.get("services", []) if s in services
        ],
        # Where the story stands (listing entries carry the story's progress dates).
        "progress": i18n.gettext(_progress_words(entry)),
    }


def story_extras(
    story: Mapping[str, Any], items: Sequence[Mapping[str, Any]], store: StoryStore, settings: Settings
) -> dict[str, Any]:
    """The me-too count and form, the link to a related story, and the verdict on the change:
    public facts only (no address, no unpublished comment)."""
    related = None
    if story.get("related_story"):
        other = store.get_story(story["related_story"])
        if public(other):  # never a title kept for staff only (issue 21)
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
        "author_comment": author.get("text", "") if author and author.get("status") == Status.PUBLISHED else "",
        "others": others | {"total": sum(others.values())},
    }


# ---- staff subscriptions in words, and the links their emails carry ------------------------------
# Staff subscriptions as pages and emails show them: their settings in plain words, and the
# links each email to a subscriber carries (a fresh one every time: links.py issues them).

FREQUENCY_WORDS = {
    "immediate": "As soon as each story is published",
    "digest": "A daily digest",
}
STATUS_WORDS = {
    "active": "On",
    "pending": "Waiting for you to confirm it (check your email)",
    "unsubscribed": "Stopped",
}


# ---- words -----------------------------------------------------------------------------------


def criticality_words(n: int) -> str:
    """What a minimum criticality means for the stories someone hears about."""
    n = int(n or 0)
    if n <= 0:
        return "Every story, whatever its criticality"
    if n >= 5:
        return "Only stories rated severely critical (5 out of 5)"
    return f"Stories rated {CRITICALITY_WORDS[n]} or more ({n} or higher out of 5)"


def criticality_choices() -> list[dict[str, str]]:
    out = [{"value": "0", "label": "Every story", "hint": "From 0, not critical, upwards"}]
    for n in range(1, 5):
        out.append(
            {
                "value": str(n),
                "label": f"{CRITICALITY_WORDS[n].capitalize()} or more",
                "hint": f"{n} or higher out of 5",
            }
        )
    out.append({"value": "5", "label": "Only severely critical stories", "hint": "5 out of 5"})
    return out


def frequency_choices() -> list[dict[str, str]]:
    return [
        {"value": "immediate", "label": FREQUENCY_WORDS["immediate"], "hint": "One email for each story"},
        {
            "value": "digest",
            "label": FREQUENCY_WORDS["digest"],
            "hint": "One email each morning listing the stories published the day before, and none on days without any",
        },
    ]


def join_list(items: list[str], word: str = "and") -> str:
    """["a", "b", "c"] as "a, b and c" (or another last word)."""
    if len(items) <= 1:
        return "".join(items)
    return ", ".join(items[:-1]) + f" {word} " + items[-1]


def _tags_words(tags: list[str]) -> str:
    if not tags:
        return "Stories on any subject"
    # Tags are kept as slugs (waiting-times) and said as words (waiting times).
    return "Only stories tagged " + join_list([t.replace("-", " ") for t in tags], "or")


def subscription_view(sub: Mapping[str, Any], service: dict[str, Any] | None = None) -> dict[str, Any]:
    """One subscription in plain words, for pages and emails."""
    tags = list(sub.get("tags", []))
    return {
        "id": sub["id"],
        "service": sub.get("service", ""),
        "service_name": (service or {}).get("name") or sub.get("service_name", sub.get("service", "")),
        "within": within(service),
        "tags": tags,
        "tags_words": _tags_words(tags),
        "min_criticality": int(sub.get("min_criticality", 0)),
        "criticality_words": criticality_words(sub.get("min_criticality", 0)),
        "frequency": sub.get("frequency", "immediate"),
        "frequency_words": FREQUENCY_WORDS.get(sub.get("frequency", ""), sub.get("frequency", "")),
        "status": sub.get("status", ""),
        "status_words": STATUS_WORDS.get(sub.get("status", ""), sub.get("status", "")),
    }
