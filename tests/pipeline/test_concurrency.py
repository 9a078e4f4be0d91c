"""Concurrency: decisions and submissions racing each other, against the emulator.

Two moderators open the same story and decide at once: exactly one wins, the other gets a 409
(Conflict), and nothing the loser sent is written. The same form sent ten times at once with one
submission id makes one story. Threads share one boto3 client (clients are thread-safe) and start
together at a barrier, so the reads and the conditional writes really interleave.

`FF_PROVE_ROUNDS` raises the number of rounds (make prove runs 1,000; make test runs fewer).
"""

from __future__ import annotations

import os
from collections import Counter

import pytest

from chalicelib import wiring
from chalicelib.core.errors import Conflict
from chalicelib.moderation import Moderator
from tests.support.factories import story_body
from tests.support.prove import record
from tests.support.races import atomic_writes, forget_stream, race  # noqa: F401 (atomic_writes: a fixture)

ROUNDS = int(os.environ.get("FF_PROVE_ROUNDS", "30"))
ALICE, BOB = Moderator("alice", "Alice"), Moderator("bob", "Bob")


def test_two_moderators_on_one_story_one_wins_and_one_gets_a_conflict(aws, directory):
    stories, moderation = wiring.stories(), wiring.moderation()
    outcomes = Counter()
    for n in range(ROUNDS):
        forget_stream()
        story_id = stories.submit(story_body(title=f"Race {n}"))["id"]
        version = moderation.story(story_id)["story"]["version"]
        publish = {
            "action": "publish",
            "version": version,
            "criticality": 2,
            "tags": ["waiting"],
            "title": f"Edited by Alice {n}",
        }
        reject = {"action": "reject", "version": version, "note": "Not about a service we list."}
        results = race(
            lambda: moderation.decide(story_id, publish, ALICE), lambda: moderation.decide(story_id, reject, BOB)
        )
        kinds = sorted(kind for kind, _ in results)
        assert kinds == ["error", "ok"], (n, results)
        error = next(v for k, v in results if k == "error")
        assert isinstance(error, Conflict) and error.status == 409, getattr(error, "trace", error)
        winner = next(v for k, v in results if k == "ok")
        saved = wiring.store().get_story(story_id, consistent=True)
        # No lost update and no mix: the saved story is exactly the winner's decision.
        assert saved["version"] == version + 1 and saved["status"] == winner["status"] == saved["status"]
        assert saved["decided_by"] == winner["decided_by"]
        if saved["status"] == "published":
            assert saved["title"] == f"Edited by Alice {n}" and saved["decision_note"] == ""
        else:
            assert saved["title"] == f"Race {n}" and saved["decision_note"] == "Not about a service we list."
        outcomes[saved["decided_by"]] += 1
        # moto copies the whole table for each TransactWriteItems: each round starts from the same size.
        wiring.store().erase_story(story_id)
    assert sum(outcomes.values()) == ROUNDS
    record(
        "concurrency",
        {"moderator_pairs": ROUNDS, "lost_updates": 0, "conflicts_409": ROUNDS, "winners": dict(outcomes)},
    )


@pytest.mark.parametrize("copies", [10])
def test_one_form_sent_ten_times_at_once_makes_one_story(aws, directory, copies):
    stories = wiring.stories()
    rounds, sent = max(3, ROUNDS // 20), 0
    for n in range(rounds):
        forget_stream()
        body = story_body(title=f"Double tap {n}")
        results = race(*[lambda: stories.submit(dict(body)) for _ in range(copies)])
        made = {v["id"] for k, v in results if k == "ok"}
        errors = [v for k, v in results if k == "error"]
        assert len(made) == 1, results
        # The copies that found the first still in progress are told so (409), never a 5xx.
        assert all(isinstance(e, Conflict) for e in errors), errors
        pending = [s for s in wiring.store().queue("pending", 1000) if s["title"] == f"Double tap {n}"]
        assert [s["id"] for s in pending] == list(made)
        # Sent again once the first is done: the same story comes back.
        assert stories.submit(dict(body))["id"] in made
        sent += copies
        wiring.store().erase_story(next(iter(made)))
    record("concurrency", {"double_submits": sent, "double_submit_rounds": rounds, "stories_made_per_round": 1})
