"""The OpenAPI document's part for reports (issue 15): a lead's report on their organisation's
stories, its export as CSV or XLSX, and the monthly board report turned on or off; any member's
report and export on the services they follow (chalicelib/reports.py)."""

from __future__ import annotations

from typing import Any

from ..core import reporting
from ..reports import EXPORT_COLUMNS
from ..spreadsheets import XLSX_TYPE
from .openapi_moderation import moderation_paths
from .openapi_organisations import ORGANISATION_TOKEN
from .openapi_parts import IGNORED, TOKEN, answer, errors

MANAGE_TOKEN = TOKEN | {"description": 'A member\'s emailed "manage your alerts" link (an active member with a grant)'}

_FILTERS = [
    {
        "name": "period",
        "in": "query",
        "required": False,
        "schema": {"type": "string", "enum": list(reporting.PERIODS), "default": "30-days"},
        "description": "30-days; quarter (the last whole calendar quarter); year (the last 12 whole months); month "
        "(last month); dates (from and to). Each is compared with the period of the same kind just before it",
    },
    {
        "name": "from",
        "in": "query",
        "required": False,
        "schema": {"type": "string", "format": "date"},
        "description": "With period=dates (or alone): the first day, UTC, from 2020-01-01 to today",
    },
    {
        "name": "to",
        "in": "query",
        "required": False,
        "schema": {"type": "string", "format": "date"},
        "description": f"With period=dates: the last day, on or after from, at most {reporting.MAX_DAYS} days later",
    },
    {
        "name": "service",
        "in": "query",
        "required": False,
        "schema": {"type": "string", "pattern": "^[a-z0-9][a-z0-9-]{0,79}$"},
        "description": "A service of the lead's organisation (its whole subtree); the organisation itself if "
        "left out. Another organisation's service is a 422 naming `service`",
    },
    {
        "name": "tag",
        "in": "query",
        "required": False,
        "schema": {"type": "string", "pattern": "^[a-z0-9][a-z0-9-]{0,39}$"},
    },
    {
        "name": "criticality",
        "in": "query",
        "required": False,
        "schema": {"type": "string", "enum": ["0", "1", "2", "3", "4", "5"]},
        "description": "At least this criticality",
    },
    {
        "name": "progress",
        "in": "query",
        "required": False,
        "schema": {"type": "string", "enum": list(reporting.PROGRESS)},
    },
    {
        "name": "overdue",
        "in": "query",
        "required": False,
        "schema": {"type": "string", "enum": list(reporting.OVERDUE)},
    },
]
_FIGURES = {
    "type": "object",
    "properties": {
        "stories": {"type": "integer"},
        "responded": {"type": "integer"},
        "response_rate": {"type": ["number", "null"]},
        "median_hours": {"type": ["integer", "null"]},
        "p90_hours": {"type": ["integer", "null"]},
        "overdue": {"type": "integer"},
        "planned": {"type": "integer"},
        "made": {"type": "integer"},
        "confirmed": {"type": "integer"},
    },
}


def report_schemas() -> dict[str, Any]:
    return {
        "ReportFigures": _FIGURES,
        "Report": {
            "type": "object",
            "properties": {
                "period": {"type": "object", "description": "key, from and to (UTC days)"},
                "before": {"type": "object", "description": "from and to of the period compared with"},
                "figures": {"$ref": "#/components/schemas/ReportFigures"},
                "previous_figures": {"$ref": "#/components/schemas/ReportFigures"},
                "comparison": {
                    "type": "array",
                    "items": {"type": "object"},
                    "description": "Each figure now and before; `change` is null unless both periods have "
                    f"{reporting.MIN_STORIES} stories",
                },
                "by_service": {
                    "type": "array",
                    "items": {"type": "object"},
                    "description": f"Each sub-service; `figures` is null under {reporting.MIN_STORIES} stories",
                },
                "stories": {"type": "array", "items": {"type": "object"}, "description": "The newest 50"},
            },
        },
        "BoardReportChoice": {
            "type": "object",
            "required": ["action", "board_report"],
            "properties": {
                "action": {"const": "board-report"},
                "board_report": {
                    "anyOf": [{"type": "boolean"}, {"type": "string", "enum": ["on", "off", "true", "false"]}]
                },
            },
            "description": "A lead turns their monthly board report email on or off",
        },
    }


def report_paths(html: dict[str, Any]) -> dict[str, Any]:
    ref = {"schema": {"$ref": "#/components/schemas/BoardReportChoice"}}
    params = [ORGANISATION_TOKEN, *_FILTERS]
    member = [MANAGE_TOKEN, *_FILTERS]
    columns = ", ".join(EXPORT_COLUMNS)

    def download(media: str, what: str, whose: list[dict[str, Any]] = params) -> dict[str, Any]:
        return {
            "get": {
                "summary": f"Every story the report's filters choose, one row each, as {what} (an attachment, "
                f"never cached). Columns: {columns}. No author's contact details",
                "parameters": whose,
                "responses": {
                    "200": answer("The file", {"type": "string", "format": "binary"}, media),
                    **errors(404, 422),
                },
            }
        }

    return {
        "/api/organisation/{token}/report": {
            "get": {
                "summary": "A lead's report on their organisation's stories: counts and figures for a period against "
                "the one before, by service, a 12-month chart and the newest stories (a page, or JSON for a program). "
                "Changes nothing",
                "parameters": [
                    *params,
                    {"name": "notice", "in": "query", "required": False, "schema": {"type": "string"}},
                ],
                "responses": {
                    "200": answer("The report", {"$ref": "#/components/schemas/Report"})
                    | {
                        "content": {
                            "application/json": {"schema": {"$ref": "#/components/schemas/Report"}},
                            "text/html": {"schema": html},
                        }
                    },
                    **errors(404, 422),
                },
            },
            "post": {
                "summary": "Turn the lead's monthly board report email on or off",
                "parameters": [ORGANISATION_TOKEN],
                "requestBody": {
                    "required": True,
                    "content": {"application/json": ref, "application/x-www-form-urlencoded": ref},
                },
                "responses": {
                    "200": answer("Done", {"type": "object", "properties": {"done": {"type": "string"}}}),
                    "303": {"description": "A form post: back to the report, which says it is done"},
                    **errors(400, 404, 413, 415, 422),
                },
            },
        },
        "/api/organisation/{token}/report.csv": download("text/csv", "CSV (formulas made inert)"),
        "/api/organisation/{token}/report.xlsx": download(
            XLSX_TYPE, "an XLSX workbook (every text cell typed as text)"
        ),
        "/api/subscriptions/manage/{token}/report": {
            "get": {
                "summary": "A member's report on the services they follow and everything under them (the first "
                "they follow unless `service` names another): the same figures, chart and stories as a lead's. "
                "A service they do not follow is a 422 naming `service`. Changes nothing",
                "parameters": member,
                "responses": {
                    "200": {
                        "description": "The report",
                        "content": {
                            "application/json": {"schema": {"$ref": "#/components/schemas/Report"}},
                            "text/html": {"schema": html},
                        },
                    },
                    **errors(404, 422),
                },
            }
        },
        **_waiting_paths(html),  # issue 20
        **moderation_paths(),  # issue 20: the live check, messages to and from the author
        "/api/subscriptions/manage/{token}/report.csv": download("text/csv", "CSV (formulas made inert)", member),
        "/api/subscriptions/manage/{token}/report.xlsx": download(
            XLSX_TYPE, "an XLSX workbook (every text cell typed as text)", member
        ),
    }


# ---- the stories waiting for a reply (issue 20, chalicelib/waiting.py) --------------------------------

_WAITING_STORY = {
    "type": "object",
    "required": ["id", "title", "published_at", "due_at", "overdue", "services"],
    "properties": {
        "id": {"type": "string"},
        "title": {"type": "string"},
        "published_at": {"type": "string", "format": "date-time"},
        "due_at": {"type": "string", "description": "When a first reply is due (empty without a promise)"},
        "overdue": {"type": "boolean"},
        "services": {"type": "array", "items": {"type": "string"}},
    },
}


def _waiting_paths(html: dict[str, Any]) -> dict[str, Any]:
    story_id = {"name": "story_id", "in": "path", "required": True, "schema": {"type": "string"}}
    listed = {
        "type": "object",
        "required": ["services", "stories", "complete"],
        "properties": {
            "services": {"type": "array", "items": {"type": "object"}},
            "stories": {"type": "array", "items": _WAITING_STORY},
            "complete": {"type": "boolean"},
        },
    }
    made = {"type": "object", "required": ["respond_url"], "properties": {"respond_url": {"type": "string"}}}
    return {
        "/api/subscriptions/manage/{token}/waiting": {
            "get": {
                "summary": "The published stories about the services a member follows that have no reply yet, "
                "oldest first, with their due dates. Changes nothing",
                "parameters": [MANAGE_TOKEN],
                "responses": {
                    "200": {
                        "description": "The stories waiting",
                        "content": {"application/json": {"schema": listed}, "text/html": {"schema": html}},
                    },
                    **errors(404),
                },
            }
        },
        "/api/subscriptions/manage/{token}/waiting/{story_id}": {
            "post": {
                "summary": "Make a read-and-respond link of the member's own for one waiting story: 201 with its "
                "address for a program, 303 to it for a browser. A story outside their services is a 404",
                "parameters": [MANAGE_TOKEN, story_id],
                "requestBody": {
                    "required": False,
                    "description": "Not read: the POST itself asks for the link",
                    IGNORED: True,
                    "content": {
                        t: {"schema": {"type": "object"}}
                        for t in ("application/json", "application/x-www-form-urlencoded")
                    },
                },
                "responses": {
                    "201": answer("The new link", made),
                    "303": {"description": "A browser goes to the new link"},
                    **errors(404, 413, 415),
                },
            }
        },
    }
