"""Figures: each story's facts, the counters the stream keeps from them, and their summary."""

from __future__ import annotations

import itertools
import json
import math
import os
import random
from datetime import UTC, datetime, timedelta

import pytest

from chalicelib import wiring
from chalicelib.core import figures
from chalicelib.moderation import Moderator
from chalicelib.store import EVERYTHING, TABLE_DEFINITION, Store, to_item
from tests.support.factories import story_body

PUBLISHED_AT = "2026-03-02T10:00:00.000Z"


def story(**kw) -> dict:
    return {"id": "S1", "status": "published", "published_at": PUBLISHED_AT} | kw


# ---- facts: a pure function of one story -----------------------------------------------------------


@pytest.mark.parametrize("status", ["pending", "held", "rejected", "withdrawn", "erasing"])
def test_a_story_that_is_not_published_contributes_nothing(status):
    assert figures.facts(story(status=status, first_response_at="2026-03-03T10:00:00.000Z")) == {}
    assert figures.facts(None) == {}


PROGRESS = ["first_response_at", "change_planned_at", "change_made_at", "overdue_at", "change_verdict"]


@pytest.mark.parametrize("present", [c for n in range(len(PROGRESS) + 1) for c in itertools.combinations(PROGRESS, n)])
@pytest.mark.parametrize("verdict", ["yes", "partly", "no"])
def test_facts_for_every_combination_of_progress(present, verdict):
    values = {
        "first_response_at": "2026-03-03T12:30:00.000Z",
        "change_planned_at": "2026-03-04T00:00:00.000Z",
        "change_made_at": "2026-03-05T00:00:00.000Z",
        "overdue_at": "2026-03-10T00:00:00.000Z",
        "change_verdict": verdict,
    }
    f = figures.facts(story(**{k: values[k] for k in present}))
    responded = "first_response_at" in present
    expected = {
        "published": 1,
        "month": "2026-03",
        "responded": int(responded),
        "planned": int("change_planned_at" in present),
        "made": int("change_made_at" in present),
        "confirmed": int("change_verdict" in present and verdict == "yes"),
        "overdue": int("overdue_at" in present and not responded),
    }
    if responded:
        expected["response_hours"] = 27  # 26.5 hours, counted up to whole hours
    assert f == expected


def test_response_hours_round_up_and_never_go_negative():
    assert figures.facts(story(first_response_at="2026-03-02T10:00:00.000Z"))["response_hours"] == 0
    assert figures.facts(story(first_response_at="2026-03-02T10:00:01.000Z"))["response_hours"] == 1
    assert figures.facts(story(first_response_at="2026-03-02T09:00:00.000Z"))["response_hours"] == 0


def test_summary_of_an_empty_counter():
    s = figures.summary({})
    assert s["stories"] == 0 and s["response_rate"] is None and s["median_hours"] is None and s["months"] == {}


def test_plain_words_for_durations():
    assert [figures.duration_words(h) for h in (None, 0, 1, 5, 47, 48, 61, 24 * 9)] == [
        "",
        "under an hour",
        "1 hour",
        "5 hours",
        "47 hours",
        "2 days",
        "3 days",
        "9 days",
    ]
    assert figures.share_words(2 / 3) == "67%" and figures.share_words(None) == ""


# ---- the counters, through the store ---------------------------------------------------------------


_SEQUENCE = itertools.count(100000000000000000001)


def record(old: dict | None, new: dict | None, sid: str = "S1", seq: int | None = None) -> dict:
    """A stream record of the story item (what DynamoDB Streams delivers): each a newer
    SequenceNumber than the last, unless `seq` names one (a replay of an older record)."""
    keys = {"PK": f"STORY#{sid}", "SK": "STORY"}
    ddb = {"Keys": to_item(keys), "SequenceNumber": str(seq if seq is not None else next(_SEQUENCE))}
    if old:
        ddb["OldImage"] = to_item(keys | old)
    if new:
        ddb["NewImage"] = to_item(keys | new)
    return {"eventName": "MODIFY" if old and new else "INSERT" if new else "REMOVE", "dynamodb": ddb}


def counts(store, listing: str) -> dict:
    c = store.figures(listing, consistent=True)
    return {k: c.get(k, 0) for k in figures.COUNTS} | {"hours": c["hours"], "months": c["months"]}


@pytest.fixture
def handler(aws, directory):
    return wiring.changes()


def ward_story(**kw) -> dict:
    return {
        "id": "S1",
        "status": "published",
        "version": 2,
        "title": "T",
        "story": "S",
        "pseudonym": "P",
        "published_at": PUBLISHED_AT,
        "services": ["riverside-ward-7"],
        "tags": ["nursing"],
    } | kw


def test_a_repeated_stream_record_changes_no_counter(aws, handler):
    store = wiring.store()
    pending = ward_story(status="pending", version=1)
    published = ward_story()
    handler.handle(record(pending, published))
    once = {name: counts(store, name) for name in ("riverside-ward-7", EVERYTHING, "tag:nursing")}
    assert once["riverside-ward-7"]["published"] == 1 and once["riverside-ward-7"]["months"] == {"2026-03": 1}
    handler.handle(record(pending, published))
    assert {name: counts(store, name) for name in once} == once

    responded = published | {"first_response_at": "2026-03-02T15:00:00.000Z"}
    for _ in range(3):
        handler.handle(record(published, responded))
    c = counts(store, "riverside-ward-7")
    assert c["published"] == 1 and c["responded"] == 1 and c["hours"] == {5: 1}


def test_a_replayed_older_record_never_steps_a_figure_back(aws, handler):
    """Issue 22: a record delivered again after a newer one (a stream retry, a bisected batch) used to
    put its older facts back until the newer record came again."""
    store = wiring.store()
    pending, published = ward_story(status="pending", version=1), ward_story()
    responded = published | {"first_response_at": "2026-03-02T15:00:00.000Z"}
    first, second = record(pending, published), record(published, responded)
    handler.handle(first)
    handler.handle(second)
    after = counts(store, "riverside-ward-7")
    assert after["responded"] == 1 and after["hours"] == {5: 1}
    handler.handle(first)  # the older record again
    assert counts(store, "riverside-ward-7") == after
    # Withdrawn, then the publication replayed: the story is not counted again.
    handler.handle(record(responded, responded | {"status": "withdrawn"}))
    gone = counts(store, EVERYTHING)
    assert gone["published"] == 0
    handler.handle(first)
    handler.handle(second)
    assert counts(store, EVERYTHING) == gone


def test_withdrawing_or_unpublishing_removes_the_contribution(aws, handler):
    store = wiring.store()
    published = ward_story(first_response_at="2026-03-03T10:00:00.000Z", change_planned_at="2026-03-04T10:00:00.000Z")
    handler.handle(record(ward_story(status="pending"), published))
    assert counts(store, "riverside-trust")["planned"] == 1
    handler.handle(record(published, published | {"status": "withdrawn"}))
    for name in ("riverside-ward-7", "riverside-general", "riverside-trust", EVERYTHING, "tag:nursing"):
        c = counts(store, name)
        assert c == {k: 0 for k in figures.COUNTS} | {"hours": {}, "months": {}}, name
    assert store.story_facts("S1")["facts"] == {} and store.story_facts("S1")["listings"] == []
    # Held again and published again: counted once more, once.
    handler.handle(record(published | {"status": "held"}, published))
    handler.handle(record(published | {"status": "held"}, published))
    assert counts(store, EVERYTHING)["published"] == 1 and counts(store, EVERYTHING)["responded"] == 1


def test_a_story_moved_to_another_service_leaves_the_old_listings(aws, handler):
    store = wiring.store()
    published = ward_story()
    handler.handle(record(ward_story(status="pending"), published))
    moved = published | {"services": ["hillside-district-nursing"], "tags": []}
    handler.handle(record(published, moved))
    assert counts(store, "riverside-trust")["published"] == 0
    assert counts(store, "tag:nursing")["published"] == 0
    assert counts(store, "hillside-trust")["published"] == 1 and counts(store, EVERYTHING)["published"] == 1


def test_overdue_counts_until_the_first_response(aws, handler):
    store = wiring.store()
    published = ward_story()
    handler.handle(record(ward_story(status="pending"), published))
    overdue = published | {"overdue_at": "2026-03-09T10:00:00.000Z"}
    handler.handle(record(published, overdue))
    assert counts(store, "riverside-general")["overdue"] == 1
    answered = overdue | {"first_response_at": "2026-03-10T10:00:00.000Z", "change_verdict": "yes"}
    handler.handle(record(overdue, answered))
    c = counts(store, "riverside-general")
    assert c["overdue"] == 0 and c["responded"] == 1 and c["confirmed"] == 1 and c["hours"] == {192: 1}


def test_a_ward_story_counts_on_ward_hospital_trust_and_home_through_the_pipeline(aws, client, pump, directory):
    body = story_body(services=["riverside-ward-7"])
    resp = client.http.post("/api/stories", body=json.dumps(body), headers={"Content-Type": "application/json"})
    sid = json.loads(resp.body)["id"]
    pump.drain()
    wiring.moderation().decide(
        sid, {"action": "publish", "version": 1, "criticality": 1, "tags": ["nursing"]}, Moderator("mod", "Mod")
    )
    pump.drain()
    store = wiring.store()
    for name in ("riverside-ward-7", "riverside-general", "riverside-trust", EVERYTHING, "tag:nursing"):
        assert counts(store, name)["published"] == 1, name
    for name in ("hillside-trust", "riverside-maternity"):
        assert counts(store, name)["published"] == 0, name
    # A response, through the real conversation path's store call, is counted once.
    at = store.get_story(sid)["published_at"]
    store.mark_progress(sid, "first_response_at", at)
    pump.drain()
    assert counts(store, "riverside-trust")["responded"] == 1
    assert figures.summary(store.figures("riverside-trust", consistent=True))["median_hours"] == 0


# ---- the summary against brute force over a generated history --------------------------------------


def brute(stories: dict[str, dict]) -> dict:
    live = [s for s in stories.values() if s.get("status") == "published"]
    hours = sorted(figures.facts(s)["response_hours"] for s in live if s.get("first_response_at"))

    def nearest_rank(p: float):
        return hours[math.ceil(p * len(hours)) - 1] if hours else None

    months: dict[str, int] = {}
    for s in live:
        months[s["published_at"][:7]] = months.get(s["published_at"][:7], 0) + 1
    return {
        "stories": len(live),
        "responded": len(hours),
        "median_hours": nearest_rank(0.5),
        "p90_hours": nearest_rank(0.9),
        "overdue": sum(1 for s in live if s.get("overdue_at") and not s.get("first_response_at")),
        "planned": sum(1 for s in live if s.get("change_planned_at")),
        "made": sum(1 for s in live if s.get("change_made_at")),
        "confirmed": sum(1 for s in live if s.get("change_verdict") == "yes"),
        "months": dict(sorted(months.items())),
    }


def generate_history(n: int, seed: int):
    """n stories, each as the list of its states (published, then its progress, maybe withdrawn)."""
    rng = random.Random(seed)
    start = datetime(2025, 6, 1, tzinfo=UTC)
    iso = lambda d: d.isoformat(timespec="milliseconds").replace("+00:00", "Z")  # noqa: E731
    for i in range(n):
        published = start + timedelta(minutes=rng.randrange(0, 400 * 24 * 60))
        s = {"id": f"G{i:05d}", "status": "published", "published_at": iso(published)}
        states = [s]
        if rng.random() < 0.7:
            s = s | {
                "first_response_at": iso(
                    published + timedelta(minutes=rng.choice([0, 30, 61, 600, 3000, rng.randrange(1, 60 * 24 * 40)]))
                )
            }
        elif rng.random() < 0.5:
            s = s | {"overdue_at": iso(published + timedelta(days=10))}
        if rng.random() < 0.3:
            s = s | {"change_planned_at": iso(published + timedelta(days=5))}
            if rng.random() < 0.5:
                s = s | {
                    "change_made_at": iso(published + timedelta(days=20)),
                    "change_verdict": rng.choice(["yes", "partly", "no"]),
                }
        if rng.random() < 0.05:
            s = s | {"status": "withdrawn"}
        states.append(s)
        yield states, rng.random() < 0.3


def test_summary_of_summed_deltas_matches_brute_force_over_5000_stories():
    """The counter arithmetic (delta, add, summary) over a big history, without AWS."""
    counter: dict = {}
    stories: dict[str, dict] = {}
    for states, _ in generate_history(5000, 7):
        before: dict = {}
        for s in states:
            now = figures.facts(s)
            counter = figures.add(counter or None, figures.delta(before, now))
            before = now
        stories[states[-1]["id"]] = states[-1]
    as_item = {**counter["counts"], "hours": counter["hours"], "months": counter["months"]}
    want = brute(stories)
    got = figures.summary(as_item)
    assert want["stories"] > 4000 and {k: got[k] for k in want} == want


def test_summary_matches_brute_force_over_a_generated_history(aws):
    """Stories over two listings, with responses, changes, overdue marks, withdrawals and repeated
    deliveries, applied through the real store methods as the stream handler applies them, on a
    small table of its own without a stream. moto copies the whole table for each item of a
    transaction, so the facts of a finished story are dropped. 300 stories meet every kind of state,
    repeat and replay many times over (FIGURES_HISTORY sets another number); the arithmetic over
    5,000 is checked without AWS above."""
    table = {k: v for k, v in TABLE_DEFINITION.items() if k != "StreamSpecification"}
    db = aws.session.client("dynamodb")
    db.create_table(TableName="figures-history", **table)
    store = Store(db, "figures-history")
    stories: dict[str, dict] = {}
    on_b: set[str] = set()
    n = int(os.environ.get("FIGURES_HISTORY", "300"))
    rng, replayed = random.Random(22), 0
    for states, b in generate_history(n, 20261126):
        sid = states[0]["id"]
        if b:
            on_b.add(sid)
        listings = {"a"} | ({"b"} if b else set())
        numbered = [(figures.stream_order(str(1000 + n)), st) for n, st in enumerate(states)]
        # Some delivered twice in order; some replayed out of order after a newer one (issue 22).
        replays = [numbered[-1]] if len(stories) % 10 == 0 else []
        replays += [rng.choice(numbered[:-1])] if len(numbered) > 1 and len(stories) % 3 == 0 else []
        for seq, s in numbered + replays:
            now = figures.facts(s)
            applied = store.story_facts(sid)
            if applied["seq"] >= seq:
                replayed += 1
                continue  # what the stream handler does with an older record (changes._figures)
            on = listings if now else set()
            assert store.apply_facts(sid, applied, now, on, figures.plan(applied, now, on), seq)
        stories[sid] = states[-1]
        # Keep moto's per-transaction copy small: the counters keep this story's contribution.
        db.delete_item(TableName="figures-history", Key=to_item({"PK": f"FACTS#{sid}", "SK": "FACTS"}))

    got = figures.summary(store.figures("a", consistent=True))
    want = brute(stories)
    assert want["stories"] > n * 0.9 and want["responded"] > n / 2
    assert {k: got[k] for k in want} == want
    assert replayed > n / 5  # older records, replayed after newer ones, changed nothing
    assert got["response_rate"] == want["responded"] / want["stories"]
    got_b = figures.summary(store.figures("b", consistent=True))
    assert {k: got_b[k] for k in want} == brute({k: v for k, v in stories.items() if k in on_b})
