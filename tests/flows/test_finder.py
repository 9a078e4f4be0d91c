"""The form's service finder through GET /api/services (issue 20), on moto: the demo directory with its
synonyms finds what people type, a search costs a bounded number of calls whatever the directory's size,
and reloading keeps the index exact. Accuracy over all the labelled queries is measured in bench/finder.py."""

from __future__ import annotations

import json
from collections import Counter
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import quote

import pytest

from chalicelib import wiring

ROOT = Path(__file__).resolve().parents[2]
DEMO = json.loads((ROOT / "data" / "directory.json").read_text(encoding="utf-8"))
SYNONYMS = json.loads((ROOT / "data" / "service_synonyms.json").read_text(encoding="utf-8"))
TUNING = {
    q["q"]: q["expect"] for q in json.loads((ROOT / "bench/data/finder_tuning.json").read_text("utf-8"))["queries"]
}
MOST_CALLS = 5  # bench/budgets.py FINDER_CALLS: the finder item, three partitions, one within a place


@contextmanager
def counted():
    """The store's DynamoDB calls, by operation (botocore's before-call event, as bench/ counts them)."""
    calls: Counter[str] = Counter()
    events = wiring.store()._db.meta.events

    def hook(model, **_):
        calls[model.name] += 1

    events.register("before-call.dynamodb.*", hook)
    try:
        yield calls
    finally:
        events.unregister("before-call.dynamodb.*", hook)


def found(client, q: str) -> list[str]:
    resp = client.http.get("/api/services?q=" + quote(q, safe=""))
    assert resp.status_code == 200, resp.body
    return [s["slug"] for s in json.loads(resp.body)["services"]]


@pytest.fixture
def demo(aws):
    """The demo directory with its synonyms, loaded once per worker (about 3,500 index items), then copied."""
    from moto.core import DEFAULT_ACCOUNT_ID

    from local.resources import REGION
    from tests.support import moto_state

    pristine = moto_state.table_is_empty(DEFAULT_ACCOUNT_ID, REGION)
    if pristine and moto_state.saved("finder-demo"):
        moto_state.restore("finder-demo")
    else:
        wiring.directory().load(DEMO, synonyms=SYNONYMS)
        if pristine:
            moto_state.save("finder-demo", services={"dynamodb"})


# A handful from the tuning set (bench/data/finder_tuning.json), one of each kind of stumble.
FROM_TUNING = [
    "a&e",  # abbreviation
    "childrens a&e",  # no apostrophe
    "st aldhelm's hospital",
    "northbridge ward 7",  # town and ward: the town is in the trail
    "cardiac ward northbridge",  # synonym
    "xray",
    "opthalmology",  # misspelt synonym
    "matenity unit",  # typo
    "out patients northbridge general",  # a word split in two
    "foot clinic",  # podiatry is not called a clinic
    "kelbrook surgery",  # "surgery" means a GP practice here
    "castle st surgery",
]


def test_the_finder_finds_what_people_type_from_the_tuning_set(client, demo):
    missed = {q: found(client, q)[:3] for q in FROM_TUNING if TUNING[q] not in found(client, q)[:3]}
    assert missed == {}


def test_a_search_costs_at_most_five_calls_and_never_scans(client, demo):
    with counted() as first:
        assert found(client, "northbridge ward 12")[:1] == ["northbridge-general-ward-12"]
    assert first["GetItem"] == 1 and first["Query"] == 3 and sum(first.values()) <= MOST_CALLS
    with counted() as warm:  # the vocabulary is kept by the warm process
        found(client, "resperatory ward")
    assert warm["GetItem"] == 0 and "Scan" not in warm and sum(warm.values()) <= MOST_CALLS - 1


def test_a_cut_short_partition_is_read_again_within_the_place_named(client, aws):
    """At Care Opinion's size "ward" names thousands: the first 100 in tree order belong to another
    trust, so "riverside ward" reads the ward partition again below Riverside (one more Query)."""
    other = [
        {
            "slug": "ashford-trust",
            "name": "Ashford Hospitals NHS Trust",
            "kind": "trust",
            "children": [{"slug": f"ashford-ward-{n}", "name": f"Ward {n}", "kind": "ward"} for n in range(1, 121)],
        }
    ]
    riverside = [
        {
            "slug": "riverside-trust",
            "name": "Riverside NHS Trust",
            "kind": "trust",
            "children": [{"slug": f"riverside-ward-{n}", "name": f"Ward {n}", "kind": "ward"} for n in (3, 8)],
        }
    ]
    wiring.directory().load(other + riverside, synonyms=SYNONYMS)
    with counted() as calls:
        slugs = found(client, "riverside ward")
    assert set(slugs) >= {"riverside-ward-3", "riverside-ward-8"}
    assert all(s.startswith("riverside") for s in slugs)
    assert calls["Query"] == 3 and sum(calls.values()) <= MOST_CALLS


def test_reloading_with_other_synonyms_rewrites_the_index_and_leaves_nothing_stale(client, demo):
    assert found(client, "heart")[:2] == ["northbridge-general-coronary-care-unit", "northbridge-general-ward-7"]
    counts = wiring.directory().load(DEMO)  # no synonyms now
    assert counts["updated"] > 0
    # "heart" is now only a typo (of "health"); the entries written for the synonym are gone, not just unranked.
    assert "northbridge-general-ward-7" not in found(client, "heart")
    assert wiring.store().search_services("heart", 100) == []
    assert found(client, "cardiology") == ["northbridge-general-ward-7"]


def test_entries_written_before_the_finder_are_replaced_on_the_next_load(client, aws):
    """A table loaded before issue 20 holds entries keyed by slug, from the name's words only."""
    from chalicelib.store import to_item

    store = wiring.store()
    ward = {"slug": "old-ward", "name": "Ward 9", "kind": "ward", "parent": None, "path": ["old-ward"]}
    store._db.put_item(
        TableName=store._table,
        Item=to_item({"PK": "SERVICE#old-ward", "SK": "SERVICE", "GSI1PK": "CHILDREN#_root"} | ward),
    )
    for p in ("wa", "war", "ward"):
        store._db.put_item(
            TableName=store._table,
            Item=to_item({"PK": f"SEARCH#{p}", "SK": "SERVICE#old-ward", "slug": "old-ward", "name": "Ward 9"} | ward),
        )
    wiring.directory().load([{"slug": "old-ward", "name": "Ward 9", "kind": "ward"}])
    assert [e["slug"] for e in store.search_services("ward", 100)] == ["old-ward"]  # one entry, the new one
    assert found(client, "ward 9") == ["old-ward"]
    assert "finder" not in store.get_service("old-ward")  # the finder's fields are never shown
