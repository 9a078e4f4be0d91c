"""Teamwork on a story, from a member's read-and-respond link: passing it on to the right colleague
or to another service (INQUIRE found hospital staff "often unsure whose responsibility it is to
respond"), and tagging it in their own words, each tag positive, negative or neutral, kept
private, shared with their organisation, or public.

Passing a story changes nothing public: the stream emails the colleague (or the people who watch
the service) the story with the note and a link of their own. Tags are shown only to whom they may
be: one's own private tags, the organisation's shared ones, and public ones to everyone.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from .core import clock, ids
from .core.errors import NotFound, ValidationFailed
from .core.jobs import MailJob
from .core.labels import clean_line
from .core.observability import logger, metrics
from .core.status import Access, SubscriberStatus
from .links import NOT_VALID
from .store import VISIBILITIES

if TYPE_CHECKING:
    from .links import Links
    from .store import ConversationStore, Subscriber

POLARITIES = ("positive", "negative", "neutral")
TAG = re.compile(r"^[a-z0-9]+(-[a-z0-9]+)*$")
MAX_NOTE = 500
MAX_TAGS_PER_PERSON = 20


def tag_slug(text: Any) -> str:
    """A tag as typed ("Discharge letters") as a word of the site's tags (discharge-letters)."""
    return "-".join(re.sub(r"[^a-z0-9 -]", "", str(text or "").strip().lower()).replace("-", " ").split())[:40]


def visible_tags(tags: list[dict[str, Any]], member: dict[str, Any]) -> list[dict[str, Any]]:
    """The tags this member may see: their own, their organisation's shared ones, and public ones."""
    return sorted(
        (
            t
            for t in tags
            if t.get("visibility") == "public"
            or (t.get("visibility") == "shared" and t.get("organisation") == member.get("organisation"))
            or (t.get("visibility") == "private" and t.get("subscriber_id") == member.get("id"))
        ),
        key=lambda t: (VISIBILITIES.index(t.get("visibility", "public")), t.get("tag", "")),
    )


def team_view(store: Any, story_id: str, member: dict[str, Any]) -> dict[str, Any]:
    """What the respond page shows of the team's work: the tags this member may see, and who the
    story was passed to (by members of their organisation), when."""
    passes = [p for p in store.passes(story_id) if p.get("organisation") == member.get("organisation")]
    return {
        "tags": visible_tags(store.staff_tags(story_id), member),
        "passes": [{k: p.get(k, "") for k in ("at", "by_name", "to_name", "note")} for p in passes],
    }


class Teamwork:
    def __init__(self, store: ConversationStore, links: Links, directory: Any):
        self._store = store
        self._links = links
        self._directory = directory

    def _member(self, token: str) -> tuple[dict[str, Any], Subscriber]:
        link, subscriber, _ = self._links.resolve_holder(token, "respond")
        if not subscriber or subscriber.get("access") not in set(Access):
            raise NotFound(NOT_VALID)
        return link, subscriber

    # ---- pass it on ------------------------------------------------------------------------------

    def pass_on(self, token: str, data: dict[str, Any]) -> dict[str, Any]:
        """Pass the link's story to a colleague (their work address: an active member of the same
        organisation) or to a service (found by its name). Returns who it went to."""
        link, member = self._member(token)
        values = {k: str(data.get(k) or "") for k in ("to", "colleague", "service", "note")}
        note = clean_line(values["note"].replace("\n", " "))[:MAX_NOTE] if values["note"] else ""
        record: dict[str, Any] = {
            "at": clock.iso(),
            "by_id": member["id"],
            "by_name": member.get("display_name") or member.get("name", ""),
            "organisation": member.get("organisation", ""),
            "note": note,
        }
        if values["to"] == "colleague":
            colleague = self._store.find_subscriber(values["colleague"].strip()) if "@" in values["colleague"] else None
            if (
                not colleague
                or colleague.get("organisation") != member.get("organisation")
                or colleague.get("status") != SubscriberStatus.ACTIVE
                or not colleague.get("access")
                or colleague["id"] == member["id"]
            ):
                raise ValidationFailed(
                    [
                        {
                            "field": "colleague",
                            "message": "Enter the work email address of a colleague in your organisation who uses FeedForward",
                        }
                    ],
                    values,
                )
            record |= {"to_member_id": colleague["id"], "to_name": colleague.get("display_name") or colleague["name"]}
        elif values["to"] == "service":
            service = self._service(values["service"], values)
            record |= {"to_service": service["slug"], "to_name": service["name"]}
        else:
            raise ValidationFailed([{"field": "to", "message": "Choose a colleague or a service"}], values)
        pass_id = ids.new_id()
        self._store.put_pass(link["story_id"], pass_id, record)
        metrics.add_metric(name="StoriesPassedOn", unit="Count", value=1)
        logger.info("story passed on", extra={"story_id": link["story_id"], "to": values["to"]})
        return {"id": pass_id, "to_name": record["to_name"]}

    def _service(self, name: str, values: dict[str, str]) -> dict[str, Any]:
        """The one service these words name (an exact name wins), or a 422 that helps choose."""
        found = self._directory.search(name) if name.strip() else []
        exact = [s for s in found if s["name"].lower() == name.strip().lower()]
        if len(exact) == 1 or len(found) == 1:
            chosen = (exact or found)[0]
            return self._store.get_service(chosen["slug"]) or chosen
        message = "Enter the name of a service, like “Ward 7”"
        if found:
            names = "; ".join(f"{s['name']} ({s['within']})" if s["within"] else s["name"] for s in found[:5])
            message = f"More than one service matches: write its full name. For example: {names}"
        raise ValidationFailed([{"field": "service", "message": message}], values)

    # ---- staff tags ------------------------------------------------------------------------------

    def tag(self, token: str, data: dict[str, Any]) -> dict[str, Any]:
        """Add (or change) one of this member's tags on the link's story; "remove" takes it off."""
        link, member = self._member(token)
        values = {k: str(data.get(k) or "") for k in ("tag", "polarity", "visibility", "action")}
        word = tag_slug(values["tag"])
        problems = []
        if not word or not TAG.match(word):
            problems.append({"field": "tag", "message": "Write a tag in a few words, like “discharge” or “kindness”"})
        if values["action"] != "remove":
            if values["polarity"] not in POLARITIES:
                problems.append({"field": "polarity", "message": "Choose positive, negative or neutral"})
            if values["visibility"] not in VISIBILITIES:
                problems.append(
                    {"field": "visibility", "message": "Choose who sees it: you, your organisation, or everyone"}
                )
        if problems:
            raise ValidationFailed(problems, values)
        tag = {
            "tag": word,
            "polarity": values["polarity"] or "neutral",
            "visibility": values["visibility"] or "private",
            "subscriber_id": member["id"],
            "organisation": member.get("organisation", ""),
            "organisation_name": member.get("organisation_name", ""),
            "at": clock.iso(),
        }
        if values["action"] == "remove":
            for visibility in VISIBILITIES:
                self._store.remove_staff_tag(link["story_id"], tag | {"visibility": visibility})
            return {"removed": word}
        mine = [t for t in self._store.staff_tags(link["story_id"]) if t.get("subscriber_id") == member["id"]]
        if len(mine) >= MAX_TAGS_PER_PERSON and word not in {t["tag"] for t in mine}:
            raise ValidationFailed(
                [{"field": "tag", "message": f"At most {MAX_TAGS_PER_PERSON} tags each on a story"}], values
            )
        self._store.put_staff_tag(link["story_id"], tag)
        return {"tag": word, "polarity": tag["polarity"], "visibility": tag["visibility"]}


MAX_PASS_RECIPIENTS = 100


def pass_jobs(store: Any, story_id: str, pass_id: str, record: dict[str, Any]) -> list[MailJob]:
    """The stream's part: who a new pass emails. A colleague; or the people who follow the service
    (its own watchers, at most MAX_PASS_RECIPIENTS), never the person who passed it."""
    if record.get("to_member_id"):
        recipients = [record["to_member_id"]]
    else:
        recipients = []
        for watch in store.watchers(record.get("to_service", "")):
            sid = watch["subscriber_id"]
            if sid != record.get("by_id") and sid not in recipients:
                recipients.append(sid)
            if len(recipients) >= MAX_PASS_RECIPIENTS:
                break
    return [MailJob(kind="story_passed", story_id=story_id, ref=f"{pass_id}:{sid}") for sid in recipients]
