"""A lead's report pages (reports.py): the report with its filters, figures and chart; its export
as CSV or XLSX; and the choice to get the monthly board report. The flow returns data; this module
renders it, or writes the spreadsheet, and wraps it in a Response.

Like every page reached from an emailed link, these are never indexed or cached, and never pass
their address on. A download is an attachment, never shown in the browser.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from chalice import Response

from ..core import figures as figure_words
from ..core import reporting
from ..core.errors import ValidationFailed
from ..site import charts
from ..site.pages import render_page
from ..spreadsheets import XLSX_TYPE, to_csv, to_xlsx
from .forms import Form, form_or_json
from .http import SECURITY_HEADERS, html_response, json_response, page_csp, redirect, wants_html

CHOOSE = Form(only=("action", "board_report"))
NOTICES = {
    "board-on": "Saved. You will get the board report by email on the first working day of each month.",
    "board-off": "Saved. You will not get the board report by email. You can turn it on again here.",
}
PRIVATE = {"X-Robots-Tag": "noindex, nofollow"}


# Whose link: a lead's ("manage your organisation") or any member's ("manage your alerts").
LEAD, MEMBER = "organisation", "subscriptions/manage"


def _url(settings: Any, token: str, tail: str = "", params: dict[str, str] | None = None, whose: str = LEAD) -> str:
    query = f"?{urlencode(params)}" if params else ""
    return f"{settings.api_url.rstrip('/')}/api/{whose}/{token}{tail}{query}"


def _flow(reports: Any, whose: str, name: str) -> Any:
    return getattr(reports, name if whose == LEAD else f"member_{name}")


def _params(request: Any) -> dict[str, Any]:
    """The query string; a parameter given twice counts once (its last value), as a form sends it."""
    multi = getattr(request, "query_params", None)
    if multi is None:
        return {}
    return {k: (multi.getlist(k)[-1] if hasattr(multi, "getlist") else v) for k, v in multi.items()}


def page(request: Any, token: str, reports: Any, settings: Any, whose: str = LEAD) -> Response:
    """The report: a page for a browser, the same data as JSON for a program. A bad filter is a 422
    naming its field (the page again, with its error summary and the filters as typed)."""
    params = _params(request)
    html = wants_html(request)
    report = _flow(reports, whose, "report")
    try:
        data = report(token, params)
    except ValidationFailed as e:
        if not html:
            raise
        again = report(token, {})
        return _render(token, again, settings, errors=e.fields, values=e.values, status=e.status, whose=whose)
    if not html:
        return json_response(_json(data), headers={**SECURITY_HEADERS, **PRIVATE})
    notice = str(params.get("notice", ""))
    return _render(token, data, settings, notice=NOTICES.get(notice, ""), whose=whose)


def _json(data: dict[str, Any]) -> dict[str, Any]:
    """The report for a program: the period as dates, every figure as a number."""
    query: reporting.Query = data["query"]
    period = {
        "key": query.period.key,
        "from": query.period.first_day.isoformat(),
        "to": query.period.last_day.isoformat(),
    }
    before = {"from": query.before.first_day.isoformat(), "to": query.before.last_day.isoformat()}
    out = {k: v for k, v in data.items() if k not in ("query", "choices", "lead", "member", "before_figures")}
    return out | {"period": period, "before": before, "previous_figures": data["before_figures"]}


def _render(
    token: str,
    data: dict[str, Any],
    settings: Any,
    *,
    notice: str = "",
    errors: list[dict[str, Any]] | None = None,
    values: dict[str, Any] | None = None,
    status: int = 200,
    whose: str = LEAD,
) -> Response:
    query: reporting.Query = data["query"]
    rows = charts.months_view(reporting.twelve_months(query.period.last_day.strftime("%Y-%m")), data["months"])
    span = f"{rows[0]['label']} to {rows[-1]['label']}"
    chosen = {**data["params"], **{k: str(v) for k, v in (values or {}).items()}}
    html = render_page(
        "report.html",
        site_base=settings.site_url.rstrip("/"),
        robots="noindex, nofollow",
        back_url=_url(settings, token, whose=whose),
        action=_url(settings, token, "/report", whose=whose),
        csv_url=_url(settings, token, "/report.csv", data["params"], whose=whose),
        xlsx_url=_url(settings, token, "/report.xlsx", data["params"], whose=whose),
        notice=notice,
        summary=[{"href": "#" + str(e.get("field", "")), "message": e.get("message", "")} for e in errors or []],
        errors={str(e.get("field", "")): e.get("message", "") for e in errors or []},
        failed=bool(errors),
        chosen=chosen,
        periods=reporting.PERIODS,
        progress_choices=reporting.PROGRESS,
        overdue_choices=reporting.OVERDUE,
        period=query.period,
        before=query.before,
        comparison=[_said(r) for r in data["comparison"]],
        by_service=[_service_row(r) for r in data["by_service"]],
        chart=charts.bar_chart(
            rows,
            "report-months",
            f"Stories published each month, {span}",
            f"All stories about {data['service']['name']}, whatever the filters. The table below gives each month's number.",
        ),
        chart_rows=rows,
        span=span,
        **{k: v for k, v in data.items() if k not in ("query", "comparison", "by_service", "months")},
    )
    return html_response(html, status=status, csp=page_csp(settings), headers=PRIVATE)


def _words(key: str, value: Any) -> str:
    if key == "response_rate":
        return reporting.share(value)
    if key in ("median_hours", "p90_hours"):
        return reporting.hours_words(value)
    return str(value)


def _said(row: dict[str, Any]) -> dict[str, Any]:
    change = row["change"]
    if change is None:
        said = ""
    elif row["key"] == "response_rate":
        said = f"{round(change * 100):+d} percentage points"
    elif row["key"] in ("median_hours", "p90_hours"):
        said = f"{change:+d} hours"
    else:
        said = f"{change:+d}"
    now, before = _words(row["key"], row["now"]), _words(row["key"], row["before"])
    return row | {"now_words": now, "before_words": before, "change_words": said}


def _service_row(row: dict[str, Any]) -> dict[str, Any]:
    f = row["figures"]
    if not f:
        return row
    return row | {
        "share": figure_words.share_words(f["response_rate"]) or "none",
        "median": reporting.hours_words(f["median_hours"]),
    }


# ---- the export -----------------------------------------------------------------------------------


def export(request: Any, token: str, reports: Any, kind: str, whose: str = LEAD) -> Response:
    """Every story the filters choose, as a CSV or XLSX attachment: never cached, never indexed."""
    data = _flow(reports, whose, "export")(token, _params(request))
    name = f"{data['filename']}.{kind}"
    headers: dict[str, str | list[str]] = {
        **SECURITY_HEADERS,
        **PRIVATE,
        "Content-Disposition": f'attachment; filename="{name}"',
    }
    if kind == "csv":
        body: str | bytes = to_csv(data["header"], data["rows"])
        headers["Content-Type"] = "text/csv; charset=utf-8"
    else:
        body = to_xlsx("Stories", data["header"], data["rows"])
        headers["Content-Type"] = XLSX_TYPE
    return Response(body=body, status_code=200, headers=headers)


# ---- the board report: on or off --------------------------------------------------------------------


def choose(request: Any, token: str, reports: Any, settings: Any) -> Response:
    """On or off: 303 back to the report with a notice (JSON: {"done": ...}), or the page with the error."""
    return form_or_json(
        request,
        settings.max_body_bytes,
        CHOOSE,
        lambda data: reports.choose(token, data),
        json=lambda done: json_response({"done": done}),
        done=lambda done: redirect(_url(settings, token, "/report", {"notice": done})),
        again=lambda e, _: _render(token, reports.report(token, {}), settings, errors=e.fields, status=e.status),
    )
