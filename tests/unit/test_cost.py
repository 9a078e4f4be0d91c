"""docs/cost.md's script (bench/cost.py): the bill follows the measured calls, and names its prices' sources."""

from __future__ import annotations

from collections import Counter

from bench import cost


def calls(n: int) -> dict[str, Counter]:
    return {op: Counter({"dynamodb.GetItem": n, "s3.PutObject": n}) for op, *_ in cost.operations()}


def test_more_calls_cost_more_and_every_price_names_its_page():
    cheap, dear = cost.bill(calls(1))[1]["total"], cost.bill(calls(10))[1]["total"]
    assert 0 < cheap < dear
    doc = cost.document(calls(3), "a test")
    assert "The dominant items:" in doc and "**total**" in doc
    for name, (_price, _per, source) in cost.PRICES.items():
        assert f"| {name} |" in doc and source.startswith("https://aws.amazon.com/")
