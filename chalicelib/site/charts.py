"""Server-rendered SVG charts: no script, no inline style, readable without sight.

The SVG is an image with a title and a description (role="img", aria-labelledby); the page
shows the same figures as a table for screen readers (and for anyone, with CSS off).
Colours and sizes are presentation attributes and classes, so the page's CSP needs no
'unsafe-inline' for styles.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from markupsafe import Markup, escape

from ..core.i18n import N_, gettext
from .pages import month_year

WIDTH, HEIGHT = 600, 240
TOP, BOTTOM, LEFT, RIGHT = 24, 40, 36, 8
SHORT: tuple[str, ...] = (N_("Jan"), N_("Feb"), N_("Mar"), N_("Apr"), N_("May"), N_("Jun"))
SHORT += (N_("Jul"), N_("Aug"), N_("Sep"), N_("Oct"), N_("Nov"), N_("Dec"))


def last_months(now: datetime, n: int = 12) -> list[str]:
    """The n months up to and including now's, oldest first, as YYYY-MM."""
    year, month = now.year, now.month
    out = []
    for _ in range(n):
        out.append(f"{year:04d}-{month:02d}")
        month -= 1
        if month == 0:
            year, month = year - 1, 12
    return out[::-1]


def months_view(months: list[str], counts: dict[str, int]) -> list[dict[str, Any]]:
    return [{"month": m, "label": month_year(m), "count": int(counts.get(m, 0))} for m in months]


def _nice_top(peak: int) -> int:
    """A round number at or above the highest bar, for the axis."""
    if peak <= 4:
        return max(peak, 1)
    for step in (5, 10, 20, 25, 50, 100, 200, 250, 500, 1000, 2000, 5000, 10000):
        if peak <= step * 4:
            return -(-peak // step) * step
    return peak


def bar_chart(rows: list[dict[str, Any]], chart_id: str, title: str, description: str) -> Markup:
    """One bar per row ({"month", "label", "count"}), oldest on the left."""
    top = _nice_top(max((r["count"] for r in rows), default=0))
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    slot = plot_w / max(len(rows), 1)
    bar_w = slot * 0.7
    parts = [
        f'<svg class="chart" role="img" aria-labelledby="{chart_id}-title {chart_id}-desc" '
        f'viewBox="0 0 {WIDTH} {HEIGHT}" width="100%" preserveAspectRatio="xMidYMid meet" '
        f'xmlns="http://www.w3.org/2000/svg">',
        f'<title id="{chart_id}-title">{escape(title)}</title>',
        f'<desc id="{chart_id}-desc">{escape(description)}</desc>',
    ]
    # Axis: the baseline, the top value and zero.
    base_y = TOP + plot_h
    parts.append(
        f'<line class="chart__axis" x1="{LEFT}" y1="{base_y}" x2="{WIDTH - RIGHT}" y2="{base_y}" stroke="#4c6272" stroke-width="1"/>'
    )
    parts.append(
        f'<line class="chart__grid" x1="{LEFT}" y1="{TOP}" x2="{WIDTH - RIGHT}" y2="{TOP}" stroke="#d8dde0" stroke-width="1"/>'
    )
    parts.append(
        f'<text class="chart__label" x="{LEFT - 6}" y="{TOP + 4}" text-anchor="end" font-size="12" fill="#212b32">{top}</text>'
    )
    parts.append(
        f'<text class="chart__label" x="{LEFT - 6}" y="{base_y + 4}" text-anchor="end" font-size="12" fill="#212b32">0</text>'
    )
    for i, row in enumerate(rows):
        h = round(plot_h * row["count"] / top, 1) if top else 0
        x = round(LEFT + i * slot + (slot - bar_w) / 2, 1)
        y = round(base_y - h, 1)
        parts.append(
            f'<rect class="chart__bar" data-month="{escape(row["month"])}" x="{x}" y="{y}" width="{round(bar_w, 1)}" '
            f'height="{h}" fill="#005eb8"/>'
        )
        cx = round(LEFT + i * slot + slot / 2, 1)
        if row["count"]:
            parts.append(
                f'<text class="chart__value" x="{cx}" y="{round(y - 4, 1)}" text-anchor="middle" font-size="12" fill="#212b32">{row["count"]}</text>'
            )
        month = escape(gettext(SHORT[int(row["month"][5:7]) - 1]))
        parts.append(
            f'<text class="chart__label" x="{cx}" y="{base_y + 16}" text-anchor="middle" font-size="12" fill="#212b32">{month}</text>'
        )
        if i == 0 or row["month"].endswith("-01"):
            parts.append(
                f'<text class="chart__label" x="{cx}" y="{base_y + 32}" text-anchor="middle" font-size="12" fill="#4c6272">{row["month"][:4]}</text>'
            )
    parts.append("</svg>")
    return Markup("".join(parts))  # nosec B704 - every value above is a number or escaped
