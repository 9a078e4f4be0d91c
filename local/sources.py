"""The demo source of `make run` (issue 21): a small JSON Feed (data/demo_source.json, standing for a trust's
own patient survey), served by the local static server as another site would serve it, registered as
Northbridge's source and brought in by the importer. Its stories wait in the moderation queue like any.

The feed sits under demo-sources/ in the site bucket only because the static server serves that bucket;
the source is marked licensed (the survey's words may be republished) and not moderated.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

FEED = Path(__file__).resolve().parent.parent / "data" / "demo_source.json"
FEED_KEY = "demo-sources/northbridge-survey.json"
SOURCE = {
    "slug": "northbridge-survey",
    "name": "Northbridge patient survey",
    "organisation": "northbridge-teaching-hospitals",
    "kind": "json_feed",
    "service": "northbridge-general",
    "licensed": True,
    "moderated": False,
    "role": "patient",
}


def seed_demo_source(s3: Any, bucket: str, site_url: str) -> str:
    """Serve the demo feed, register its source (once) and import it: the line `make run` prints."""
    from chalicelib import wiring
    from chalicelib.core.errors import ValidationFailed

    s3.put_object(Bucket=bucket, Key=FEED_KEY, Body=FEED.read_bytes(), ContentType="application/feed+json")
    location = f"{site_url.rstrip('/')}/{FEED_KEY}"
    try:
        wiring.importer().add_source(SOURCE | {"location": location})
    except ValidationFailed:
        pass  # registered by an earlier run on this emulator's state
    summary = wiring.importer().run(SOURCE["slug"])
    refused = "".join(f"; {line}" for line in summary.refused)
    return f"Demo source ({SOURCE['name']}, {location}): {summary.line()}{refused} (in the moderation queue)"
