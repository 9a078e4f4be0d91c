"""The ff commands for sources of imported stories (issue 21), apart from tools/ff.py, which registers them:

    python -m tools.ff source-add nhs-reviews --name "NHS website reviews" --organisation riverside-trust \\
        --kind json_feed --location https://reviews.example.org/feed.json --service riverside-ward-7
    python -m tools.ff import-source nhs-reviews [--max-items 500]

import-source prints `N imported, N updated, N unchanged, N refused`, then each refused item by name
(`line 4/story: reason`) on stderr; it exits 1 when any item was refused, so a scheduled run is noticed.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Iterable
from typing import Any

from chalicelib.core.sources import FIELDS, KINDS


def add_parsers(sub: Any, epilog: str) -> None:
    fmt = argparse.RawDescriptionHelpFormatter
    a = sub.add_parser(
        "source-add",
        help="register a source of stories for an organisation (a feed, another FeedForward, or an export)",
        epilog=epilog,
        formatter_class=fmt,
    )
    a.add_argument("slug", help="the source's slug (lower case, digits and hyphens)")
    a.add_argument("--name", required=True, help="its name, as staff and the public read it on its stories")
    a.add_argument("--organisation", required=True, help="the organisation's slug (a top of the directory)")
    a.add_argument("--kind", required=True, choices=KINDS)
    a.add_argument("--location", required=True, help="the feed's or API page's address, or an export's file")
    a.add_argument("--service", required=True, help="the service its items are about, unless an item names one")
    a.add_argument(
        "--map",
        action="append",
        default=[],
        metavar="FIELD=COLUMN",
        help=f"a CSV or JSON export's column for a story's field ({', '.join(FIELDS)}); repeat for each",
    )
    a.add_argument("--licensed", action="store_true", help="its items may be republished on the public site")
    a.add_argument("--moderated", action="store_true", help="its items were moderated before they came")
    a.add_argument("--role", default="other", help="who its items' authors are (patient, carer, ...), by default other")

    i = sub.add_parser(
        "import-source",
        help="bring a source's items in as stories (idempotent; bounded; goes on from where the last run stopped)",
        epilog=epilog,
        formatter_class=fmt,
    )
    i.add_argument("source", help="the source's slug, as source-add registered it")
    i.add_argument("--max-items", type=int, default=500, help="at most this many items this run (default 500)")


def command(args: argparse.Namespace, progress: Callable[..., Callable[[Iterable], Iterable]], show: bool) -> int:
    from chalicelib import wiring
    from chalicelib.core.errors import FeedForwardError

    try:
        if args.command == "source-add":
            source = wiring.importer(local_files=True).add_source(_source(args))
            print(
                f"Source {source['slug']} ({source['name']}, {source['kind']}) of {source['organisation']}: "
                f"{'licensed' if source['licensed'] else 'not licensed (its stories are for staff only)'}, "
                f"{'moderated already' if source['moderated'] else 'moderated here'}."
            )
            return 0
        summary = wiring.importer(local_files=True).run(
            args.source, args.max_items, progress(f"Importing {args.source}", "item", show)
        )
    except FeedForwardError as e:
        for f in getattr(e, "fields", None) or [{"field": "source", "message": str(e)}]:
            print(f"  {f['field']}: {f['message']}", file=sys.stderr)
        return 1
    print(summary.line() + (" (more to come: run it again)" if summary.more else ""))
    for line in summary.refused:
        print(f"  {line}", file=sys.stderr)
    return 1 if summary.refused else 0


def _source(args: argparse.Namespace) -> dict[str, Any]:
    mapping: dict[str, str] = {}
    for pair in args.map:
        story_field, _, column = pair.partition("=")
        mapping[story_field.strip()] = column.strip()
    return {
        "slug": args.slug,
        "name": args.name,
        "organisation": args.organisation,
        "kind": args.kind,
        "location": args.location,
        "service": args.service,
        "mapping": mapping,
        "licensed": args.licensed,
        "moderated": args.moderated,
        "role": args.role,
    }
