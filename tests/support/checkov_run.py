"""checkov as its console script runs it, with one change: jsonpath's LALR parse table built once per grammar.

Run with the IaC virtualenv's Python (tests/infra/test_infra.py). checkov's jsonpath parser (bc_jsonpath_ng)
builds ply's parse table afresh for every path it parses ("it doesn't actually take that long"): 228 times
for our template, two thirds of checkov's run. The table depends only on the grammar (the parser's class
and start symbol), and its rules keep no state on the instance, so the first parser of each grammar is
kept and used again. What checkov checks, and what it reports, are the same.
"""

from __future__ import annotations

import sys
import warnings
from typing import Any

import ply.yacc

_real_yacc = ply.yacc.yacc
_parsers: dict[tuple[type, Any], Any] = {}


def _yacc(*args: Any, module: Any = None, start: Any = None, **kwargs: Any) -> Any:
    key = (type(module), start)
    if key not in _parsers:
        _parsers[key] = _real_yacc(*args, module=module, start=start, **kwargs)
    return _parsers[key]


if __name__ == "__main__":
    ply.yacc.yacc = _yacc
    from checkov.main import Checkov

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", category=SyntaxWarning)
        sys.exit(Checkov().run())
