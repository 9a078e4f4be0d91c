"""The tell-your-story form: one template for the static page and for the API's 422 answer.

The static page (rendered by the "static" job) has no values and no errors. When a form post
fails validation, the API renders the same form with a GOV.UK-style error summary, each error
next to its field, and every value the person typed kept, so nothing is lost.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterable
from datetime import date
from typing import TYPE_CHECKING, Any

from ..core import i18n
from ..core.i18n import N_
from ..core.labels import FEELING_LABELS, LIMITS, MAX_SERVICES, MAX_YEARS_AGO, ROLE_LABELS, Feeling, Role
from ..views import field_text as _text
from .outputs import Put, localised
from .pages import render_page

if TYPE_CHECKING:
    from ..core.settings import Settings
    from ..store import DirectoryStore

# The form's fields in page order, with the id an error summary links to.
FIELD_IDS = {
    "route": "route",  # only on the form staff fill in for someone (issue 19)
    "title": "title",
    "story": "story",
    "good": "good",
    "improve": "improve",
    "feelings": "feelings",
    "experience_month": "experience_month",
    "experience_year": "experience_year",
    "services": "services",
    "role": "role",
    "pseudonym": "pseudonym",
    "email": "email",
    "consent": "consent",
    # Sent too soon after the form was opened: no field to fix, so the message stands by the button.
    "started": "started-error",
}
TEXT_FIELDS = ("title", "story", "good", "improve", "pseudonym", "email")
SEND_ID = "send"
# Errors on fields a person cannot see or change (the submission id, the honeypot, the body).
GENERAL_MESSAGE = N_("Something went wrong while sending your story. Check your answers and send it again.")
# In another language than English (issue 19), a message the catalogue does not hold (one built with the
# field's own numbers, say) is said as what the field wants, with its bounds.
FIELD_MESSAGES = {
    "title": N_("Give your story a title of %(min)s to %(max)s characters"),
    "story": N_("Tell us what happened, in %(min)s to %(max)s characters"),
    "good": N_("What was good can be up to %(max)s characters"),
    "improve": N_("What could be improved can be up to %(max)s characters"),
    "pseudonym": N_("Enter the name to show, from %(min)s to %(max)s characters"),
    "experience_month": N_("Enter a month and year within the last %(years)s years, and not in the future"),
    "experience_year": N_("Enter a month and year within the last %(years)s years, and not in the future"),
    "services": N_("Choose up to %(services)s services from the lists"),
    "role": N_("Choose who you are"),
    "feelings": N_("Choose how you felt from the list"),
    "email": N_("Enter an email address in the correct format, like name@example.com"),
    "consent": N_("Agree to the publishing terms to send your story"),
}

DIRECTORY_SECONDS = 600
_directory_cache: dict[int, tuple[float, list[dict[str, Any]]]] = {}


# ---- the service choices ----------------------------------------------------------------------


def _descendants(store: DirectoryStore, slug: str, trail: list[dict[str, Any]]) -> Iterable[dict[str, Any]]:
    for child in store.children(slug):
        names = trail + [child]
        yield {"value": child["slug"], **_labels(names)}
        yield from _descendants(store, child["slug"], names)


def _labels(services: list[dict[str, Any]]) -> dict[str, str]:
    """An option's label, "Trust › Hospital › Ward", and its Welsh one where a service has a Welsh name."""
    out = {"label": " › ".join(s["name"] for s in services)}
    if any(s.get("name_cy") for s in services):
        out["label_cy"] = " › ".join(s.get("name_cy") or s["name"] for s in services)
    return out


def directory_groups(store: DirectoryStore) -> list[dict[str, Any]]:
    """The directory as <optgroup>s: one per organisation, holding it and everything under it.

    Walks the whole tree (one Query per node), so only the static job calls it directly;
    the API goes through cached_directory_groups.
    """
    groups = []
    for org in store.children(None):
        whole = {"whole": org["name"]} | ({"whole_cy": org["name_cy"]} if org.get("name_cy") else {})
        options = [{"value": org["slug"], "label": f"{org['name']} (the whole organisation)", **whole}]
        options += list(_descendants(store, org["slug"], []))
        groups.append(
            {"label": org["name"], "options": options} | ({"label_cy": org["name_cy"]} if org.get("name_cy") else {})
        )
    return groups


def cached_directory_groups(store: DirectoryStore) -> list[dict[str, Any]]:
    """directory_groups, remembered for a few minutes by a warm Lambda."""
    now = time.monotonic()
    hit = _directory_cache.get(id(store))
    if hit and now - hit[0] < DIRECTORY_SECONDS:
        return hit[1]
    groups = directory_groups(store)
    _directory_cache.clear()
    _directory_cache[id(store)] = (now, groups)
    return groups


# ---- the template's context ----------------------------------------------------------------------


def _list(value: Any) -> list[str]:
    if value is None:
        return []
    if isinstance(value, (list, tuple, set)):
        return [str(v) for v in value if str(v).strip()]
    return [str(value)] if str(value).strip() else []


# What form.js writes (issue 19), each with its %(name)s places: the form carries them in the page's
# language (data-words), so the script's words are translated with the rest of the page.
SCRIPT_WORDS = (
    N_("We have put back the answers you saved in this tab."),
    N_("We have put back the answers you saved in this tab on %(when)s."),
    N_("Your story has been sent. This form is now empty, ready for a new story."),
    N_("Your saved answers have been cleared."),
    N_("%(words)s. You have %(chars)s too many: the limit is %(max)s. Shorten it before you send it."),
    N_("%(words)s. You have %(chars)s left, of %(max)s."),
    N_("%(words)s, %(chars)s left"),
    N_("Chosen: %(service)s"),
    N_("Services found"),
    N_("No services found. Try other words, or choose from the lists below."),
    N_("Find a service"),
    N_(
        "Type at least 2 letters of its name, its town or hospital, or what it does (such as A&E or x-ray), "
        "then choose it from the list. Or choose from the lists below."
    ),
    N_("Chosen: %(service)s. It is in the list below."),
    N_("You have already chosen %(count)s services, or %(service)s is not in the list. Change the lists below."),
    N_(". Use the up and down arrows to move through them, and Enter to choose."),
    N_("Search is not working. Choose from the lists below."),
)
# A number of each plural category, in every language we publish (CLDR's: Welsh has all six).
PLURAL_SAMPLES = {"zero": 0, "one": 1, "two": 2, "few": 3, "many": 6, "other": 7}


def script_words() -> dict[str, Any]:
    """form.js's words in the language in use: messages, and counts with a form for each plural category."""
    words: dict[str, Any] = {w: i18n.gettext(w) for w in SCRIPT_WORDS}
    counts = {
        "%(num)s word": lambda n: i18n.ngettext("%(num)s word", "%(num)s words", n),
        "%(num)s character": lambda n: i18n.ngettext("%(num)s character", "%(num)s characters", n),
        "%(num)s service found": lambda n: i18n.ngettext("%(num)s service found", "%(num)s services found", n),
    }
    for key, said in counts.items():
        words[key] = {category: said(n) for category, n in PLURAL_SAMPLES.items()}
    return words


def _said(field: str, message: str) -> str:
    """A field's message in the language in use: as the catalogue has it, else what the field wants."""
    if i18n.current() == i18n.DEFAULT or not message:
        return message
    if (translated := i18n.gettext(message)) != message:
        return translated
    lo, hi = LIMITS.get(field, (0, 0))
    bounds = {"min": f"{lo:,}", "max": f"{hi:,}", "years": MAX_YEARS_AGO, "services": MAX_SERVICES}
    return i18n.gettext(FIELD_MESSAGES[field]) % bounds if field in FIELD_MESSAGES else i18n.gettext(GENERAL_MESSAGE)


def _errors(errors: list[dict[str, str]]) -> tuple[list[dict[str, str]], dict[str, str]]:
    """(the summary's entries in page order, field → message), in the language in use."""
    by_field: dict[str, str] = {}
    general = False
    for e in errors or []:
        field, message = str(e.get("field", "")), str(e.get("message", ""))
        if field in FIELD_IDS:
            by_field.setdefault(field, _said(field, message))
        else:
            general = True
    summary = [{"href": f"#{FIELD_IDS[f]}", "message": by_field[f]} for f in FIELD_IDS if f in by_field]
    if general:
        summary.append({"href": f"#{SEND_ID}", "message": i18n.gettext(GENERAL_MESSAGE)})
    return summary, by_field


def _in_language(groups: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The directory's choices in the language in use: its words, and the services' Welsh names where given."""
    whole, here = i18n.gettext("%(name)s (the whole organisation)"), i18n.current()

    def label(o: dict[str, Any]) -> str:
        if "whole" in o:
            return whole % {"name": o.get(f"whole_{here}") or o["whole"]}
        return str(o.get(f"label_{here}") or o["label"])

    return [
        g | {"label": g.get(f"label_{here}") or g["label"], "options": [o | {"label": label(o)} for o in g["options"]]}
        for g in groups
    ]


def form_context(
    values: dict[str, Any], errors: list[dict[str, str]], groups: list[dict[str, Any]], settings: Settings, script: bool
) -> dict[str, Any]:
    values = values or {}
    summary, field_errors = _errors(errors)
    services = _list(values.get("services"))[:MAX_SERVICES]
    services += [""] * (MAX_SERVICES - len(services))
    started = _text(values.get("started")).strip()
    groups = _in_language(groups)
    labels = {o["value"]: o["label"] for g in groups for o in g["options"]}
    this_year = date.today().year
    return {
        "action": f"{settings.api_url.rstrip('/')}/api/stories",
        "script": script,
        "summary": summary,
        "errors": field_errors,
        "values": {
            **{f: _text(values.get(f)) for f in TEXT_FIELDS},
            "submission_id": _text(values.get("submission_id")),
            "related_story": _text(values.get("related_story")),
            "invitation": _text(values.get("invitation")),
            "via": "widget" if _text(values.get("via")) == "widget" else "",
            # When the form was first opened, kept so that sending it again counts from then.
            "started": started if started.isdigit() else "",
            "role": _text(values.get("role")),
            "experience_month": _text(values.get("experience_month")),
            "experience_year": _text(values.get("experience_year")),
            "feelings": set(_list(values.get("feelings"))),
            "services": services,
            "consent": values.get("consent") is True or _text(values.get("consent")) in ("yes", "true", "on"),
            # The honeypot is never given back: a person's browser may have filled it by mistake.
        },
        "limits": {f: hi for f, (_lo, hi) in LIMITS.items()},
        "feelings": [{"value": f.value, "label": i18n.gettext(FEELING_LABELS.get(f.value, f.value))} for f in Feeling],
        "roles": [{"value": r.value, "label": _capital(i18n.gettext(ROLE_LABELS.get(r.value, r.value)))} for r in Role],
        "groups": groups,
        # What each select has chosen, in full: a phone cuts the select's own text short.
        "chosen_labels": [labels.get(v, "") for v in services],
        "max_services": MAX_SERVICES,
        "years_ago": MAX_YEARS_AGO,
        "this_year": this_year,
        "send_id": SEND_ID,
        "script_words": script_words(),
        # The language the form is in: the story records it, and its letters go out in it (issue 19).
        "language": i18n.current(),
        "invited": {},  # issue 19: who asked, from an invitation's short link (story_form_with_errors)
        "taken": {},  # issue 19: a story a member of staff enters for someone
    }


# A form with one service already chosen, for the "Tell your story about this service" links: chosen
# without JavaScript too (the static site cannot read ?service=).
FORM_FOR_SERVICE_KEY = "tell-your-story/{}/index.html"


def form_for_service_pages(groups: list[dict[str, Any]], settings: Settings) -> dict[str, str]:
    """Key -> page: the form with each service of the directory chosen (noindex: the form is one page), in
    every language (cy/tell-your-story/<slug>/ in Welsh)."""
    out = {}
    for option in (o for g in groups for o in g["options"]):

        def context(value: str = option["value"]) -> dict[str, Any]:
            return {"robots": "noindex", **form_context({"services": [value]}, [], groups, settings, script=True)}

        for put in localised(FORM_FOR_SERVICE_KEY.format(option["value"]), "form.html", context):
            if isinstance(put, Put):
                out[put.key] = put.body.decode("utf-8")
    return out


def _capital(text: str) -> str:
    return text[:1].upper() + text[1:]


def story_form_with_errors(
    values: dict[str, Any],
    errors: list[dict[str, str]],
    store: DirectoryStore,
    settings: Settings,
    invited: dict[str, Any] | None = None,
    taken: dict[str, Any] | None = None,
) -> str:
    """The form again, as the API's 422 answer: error summary, errors by fields, values kept. Also the
    form an invitation's short link opens (issue 19): `invited` says who asked, or why it no longer works;
    and the form a member of staff fills in for someone who phoned or wrote (`taken`: the routes, who, where)."""
    values = dict(values or {})
    if not _text(values.get("submission_id")).strip():
        # Sent with JavaScript off: this page is for one person, so it can carry a fresh id.
        values["submission_id"] = uuid.uuid4().hex
    with i18n.using(i18n.known(_text(values.get("language")))):  # in the language it was sent in
        context = form_context(values, errors, cached_directory_groups(store), settings, script=False)
        context["invited"] = invited or {}
        if taken:
            context |= {"taken": taken, "action": taken["action"]}
        site = settings.site_url.rstrip("/")
        # The switch leads to the site's form in the other language (none on a staff member's or an invitation's form).
        path = None if taken or invited else "/tell-your-story/"
        return render_page("form.html", site_base=site, robots="noindex", page_path=path, **context)
