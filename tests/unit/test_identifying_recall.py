"""Recall and precision of the identifying-details highlighter on a labelled set.

tests/data/identifying_labelled.json holds sentences written like real stories, each with the
details a moderator must not miss (name, phone, email, NHS number, postcode, date of birth, exact
date), and sentences with none that look a little like them (ward numbers, "call 111", "Dr Patel").
A missed detail can publish a person; a false mark only costs a glance, so recall is held higher.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

from chalicelib.core import identifying
from tests.support.prove import record

LABELLED = json.loads((Path(__file__).parents[1] / "data" / "identifying_labelled.json").read_text())
RECALL_AT_LEAST = 0.95
PRECISION_AT_LEAST = 0.9


def score():
    expected_by_kind, found_by_kind = Counter(), Counter()
    true_positives, found_total, misses, false_marks = 0, 0, [], []
    for case in LABELLED:
        expected = {(k, t) for k, t in case["spans"]}
        found = {(f.kind, f.text) for f in identifying.highlights(case["text"])}
        for kind, _ in expected:
            expected_by_kind[kind] += 1
        for hit in expected & found:
            found_by_kind[hit[0]] += 1
        true_positives += len(expected & found)
        found_total += len(found)
        misses += [(case["text"], m) for m in expected - found]
        false_marks += [(case["text"], f) for f in found - expected]
    expected_total = sum(expected_by_kind.values())
    return {
        "recall": true_positives / expected_total,
        "precision": true_positives / found_total if found_total else 1.0,
        "by_kind": {k: found_by_kind[k] / n for k, n in expected_by_kind.items()},
        "misses": misses,
        "false_marks": false_marks,
        "expected": expected_total,
    }


def test_the_labelled_set_covers_every_kind_and_has_clean_sentences():
    kinds = {k for case in LABELLED for k, _ in case["spans"]}
    assert kinds == set(identifying.HIGHLIGHT_KINDS)
    assert sum(1 for case in LABELLED if not case["spans"]) >= 15
    for case in LABELLED:
        for _, text in case["spans"]:
            assert text in case["text"], (case, text)


def test_recall_and_precision_on_the_labelled_set():
    s = score()
    record(
        "identifying",
        {
            "sentences": len(LABELLED),
            "details": s["expected"],
            "recall": round(s["recall"], 3),
            "precision": round(s["precision"], 3),
            "by_kind": {k: round(v, 3) for k, v in s["by_kind"].items()},
            "misses": [m for _, m in s["misses"]],
            "false_marks": [f for _, f in s["false_marks"]],
        },
    )
    assert s["expected"] >= 40
    assert s["recall"] >= RECALL_AT_LEAST, s["misses"]
    assert s["precision"] >= PRECISION_AT_LEAST, s["false_marks"]
    # Every kind is found at least most of the time: one weak rule can't hide behind the others.
    assert min(s["by_kind"].values()) >= 0.8, s["by_kind"]
