"""A generated month (and the month before) of published stories for reports: varied services,
tags, criticality, responses, changes, verdicts and overdue marks, written straight to the table as
the stream would leave them (store.put_published: story, listing entries, facts and counters), each
with a published response from a named member of staff and a private contact address that no
report may ever show. And a brute-force recount of their figures, written apart from the code."""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from chalicelib import wiring
from chalicelib.core import clock
from chalicelib.core.ids import new_id, new_story_id
from chalicelib.store import EVERYTHING, month_list, tag_list, to_item
from chalicelib.views import listing_entry

EVIL_TITLE = '=HYPERLINK("http://evil.example","x")'
TAGS = ("nursing", "food", "waiting-times", "communication")
RIVERSIDE = ("riverside-ward-7", "riverside-maternity", "riverside-general")
HILLSIDE = ("hillside-district-nursing",)


@dataclass
class Generated:
    stories: list[dict[str, Any]]  # every story written, both organisations
    responses: dict[str, list[dict[str, Any]]]  # story id -> its published responses
    addresses: dict[str, str]  # story id -> the author's private address


def _iso(moment: datetime) -> str:
    return clock.iso(moment)


def generate(
    month_start: datetime, months: int = 2, per_month: int = 40, seed: int = 15, evil: bool = True
) -> Generated:
    """`per_month` Riverside stories (and a few of Hillside's) in each of `months` months ending with
    the one starting at month_start, written to the table."""
    rng = random.Random(seed)
    store = wiring.store()
    services = store.get_services([*RIVERSIDE, *HILLSIDE])
    stories: list[dict[str, Any]] = []
    responses: dict[str, list[dict[str, Any]]] = {}
    addresses: dict[str, str] = {}
    batch = []
    for back in range(months):
        start = month_start.replace(day=1)
        for _ in range(back):
            start = (start - timedelta(days=1)).replace(day=1)
        end = (start + timedelta(days=32)).replace(day=1)
        span = (end - start).total_seconds()
        for n in range(per_month + 4):
            published = start + timedelta(seconds=rng.randrange(int(span)))
            mine = HILLSIDE if n >= per_month else rng.sample(RIVERSIDE, rng.choice((1, 1, 2)))
            story: dict[str, Any] = {
                "id": new_story_id(),
                "status": "published",
                "version": 2,
                "submitted_at": _iso(published - timedelta(hours=2)),
                "published_at": _iso(published),
                "decided_at": _iso(published),
                "decided_by": "mod@example.org",
                "title": f"Story {back}-{n} about {mine[0]}",
                "story": f"What happened, {n}.\nAnother line.",
                "good": "The nurses listened.",
                "improve": "-5 minutes waiting" if n % 7 == 0 else "The wait.",
                "feelings": ["listened-to"],
                "role": rng.choice(["patient", "carer", "relative"]),
                "pseudonym": f"Teller {n}",
                "experience": start.strftime("%Y-%m"),
                "services": list(mine),
                "has_contact": True,
                "tags": sorted(rng.sample(TAGS, rng.choice((0, 1, 1, 2)))),
                "criticality": rng.randint(0, 5),
            }
            if evil and back == 0 and n == 0:
                story["title"] = EVIL_TITLE
            if rng.random() < 0.65:
                first = published + timedelta(minutes=rng.randrange(10, 60 * 300))
                story["first_read_at"] = _iso(first - timedelta(minutes=5))
                story["first_response_at"] = _iso(first)
                if rng.random() < 0.4:
                    story["change_planned_at"] = _iso(first)
                if rng.random() < 0.3:
                    story["change_made_at"] = _iso(first + timedelta(days=rng.randrange(1, 20)))
                    if rng.random() < 0.5:
                        story["change_verdict"] = rng.choice(["yes", "partly", "no"])
                response = {
                    "id": new_id(),
                    "status": "published",
                    "created_at": _iso(first),
                    "published_at": _iso(first),
                    "subscriber_id": new_id(),
                    "name": f"Nurse {n}",
                    "role": "Ward Manager" if n % 2 else "@Matron",
                    "organisation_name": "Riverside NHS Foundation Trust",
                    "service": mine[0],
                    "service_name": services[mine[0]]["name"],
                    "text": f"Thank you for story {n}. +We are sorry.",
                    "change": "made" if story.get("change_made_at") else "none",
                    "change_description": "A named nurse at night." if story.get("change_made_at") else "",
                }
                responses[story["id"]] = [response]
            else:
                story["response_days"] = 5
                story["response_due_at"] = _iso(published + timedelta(days=7))
                if rng.random() < 0.5:
                    story["overdue_at"] = _iso(published + timedelta(days=7))
            lists = sorted({p for s in mine for p in services[s]["path"]})
            lists += [EVERYTHING, *[tag_list(t) for t in story["tags"]], month_list(story["published_at"][:7])]
            batch.append((story, listing_entry(story), lists))
            stories.append(story)
            addresses[story["id"]] = f"author.{story['id']}@private.example"
    store.put_published(batch)
    store.register_names("tags", TAGS)
    client = store._db
    for story in stories:
        client.put_item(
            TableName=store._table,
            Item=to_item(
                {
                    "PK": f"PRIVATE#{story['id']}",
                    "SK": "CONTACT",
                    "email": addresses[story["id"]],
                    "story_id": story["id"],
                }
            ),
        )
        for response in responses.get(story["id"], []):
            store.put_response(story["id"], response)
    return Generated(stories, responses, addresses)


# ---- a brute-force recount, apart from chalicelib's figures ------------------------------------------


def hours(story: dict[str, Any]) -> int:
    seconds = (clock.parse(story["first_response_at"]) - clock.parse(story["published_at"])).total_seconds()
    return max(0, math.ceil(seconds / 3600))


def nearest_rank(values: list[int], fraction: float) -> int | None:
    if not values:
        return None
    ordered = sorted(values)
    return ordered[max(1, math.ceil(len(ordered) * fraction)) - 1]


def recount(stories: list[dict[str, Any]]) -> dict[str, Any]:
    responded = [s for s in stories if s.get("first_response_at")]
    times = [hours(s) for s in responded]
    return {
        "stories": len(stories),
        "responded": len(responded),
        "response_rate": len(responded) / len(stories) if stories else None,
        "median_hours": nearest_rank(times, 0.5),
        "p90_hours": nearest_rank(times, 0.9),
        "overdue": sum(1 for s in stories if s.get("overdue_at") and not s.get("first_response_at")),
        "planned": sum(1 for s in stories if s.get("change_planned_at")),
        "made": sum(1 for s in stories if s.get("change_made_at")),
        "confirmed": sum(1 for s in stories if s.get("change_verdict") == "yes"),
    }


def within(story: dict[str, Any], lo: datetime, hi: datetime) -> bool:
    return _iso(lo) <= story["published_at"] < _iso(hi)


def month_bounds(year: int, month: int) -> tuple[datetime, datetime]:
    lo = datetime(year, month, 1, tzinfo=UTC)
    hi = datetime(year + month // 12, month % 12 + 1, 1, tzinfo=UTC)
    return lo, hi
