"""The monthly board report: to each active lead who has not turned it off, last month's figures
against the month before's, the stories published a month each side (twelve months, as a table: an
email carries no chart), the stories still waiting past their promise and the changes made.

The job's ref names the month ("<YYYY-MM>:<lead id>"), so a job delivered late still reports on the
month it was queued for, and the mail worker sends each ref once. It carries a fresh "manage your
organisation" link, like every lead's letter, so the lead can open the full report or turn this off.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any, cast

from ...core import reporting
from ...core.jobs import MailJob
from ...views import long_day, month_year
from .base import Composer, Letter
from .organisation import OrganisationLetters

if TYPE_CHECKING:
    from ...store import ReportStore

_MONTH = re.compile(r"^\d{4}-(0[1-9]|1[0-2])$")
# The stories an email names, each list at most this long (the report page has them all).
NAMED = 10
MOST = 20_000


class BoardLetters(OrganisationLetters):
    def composers(self) -> dict[str, Composer]:
        return {"board_report": self.board}

    def board(self, job: MailJob) -> Letter | None:
        month, _, lead_id = job.ref.partition(":")
        lead = self._lead(lead_id)
        if not lead or not _MONTH.match(month) or lead.get("board_report") is False:
            return None  # no longer a lead, or they turned it off since the run
        # The letters' store is typed as the mail's; the store object serves the reports' protocol too.
        store = cast("ReportStore", self._store)
        org = lead["organisation"]
        period, before = reporting.named_month(month)
        now_stories, _ = store.published_stories(org, period.lo, period.hi, MOST)
        old_stories, _ = store.published_stories(org, before.lo, before.hi, MOST)
        published = reporting.Query(period, before)
        now_stories = [s for s in now_stories if reporting.matches(s, published, period)]
        old_stories = [s for s in old_stories if reporting.matches(s, published, before)]
        a, b = reporting.tally(now_stories), reporting.tally(old_stories)
        both = now_stories + old_stories
        overdue = [s for s in both if reporting.is_overdue(s)]
        made = [s for s in both if period.holds(s.get("change_made_at", ""))]
        counts = store.figures(org).get("months", {})
        site = self._settings.site_url.rstrip("/")
        org_name = (store.get_service(org) or {}).get("name") or lead.get("organisation_name", org)

        def named(stories: list[Any]) -> list[dict[str, Any]]:
            return [
                {
                    "title": s.get("title", ""),
                    # A story kept for staff only (issue 21) is counted and named, never linked to a
                    # public page it does not have: the full report says where it came from.
                    "url": "" if s.get("staff_only") else f"{site}/stories/{s['id']}/",
                    "published": long_day(s.get("published_at", "")),
                    "due": long_day(s.get("response_due_at", "")) if s.get("response_due_at") else "",
                }
                for s in stories[:NAMED]
            ]

        letter = self._letter(
            lead,
            "board_report",
            {
                "month": period.label,
                "before": before.label,
                "rows": [_row(row) for row in reporting.compare(a, b)],
                "enough": a["stories"] >= reporting.MIN_STORIES and b["stories"] >= reporting.MIN_STORIES,
                "min_stories": reporting.MIN_STORIES,
                "months": [
                    {"label": month_year(m), "count": int(counts.get(m, 0))} for m in reporting.twelve_months(month)
                ],
                "overdue": named(overdue),
                "overdue_count": len(overdue),
                "made": named(made),
                "made_count": len(made),
                "named": NAMED,
            },
        )
        context = letter.context | {"organisation_name": org_name}
        context["report_url"] = f"{context['organisation_url']}/report?period=month"
        return Letter(to=letter.to, template=letter.template, context=context, headers=letter.headers)


def _row(row: dict[str, Any]) -> dict[str, str]:
    """One figure in words, in both months, and the change when both have enough stories."""

    def words(value: Any) -> str:
        if row["key"] == "response_rate":
            return reporting.share(value)
        if row["key"] in ("median_hours", "p90_hours"):
            return reporting.hours_words(value)
        return str(value)

    change = row["change"]
    if change is None:
        said = ""
    elif row["key"] == "response_rate":
        said = f"{round(change * 100):+d} points"
    elif row["key"] in ("median_hours", "p90_hours"):
        said = f"{change:+d} hours"
    else:
        said = f"{change:+d}"
    return {"label": row["label"], "now": words(row["now"]), "before": words(row["before"]), "change": said}
