"""Bad input (issue 6): schemathesis against the OpenAPI document that the running local API serves.

One real stack (tests/support/live.py, `python -m local.run --no-seed`) for the module, with the rate limits
off (a fuzzer is one client sending hundreds of requests; 429 and Retry-After are documented and
tested in test_limits.py). Schemathesis reads /api/openapi.json from the stack and runs every
operation through its phases (coverage, fuzzing, stateful) with these checks: no 5xx,
status codes, content types, headers and bodies as documented, schema-invalid data refused and
schema-valid data accepted; and for the moderators' operations that a call without the token is
refused. The moderator's token is the demo moderator's, from the stack's own sign-in.

What the document cannot state is given to schemathesis as data, as its config allows: real service
slugs and organisations (a story about an unknown service is a 422), a month within the last three
years, and a published story's id for the story routes (half the time). The capability links
(/api/my/{token}, /api/respond/{token}, ...) are fuzzed with links that do not exist: their bodies
are read and refused before the link is looked up, and an unknown link is a documented 404.

Two ways the API is deliberately lenient, and the checks that know it (LENIENCY below):
- it cleans text before checking it (trims, removes control characters, models.clean_text) and
  reads "5" as 5 and 1 as true (pydantic's lax mode): schema-invalid data that the model turns into
  valid data is accepted; schema-valid data that the cleaning makes invalid is refused (422), as is
  a place to find stories near that is nothing once tidied (400);
- rules across requests or fields that JSON Schema cannot state: a page cursor must be one the API
  issued, `from` must not be after `to`, a month goes without either, and a body is at most 64 KiB (413).
Anything else that schemathesis flags fails the test.

TRACE is not sent: `chalice local` (the development server) answers it 501 itself, before the app;
API Gateway answers it in production. Every other undeclared method must be a 405.

`make test` fuzzes a few examples per operation (about 150 requests); `make prove`
(FF_PROVE_ROUNDS >= 1000) adds the coverage phase (the boundary values of every field, every
undeclared method) and more examples, at least 1,000 requests in all, and records the figures.
"""

from __future__ import annotations

import collections
import json
import os
import random
from datetime import date
from typing import Any
from urllib.parse import parse_qs

import pytest
import requests

from local.resources import DEMO_MODERATOR
from local.totp import sign_in
from tests.support.live import start_stack
from tests.support.prove import record

ROUNDS = int(os.environ.get("FF_PROVE_ROUNDS", "0") or 0)
FULL = ROUNDS >= 1000
EXAMPLES = 25 if FULL else 5
TARGET = 1000 if FULL else 150  # requests actually sent
SEED = int(os.environ.get("FF_FUZZ_SEED") or random.SystemRandom().randrange(2**32))
LIMITS_OFF = {f"FF_{name}_LIMIT": "0" for name in ("STORY", "SUBSCRIPTION", "ME_TOO", "CHECK_ANSWER", "BAD_LINK")}
JSON, FORM = "application/json", "application/x-www-form-urlencoded"
CHECKS = [
    "not_a_server_error",
    "status_code_conformance",
    "content_type_conformance",
    "response_schema_conformance",
    "response_headers_conformance",
    "missing_required_header",
    "unsupported_method",
    "allow_header_conformance",
    "ignored_auth",
]
# The built-in positive_data_acceptance and negative_data_rejection, run through LENIENCY (below).
DATA_CHECKS = ["valid_data_accepted", "invalid_data_refused"]


# ---- the stack, and what the document cannot say ------------------------------------------------


@pytest.fixture(scope="module")
def stack():
    with pytest.MonkeyPatch.context() as mp:
        for name, value in LIMITS_OFF.items():
            mp.setenv(name, value)
        s = start_stack("--no-seed")
    yield s
    s.stop()


@pytest.fixture(scope="module")
def world(stack):
    return make_world(stack.api)


def make_world(api: str) -> dict[str, Any]:
    """A moderator's token, an organisation and a service within it, and a published story."""
    from chalicelib.directory import flatten
    from tests.support.live import ROOT

    services = flatten(json.loads((ROOT / "data" / "directory.json").read_text(encoding="utf-8")))
    org = next(s for s in services if not s["parent"])
    service = next(s for s in services if s["path"][0] == org["slug"] and len(s["path"]) == 3)
    signed_in = sign_in(api, DEMO_MODERATOR["username"], DEMO_MODERATOR["password"])
    auth = {"Authorization": f"Bearer {signed_in['id_token']}"}
    today = date.today()
    story = {
        "submission_id": "fuzz-" + os.urandom(8).hex(),
        "title": "Kind night staff",
        "story": "The nurses on the ward explained every step and checked on me through the night.",
        "role": "patient",
        "pseudonym": "Night owl",
        "experience_month": today.month,
        "experience_year": today.year,
        "services": [service["slug"]],
        "consent": True,
    }
    resp = requests.post(f"{api}stories", json=story, timeout=30)
    assert resp.status_code == 201, resp.text
    story_id = resp.json()["id"]
    version = requests.get(f"{api}moderation/stories/{story_id}", headers=auth, timeout=30).json()["story"]["version"]
    resp = requests.post(
        f"{api}moderation/stories/{story_id}/decision",
        headers=auth,
        timeout=30,
        json={"action": "publish", "version": version, "criticality": 1},
    )
    assert resp.status_code == 200, resp.text
    return {
        "auth": auth,
        "org": org["slug"],
        "service": service["slug"],
        "slugs": [s["slug"] for s in services[:12]],
        "story_id": story_id,
        "today": today,
        "paths": {s["slug"]: s["path"] for s in services},
        "api": api,
    }


def fuzz_config(api: str, world: dict[str, Any]) -> dict[str, Any]:
    today = world["today"]
    month = {"body.experience_year": today.year, "body.experience_month": today.month}
    return {
        "base-url": api.split("/api/")[0],
        "seed": SEED,
        "workers": 2,
        "continue-on-failure": True,
        "request-timeout": 60,
        "headers": world["auth"],
        # NUL is refused in any string (web.read_body: a 400, as the document says), so valid data holds none.
        "generation": {"max-examples": EXAMPLES, "allow-x00": False, "database": "none"},
        "cache": {"enabled": False},  # each run stands alone: no answers replayed from an earlier one
        # The coverage phase (boundary values of every field, every undeclared method) is over 1,200
        # requests whatever the examples: under make prove only.
        "phases": {
            "coverage": {"enabled": FULL, "unexpected-methods": ["get", "put", "post", "delete", "options", "patch"]}
        },
        # On: CHECKS, and DATA_CHECKS (registered below). Off: the two data checks DATA_CHECKS wrap;
        # use_after_free (nothing is deleted); ensure_resource_availability (a story just told is pending
        # and private, so its public GET is rightly a 404); object_level_authorization (one moderator role).
        "checks": {
            **{
                name: {"enabled": name in CHECKS}
                for name in (
                    "not_a_server_error",
                    "status_code_conformance",
                    "content_type_conformance",
                    "response_schema_conformance",
                    "response_headers_conformance",
                    "missing_required_header",
                    "unsupported_method",
                    "allow_header_conformance",
                    "ignored_auth",
                    "use_after_free",
                    "ensure_resource_availability",
                    "object_level_authorization",
                    "positive_data_acceptance",
                    "negative_data_rejection",
                )
            },
            # What invalid_data_refused counts as a refusal: schemathesis' list, and 413 (too large) with it.
            "negative_data_rejection": {
                "enabled": False,
                "expected-statuses": [400, 401, 403, 404, 405, 406, 409, 413, 415, 422, 428, 429],
            },
        },
        "dictionaries": {"stories": {"values": [world["story_id"]]}, "services": {"values": world["slugs"]}},
        "parameters": {
            "path.story_id": {"dictionary": "stories", "probability": 0.5},
            "path.slug": {"dictionary": "services", "probability": 0.5},
            "query.service": {"dictionary": "services", "probability": 0.5},
        },
        "operations": [
            {
                "include-path": "/api/stories",
                "include-method": "POST",
                "parameters": {"body.services": [world["service"]], "body.related_story": world["story_id"], **month},
            },
            {
                "include-path": "/api/subscriptions",
                "include-method": "POST",
                "parameters": {"body.organisation": world["org"], "body.service": world["service"]},
            },
        ],
    }


# ---- the API's documented leniency ---------------------------------------------------------------


def _bodies() -> dict[tuple[str, str], tuple[Any, Any]]:
    """Operation -> (the model that checks its body, the route's reading of a form post)."""
    from functools import partial

    from chalicelib.core import models
    from chalicelib.core.models import ConcernDecision, ConcernReport, CorrectionRequest
    from chalicelib.edge import author, concerns, loop, staff, telling
    from chalicelib.edge.auth import SignIn
    from chalicelib.edge.forms import form_to_data

    report_form = partial(form_to_data, form=concerns.REPORT)

    return {
        ("POST", "/api/stories"): (models.StorySubmission, partial(form_to_data, form=telling.STORY)),
        ("POST", "/api/subscriptions"): (models.SubscriptionRequest, partial(form_to_data, form=staff.SIGNUP)),
        ("POST", "/api/moderation/sign-in"): (SignIn, None),
        ("POST", "/api/moderation/stories"): (models.TakenStory, None),  # a story taken for someone (issue 19)
        ("POST", "/api/moderation/stories/{story_id}/decision"): (models.ModerationDecision, None),
        ("POST", "/api/moderation/stories/{story_id}/{kind}/{item_id}/decision"): (models.ItemDecision, None),
        ("POST", "/api/stories/{story_id}/me-too"): (models.MeToo, partial(form_to_data, form=loop.ME_TOO)),
        ("POST", "/api/respond/{token}"): (models.ResponseSubmission, partial(form_to_data, form=staff.RESPONSE)),
        ("POST", "/api/my/{token}/replies"): (models.AuthorReply, partial(form_to_data, form=author.AUTHOR_FORM)),
        ("POST", "/api/check/{token}"): (models.CheckAnswer, partial(form_to_data, form=loop.CHECK)),
        # Concerns about what is published (issue 16).
        ("POST", "/api/stories/{story_id}/concerns/{kind}"): (ConcernReport, report_form),
        ("POST", "/api/stories/{story_id}/concerns/{kind}/{item_id}"): (ConcernReport, report_form),
        ("POST", "/api/respond/{token}/concern"): (ConcernReport, report_form),
        ("POST", "/api/my/{token}/correction"): (CorrectionRequest, partial(form_to_data, form=author.AUTHOR_FORM)),
        ("POST", "/api/moderation/concerns/{story_id}/{kind}/{item_id}/decision"): (ConcernDecision, None),
    }


def cleaned(model: Any, data: dict[str, Any]) -> dict[str, Any]:
    """The body after the model's own cleaning (its "before" validators: trimming, plain text), nothing more."""
    decorators = model.__pydantic_decorators__
    for d in decorators.model_validators.values():
        if d.info.mode == "before":
            data = d.func(data)
    data = dict(data)
    for d in decorators.field_validators.values():
        if d.info.mode == "before":
            for name in d.info.fields:
                if name in data:
                    data[name] = d.func(data[name])
    # The same cleaning declared on a field's type (Annotated[str, BeforeValidator(...)]), as models.py does.
    from pydantic.functional_validators import BeforeValidator

    for name, field in model.model_fields.items():
        for meta in field.metadata:
            if isinstance(meta, BeforeValidator) and name in data:
                data[name] = meta.func(data[name])
    return data


def kept(model: Any, data: dict[str, Any]) -> dict[str, Any] | None:
    """What the model keeps of the body (cleaned, and "5" read as 5), as JSON; None if it refuses it."""
    from pydantic import ValidationError

    try:
        value = model.model_validate(data)
    except (ValidationError, ValueError, TypeError):
        return None
    return {**data, **value.model_dump(mode="json", include=set(data) & set(model.model_fields))}


class Leniency:
    """Decides whether a refusal of valid data, or an acceptance of invalid data, is the API's
    documented leniency (module docstring). Counts what it excuses, by kind, for the record."""

    def __init__(self, document: dict[str, Any], max_body: int, world: dict[str, Any]):
        from jsonschema import Draft202012Validator
        from referencing import Registry, Resource
        from referencing.jsonschema import DRAFT202012

        self.document = document
        self.max_body = max_body
        self.world = world
        self.models = _bodies()
        self.registry = Registry().with_resource(
            "urn:ff", Resource.from_contents(document, default_specification=DRAFT202012)
        )
        self.validator = Draft202012Validator
        self.excused: collections.Counter[str] = collections.Counter()

    def _check(self, case: Any, media: str) -> Any:
        body = self.document["paths"][case.path][case.method.lower()]["requestBody"]["content"][media]["schema"]
        schema = {"$ref": "urn:ff#" + body["$ref"][1:]} if "$ref" in body else body
        return self.validator(schema, registry=self.registry, format_checker=self.validator.FORMAT_CHECKER)

    def _bad_fields(self, case: Any, media: str, data: dict[str, Any]) -> set[str]:
        """The top-level fields of `data` that the document's schema finds fault with."""
        out: set[str] = set()
        errors = list(self._check(case, media).iter_errors(data))
        while errors:
            e = errors.pop()
            if e.absolute_path:
                out.add(str(e.absolute_path[0]))
            elif e.validator == "required":
                out.update(name for name in e.validator_value if name not in data)
            elif e.validator == "additionalProperties":
                out.update(e.instance.keys() - set(e.schema.get("properties", {})))
            errors.extend(e.context or [])
        return out

    def _sent(self, case: Any, response: Any) -> tuple[str, Any, Any] | None:
        """(media type, the body as the route reads it, its model), or None if the route has no model."""
        model, form = self.models.get((case.method, case.path), (None, None))
        request = response.request
        media = (request.headers.get("Content-Type") or "").split(";")[0].strip().lower()
        raw = request.body or b""
        raw = raw.encode("utf-8") if isinstance(raw, str) else raw
        if model is None or media not in (JSON, FORM):
            return None
        try:
            if media == JSON:
                data = json.loads(raw)
            else:
                data = (form or (lambda f: {k: v[-1] for k, v in f.items()}))(
                    parse_qs(raw.decode("utf-8"), keep_blank_values=True)
                )
        except ValueError:
            return None
        if case.path == "/api/subscriptions" and isinstance(data, dict):
            from chalicelib.subscriptions import tags_as_written

            data = tags_as_written(data)  # subjects written as words are read as tags (issue 20)
        return (media, data, model) if isinstance(data, dict) else None

    def refusal(self, case: Any, response: Any) -> str | None:
        """Why refusing this schema-valid request is right, or None."""
        status = response.status_code
        raw = response.request.body or b""
        if status == 413 and len(raw) > self.max_body:
            return "body over the size limit"
        if status == 400 and "too large" in _error(response).get("message", "") and _beyond_max_number(raw):
            return "a number beyond 2^53"
        if (case.method, case.path) == ("GET", "/api/public/stories") and status == 400:
            named = {f.get("field") for f in _error(response).get("fields", [])}
            q = case.query or {}
            if named == {"cursor"} and q.get("cursor"):
                return "cursor not issued by the API"
            if named == {"from"} and q.get("from") and q.get("to") and str(q["from"]) > str(q["to"]):
                return "from after to"
            if named == {"month"} and q.get("month") and (q.get("from") or q.get("to")):
                return "a month with from or to"  # issue 20
        if (case.method, case.path) == ("GET", "/api/public/services/{slug}/stories") and status == 400:
            named, q = {f.get("field") for f in _error(response).get("fields", [])}, case.query or {}
            if named == {"cursor"} and q.get("cursor"):
                return "cursor not issued by the API"
        if (case.method, case.path) == ("GET", "/api/places") and status == 400:
            from chalicelib.core.places import tidy

            named = {f.get("field") for f in _error(response).get("fields", [])}
            if named == {"place"} and not tidy((case.query or {}).get("place")):
                return "no place once tidied (only spaces or characters that do not print)"
        sent = self._sent(case, response)
        if status == 422 and sent is not None:
            media, data, model = sent
            named, on_page = _named_fields(case, response)
            missing = self._not_in_the_data(case, data)
            bad = self._bad_fields(case, media, cleaned(model, data)) | missing
            # A form's page links a field it does not show (the honeypot, the id) to its button: GENERAL.
            if named and named - {GENERAL} <= bad and (GENERAL not in named or bad - on_page):
                return (
                    "names a service, story or month that is not there"
                    if named - {GENERAL} <= missing
                    else "invalid once cleaned"
                )
        return None

    def _published(self, story_id: str) -> bool:
        # Asked now: the fuzzer's own moderation decisions may have held or rejected the published story.
        import urllib.error
        import urllib.request

        if story_id != self.world["story_id"]:
            return False
        try:  # urllib, not requests: this is the checker asking, not a request of the fuzzer's (Wire)
            with urllib.request.urlopen(f"{self.world['api']}public/stories/{story_id}", timeout=30) as resp:  # nosec B310
                return resp.status == 200
        except urllib.error.HTTPError:
            return False

    def _not_in_the_data(self, case: Any, data: dict[str, Any]) -> set[str]:
        """Fields whose value breaks a rule about the data (models + stories.py, subscriptions.py):
        a service that is not in the directory, a story that is not published, a month not within
        the last three years, a service outside the organisation."""
        paths, out = self.world["paths"], set()
        if case.path in ("/api/stories", "/api/moderation/stories"):
            if any(not isinstance(s, str) or s.strip() not in paths for s in data.get("services") or []):
                out.add("services")
            related = data.get("related_story")
            if isinstance(related, str) and related.strip() and not self._published(related.strip()):
                out.add("related_story")
            year, month, today = data.get("experience_year"), data.get("experience_month"), self.world["today"]
            if (
                isinstance(year, int)
                and isinstance(month, int)
                and not ((today.year - 3, today.month) <= (year, month) <= (today.year, today.month))
            ):
                out.add("experience_year")
        if case.path == "/api/subscriptions":
            org, service = data.get("organisation"), data.get("service")
            if not isinstance(org, str) or len(paths.get(org, [])) != 1:
                out.add("organisation")
            if (
                not isinstance(service, str)
                or service not in paths
                or (isinstance(org, str) and paths[service][0] != org)
            ):
                out.add("service")
        return out

    def acceptance(self, case: Any, response: Any) -> str | None:
        """Why accepting this schema-invalid request is right, or None."""
        meta = case.meta
        negative = {
            str(getattr(k, "value", k)) for k, v in (meta.components if meta else {}).items() if v.mode.is_negative
        }
        sent = self._sent(case, response)
        if negative == {"body"} and sent is not None:
            media, data, model = sent
            value = kept(model, data)
            # What the model keeps is shaped as JSON (a blank form field is kept as null): checked as JSON.
            content = self.document["paths"][case.path][case.method.lower()]["requestBody"]["content"]
            if value is not None and self._check(case, JSON if JSON in content else media).is_valid(value):
                return "valid once cleaned and read"
        return None


def _beyond_max_number(raw: bytes | str) -> bool:
    """Whether a JSON body holds a number that web.read_body refuses (beyond ±(2^53 - 1))."""
    from chalicelib.edge.http import MAX_NUMBER

    found = []
    try:
        json.loads(
            raw,
            parse_int=lambda d: found.append(abs(int(d)) > MAX_NUMBER),
            parse_float=lambda d: found.append(not abs(float(d)) <= MAX_NUMBER),
        )
    except ValueError:
        return False
    return any(found)


GENERAL = "(a field the form does not show)"


def _form_pages() -> dict[str, dict[str, str]]:
    """Path -> {field: the id its error links to} on the page a form post gets back."""
    from chalicelib.site import forms, subscribe

    return {"/api/stories": forms.FIELD_IDS, "/api/subscriptions": subscribe.FIELD_IDS}


def _named_fields(case: Any, response: Any) -> tuple[set[str], set[str]]:
    """(the fields an error names, the fields its form shows): `error.fields` in JSON, or the
    links of the error summary on a form's page (GENERAL for a link to no field of the form)."""
    import re

    if not (response.headers.get("content-type") or [""])[0].startswith("text/html"):  # schemathesis: lower case, lists
        return {f.get("field") for f in _error(response).get("fields", [])}, set()
    ids = _form_pages().get(case.path, {})
    field_of = {v: k for k, v in ids.items()}
    summary = re.search(r'<ul class="error-summary__list">(.*?)</ul>', response.text, re.S)
    links = re.findall(r'href="#([^"]+)"', summary.group(1)) if summary else []
    return {field_of.get(link, GENERAL) for link in links}, set(ids)


def _error(response: Any) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError:
        return {}
    return body.get("error", {}) if isinstance(body, dict) else {}


LENIENCY: Leniency | None = None  # set for the run; the checks below consult it


def _register_checks() -> None:
    import schemathesis
    from schemathesis.core.failures import Failure
    from schemathesis.specs.openapi.checks import negative_data_rejection, positive_data_acceptance

    @schemathesis.check
    def valid_data_accepted(ctx, response, case):
        try:
            return positive_data_acceptance(ctx, response, case)
        except Failure:
            why = LENIENCY.refusal(case, response) if LENIENCY else None
            if why is None:
                raise
            LENIENCY.excused[f"valid data refused: {why}"] += 1
            return None

    @schemathesis.check
    def invalid_data_refused(ctx, response, case):
        try:
            return negative_data_rejection(ctx, response, case)
        except Failure:
            why = LENIENCY.acceptance(case, response) if LENIENCY else None
            if why is None:
                raise
            LENIENCY.excused[f"invalid data accepted: {why}"] += 1
            return None


# ---- the run -------------------------------------------------------------------------------------


class Wire:
    """Every request schemathesis sends, and its answer, counted where `requests` sends it: its own
    after_call hook misses some (the calls without the token that ignored_auth makes, for one)."""

    def __init__(self, document: dict[str, Any]):
        import re
        import threading

        # Literal paths before templated ones: /api/moderate before /api/moderate/{asset}.
        self._templates = sorted(
            ((re.compile("^" + re.sub(r"\{\w+\}", "[^/]+", p) + "$"), p) for p in document["paths"]),
            key=lambda t: t[1].count("{"),
        )
        self._methods = {p: {m.upper() for m in ops} for p, ops in document["paths"].items()}
        self._lock = threading.Lock()
        self.sent: collections.Counter[str] = collections.Counter()
        self.statuses: collections.Counter[int] = collections.Counter()
        self.server_errors: list[str] = []

    def operation(self, method: str, url: str) -> str:
        from urllib.parse import urlsplit

        path = urlsplit(url).path
        for pattern, template in self._templates:
            if pattern.match(path):
                return f"{method} {template}" + ("" if method in self._methods[template] else " (undeclared)")
        return f"{method} {path[:60]} (no such path)"

    def __enter__(self) -> Wire:
        self._send = requests.Session.send
        wire = self

        def send(session, request, **kwargs):
            response = wire._send(session, request, **kwargs)
            with wire._lock:
                wire.sent[wire.operation(request.method, request.url)] += 1
                wire.statuses[response.status_code] += 1
                if response.status_code >= 500:
                    wire.server_errors.append(f"{response.status_code} {request.method} {request.url[:200]}")
            return response

        requests.Session.send = send
        return self

    def __exit__(self, *exc: Any) -> None:
        requests.Session.send = self._send


def fuzz(api: str, world: dict[str, Any]) -> dict[str, Any]:
    """Run schemathesis over every operation of the served document; what it sent and what it found."""
    global LENIENCY
    # hypothesis imports this lazily, on first use; schemathesis's two worker threads can race on that
    # import and one gets a half-loaded module (ImportError: cannot import name 'RandomStrategy').
    import hypothesis.strategies._internal.random  # noqa: F401
    import schemathesis
    from hypothesis import strategies as st
    from schemathesis.config import SchemathesisConfig
    from schemathesis.engine import events, from_schema

    # The API refuses special-use domains (.test, .invalid, ...: email-validator, RFC 6761), which
    # schemathesis' own addresses sometimes end in; any other address will do.
    schemathesis.openapi.format(
        "email", st.from_regex(r"\A[a-z0-9]{1,12}([._+-][a-z0-9]{1,8})?@[a-z0-9]{1,12}\.(org|com|net|nhs\.uk)\Z")
    )
    _register_checks()
    document = requests.get(f"{api}openapi.json", timeout=30).json()
    from chalicelib.core.settings import Settings

    LENIENCY = Leniency(document, Settings().max_body_bytes, world)  # the stack runs with the default
    schema = schemathesis.openapi.from_url(
        f"{api}openapi.json", config=SchemathesisConfig.from_dict(fuzz_config(api, world))
    )
    phases: collections.Counter[str] = collections.Counter()
    schema.hooks.register_hook_with_name(
        lambda ctx, case, response: phases.update([case.meta.phase.name.value if case.meta else "other"]), "after_call"
    )
    failures: dict[tuple[str, str, str], list[str]] = collections.defaultdict(list)
    errors: list[str] = []
    with Wire(document) as wire:
        for event in from_schema(schema).execute():
            if isinstance(event, (events.ScenarioFinished, events.FuzzScenarioFinished)):
                for case_id, nodes in event.recorder.checks.items():
                    for node in nodes:
                        if node.failure_info is not None:
                            failures[
                                (node.name, node.failure_info.failure.title, node.failure_info.failure.operation)
                            ].append(
                                _failure_detail(node.failure_info.failure, event.recorder.interactions.get(case_id))
                            )
            elif isinstance(event, (events.NonFatalError, events.FatalError)):
                errors.append(repr(getattr(event, "value", None) or getattr(event, "exception", None))[:500])
    documented = {f"{m.upper()} {p}" for p, ops in document["paths"].items() for m in ops}
    return {
        "sent": wire.sent,
        "statuses": wire.statuses,
        "server_errors": wire.server_errors,
        "phases": phases,
        "failures": failures,
        "errors": errors,
        "documented": documented,
        "excused": dict(LENIENCY.excused),
    }


def _failure_detail(failure: Any, seen: Any) -> str:
    detail = failure.message[:300]
    if seen is not None and seen.response is not None:
        body = (seen.request.body or b"")[:300].decode("utf-8", "replace")
        answer = (seen.response.content or b"")[:300].decode("utf-8", "replace")
        detail += f" | {seen.request.method} {seen.request.uri[:200]} {body} -> {seen.response.status_code} {answer}"
    return detail


@pytest.mark.e2e
def test_schemathesis_finds_no_server_error_and_nothing_the_document_does_not_say(stack, world):
    result = fuzz(stack.api, world)
    n = sum(result["sent"].values())
    problems = [f"{k}: {len(v)}, e.g. {v[0]}" for k, v in sorted(result["failures"].items())]
    tested = result["documented"] & set(result["sent"])
    record(
        "schema_fuzz",
        {
            "requests": n,
            "operations": len(tested),
            "operations_documented": len(result["documented"]),
            "undeclared_method_requests": sum(v for k, v in result["sent"].items() if k.endswith("(undeclared)")),
            "server_errors": len(result["server_errors"]),
            "nonconforming": sum(len(v) for v in result["failures"].values()),
            "examples_per_operation": EXAMPLES,
            "phases": dict(result["phases"]),
            "seed": SEED,
            "statuses": dict(sorted(result["statuses"].items())),
            "checks": CHECKS + DATA_CHECKS,
            "leniency_excused": result["excused"],
        },
    )
    assert not result["errors"], result["errors"]
    assert result["server_errors"] == [], f"seed {SEED}: {result['server_errors'][:10]}"
    assert not problems, f"seed {SEED}:\n" + "\n".join(problems)
    # Every documented operation was called, but the document's own: schemathesis loads the document from
    # it (and refuses one that is not valid OpenAPI) rather than fuzzing it.
    assert sorted(result["documented"] - tested) == ["GET /api/openapi.json"]
    assert n >= TARGET, f"only {n} requests were sent (at least {TARGET} wanted)"


def _unsigned_jwt() -> str:
    import base64

    def part(value: dict) -> str:
        return base64.urlsafe_b64encode(json.dumps(value).encode()).decode().rstrip("=")

    claims = {
        "sub": "x",
        "token_use": "id",
        "cognito:groups": ["moderators"],
        "exp": 4102444800,
        "email": "m@example.org",
    }
    return f"{part({'alg': 'none', 'typ': 'JWT'})}.{part(claims)}."


def test_the_moderators_operations_refuse_every_call_without_a_moderators_token(client, aws, jwks):  # noqa: F811
    # In process (the app checks tokens itself, signature and all; the live stack's answers are the same).
    from chalicelib.edge.openapi import document

    secured = [(m.upper(), p) for p, ops in document()["paths"].items() for m, op in ops.items() if op.get("security")]
    assert len(secured) >= 4
    credentials = {
        "no header": None,
        "a password": "Basic bW9kZXJhdG9yOnB3",
        "not a token": "Bearer not-a-token",
        "an empty bearer": "Bearer ",
        "an unsigned token (alg none)": f"Bearer {_unsigned_jwt()}",
    }
    wrong = []
    for method, path in secured:
        url = path.replace("{story_id}", "0" * 17).replace("{kind}", "replies").replace("{item_id}", "i" * 17)
        for what, value in credentials.items():
            headers = {"Content-Type": JSON, **({"Authorization": value} if value else {})}
            resp = client.http.request(
                method,
                url,
                headers=headers,
                body=b'{"action": "publish", "version": 1, "criticality": 1}' if method == "POST" else b"",
            )
            code = (
                json.loads(resp.body).get("error", {}).get("code") if resp.headers.get("Content-Type") == JSON else None
            )
            if resp.status_code != 401 or code != "Unauthorized":
                wrong.append(f"{method} {path} with {what}: {resp.status_code} {resp.body[:120]!r}")
    assert wrong == []
