"""The edge: what turns requests into calls of the flows, and their results into HTTP answers.

http (bodies, answers, errors) is light and imported as usual. The page modules (telling, author,
staff, organisation, loop, openapi, moderation_screen) bring jinja2 and pydantic, and guards (the client, the
bad-link budget) hashlib and the links and limits flows, which `import app` does not need:
`edge.<name>` loads one on first use.
"""

from __future__ import annotations

import importlib
from types import ModuleType

_ON_FIRST_USE = ("guards", "telling", "author", "staff", "organisation", "loop", "openapi", "moderation_screen")
_REPORTS = ("reports", "waiting", "invitations")  # reports (15), waiting stories (20), invitations (19)
_CONCERNS = ("concerns",)  # report a concern (issue 16)
_BROWSE = ("browse",)  # find stories near a place, a service's stories filtered (issue 20)
_SOURCES = ("sources",)  # a lead's own sources (issue 21)


def __getattr__(name: str) -> ModuleType:  # PEP 562: runs only until the module is loaded
    if name in _ON_FIRST_USE or name in _REPORTS or name in _CONCERNS or name in _BROWSE or name in _SOURCES:
        return importlib.import_module(f"{__name__}.{name}")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
