"""Where a listing's pages live (a service's, a tag's, or the site's archive) and the figures its
pages show, with links to its month archives. The renderer and the rebuild planner both read these."""

from __future__ import annotations

import re
from typing import Any

from .. import store as store_module
from ..core import figures
from ..core.i18n import gettext, ngettext
from . import charts, pages

# A listing's month archive: page 1 holds the month's oldest stories, so a new story never shifts
# an older page; each page, like the pages, is oldest first. "_all" (the home page's listing) has its archive under archive/; Welsh pages under cy/.
ARCHIVE_PAGE = re.compile(r"^(?:cy/)?(archive|services/[^/]+|tags/[^/]+)/(\d{4}-\d{2})/(?:(\d+)/)?index\.html$")


def listing_prefix(listing: str) -> str:
    """Where a listing's pages live: a service's, a tag's, or (for everything) the site's archive."""
    if listing == store_module.EVERYTHING:
        return "archive/"
    if listing.startswith("tag:"):
        return f"tags/{listing.removeprefix('tag:')}/"
    return f"services/{listing}/"


def archive_key(listing: str, month: str, page: int) -> str:
    base = f"{listing_prefix(listing)}{month}/"
    return f"{base}index.html" if page == 1 else f"{base}{page}/index.html"


def archive_path(listing: str, month: str, page: int = 1) -> str:
    return "/" + archive_key(listing, month, page).removesuffix("index.html")


def figures_view(listing: str, counter: dict[str, Any], now: Any, chart_id: str = "per-month") -> dict[str, Any]:
    """A listing's figures as pages show them: counts, plain-word times, the chart of the last
    twelve months (and the same as a table), and the months of its archive, newest first."""
    s = figures.summary(counter)
    rows = charts.months_view(charts.last_months(now), s["months"])
    span = gettext("%(first)s to %(last)s") % {"first": rows[0]["label"], "last": rows[-1]["label"]}
    total = sum(r["count"] for r in rows)
    return {
        "stories": s["stories"],
        "responded": s["responded"],
        "share": figures.share_words(s["response_rate"]),
        "median": figures.duration_words(s["median_hours"]),
        "p90": figures.duration_words(s["p90_hours"]),
        "overdue": s["overdue"],
        "planned": s["planned"],
        "made": s["made"],
        "confirmed": s["confirmed"],
        "span": span,
        "rows": rows,
        "chart": charts.bar_chart(
            rows,
            chart_id,
            gettext("Stories published each month, %(span)s") % {"span": span},
            ngettext(
                "%(num)d story in these twelve months. The table below gives each month's number.",
                "%(num)d stories in these twelve months. The table below gives each month's number.",
                total,
            )
            % {"num": total},
        ),
        "archive": [
            {"label": pages.month_year(m), "count": n, "href": archive_path(listing, m)}
            for m, n in sorted(s["months"].items(), reverse=True)
        ],
    }
