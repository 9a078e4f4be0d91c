"""The sign-up page for staff alerts: the static /subscribe/ page, the page a sign-up lands on,
and the form's context, which the API uses too when it shows the form again with its errors."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..views import criticality_choices, frequency_choices
from .forms import cached_directory_groups
from .pages import render_page

if TYPE_CHECKING:
    from ..core.settings import Settings
    from ..store import DirectoryStore

# The sign-up form's fields in page order, with the id an error summary links to.
FIELD_IDS = {
    "name": "name",
    "display_name": "display_name",
    "role": "role",
    "organisation": "organisation",
    "email": "email",
    "service": "service",
    "tags": "tags",
    "min_criticality": "min_criticality",
    "frequency": "frequency",
}
SUBMIT_ID = "subscribe"
GENERAL_MESSAGE = "Something went wrong while sending the form. Check your answers and send it again."
TEXT_FIELDS = ("name", "display_name", "role", "organisation", "email", "service", "min_criticality", "frequency")


def _text(value: Any) -> str:
    if value is None or isinstance(value, bool):
        return ""
    if isinstance(value, list):
        return ", ".join(str(v) for v in value)
    return str(value)


def summary(
    errors: list[dict[str, str]], field_ids: dict[str, str], general_href: str
) -> tuple[list[dict[str, str]], dict[str, str]]:
    """(the error summary's entries in page order, field → message)."""
    by_field: dict[str, str] = {}
    general = False
    for e in errors or []:
        field, message = str(e.get("field", "")), str(e.get("message", ""))
        if field in field_ids:
            by_field.setdefault(field, message)
        else:
            general = True
    entries = [{"href": f"#{field_ids[f]}", "message": by_field[f]} for f in field_ids if f in by_field]
    if general:
        entries.append({"href": f"#{general_href}", "message": GENERAL_MESSAGE})
    return entries, by_field


def organisations_of(groups: list[dict[str, Any]]) -> list[dict[str, str]]:
    """The top-level nodes, from the form's service groups (each group starts with its organisation)."""
    return [{"value": g["options"][0]["value"], "label": g["label"]} for g in groups if g.get("options")]


def _organisation(group: dict[str, Any]) -> str:
    return str(group["options"][0]["value"]) if group.get("options") else ""


def signup_context(
    values: dict[str, Any], errors: list[dict[str, str]], groups: list[dict[str, Any]], settings: Settings
) -> dict[str, Any]:
    values = values or {}
    entries, field_errors = summary(errors, FIELD_IDS, SUBMIT_ID)
    kept = {f: _text(values.get(f)) for f in TEXT_FIELDS}
    kept["tags"] = _text(values.get("tags"))
    kept["min_criticality"] = kept["min_criticality"] or "0"
    kept["frequency"] = kept["frequency"] or "immediate"
    # The honeypot is never given back.
    return {
        "action": f"{settings.api_url.rstrip('/')}/api/subscriptions",
        "summary": entries,
        "errors": field_errors,
        "values": kept,
        "organisations": organisations_of(groups),
        # The form again after a mistake: only the chosen organisation's services (all, if none).
        "groups": [g for g in groups if _organisation(g) == kept["organisation"]] or groups,
        "criticalities": criticality_choices(),
        "frequencies": frequency_choices(),
        "submit_id": SUBMIT_ID,
        "limits": {"name": 80, "display_name": 80, "role": 80, "email": 254, "tags": 400},
    }


def signup_page(groups: list[dict[str, Any]], settings: Settings) -> str:
    """The static sign-up page (rendered by the static job), with the script that narrows the services
    to the chosen organisation. The API's copy after a mistake has none (its policy allows no script
    from the site); it lists only the chosen organisation's services itself."""
    return render_page("subscribe.html", script=True, **signup_context({}, [], groups, settings))


def check_email_page(settings: Settings) -> str:
    """The static page a sign-up lands on, whoever the address belongs to."""
    return render_page("subscribe_check_email.html", link_days=settings.confirm_link_days)


def signup_form_with_errors(
    values: dict[str, Any], errors: list[dict[str, str]], store: DirectoryStore, settings: Settings
) -> str:
    """The sign-up form again, as the API's 422 answer: error summary, errors by fields, values kept."""
    context = signup_context(values, errors, cached_directory_groups(store), settings)
    return render_page("subscribe.html", site_base=settings.site_url.rstrip("/"), robots="noindex", **context)
