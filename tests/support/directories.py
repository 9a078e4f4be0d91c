"""Service directories for tests beyond the small one in factories."""

from __future__ import annotations

import copy

from tests.support.factories import SMALL_DIRECTORY


def promised_directory() -> list[dict]:
    """The small test directory with promises: 5 working days for the trust, 3 for its maternity unit."""
    tree = copy.deepcopy(SMALL_DIRECTORY)
    tree[0]["response_days"] = 5
    tree[0]["children"][0]["children"][1]["response_days"] = 3
    return tree
