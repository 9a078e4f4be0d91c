"""Which search shard holds which months: a hot shard for the current month, and frozen shards of
closed months, each bounded (docs/search.md).

Pure logic: the search job hands in the layout it published last and the count of published stories
per month (the "_all" listing's figures), and gets the layout to publish now. A frozen shard's months
never move to another shard: a month that closes is added to the newest frozen shard while that
stays within the bound, or starts a new one. So a change rebuilds one shard, and the shards a
browser merges stay the same from one build to the next.
"""

from __future__ import annotations

from typing import TypedDict

# A frozen shard holds at most this many stories. Its pf_meta (about 9.3 bytes a story: stack-facts)
# is what a query downloads for each shard it searches, so the bound keeps a query small: with 20,000
# a full hot month (9,000 at Care Opinion's rate) and a full frozen shard came to 501 KB (bench: search).
SHARD_LIMIT = 10_000
FROZEN = "from-"  # a frozen shard's id: "from-<its first month>"; the hot shard's id is its month


class Shard(TypedDict):
    id: str
    months: list[str]  # oldest first
    stories: int


def hot_id(month: str) -> str:
    return month


def plan(previous: list[Shard], counts: dict[str, int], current: str, limit: int = SHARD_LIMIT) -> list[Shard]:
    """The layout now, newest shard first: the hot shard (the current month), then the frozen shards,
    the previous ones kept as they were (with today's counts) and the months closed since added."""
    frozen: list[Shard] = [
        {"id": s["id"], "months": list(s["months"]), "stories": sum(int(counts.get(m, 0)) for m in s["months"])}
        for s in previous
        if s["id"].startswith(FROZEN)
    ]
    assigned = {m for s in frozen for m in s["months"]}
    closed = sorted(m for m, n in counts.items() if m < current and m not in assigned and int(n) > 0)
    for month in closed:
        n = int(counts[month])
        newest = max(frozen, key=lambda s: s["months"][-1], default=None)
        if newest and newest["months"][-1] < month and newest["stories"] + n <= limit:
            newest["months"].append(month)
            newest["stories"] += n
        else:
            frozen.append({"id": FROZEN + month, "months": [month], "stories": n})
    frozen.sort(key=lambda s: s["months"][-1], reverse=True)
    hot: Shard = {"id": hot_id(current), "months": [current], "stories": int(counts.get(current, 0))}
    return [hot, *frozen]


def shard_of(layout: list[Shard], month: str) -> Shard | None:
    return next((s for s in layout if month in s["months"]), None)
