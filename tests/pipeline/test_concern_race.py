"""Two moderators decide one reported item at the same moment (issue 16): exactly one wins, the other
gets a 409, and the item and its case are exactly the winner's decision. Against the emulator, with
the calls really interleaving (threads start together at a barrier); `make prove` runs 1,000 rounds."""

from __future__ import annotations

import os
from collections import Counter

from chalicelib import wiring
from chalicelib.core.errors import Conflict
from chalicelib.core.ids import new_story_id
from chalicelib.moderation import Moderator
from tests.support.prove import record
from tests.support.races import atomic_writes, forget_stream, race  # noqa: F401 (atomic_writes: a fixture)

ROUNDS = int(os.environ.get("FF_PROVE_ROUNDS", "20"))
ALICE, BOB = Moderator("alice", "Alice"), Moderator("bob", "Bob")


def test_two_moderators_on_one_report_one_wins_and_one_gets_a_conflict(aws):
    store, concerns = wiring.store(), wiring.concerns()
    outcomes: Counter[str] = Counter()
    for n in range(ROUNDS):
        forget_stream()
        sid = new_story_id()
        story = {"id": sid, "status": "published", "version": 2, "title": f"Race {n}", "story": "Words."}
        store.create_story(story | {"submitted_at": "2026-01-01T00:00:00.000Z"}, None)
        concerns.report(sid, "story", "", {"reason": "identifies-someone"}, f"client-{n}")
        version = concerns.case(sid, "story")["case"]["version"]
        dismiss = {"action": "dismiss", "version": version, "note": "Nobody is named."}
        remove = {"action": "remove", "version": version, "note": "It names a patient."}
        results = race(
            lambda sid=sid, d=dismiss: concerns.decide(sid, "story", "", d, ALICE),
            lambda sid=sid, d=remove: concerns.decide(sid, "story", "", d, BOB),
        )
        assert sorted(kind for kind, _ in results) == ["error", "ok"], (n, results)
        error = next(v for k, v in results if k == "error")
        assert isinstance(error, Conflict) and error.status == 409, getattr(error, "trace", error)
        case = concerns.case(sid, "story")["case"]
        [decision] = case["decisions"]
        saved = store.get_story(sid, consistent=True)
        # No lost update and no mix: the item and the case are the winner's, once.
        assert saved["status"] == {"alice": "published", "bob": "removed"}[decision["by"]]
        assert case["version"] == version + 1 and case["state"] == "decided"
        outcomes[decision["by"]] += 1
        store.erase_story(sid)  # moto copies the whole table for each TransactWriteItems
    assert sum(outcomes.values()) == ROUNDS
    record(
        "concern_race",
        {"report_pairs": ROUNDS, "lost_updates": 0, "conflicts_409": ROUNDS, "winners": dict(outcomes)},
    )
