"""Every pattern in core/identifying.py runs in bounded time on hostile text (issue 18, finding 1).

The patterns run on untrusted text: every story, response and reply, and the moderation screen's
highlights. A pattern that backtracks quadratically made a 5,000-space response take 2 s and a story
open on the screen in 6.6 s. Each pattern runs here in a subprocess against adversarial inputs of
64 KB (the most `find` scans); a pattern that does not finish within its budget fails the test. The
budget is generous for linear work (tens of milliseconds) and hopeless for quadratic (minutes).
"""

from __future__ import annotations

import json
import re
import subprocess
import sys

import pytest

from chalicelib.core import identifying
from tests.support.prove import record

SIZE = 64 * 1024
BUDGET_SECONDS = 10.0  # per pattern, for every input together; a quadratic pattern needs hours at 64 KB
# Runs of what each pattern's parts repeat: spaces, digits, letters, separators, and the words the
# patterns look for, each followed by what makes the match fail at the very end.
SEEDS = [
    " ",
    "1",
    "a",
    "A",
    "Ab ",
    "a dot ",
    "1 ",
    "1-",
    ".a",
    "(0",
    "+44 ",
    "of ",
    "on ",
    "a at ",
    "my ",
    "\t",
    "-a",
    "a@",
]
PREFIXES = ["", "dob", "date of birth", "born", "Mr ", "my wife", "called", "x@", "0"]


def patterns() -> dict[str, re.Pattern]:
    found = {n: v for n, v in vars(identifying).items() if isinstance(v, re.Pattern)}
    found |= {f"_NAME_AFTER[{i}]": p for i, p in enumerate(identifying._NAME_AFTER)}
    return found


PROBE = """
import sys, re
from chalicelib.core import identifying
name, size = sys.argv[1], int(sys.argv[2])
seeds, prefixes = {seeds!r}, {prefixes!r}
found = {{n: v for n, v in vars(identifying).items() if isinstance(v, re.Pattern)}}
found |= {{f"_NAME_AFTER[{{i}}]": p for i, p in enumerate(identifying._NAME_AFTER)}}
pattern = found[name]
import json, time
worst = (0.0, "", "")
for prefix in prefixes:
    for seed in seeds:
        text = prefix + seed * (size // len(seed)) + "x"
        started = time.perf_counter()
        for _ in pattern.finditer(text[:size]):
            pass
        worst = max(worst, (time.perf_counter() - started, prefix, seed))
print(json.dumps({{"worst_ms": round(worst[0] * 1000, 2), "worst_input": f"{{worst[1]!r}} + {{worst[2]!r}} x {{size}}"}}))
"""


def test_every_pattern_is_found_here():
    assert len(patterns()) >= 12  # a new pattern is picked up by name, so it is tested too


@pytest.mark.parametrize("name", sorted(patterns()))
def test_every_pattern_finishes_quickly_on_64_kb_of_hostile_text(name):
    code = PROBE.format(seeds=SEEDS, prefixes=PREFIXES)
    try:
        run = subprocess.run(
            [sys.executable, "-c", code, name, str(SIZE)], capture_output=True, text=True, timeout=BUDGET_SECONDS
        )
    except subprocess.TimeoutExpired:
        pytest.fail(f"{name} did not finish {len(SEEDS) * len(PREFIXES)} hostile 64 KB inputs in {BUDGET_SECONDS} s")
    assert run.returncode == 0, run.stderr
    worst = json.loads(run.stdout.strip().splitlines()[-1])
    # For `make prove` (docs/reliability.md): each pattern's slowest hostile 64 KB input.
    record("redos", {name: worst | {"inputs": len(SEEDS) * len(PREFIXES), "size_bytes": SIZE}})


def test_find_scans_at_most_its_cap():
    tail = "Call me on 07700 900123."
    assert identifying.kinds("a " * identifying.MAX_SCAN + tail) == []
    assert identifying.kinds(tail) == ["phone"]


def test_a_date_of_birth_after_a_few_spaces_is_still_found():
    assert identifying.kinds("DOB:  12/03/1956") == ["date_of_birth"]
    assert identifying.kinds("date of  birth is 3rd  of March 1956") == ["date_of_birth"]
