"""One way to take a form post or a JSON body: read it, turn a form into the data a JSON client
sends, call the flow, and answer.

A program (JSON) gets JSON, and the flow's errors go on to the error middleware. A person's
browser (a form, JavaScript off) gets a redirect (303) or a page on success, and on a mistake
the same page again with an error summary and what they typed kept, so nothing is lost.

Each form is described by a small `Form` (which fields are lists, tick boxes, numbers...), so
every form is read by the one `form_to_data`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from chalice import Response

from ..core.errors import FeedForwardError, ValidationFailed
from .http import FORM, read_body

TICKED = ("yes", "true", "on")


@dataclass(frozen=True)
class Form:
    """How one form's fields become data. Any field not named is its last value."""

    only: tuple[str, ...] = ()  # keep only these fields (none named: every field)
    lists: tuple[str, ...] = ()  # every value that is not blank, stripped; [] when absent
    checkboxes: tuple[str, ...] = ()  # ticked or not; False when absent
    numbers: tuple[str, ...] = ()  # stripped, and a whole number when it is one (up to 4 digits)
    # A field read from all its values by its own function (tags typed with commas, for example).
    parsers: Mapping[str, Callable[[list[str]], Any]] = field(default_factory=dict)
    # Last, on the whole of the data (a form's stand-in for what JavaScript would have added).
    finish: Callable[[dict[str, Any]], dict[str, Any]] | None = None


def form_to_data(fields: dict[str, list[str]], form: Form) -> dict[str, Any]:
    """A form post (field -> values) as the dict a JSON client would send."""
    data: dict[str, Any] = {}
    for name, values in fields.items():
        if form.only and name not in form.only:
            continue
        if name in form.parsers:
            data[name] = form.parsers[name](values)
        elif name in form.lists:
            data[name] = [v.strip() for v in values if v.strip()]
        elif name in form.checkboxes:
            data[name] = any(v in TICKED for v in values)
        elif values:
            data[name] = values[-1]
    for name in form.numbers:
        if isinstance(data.get(name), str):
            value = data[name].strip()
            data[name] = int(value) if value.isdigit() and len(value) <= 4 else value
    for name in form.checkboxes:
        data.setdefault(name, False)
    for name in form.lists:
        data.setdefault(name, [])
    return form.finish(data) if form.finish else data


def form_or_json(
    request: Any,
    max_bytes: int,
    form: Form,
    act: Callable[[dict[str, Any]], Any],
    *,
    json: Callable[[Any], Response],
    done: Callable[[Any], Response],
    again: Callable[[Any, dict[str, Any]], Response],
    shown: tuple[type[FeedForwardError], ...] = (ValidationFailed,),
) -> Response:
    """Read the body and `act` on it. JSON: `json(result)`, errors raised. A form: `done(result)`,
    or `again(error, data)` (the page with its error summary) for the errors in `shown`."""
    kind, data = read_body(request, max_bytes)
    if kind != FORM:
        return json(act(data))
    data = form_to_data(data, form)
    try:
        result = act(data)
    except shown as e:
        return again(e, data)
    return done(result)


def error_summary(
    errors: list[dict[str, str]] | None, field_ids: dict[str, str], other: Any
) -> tuple[list[dict[str, str]], dict[str, str]]:
    """(the error summary, field → message). `other(error)` is the entry for an error on no field of the form."""
    by_field: dict[str, str] = {}
    summary = []
    for e in errors or []:
        field = e.get("field", "")
        if field in field_ids and field not in by_field:
            by_field[field] = e.get("message", "")
            summary.append({"href": f"#{field_ids[field]}", "message": by_field[field]})
        elif field not in field_ids:
            summary.append(other(e))
    return summary, by_field
