"""Figures for docs/reliability.md: a test that measures something records it here.

Under `make prove` (tools/prove.py) FF_PROVE_OUT names a folder and each call writes
<name>.json there; in `make test` it does nothing. Tests assert; this only remembers.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

# Read at import too: the `aws` fixture clears every FF_* variable before a test runs.
_OUT = os.environ.get("FF_PROVE_OUT")


def record(name: str, figures: dict[str, Any]) -> None:
    out = os.environ.get("FF_PROVE_OUT") or _OUT
    if not out:
        return
    path = Path(out) / f"{name}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    old = json.loads(path.read_text()) if path.exists() else {}
    path.write_text(json.dumps(old | figures, indent=2, sort_keys=True, default=str))
