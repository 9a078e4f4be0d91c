"""Urgency flags for the moderation queue (issue 20): words of self-harm, abuse or danger in a story,
so that a moderator reads it first. The words are data (urgency_words.json beside this module, which
Chalice packages with the code); this module only matches them: whole words or phrases, in any case,
curly apostrophes read as straight ones. A flag decides nothing: it orders the queue and says why.
"""

from __future__ import annotations

import json
import re
from functools import lru_cache
from pathlib import Path
from typing import Any

WORDS_FILE = Path(__file__).with_name("urgency_words.json")
# Each kind in words, for the screen; the order is the order of the queue's flags.
KIND_WORDS = {"self_harm": "self-harm or suicide", "abuse": "abuse", "danger": "danger to someone"}
FIELDS = ("title", "story", "good", "improve")


@lru_cache(maxsize=1)
def _patterns() -> dict[str, re.Pattern[str]]:
    data = json.loads(WORDS_FILE.read_text(encoding="utf-8"))
    out = {}
    for kind in KIND_WORDS:
        phrases = sorted({_plain(p) for p in data[kind]}, key=len, reverse=True)
        body = "|".join(r"\s+".join(re.escape(w) for w in p.split()) for p in phrases)
        out[kind] = re.compile(rf"(?<![\w-])(?:{body})(?![\w-])")
    return out


def _plain(text: str) -> str:
    return text.replace("\u2019", "'").replace("\u2018", "'").lower()


def flags(story: dict[str, Any]) -> list[dict[str, str]]:
    """The kinds of urgency a story's text shows, each with the first words that showed it."""
    text = _plain("\n".join(str(story.get(f) or "") for f in FIELDS))
    found = []
    for kind, pattern in _patterns().items():
        m = pattern.search(text)
        if m:
            found.append({"kind": kind, "words": KIND_WORDS[kind], "found": " ".join(m.group(0).split())})
    return found
