"""The privacy promise, swept: no contact detail of any author reaches a page, feed, API answer, log
line, metric or staff email; and after an erasure nothing about the story is left anywhere.

A full demo run, in process (moto, chalice's test client, the event pump), with every output path
exercised: staff sign up and confirm; authors tell stories (JSON and form posts) with a unique
contact email each (the one contact field a story has: models.StorySubmission.email); a moderator
reads them over the API, publishes (with tags), holds, rejects or leaves them; alerts, a digest,
read receipts, staff responses (one marks a change made), author replies, me-toos with readers'
addresses, a withdrawal, the escalation ladder at each step, the change check six weeks on and its
answers, an SES bounce and a complaint, an address SES refuses (sandbox), every public API route,
and a full rebuild of the site (pages, feeds, archives, sitemaps, the Pagefind index).

The story form has no phone, NHS number or postcode field. So each author also writes a UK phone
number, a valid NHS number and a postcode into their story (as people do); the moderator finds
them with the moderation screen's highlights and edits them out before publishing. They may
reach the moderator and the author's own private page; nowhere else.

What is scanned: every object in the site bucket (Pagefind's gzip'd fragments and index
decompressed), every HTTP answer and every handler's return value, every line the powertools
Logger writes and every EMF metrics line, and every email (each decoded part). Each haystack
is searched for every detail in several forms (lower case; URL- and HTML-decoded; phone digits
with any separators, +44, 0044, (0) or 0; NHS numbers spaced or not; postcodes with or without
the space; an address cut short after its @), and again with chalicelib/identifying's detectors.
"""

from __future__ import annotations

import gzip
import html
import json
import logging
import os
import random
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any
from urllib.parse import unquote_plus, urlencode

import pytest

from chalicelib import wiring
from chalicelib.core import clock, identifying
from chalicelib.core.ids import new_id
from chalicelib.store import email_hash, submission_record_key
from tests.support import mailbox
from tests.support.auth import bearer
from tests.support.directories import promised_directory
from tests.support.prove import record

JSON_H = {"Content-Type": "application/json"}
FORM_H = {"Content-Type": "application/x-www-form-urlencoded"}
TOKEN = r"([A-Za-z0-9_-]{43})"
ROUNDS = int(os.environ.get("FF_PROVE_ROUNDS", "0") or 0)
# make test: 8 authors (about half a minute); make prove (FF_PROVE_ROUNDS=1000): 40.
AUTHORS = max(8, min(40, ROUNDS // 25))
CONTACT_KINDS = ("email", "phone", "nhs_number", "postcode")
REMOVED = "[removed]"

STAFF = {
    "ward": {
        "name": "Priya Sharma",
        "email": "priya.sharma@riverside.nhs.example",
        "organisation": "riverside-trust",
        "service": "riverside-ward-7",
        "frequency": "immediate",
    },
    "maternity": {
        "name": "Lena Fischer",
        "email": "lena.fischer@riverside.nhs.example",
        "organisation": "riverside-trust",
        "service": "riverside-maternity",
        "frequency": "immediate",
    },
    "trust": {
        "name": "Dan Owusu",
        "email": "dan.owusu@riverside.nhs.example",
        "organisation": "riverside-trust",
        "service": "riverside-trust",
        "frequency": "digest",
    },
    "hillside": {
        "name": "Tom Reid",
        "email": "tom.reid@hillside.nhs.example",
        "organisation": "hillside-trust",
        "service": "hillside-trust",
        "frequency": "immediate",
    },
}
SERVICE_SETS = (
    ["riverside-ward-7"],
    ["riverside-maternity"],
    ["hillside-district-nursing"],
    ["riverside-ward-7", "riverside-maternity"],
)


# ---- the people and their details --------------------------------------------------------------

FIRST = (
    "Amelia",
    "Oliver",
    "Priyanka",
    "Kwame",
    "Siobhan",
    "Tomasz",
    "Hannah",
    "Yusuf",
    "Grace",
    "Rhys",
    "Meiling",
    "Callum",
)
LAST = (
    "Hartley",
    "Okafor",
    "Nowak",
    "Fitzgerald",
    "Mensah",
    "Llewellyn",
    "Chowdhury",
    "Brennan",
    "Achterberg",
    "Quinlan",
)
DOMAINS = ("example.org", "example.net", "mail.example.co.uk", "example.com")
# Ofcom's numbers for drama (never anyone's), in the ways people write them: mobile and landline, 0 and +44.
PHONE_FORMS = (
    "07700 900{n}",
    "+44 7700 900{n}",
    "020 7946 0{n}",
    "+44 (0)20 7946 0{n}",
    "0113 496 0{n}",
    "+447700900{n}",
    "(0161) 496 0{n}",
    "0117-496-0{n}",
    "0044 117 496 0{n}",
)
OUTWARD = ("SW1A", "EC1A", "LS11", "CF10", "BS16", "NE12", "EH10", "M14", "B33", "G12", "CR2", "NW10")
INWARD_LETTERS = "ABDEFGHJLNPQRSTUWXYZ"
TEXT_FIELDS = ("story", "good", "improve")


@dataclass
class Person:
    """Someone whose contact details must not leak: an author, or a reader who said "me too"."""

    key: str
    email: str  # as typed (mixed case sometimes)
    phone: str = ""
    nhs: str = ""
    postcode: str = ""
    tokens: set[str] = field(default_factory=set)  # their capability links: answers to them are theirs
    about: str = ""  # a reader: the story they said "me too" to

    @property
    def details(self) -> dict[str, str]:
        return {
            k: v
            for k, v in (
                ("email", self.email),
                ("phone", self.phone),
                ("nhs_number", self.nhs),
                ("postcode", self.postcode),
            )
            if v
        }


@dataclass
class Author(Person):
    n: int = 0
    services: list[str] = field(default_factory=list)
    via: str = "json"  # or "form"
    detail_field: str = "story"
    fate: str = "publish"  # publish, hold, reject, pending
    title: str = ""
    word: str = ""  # a made-up word only this story has (for the search index)
    submission_id: str = ""
    story_id: str = ""


def nhs_number(rng: random.Random) -> str:
    """A random NHS number whose tenth digit is the modulus 11 check digit."""
    while True:
        digits = "9" + "".join(str(rng.randrange(10)) for _ in range(8))
        check = 11 - sum(int(d) * w for d, w in zip(digits, range(10, 1, -1))) % 11
        check = 0 if check == 11 else check
        if check != 10:
            assert identifying.nhs_number_valid(digits + str(check))
            return digits + str(check)


def make_authors(count: int, seed: int = 6) -> list[Author]:
    rng = random.Random(seed)
    fates = ("publish", "publish", "publish", "publish", "publish", "hold", "reject", "pending")
    nhs_seen: set[str] = set()
    authors = []
    for n in range(count):
        first, last = FIRST[n % len(FIRST)], LAST[(n * 7) % len(LAST)]
        local = f"{first}.{last}.{100 + n}"
        domain = DOMAINS[n % len(DOMAINS)]
        # Some type their address with capitals: the promise is about the address, whatever its case.
        email = f"{local}@{domain.title()}" if n % 3 == 1 else f"{local.lower()}@{domain}"
        nhs = nhs_number(rng)
        while nhs in nhs_seen:
            nhs = nhs_number(rng)
        nhs_seen.add(nhs)
        nhs_form = (f"{nhs[:3]} {nhs[3:6]} {nhs[6:]}", nhs, f"{nhs[:3]}-{nhs[3:6]}-{nhs[6:]}")[n % 3]
        inward = f"{n % 10}{INWARD_LETTERS[n % 20]}{INWARD_LETTERS[(n * 3 + 7) % 20]}"
        outward = OUTWARD[n % len(OUTWARD)]
        postcode = (f"{outward} {inward}", f"{outward} {inward}".lower(), f"{outward}{inward}")[n % 3]
        word = "quorblex" + "".join("abcdefghjkmnprstvwxz"[int(d)] for d in f"{n:03d}")
        authors.append(
            Author(
                key=f"author {n}",
                email=email,
                phone=PHONE_FORMS[n % len(PHONE_FORMS)].format(n=100 + n),
                nhs=nhs_form,
                postcode=postcode,
                n=n,
                services=SERVICE_SETS[n % len(SERVICE_SETS)],
                via="json" if n % 2 == 0 else "form",
                detail_field=TEXT_FIELDS[n % 3],
                fate=fates[n % len(fates)],
                title=f"Care on a long night, story {n:03d}",
                word=word,
            )
        )
    return authors


def story_fields(a: Author) -> dict[str, Any]:
    """The author's story: contact details written into one text field, for the moderator to remove."""
    today = date.today()  # as models.StorySubmission checks the month
    texts = {
        "story": f"I came in by ambulance and waited on a trolley for hours. The {a.word} pump kept alarming and nobody came.",
        "good": "The night nurse explained every step and stayed calm.",
        "improve": "Tell families where their relative has been moved to.",
    }
    texts[a.detail_field] += (
        f" If you need me, ring {a.phone}. My NHS number is {a.nhs} and my postcode is {a.postcode}."
    )
    return {
        "submission_id": new_id() + new_id(),
        "title": a.title,
        **texts,
        "feelings": ["anxious", "listened-to"],
        "role": "patient",
        "pseudonym": f"Night owl {a.n}",
        "experience_month": today.month,
        "experience_year": today.year,
        "services": a.services,
        "email": a.email,
        "consent": True,
    }


# ---- the scanner ---------------------------------------------------------------------------------

_DIGIT_RUN = re.compile(r"\d(?:[\s\-().\u00a0/]{0,3}\d)*")
_POSTCODE = re.compile(r"(?<![a-z0-9])([a-z]{1,2}\d[a-z\d]?)[\s\-]{0,2}(\d[a-z]{2})(?![a-z0-9])")


def phone_key(text: str) -> str:
    """A UK number's national significant number: the digits after 0, 44, 0044 or +44 (0)."""
    digits = re.sub(r"\D", "", text)
    for prefix in ("0044", "44"):
        if digits.startswith(prefix) and len(digits) > 11:
            digits = digits[len(prefix) :]
            break
    return digits[1:] if digits.startswith("0") else digits


def postcode_key(text: str) -> str:
    return re.sub(r"[\s\-]", "", text).upper()


@dataclass(frozen=True)
class Hit:
    who: str
    kind: str
    where: str
    found: str


class Scanner:
    """Finds any of these people's details in text, in the forms they may take on the way out."""

    def __init__(self, people: Iterable[Person]):
        self.people = list(people)
        self.emails: list[tuple[str, str, list[str]]] = []  # (who, address, needles)
        self.digits: list[tuple[str, str, str]] = []  # (who, kind, digits)
        self.postcodes: dict[str, str] = {}
        for p in self.people:
            address = p.email.lower()
            local = address.split("@")[0]
            # The address; percent- or entity-encoded; and cut short just after its @ (a log line's
            # [:200] of an error message that quotes it).
            self.emails.append((p.key, address, [address, f"{local}@", f"{local}%40", f"{local}&#64;"]))
            if p.phone:
                self.digits.append((p.key, "phone", phone_key(p.phone)))
            if p.nhs:
                self.digits.append((p.key, "nhs_number", re.sub(r"\D", "", p.nhs)))
            if p.postcode:
                self.postcodes[postcode_key(p.postcode)] = p.key

    def scan(self, text: str, where: str, detectors: bool = True) -> list[Hit]:
        hits: set[Hit] = set()
        lower = text.lower()
        variants = {lower}
        if "%" in lower or "+" in lower:
            variants.add(unquote_plus(lower))
        if "&" in lower:
            variants.add(html.unescape(lower))
        for v in variants:
            for who, _, needles in self.emails:
                for needle in needles:
                    if needle in v:
                        hits.add(Hit(who, "email", where, needle))
            runs = [re.sub(r"\D", "", m.group(0)) for m in _DIGIT_RUN.finditer(v)]
            runs = [r for r in runs if len(r) >= 9]
            for who, kind, digits in self.digits:
                if any(digits in r for r in runs):
                    hits.add(Hit(who, kind, where, digits))
            for m in _POSTCODE.finditer(v):
                key = (m.group(1) + m.group(2)).upper()
                if key in self.postcodes:
                    hits.add(Hit(self.postcodes[key], "postcode", where, m.group(0)))
        if detectors:
            hits.update(self._detected(text, where))
        return sorted(hits, key=lambda h: (h.who, h.kind))

    def _detected(self, text: str, where: str) -> set[Hit]:
        """chalicelib/identifying's detectors over the text, each finding compared with the details."""
        out: set[Hit] = set()
        for f in identifying.find(text):
            if f.kind == "email":
                out.update(
                    Hit(who, "email", where, f.text) for who, address, _ in self.emails if f.text.lower() == address
                )
            elif f.kind in ("phone", "nhs_number"):
                digits = re.sub(r"\D", "", f.text)
                out.update(
                    Hit(who, kind, where, f.text) for who, kind, d in self.digits if d in (phone_key(f.text), digits)
                )
            elif f.kind == "postcode" and postcode_key(f.text) in self.postcodes:
                out.add(Hit(self.postcodes[postcode_key(f.text)], "postcode", where, f.text))
        return out


# ---- capturing every output ------------------------------------------------------------------------


@dataclass
class Answer:
    what: str  # "GET /api/..." or "invoke <handler>"
    text: str


class Recorder:
    """Every HTTP answer and every handler's return value that passes through chalice's test client
    (the pump invokes the handlers through the same client)."""

    def __init__(self, client: Any):
        self.answers: list[Answer] = []
        self.invocations: list[Answer] = []
        http_request, invoke = client.http.request, client.lambda_.invoke

        def request(method: str, path: str, headers: dict | None = None, body: bytes | str = b"") -> Any:
            resp = http_request(method, path, headers=headers, body=body)
            raw = resp.body.decode("utf-8", "replace") if isinstance(resp.body, bytes) else str(resp.body or "")
            heads = "\n".join(f"{k}: {v}" for k, v in (resp.headers or {}).items())
            self.answers.append(Answer(f"{method} {path.split('?')[0]}", f"{heads}\n\n{raw}"))
            return resp

        def lambda_invoke(name: str, event: Any) -> Any:
            resp = invoke(name, event)
            self.invocations.append(Answer(f"invoke {name}", json.dumps(resp.payload, default=str)))
            return resp

        client.http.request = request
        client.lambda_.invoke = lambda_invoke


class Lines(logging.Handler):
    """Every record it sees, as the lines its formatter makes (except records of loggers named `skip`)."""

    def __init__(self, formatter: logging.Formatter | None = None, skip: str = ""):
        super().__init__(logging.DEBUG)
        self.lines: list[str] = []
        self.skip = skip
        if formatter:
            self.setFormatter(formatter)

    def emit(self, rec: logging.LogRecord) -> None:
        if not (self.skip and rec.name.startswith(self.skip)):
            self.lines.extend(self.format(rec).splitlines())


@pytest.fixture
def logs(monkeypatch):
    """Every line the powertools Logger writes (formatted as it writes them, at every level), every
    record any other logger emits, and the EMF metrics lines powertools prints (metrics are
    switched on here: locally they are disabled)."""
    import aws_lambda_powertools.metrics.provider.cloudwatch_emf.cloudwatch as emf

    from chalicelib.core.observability import SERVICE, logger

    monkeypatch.setattr(emf, "is_metrics_disabled", lambda: False)
    service = logging.getLogger(SERVICE)
    ours, others = (
        Lines(logger.registered_formatter),
        Lines(logging.Formatter("%(name)s %(levelname)s %(message)s"), skip=SERVICE),
    )
    level = service.level
    service.setLevel(logging.DEBUG)
    service.addHandler(ours)
    logging.getLogger().addHandler(others)
    try:
        yield ours, others
    finally:
        service.removeHandler(ours)
        logging.getLogger().removeHandler(others)
        service.setLevel(level)


def bucket_objects(aws) -> dict[str, str]:
    """Every object in the site bucket as text, its key first; gzip'd ones (Pagefind's fragments,
    index chunks, meta and wasm) decompressed."""
    s3 = aws.client("s3")
    out = {}
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=aws.resources.bucket):
        for o in page.get("Contents", []):
            out[o["Key"]] = object_text(
                o["Key"], s3.get_object(Bucket=aws.resources.bucket, Key=o["Key"])["Body"].read()
            )
    return out


def object_text(key: str, body: bytes) -> str:
    if body[:2] == b"\x1f\x8b":
        body = gzip.decompress(body)
    return key + "\n" + body.decode("utf-8", "replace")


def email_texts() -> list[tuple[str, str]]:
    """(recipient, text) of every email SES accepted: every header, and every part decoded."""
    out = []
    for msg in mailbox.sent():
        parts = [f"{k}: {v}" for k, v in msg.items()]
        for part in msg.walk():
            if not part.is_multipart():
                content = part.get_content()
                parts.append(content if isinstance(content, str) else content.decode("utf-8", "replace"))
        out.append((str(msg["To"]).lower(), "\n".join(parts)))
    return out


def table_items(aws) -> list[dict]:
    ddb = aws.client("dynamodb")
    items, args = [], {"TableName": aws.resources.table, "ConsistentRead": True}
    while True:
        resp = ddb.scan(**args)
        items += resp["Items"]
        if "LastEvaluatedKey" not in resp:
            return items
        args["ExclusiveStartKey"] = resp["LastEvaluatedKey"]


# ---- driving the demo ----------------------------------------------------------------------------


class Demo:
    """One demo run. Each method is a step of the loop, as people and the schedules take it."""

    def __init__(self, client, aws, pump, auth: dict, authors: list[Author], monkeypatch):
        self.client, self.aws, self.pump, self.auth = client, aws, pump, auth
        self.authors = authors
        self.readers: list[Person] = []
        self.alert_links: dict[str, list[str]] = {}  # story id -> respond tokens from staff alerts
        self.change_made: Author | None = None
        # The clock starts at 10:00 UTC today and runs; the schedules' steps move it on.
        real = datetime.now(UTC)
        self.offset = real.replace(hour=10, minute=0, second=0, microsecond=0) - real
        monkeypatch.setattr(clock, "now", lambda: datetime.now(UTC) + self.offset)

    def days_later(self, days: float) -> None:
        self.offset += timedelta(days=days)

    def post(self, path: str, data: dict, headers: dict = JSON_H) -> Any:
        body = json.dumps(data) if headers is JSON_H else urlencode(data, doseq=True)
        return self.client.http.post(path, body=body, headers=headers)

    def scheduled(self, handler: str) -> Any:
        event = self.client.events.generate_cw_event(
            source="aws.events", detail_type="Scheduled Event", detail={}, resources=[]
        )
        result = self.client.lambda_.invoke(handler, event).payload
        self.pump.drain()
        return result

    def links_to(self, person: Person, kind: str) -> list[str]:
        found = []
        for msg in mailbox.sent():
            if str(msg["To"]).lower() == person.email.lower():
                found += re.findall(rf"https://api\.test/api/{kind}/{TOKEN}", mailbox.text_of(msg))
        person.tokens.update(found)
        return found

    # -- staff ---------------------------------------------------------------------------------

    def staff_sign_up(self) -> None:
        for who in STAFF.values():
            body = {
                "name": who["name"],
                "role": "Ward Manager",
                "organisation": who["organisation"],
                "email": who["email"],
                "service": who["service"],
                "tags": [],
                "min_criticality": 0,
                "frequency": who["frequency"],
            }
            assert self.post("/api/subscriptions", body).status_code == 202
        self.pump.drain()
        for who in STAFF.values():
            [confirm] = [
                t
                for m in mailbox.to(who["email"])
                for t in re.findall(rf"https://api\.test/api/subscriptions/confirm/{TOKEN}", mailbox.text_of(m))
            ]
            assert self.client.http.get(f"/api/subscriptions/confirm/{confirm}").status_code == 200
            assert (
                self.client.http.post(f"/api/subscriptions/confirm/{confirm}", body="", headers=FORM_H).status_code
                == 200
            )

    # -- authors -------------------------------------------------------------------------------

    def tell(self) -> None:
        for a in self.authors:
            fields = story_fields(a)
            if a.via == "json":
                a.submission_id = fields["submission_id"]
                resp = self.post("/api/stories", fields)
                assert resp.status_code == 201, resp.body
                a.story_id = json.loads(resp.body)["id"]
            else:
                # With JavaScript off the form sends no submission id: the server derives one.
                from urllib.parse import parse_qs

                from chalicelib.edge.forms import form_to_data
                from chalicelib.edge.telling import STORY

                fields.pop("submission_id")
                form = {**fields, "consent": "yes", "website": ""}
                resp = self.post("/api/stories", form, headers=FORM_H)
                assert resp.status_code == 303 and "/thank-you/?ref=" in resp.headers["Location"], resp.body
                a.submission_id = form_to_data(parse_qs(urlencode(form, doseq=True), keep_blank_values=True), STORY)[
                    "submission_id"
                ]
        self.pump.drain()
        # Each author confirms the address is theirs from the first email (issue 18): only then is mail
        # with their story and its private link sent to it.
        for a in self.authors:
            # (An author whose address SES refused gets no email, so has nothing to confirm.)
            for confirm in [
                t
                for m in mailbox.sent()
                if a.email.lower() in str(m["To"]).lower()
                for t in re.findall(rf"https://api\.test/api/confirm/{TOKEN}", mailbox.text_of(m))
            ]:
                assert self.client.http.get(f"/api/confirm/{confirm}").status_code == 200
                assert self.client.http.post(f"/api/confirm/{confirm}", body="", headers=FORM_H).status_code == 200
        self.pump.drain()

    def moderate(self) -> None:
        """The moderator reads the queue and each story over the API, and removes what the screen marks."""
        queue = json.loads(self.client.http.get("/api/moderation/queue?status=pending", headers=self.auth).body)[
            "stories"
        ]
        by_title = {s["title"]: s["id"] for s in queue}
        for a in self.authors:
            a.story_id = a.story_id or by_title[a.title]
            assert by_title[a.title] == a.story_id
        for a in self.authors:
            seen = json.loads(self.client.http.get(f"/api/moderation/stories/{a.story_id}", headers=self.auth).body)
            marked = seen["highlights"].get(a.detail_field, {}).get("segments", [])
            found = {(s["kind"], s["text"]) for s in marked if s.get("kind")}
            # The screen marks all three details, so the moderator can see what to remove.
            assert {("phone", a.phone), ("nhs_number", a.nhs), ("postcode", a.postcode)} <= found, (a.key, found)
            version = seen["story"]["version"]
            if a.fate == "publish":
                redacted = "".join(REMOVED if s.get("kind") in CONTACT_KINDS else s["text"] for s in marked)
                decision = {
                    "action": "publish",
                    "version": version,
                    "criticality": 3,
                    a.detail_field: redacted,
                    "tags": ["nursing", "waiting-times"][: 1 + a.n % 2],
                }
            elif a.fate == "hold":
                decision = {"action": "hold", "version": version, "note": "Safeguarding: checking with the ward first."}
            elif a.fate == "reject":
                decision = {"action": "reject", "version": version, "note": "It names another patient."}
            else:
                continue
            resp = self.client.http.post(
                f"/api/moderation/stories/{a.story_id}/decision", body=json.dumps(decision), headers=self.auth
            )
            assert resp.status_code == 200, resp.body
        self.pump.drain()

    @property
    def published(self) -> list[Author]:
        return [a for a in self.authors if a.fate == "publish"]

    # -- the conversation ------------------------------------------------------------------------

    def staff_read_and_respond(self) -> None:
        for who in STAFF.values():
            for m in mailbox.to(who["email"]):
                text = mailbox.text_of(m)
                for sid in set(re.findall(r"https://site\.test/stories/([0-9a-z]{17})/", text)):
                    self.alert_links.setdefault(sid, []).extend(
                        re.findall(rf"https://api\.test/api/respond/{TOKEN}", text)
                    )
        for i, a in enumerate(self.published):
            links = self.alert_links.get(a.story_id)
            assert links, f"no staff alert for {a.key}"
            token = links[0]
            assert self.client.http.get(f"/api/respond/{token}").status_code == 200
            if i % 2 == 1:
                continue  # not read yet: the ladder will climb for this one
            assert self.post(f"/api/respond/{token}/read", {}).status_code == 200
            if i % 4 == 0:
                change = "made" if self.change_made is None else "planned"
                body = {
                    "text": "Thank you for telling us. We have talked to the night team about answering alarms.",
                    "change": change,
                    "change_description": "A second nurse now covers the assessment bay at night.",
                    "response_id": new_id(),
                }
                resp = self.post(f"/api/respond/{token}", body)
                assert resp.status_code in (201, 202), resp.body
                if resp.status_code == 202:  # a first response, or a change made: a moderator checks it
                    self.publish_response(a.story_id, body["response_id"])
                if change == "made":
                    self.change_made = a
            else:
                # The ward's own number: held by the automatic check, then published by a moderator.
                body = {
                    "text": "I am sorry. Please ring the ward on 0113 496 0999 and ask for me.",
                    "response_id": new_id(),
                }
                resp = self.post(f"/api/respond/{token}", body)
                assert resp.status_code == 202 and json.loads(resp.body)["status"] == "held", resp.body
                self.publish_response(a.story_id, body["response_id"])
        self.pump.drain()

    def publish_response(self, story_id: str, response_id: str) -> None:
        decided = self.client.http.post(
            f"/api/moderation/stories/{story_id}/responses/{response_id}/decision",
            body=json.dumps({"action": "publish"}),
            headers=self.auth,
        )
        assert decided.status_code == 200, decided.body

    def authors_act(self) -> None:
        """Each author opens their private page; those with a response reply, writing their phone
        number in it, which the moderator edits out; one withdraws."""
        responded: set[str] = set()
        withdrawn = False
        for a in self.authors:
            links = self.links_to(a, "my")
            if not links:
                continue  # SES refused every email to them
            page = self.client.http.get(f"/api/my/{links[-1]}")
            assert page.status_code == 200
            thread = wiring.store().story_thread(a.story_id, consistent=True)
            if any(i["item"] == "response" for i in thread):
                text = f"Thank you for answering. If it helps, you can call me on {a.phone}."
                reply_id = f"reply-{a.story_id}"
                assert (
                    self.post(f"/api/my/{links[-1]}/replies", {"reply_id": reply_id, "text": text}).status_code == 202
                )
                responded.add(a.story_id)
                edited = text
                for f in reversed(identifying.find(text)):
                    edited = edited[: f.start] + REMOVED + edited[f.end :]
                resp = self.client.http.post(
                    f"/api/moderation/stories/{a.story_id}/replies/{reply_id}/decision",
                    body=json.dumps({"action": "publish", "text": edited}),
                    headers=self.auth,
                )
                assert resp.status_code == 200, resp.body
            elif a.fate == "publish" and not withdrawn and a is not self.change_made:
                assert self.post(f"/api/my/{links[-1]}/withdraw", {"confirm": True}).status_code == 200
                a.fate = "withdrawn"
                withdrawn = True
        assert responded, "some authors had a response to reply to"
        self.pump.drain()

    def me_too(self) -> None:
        """A reader of each published story says "me too" with their address (over the API); the
        story with a change made gets a second reader too."""
        for a in self.published:
            reader = Person(key=f"reader {a.n}", email=f"reader.wren.{500 + a.n}@example.net", about=a.story_id)
            resp = self.post(f"/api/stories/{a.story_id}/me-too", {"email": reader.email, "consent": True})
            assert resp.status_code == 201, resp.body
            self.readers.append(reader)
        if self.change_made:
            second = Person(
                key=f"reader {self.change_made.n}b",
                email=f"reader.finch.{600 + self.change_made.n}@example.net",
                about=self.change_made.story_id,
            )
            wiring.metoo().say(self.change_made.story_id, {"email": second.email, "consent": True}, "another-reader")
            self.readers.append(second)
        self.pump.drain()

    def bounced(self, person: Person) -> None:
        """SES says the address bounced for good (its diagnostic code quotes the address)."""
        self._mail_event(
            {
                "notificationType": "Bounce",
                "mail": {"destination": [person.email]},
                "bounce": {
                    "bounceType": "Permanent",
                    "bounceSubType": "General",
                    "timestamp": clock.iso(),
                    "bouncedRecipients": [
                        {
                            "emailAddress": person.email,
                            "action": "failed",
                            "status": "5.1.1",
                            "diagnosticCode": f"smtp; 550 5.1.1 <{person.email}>: user unknown",
                        }
                    ],
                },
            }
        )

    def complained(self, person: Person) -> None:
        """SES says the person marked our email as spam."""
        self._mail_event(
            {
                "notificationType": "Complaint",
                "mail": {"destination": [person.email]},
                "complaint": {
                    "complainedRecipients": [{"emailAddress": person.email}],
                    "complaintFeedbackType": "abuse",
                    "timestamp": clock.iso(),
                },
            }
        )

    def _mail_event(self, notification: dict) -> None:
        event = self.client.events.generate_sns_event(message=json.dumps(notification))
        assert self.client.lambda_.invoke("on_mail_event", event).payload == {"suppressed": 1, "ignored": 0}

    def public_api(self) -> None:
        for path in (
            "/api/services?q=ward",
            "/api/services?q=nurs",
            "/api/openapi.json",
            "/api/public/stories",
            "/api/public/stories?tag=nursing",
            "/api/public/stories?responded=no",
            "/api/public/services/riverside-trust/stories?responded=yes",  # the filter page (issue 20)
            "/api/public/services/riverside-trust/stories?tag=nursing",
            "/api/places?place=riverside",
            "/api/moderate",
        ):
            assert self.client.http.get(path).status_code == 200, path
        for a in self.authors:
            status = self.client.http.get(f"/api/public/stories/{a.story_id}").status_code
            assert status == (200 if a.fate == "publish" else 404), (a.key, a.fate, status)
        for slug in (
            "riverside-trust",
            "riverside-general",
            "riverside-ward-7",
            "riverside-maternity",
            "hillside-district-nursing",
        ):
            assert self.client.http.get(f"/api/public/services/{slug}").status_code == 200
        for status in ("pending", "held", "replies"):
            assert self.client.http.get(f"/api/moderation/queue?status={status}", headers=self.auth).status_code == 200

    def climb_the_ladder(self) -> dict[str, int]:
        """The hourly ladder run, a minute after each step of each unanswered story falls due."""
        moments = sorted(
            {
                at
                for a in self.published
                if (ladder := wiring.store().get_ladder(a.story_id))
                for at in ladder["steps"].values()
            }
        )
        steps = {"reminder": 0, "overdue": 0, "organisation": 0}
        for at in moments:
            self.offset += max(clock.parse(at) + timedelta(minutes=1) - clock.now(), timedelta(0))
            result = self.scheduled("escalation_ladder")
            for step in steps:
                steps[step] += result.get(step, 0)
        return steps

    def change_checks(self) -> None:
        """Six weeks on: the author of the change and its me-too readers are asked; they answer."""
        a = self.change_made
        assert a is not None
        self.offset += clock.parse(wiring.store().get_check(a.story_id)["due_at"]) + timedelta(hours=1) - clock.now()
        result = self.scheduled("change_checks")
        assert result["stories"] == 1 and result["emails"] >= 2, result
        for person in [a, *[r for r in self.readers if r.about == a.story_id]]:
            for check in self.links_to(person, "check"):
                assert self.client.http.get(f"/api/check/{check}").status_code == 200
                body = {"answer": "yes"}
                if person is a:
                    body = {"answer": "partly", "comment": "It helped a little: the alarm is answered sooner."}
                assert self.post(f"/api/check/{check}", body).status_code == 201
        resp = self.client.http.post(
            f"/api/moderation/stories/{a.story_id}/checks/author/decision",
            body=json.dumps({"action": "publish"}),
            headers=self.auth,
        )
        assert resp.status_code == 200, resp.body
        self.pump.drain()


def ses_refuses(address: str) -> Callable[[], list[str]]:
    """SES (in its sandbox) refuses every email to `address`, quoting it, as SES does. Returns a
    function that lists the refused addresses."""
    import email
    from email import policy
    from email.utils import parseaddr

    from chalicelib.core import aws as aws_clients

    refused: list[str] = []

    class Refusal:
        status_code = 400
        headers: dict = {}
        content = b""

    def params(params: dict, context: dict, **_: Any) -> None:
        context["raw_message"] = params.get("RawMessage", {}).get("Data", b"")

    def before(context: dict, **_: Any) -> Any:
        msg = email.message_from_bytes(context.get("raw_message", b""), policy=policy.default)
        to = parseaddr(str(msg["To"]))[1]
        if to.lower() != address.lower():
            return None
        refused.append(to)
        message = "Email address is not verified. The following identities failed the check in region EU-WEST-2: " + to
        return Refusal(), {
            "Error": {"Code": "MessageRejected", "Message": message},
            "ResponseMetadata": {"HTTPStatusCode": 400, "HTTPHeaders": {}, "RetryAttempts": 0},
        }

    ses = aws_clients.client("ses")
    ses.meta.events.register("provide-client-params.ses.SendRawEmail", params)
    ses.meta.events.register("before-call.ses.SendRawEmail", before)
    return lambda: list(refused)


# ---- what may be where ----------------------------------------------------------------------------


def leaks(
    scanner: Scanner,
    demo_answers: list[Answer],
    invocations: list[Answer],
    objects: dict[str, str],
    log_lines: list[str],
    emails: list[tuple[str, str]],
) -> list[Hit]:
    """Every detail found where it may not be:
    - pages, feeds, the search index, logs, metrics and handler results: nothing at all;
    - emails: nothing, except that an email to a person may carry their own address (its To:)
      and, for an author, the details of their own story;
    - API answers: no address at all; a story's other details only in answers to moderators
      (they remove them) and on the author's own private page (their own story, while pending)."""
    people = {p.key: p for p in scanner.people}
    owner_of_token = {t: p.key for p in scanner.people for t in p.tokens}
    out: list[Hit] = []
    for key, text in objects.items():
        out += scanner.scan(text, f"bucket {key}")
    for i, line in enumerate(log_lines):
        out += scanner.scan(line, f"log line {i}: {line[:160]}", detectors=False)
    for answer in invocations:
        out += scanner.scan(answer.text, answer.what)
    for answer in demo_answers:
        path = answer.what.split(" ", 1)[1]
        token = next((t for t in re.findall(TOKEN, path) if t in owner_of_token), None)
        moderator = path.startswith("/api/moderation/")
        for hit in scanner.scan(answer.text, answer.what):
            if hit.kind != "email" and (moderator or (token and owner_of_token[token] == hit.who)):
                continue
            out.append(hit)
    for to, text in emails:
        owner = next((p for p in people.values() if p.email.lower() == to), None)
        hits = scanner.scan(text, f"email to {to}")
        if owner:
            # Their own address is in the To: header, and must be nowhere else in the email.
            beyond_to = scanner.scan(re.sub(r"(?im)^to: .*$", "", text), f"email to {to}")
            hits = [
                h
                for h in hits
                if h.who != owner.key
                or (h.kind == "email" and h in beyond_to)
                or (h.kind != "email" and not isinstance(owner, Author))
            ]
        out += hits
    return out


# ---- the tests ---------------------------------------------------------------------------------------


def test_the_scanner_finds_every_detail_in_every_form_it_can_take():
    """The sweep below can only pass honestly if its scanner would catch a leak."""
    a = make_authors(9)[4]
    scanner = Scanner([a])
    digits = re.sub(r"\D", "", a.nhs)
    national = phone_key(a.phone)
    local = a.email.split("@")[0]
    pc = postcode_key(a.postcode)
    forms = {
        "email": [
            a.email.upper(),
            a.email.replace("@", "%40"),
            a.email.replace("@", "&#64;"),
            f"{local}@exa",
            f"mailto:{a.email}?subject=hi",
        ],
        "phone": [
            f"0{national}",
            f"+44{national}",
            f"+44 (0){national[:2]} {national[2:6]} {national[6:]}",
            f"0044-{national[:4]}-{national[4:]}",
            f"0{national[:3]}.{national[3:6]}.{national[6:]}",
            f"tel:%2B44{national}",
        ],
        "nhs_number": [digits, f"{digits[:3]} {digits[3:6]} {digits[6:]}", f"{digits[:3]}-{digits[3:6]}-{digits[6:]}"],
        "postcode": [pc, pc.lower(), f"{pc[:-3]} {pc[-3:]}", f"x={pc[:-3]}+{pc[-3:]}"],
    }
    for kind, variants in forms.items():
        for v in variants:
            found = scanner.scan(f"<p>Lorem ipsum {v} dolor</p>", "test")
            assert (a.key, kind) in {(h.who, h.kind) for h in found}, (kind, v)
    # Through gzip too (Pagefind's files), and the detectors alone see the same details.
    packed = gzip.compress(b"pagefind_dcd" + json.dumps({"content": f"ring {a.phone} now"}).encode())
    assert {h.kind for h in scanner.scan(object_text("pagefind/2026-12/fragment/x.pf_fragment", packed), "x")} == {
        "phone"
    }
    assert {h.kind for h in scanner._detected(f"{a.email} {a.phone} {a.nhs} {a.postcode}", "x")} == set(CONTACT_KINDS)
    # And it does not cry wolf over what pages are full of.
    assert scanner.scan("Published 2026-11-26T10:00:00.000Z, 12 stories, 07700 900999, ab1 2cd, 1234567890", "x") == []


@pytest.fixture
def auth(token):  # noqa: F811
    return {**bearer(token), **JSON_H}


def test_a_full_demo_run_leaks_no_contact_detail_and_erasure_leaves_nothing(
    client, aws, pump, auth, logs, capsys, monkeypatch
):
    ours, others = logs
    # Every reader comes through the test client's one address: their me-toos are not one client's abuse.
    monkeypatch.setenv("FF_ME_TOO_LIMIT", "0")
    wiring.reset()
    tree = promised_directory()
    for org in tree:  # the staff here respond: their domains grant it
        org["responder_domains"] = org["domains"]
    wiring.directory().load(tree)
    pump.coalesce.add(aws.resources.render_queue_url)  # as the local stack's pump: each page once per backlog
    recorder = Recorder(client)
    authors = make_authors(AUTHORS)
    demo = Demo(client, aws, pump, auth, authors, monkeypatch)
    by_fate = {f: [a for a in authors if a.fate == f] for f in ("publish", "hold", "reject", "pending")}
    refused_author = by_fate["publish"][3]
    refused = ses_refuses(refused_author.email)

    demo.staff_sign_up()
    demo.tell()
    bounced = by_fate["hold"][0]  # bounces right after the confirmation: nothing more reaches them
    demo.bounced(bounced)
    demo.moderate()
    demo.staff_read_and_respond()
    demo.me_too()
    demo.authors_act()
    demo.public_api()
    # The next morning's digest, then the ladder at each of its steps.
    demo.days_later(1)
    digests = demo.scheduled("daily_digest")
    assert digests["digests"] >= 1, digests
    ladder_steps = demo.climb_the_ladder()
    assert all(ladder_steps.values()), ladder_steps
    demo.change_checks()
    demo.complained(next(r for r in demo.readers if r.key.endswith("b")))
    wiring.site().rebuild_all()
    pump.drain()

    assert refused() and all(r.lower() == refused_author.email.lower() for r in refused())
    assert any("email refused by SES" in line for line in ours.lines)  # the refusal was logged: that line is scanned
    emf = [line for line in capsys.readouterr().out.splitlines() if '"_aws"' in line]
    assert emf, "metrics are switched on: EMF lines are scanned"
    people: list[Person] = [*authors, *demo.readers]
    scanner = Scanner(people)
    objects = bucket_objects(aws)
    assert any("/fragment/" in k for k in objects) and any(k.endswith(".xml") for k in objects)
    assert any(f"stories/{a.story_id}/index.html" in objects for a in by_fate["publish"])
    log_lines = ours.lines + others.lines + emf
    emails = email_texts()
    to_others = [e for e in emails if not any(e[0] == p.email.lower() for p in people)]
    assert len(to_others) >= len(STAFF) + len(by_fate["publish"]), "staff had alerts, digests, reminders"
    found = leaks(scanner, recorder.answers, recorder.invocations, objects, log_lines, emails)
    assert found == [], "contact details where they must not be:\n" + "\n".join(
        f"  {h.who} {h.kind} {h.found!r} in {h.where}" for h in found[:40]
    )

    # The scan would have seen a leak in any of these haystacks: plant one in a copy of each.
    victim = by_fate["publish"][0]
    samples = {
        "object": objects[f"stories/{victim.story_id}/index.html"],
        "search fragment": next(t for k, t in objects.items() if k.startswith("pagefind/") and "/fragment/" in k),
        "log line": ours.lines[0],
        "metrics line": emf[0],
        "api answer": next(x.text for x in recorder.answers if x.what.startswith("GET /api/public/stories")),
        "staff email": to_others[0][1],
    }
    for what, text in samples.items():
        for kind, detail in victim.details.items():
            planted = text[: len(text) // 2] + f" {detail} " + text[len(text) // 2 :]
            assert (victim.key, kind) in {(h.who, h.kind) for h in scanner.scan(planted, what)}, (what, kind)

    record(
        "privacy",
        {
            "authors": len(authors),
            "me_too_readers": len(demo.readers),
            "objects_scanned": len(objects),
            "api_answers_scanned": len(recorder.answers),
            "handler_results_scanned": len(recorder.invocations),
            "log_lines_scanned": len(ours.lines) + len(others.lines),
            "metrics_lines_scanned": len(emf),
            "emails_scanned": len(emails),
            "emails_to_staff_scanned": len(to_others),
            "contact_details_found": len(found),
            "details_per_author": 4,
            "ladder_steps": ladder_steps,
        },
    )

    erasure(client, aws, pump, demo, scanner, by_fate, bounced)


def erasure(client, aws, pump, demo: Demo, scanner: Scanner, by_fate: dict[str, list[Author]], bounced: Author) -> None:
    """Erase some of them: the author of the change (every kind of item hangs on it) from their
    private link as JSON, another published author by a form post, and the held story by an
    admin's edit of the item in the table (docs/operations.md: the same change, so the same work)."""
    ddb = aws.client("dynamodb")
    linked = [a for a in by_fate["publish"] if a.tokens and a is not demo.change_made and a.fate == "publish"]
    chosen = [("json", demo.change_made), ("form", linked[0]), ("console", bounced)]
    chosen += [("json" if i % 2 else "form", a) for i, a in enumerate(linked[1:]) if i % 3 == 2]
    erased = [a for _, a in chosen]
    readers = {a.story_id: [r for r in demo.readers if r.about == a.story_id] for a in erased}

    def about(a: Author) -> list[str]:
        reader_bits = [x for r in readers[a.story_id] for x in (r.email.lower(), email_hash(r.email))]
        return [
            a.story_id,
            a.title,
            a.word,
            a.submission_id,
            submission_record_key(a.submission_id),
            email_hash(a.email),
            f"reply-{a.story_id}",
            *reader_bits,
        ]

    before = table_items(aws)
    idem_before = {
        a.key: sum(
            1 for i in before if i["PK"]["S"].startswith("IDEMPOTENCY#") and any(n in json.dumps(i) for n in about(a))
        )
        for a in erased
    }
    assert all(idem_before.values()), idem_before  # the mail and submission records existed
    index_text = " ".join(t for k, t in bucket_objects(aws).items() if k.startswith("pagefind/"))
    assert all(a.word in index_text for a in erased if a.fate == "publish")  # so their absence below means something

    for how, a in chosen:
        if how == "console":
            ddb.update_item(
                TableName=aws.resources.table,
                Key={"PK": {"S": f"STORY#{a.story_id}"}, "SK": {"S": "STORY"}},
                UpdateExpression="SET #s = :s, erase_requested_at = :at",
                ExpressionAttributeNames={"#s": "status"},
                ExpressionAttributeValues={":s": {"S": "erasing"}, ":at": {"S": clock.iso()}},
            )
            continue
        token = demo.links_to(a, "my")[-1]
        headers = JSON_H if how == "json" else FORM_H
        resp = demo.post(f"/api/my/{token}/erase", {"confirm": "ERASE"}, headers=headers)
        assert resp.status_code == (202 if how == "json" else 200), resp.body
    pump.drain()

    residual_items, residual_idem, residual_objects = [], [], []
    items = table_items(aws)
    for a in erased:
        needles = about(a) + [v.lower() for v in a.details.values()]
        for item in items:
            text = json.dumps(item).lower()
            hit = [n for n in needles if n.lower() in text]
            if not hit:
                continue
            # Our suppression list keeps the hash of an address that bounced or complained (and nothing
            # else), so that it is never written to again: the only trace of an erased story allowed.
            if item["PK"]["S"].startswith("SUPPRESSED#") and hit == [item["PK"]["S"].split("#", 1)[1]]:
                continue
            residual = residual_idem if item["PK"]["S"].startswith("IDEMPOTENCY#") else residual_items
            residual.append((a.key, item["PK"]["S"], item["SK"]["S"], hit))
        # The author's details in any form, the scanner's way (a phone number written differently, say).
        for item in items:
            if any(h.who == a.key for h in scanner.scan(json.dumps(item), "table", detectors=False)):
                (residual_idem if item["PK"]["S"].startswith("IDEMPOTENCY#") else residual_items).append(
                    (a.key, item["PK"]["S"], item["SK"]["S"], ["a contact detail"])
                )
    objects = bucket_objects(aws)
    for a in erased:
        for key, text in objects.items():
            hit = [
                n
                for n in (a.story_id, a.title.lower(), a.word, f"waited on a trolley for hours. the {a.word}")
                if n in text.lower()
            ]
            if hit:
                residual_objects.append((a.key, key, hit))
        assert client.http.get(f"/api/public/stories/{a.story_id}").status_code == 404
        for t in a.tokens:
            assert client.http.get(f"/api/my/{t}").status_code in (404, 429)
    # Our suppression list: hashes only, whoever is on it.
    suppressed = [i for i in items if i["PK"]["S"].startswith("SUPPRESSED#")]
    assert {i["PK"]["S"] for i in suppressed} >= {f"SUPPRESSED#{email_hash(bounced.email)}"}
    for item in suppressed:
        assert re.fullmatch(r"SUPPRESSED#[0-9a-f]{64}", item["PK"]["S"])
        assert not scanner.scan(json.dumps(item), "suppression list"), item
        assert "@" not in json.dumps(item)
    assert residual_items == [], residual_items
    assert residual_idem == [], residual_idem
    assert residual_objects == [], residual_objects
    # The others are all still there.
    kept = [a for a in by_fate["publish"] if a not in erased and a.fate == "publish"]
    assert all(f"stories/{a.story_id}/index.html" in objects for a in kept)
    record(
        "privacy",
        {
            "erased_stories": len(erased),
            "erased_by": sorted({how for how, _ in chosen}),
            "idempotency_records_before_erasure": sum(idem_before.values()),
            "residual_items_table": len(residual_items),
            "residual_objects_bucket": len(residual_objects),
            "residual_idempotency_records": len(residual_idem),
            "suppression_items_checked": len(suppressed),
        },
    )
