"""ff: FeedForward's admin command line.

    python -m tools.ff load-directory data/directory.json
    python -m tools.ff rebuild-site
    python -m tools.ff plan-rebuild
    python -m tools.ff load-subscriptions staff.csv
    python -m tools.ff seed-demo --api URL --moderator-user U --moderator-password P
    python -m tools.ff source-add SLUG --name ... --kind json_feed --location URL ...   (tools/sources.py)
    python -m tools.ff import-source SLUG [--max-items N]

load-directory, rebuild-site (in this process), plan-rebuild (queued for the render workers) and
load-subscriptions talk to AWS directly through chalicelib
(boto3 and the FF_* settings); seed-demo loads the demo subscriptions the same way, then talks
HTTP to a running API, exactly as a browser and a moderator would, and writes the demo
conversation (read receipts, staff responses, author replies) through the same chalicelib code
the emailed links run.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shlex
import sys
from collections.abc import Callable, Iterable
from datetime import date
from pathlib import Path
from typing import Any

# The columns of a subscriptions (members) file, shared with a lead's upload.
from chalicelib.spreadsheets import MEMBER_COLUMNS as SUBSCRIPTION_COLUMNS
from tools import sources

ROOT = Path(__file__).resolve().parent.parent
DIRECTORY_FILE = ROOT / "data" / "directory.json"
SYNONYMS_NAME = "service_synonyms.json"  # the finder's synonyms, kept beside the directory file
DEMO_STORIES_FILE = ROOT / "data" / "demo_stories.json"
DEMO_SUBSCRIPTIONS_FILE = ROOT / "data" / "demo_subscriptions.json"
SUBMISSION_FIELDS = ("title", "story", "good", "improve", "feelings", "role", "pseudonym", "services", "email")
EDITABLE = ("title", "story", "good", "improve", "pseudonym")

EPILOG = """\
where it runs:
  Locally, `make run` starts the whole stack, loads the directory and seeds the demo stories
  itself. To use ff against that running stack, load the environment it wrote:
      python -m tools.ff --env-file .local-state/stack-4566.env load-directory data/directory.json
  (the file is named after the emulator's port; it sets AWS_ENDPOINT_URL, fake credentials
  and every FF_* setting).

  Against real AWS, give it AWS credentials the usual boto3 way (AWS_PROFILE, or
  AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY/AWS_SESSION_TOKEN, or an instance role), a region
  (AWS_REGION=eu-west-2), leave AWS_ENDPOINT_URL unset, and set the stage's settings:
      FF_STAGE=dev FF_TABLE_NAME=feedforward-dev FF_SITE_BUCKET=feedforward-dev-site \\
      FF_SITE_URL=https://... FF_API_URL=https://... python -m tools.ff rebuild-site
  load-directory and load-subscriptions need FF_TABLE_NAME; rebuild-site needs the table, the
  bucket and the public URLs. seed-demo needs FF_TABLE_NAME for the demo subscriptions and the
  demo conversation (or --no-subscriptions), --api and a moderator's sign-in (a Cognito user in
  the moderators group; on AWS that user must be able to sign in with a password).
"""


# ---- progress ------------------------------------------------------------------------------


def bar(desc: str, unit: str = "item", total: int | None = None, enabled: bool = True):
    from tqdm import tqdm

    return tqdm(total=total, desc=desc, unit=unit, disable=not enabled, file=sys.stderr, dynamic_ncols=True, leave=True)


def progress_wrapper(desc: str, unit: str = "item", enabled: bool = True) -> Callable[[Iterable], Iterable]:
    """A progress callable for chalicelib functions that take `progress=`: wraps an iterable in a bar."""
    from tqdm import tqdm

    def wrap(items: Iterable) -> Iterable:
        total = len(items) if hasattr(items, "__len__") else None  # type: ignore[arg-type]
        return tqdm(items, total=total, desc=desc, unit=unit, disable=not enabled, file=sys.stderr, dynamic_ncols=True)

    return wrap


# ---- load-directory and rebuild-site ------------------------------------------------------------


def load_directory(
    path: str | Path = DIRECTORY_FILE, show_progress: bool = True, synonyms: str | Path | None = None
) -> dict[str, int]:
    """The directory file, with the finder's synonyms: `synonyms`, else service_synonyms.json beside the file."""
    from chalicelib import wiring

    tree = json.loads(Path(path).read_text(encoding="utf-8"))
    if not isinstance(tree, list):
        raise SystemExit(f"{path}: the directory must be a JSON list of services.")
    beside = Path(path).with_name(SYNONYMS_NAME)
    synonyms_file = Path(synonyms) if synonyms else (beside if beside.exists() else None)
    groups = json.loads(synonyms_file.read_text(encoding="utf-8")) if synonyms_file else None
    counts = wiring.directory().load(
        tree, progress=progress_wrapper("Loading services", "service", show_progress), synonyms=groups
    )
    counts["leads"] = name_leads(tree)
    return counts


def name_leads(tree: list[dict[str, Any]]) -> int:
    """Each organisation's `leads` in the directory file become its leads (vouched for by the file).
    A lead taken off the file stays one until removed with `leads remove`: removing is a decision."""
    from chalicelib import wiring
    from chalicelib.directory import organisation_settings

    named = 0
    for node in tree:
        for email in organisation_settings(node)["leads"]:
            org = {"slug": node["slug"], "name": node["name"]}
            if wiring.membership().name_lead(org, email, by="the directory file") != "unchanged":
                named += 1
    return named


def change_lead(action: str, organisation: str, email: str) -> str:
    """`leads add|remove ORGANISATION EMAIL`: "created", "updated" or "unchanged"."""
    from chalicelib import wiring

    org = wiring.store().get_service(organisation)
    if not org or org.get("parent"):
        raise SystemExit(f"{organisation}: not an organisation in the directory (a top-level slug).")
    flow = wiring.membership()
    if action == "add":
        return flow.name_lead(org, email, by="an admin (tools.ff)")
    return flow.remove_lead(org, email, by="an admin (tools.ff)")


def add_webhook(service: str, url: str, name: str) -> tuple[dict[str, Any], str]:
    """`webhook-add SERVICE URL --name NAME`: (the partner, its secret, to print once). Partners' webhooks, issue 21."""
    from chalicelib import wiring

    return wiring.webhooks().register(service, url, name, by="an admin (tools.ff)")


def resume_webhook(partner_id: str) -> int:
    """`webhook-resume PARTNER`: deliveries kept while it was paused, queued again."""
    from chalicelib import wiring

    return int(wiring.webhooks().resume(partner_id))


def rebuild_site(show_progress: bool = True) -> Any:
    from chalicelib import wiring

    return wiring.site().rebuild_all(progress=progress_wrapper("Rendering pages", "page", show_progress))


def plan_rebuild(show_progress: bool = True) -> dict[str, int]:
    """The full rebuild fanned out on AWS (issue 17): every step of the plan here, its render jobs queued
    in batches for the render workers (which skip unchanged objects); the bar counts the jobs queued."""
    from tqdm import tqdm

    from chalicelib import wiring

    planner, queues = wiring.rebuild_planner(), wiring.queues()
    counts = {"steps": 0, "jobs": 0, "deleted": 0}
    steps = [""]
    with tqdm(desc="Queueing render jobs", unit=" job", disable=not show_progress, file=sys.stderr) as bar:
        while steps:
            step = planner.step(steps.pop(0))
            queues.send(step.jobs)  # one SendMessageBatch per ten
            steps += step.next
            counts["steps"] += 1
            counts["jobs"] += len(step.jobs)
            counts["deleted"] += len(step.deleted)
            bar.update(len(step.jobs))
    return counts


# ---- load-subscriptions ---------------------------------------------------------------------


def _skip_space(text: str, i: int) -> int:
    while i < len(text) and text[i] in " \t\r\n":
        i += 1
    return i


def _json_rows(text: str, path: str | Path) -> tuple[list[tuple[int, dict[str, Any]]], list[dict[str, Any]]]:
    """A JSON list of objects, each with the line it starts on."""
    try:
        json.loads(text)
    except ValueError as e:
        raise SystemExit(f"{path}: not valid JSON: {e}") from e
    decoder = json.JSONDecoder()
    i = _skip_space(text, 0)
    if not text.startswith("[", i):
        raise SystemExit(f"{path}: subscriptions must be a JSON list of objects (or a .csv file with a header row).")
    rows: list[tuple[int, dict[str, Any]]] = []
    problems: list[dict[str, Any]] = []
    i = _skip_space(text, i + 1)
    while i < len(text) and text[i] != "]":
        line = text.count("\n", 0, i) + 1
        value, i = decoder.raw_decode(text, i)
        if isinstance(value, dict):
            if isinstance(value.get("tags"), str):
                value["tags"] = _split_tags(value["tags"])
            rows.append((line, value))
        else:
            problems.append({"line": line, "field": "row", "message": "Each subscription must be a JSON object"})
        i = _skip_space(text, i)
        if text.startswith(",", i):
            i = _skip_space(text, i + 1)
    return rows, problems


def _split_tags(value: str) -> list[str]:
    from chalicelib.subscriptions import split_tags

    return split_tags([value])


def _csv_rows(text: str) -> tuple[list[tuple[int, dict[str, Any]]], list[dict[str, Any]]]:
    """A CSV file with a header row naming the columns; empty cells are left out (defaults apply)."""
    from chalicelib.spreadsheets import csv_rows

    rows, problems = csv_rows(text)
    return [(line, _with_tags(row)) for line, row in rows], problems


def _with_tags(row: dict[str, Any]) -> dict[str, Any]:
    if isinstance(row.get("tags"), str):
        row["tags"] = _split_tags(row["tags"])
    return row


def read_subscription_rows(path: str | Path) -> tuple[list[tuple[int, dict[str, Any]]], list[dict[str, Any]]]:
    """(rows as (line, fields), problems found while reading) from a .json, .csv or .xlsx file."""
    if str(path).lower().endswith(".xlsx"):
        from chalicelib.spreadsheets import xlsx_rows

        rows, problems = xlsx_rows(Path(path).read_bytes())
        return [(line, _with_tags(row)) for line, row in rows], problems
    text = Path(path).read_text(encoding="utf-8-sig")
    return _csv_rows(text) if str(path).lower().endswith(".csv") else _json_rows(text, path)


def load_subscriptions(path: str | Path, show_progress: bool = True) -> dict[str, Any]:
    """Load staff subscriptions as active (the admin vouches for them). Every row is checked first;
    if any is bad, nothing is written and `errors` names each line and field. Loading twice changes nothing."""
    from chalicelib import wiring

    rows, problems = read_subscription_rows(path)
    if problems:
        return {"created": 0, "updated": 0, "unchanged": 0, "skipped": 0, "errors": problems, "notes": []}
    return wiring.subscriptions().bulk_load(
        rows, progress=progress_wrapper("Loading subscriptions", "row", show_progress)
    )


def subscriptions_summary(report: dict[str, Any]) -> str:
    if report["errors"]:
        return (
            f"Subscriptions: nothing loaded, {len(report['errors'])} problem(s) found. "
            "Fix them and run it again (rows loaded before are left as they are)."
        )
    return (
        f"Subscriptions: {report['created']} created, {report['updated']} updated, {report['unchanged']} unchanged"
        + (f", {report['skipped']} skipped (unsubscribed themselves)" if report["skipped"] else "")
        + "."
    )


def problem_lines(report: dict[str, Any]) -> list[str]:
    return [f"  line {p['line']}, {p['field']}: {p['message']}" for p in report["errors"] + report.get("notes", [])]


# ---- seed-demo ------------------------------------------------------------------------------


class SeedError(RuntimeError):
    pass


def experience(months_ago: int, today: date | None = None) -> tuple[int, int]:
    """(month, year) of a story that happened `months_ago` months before today."""
    today = today or date.today()
    n = today.year * 12 + (today.month - 1) - int(months_ago)
    return n % 12 + 1, n // 12


def submission_id(entry: dict[str, Any]) -> str:
    """Stable per story, so seeding again within the idempotency window makes no second copy."""
    digest = hashlib.sha256(json.dumps([entry["title"], entry["story"], entry.get("pseudonym")]).encode()).hexdigest()
    return f"demo-{digest[:24]}"


def submission_body(entry: dict[str, Any], today: date | None = None) -> dict[str, Any]:
    month, year = experience(entry.get("months_ago", 0), today)
    body = {k: entry[k] for k in SUBMISSION_FIELDS if entry.get(k) not in (None, "")}
    body.update(submission_id=submission_id(entry), experience_month=month, experience_year=year, consent=True)
    body.setdefault("feelings", [])
    return body


def decision_body(moderation: dict[str, Any], version: int) -> dict[str, Any]:
    body: dict[str, Any] = {
        "action": moderation["decision"],
        "version": version,
        "tags": moderation.get("tags", []),
        "note": moderation.get("note", ""),
    }
    if moderation.get("criticality") is not None:
        body["criticality"] = moderation["criticality"]
    for field, value in (moderation.get("edits") or {}).items():
        if field in EDITABLE:
            body[field] = value
    return body


def _error(resp: Any) -> str:
    try:
        err = resp.json().get("error", {})
        fields = "; ".join(f"{f.get('field')}: {f.get('message')}" for f in err.get("fields", []))
        return f"HTTP {resp.status_code} {err.get('code', '')}: {err.get('message', '')}" + (
            f" ({fields})" if fields else ""
        )
    except ValueError:
        return f"HTTP {resp.status_code}: {resp.text[:300]}"


class ApiClient:
    """The public API and the moderation API, over HTTP."""

    def __init__(self, api: str, timeout: float = 30.0):
        import requests
        from requests.adapters import HTTPAdapter
        from urllib3.util.retry import Retry

        self.api = api.rstrip("/")
        if self.api.endswith("/api"):
            self.api = self.api[: -len("/api")]
        self.http = requests.Session()
        retry = Retry(
            total=4, connect=4, read=2, backoff_factor=0.3, status_forcelist=(502, 503, 504), allowed_methods=None
        )
        self.http.mount("http://", HTTPAdapter(max_retries=retry))
        self.http.mount("https://", HTTPAdapter(max_retries=retry))
        self.timeout = timeout
        self.token = ""

    def _url(self, path: str) -> str:
        return f"{self.api}{path}"

    def submit(self, body: dict[str, Any]) -> dict[str, Any]:
        resp = self.http.post(self._url("/api/stories"), json=body, timeout=self.timeout)
        if resp.status_code not in (200, 201):
            raise SeedError(f"submitting {body['title']!r}: {_error(resp)}")
        return resp.json()

    def sign_in(self, username: str, password: str, authenticator_key: str = "") -> str:
        """The password, then (the pool requires an authenticator app) the code of the app that
        holds `authenticator_key`."""
        url = self._url("/api/moderation/sign-in")
        resp = self.http.post(url, json={"username": username, "password": password}, timeout=self.timeout)
        if resp.status_code == 200 and resp.json().get("challenge") == "SOFTWARE_TOKEN_MFA" and authenticator_key:
            from local.totp import fresh_code  # only for a pool that asks for the app's code

            step = {
                "username": username,
                "session": resp.json()["session"],
                "challenge": "SOFTWARE_TOKEN_MFA",
                "answer": fresh_code(authenticator_key),
            }
            resp = self.http.post(url, json=step, timeout=self.timeout)
        if resp.status_code != 200:
            raise SeedError(f"signing in as {username}: {_error(resp)}")
        token = resp.json().get("id_token")
        if not token:
            raise SeedError(f"signing in as {username}: the answer had no id_token")
        self.token = token
        return token

    def _auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}

    def story(self, story_id: str) -> dict[str, Any]:
        resp = self.http.get(
            self._url(f"/api/moderation/stories/{story_id}"), headers=self._auth(), timeout=self.timeout
        )
        if resp.status_code != 200:
            raise SeedError(f"reading story {story_id}: {_error(resp)}")
        return resp.json()["story"]

    def decide(self, story_id: str, body: dict[str, Any]) -> Any:
        return self.http.post(
            self._url(f"/api/moderation/stories/{story_id}/decision"),
            json=body,
            headers=self._auth(),
            timeout=self.timeout,
        )

    def decide_item(self, story_id: str, kind: str, item_id: str, body: dict[str, Any]) -> Any:
        """Publish or reject an author's reply ("replies") or a held staff response ("responses")."""
        return self.http.post(
            self._url(f"/api/moderation/stories/{story_id}/{kind}/{item_id}/decision"),
            json=body,
            headers=self._auth(),
            timeout=self.timeout,
        )


def load_demo_stories(path: str | Path = DEMO_STORIES_FILE) -> list[dict[str, Any]]:
    stories = json.loads(Path(path).read_text(encoding="utf-8"))
    if not isinstance(stories, list):
        raise SystemExit(f"{path}: demo stories must be a JSON list.")
    return stories


def confirm_demo_address(story_id: str) -> None:
    """A demo author confirms the address is theirs, as they would from the first email (issue 18), so
    the demo's mailbox shows their private links and the letters about their story."""
    from chalicelib import wiring
    from chalicelib.core import clock

    wiring.store().confirm_contact(story_id, clock.iso())


def seed_demo(
    api: str,
    username: str,
    password: str,
    path: str | Path = DEMO_STORIES_FILE,
    show_progress: bool = True,
    today: date | None = None,
    subscriptions: str | Path | None = DEMO_SUBSCRIPTIONS_FILE,
    conversations: bool = True,
    authenticator_key: str = "",
) -> dict[str, Any]:
    """Load the demo staff subscriptions (directly, as an admin would), then submit every demo
    story over HTTP and apply each one's moderation decision, so published stories alert the staff.
    Then each published story's demo `conversation` (needs the subscriptions): staff read it and
    respond through the read-and-respond code, the author replies, a moderator publishes replies.

    Returns counts per outcome, plus `errors` (a list of messages) and `ids` (story ids, in file order).
    Safe to run twice: the same submission ids give back the same stories, and a story that is
    already decided is left alone; receipts, responses and replies have stable ids, so they are
    not written twice either.
    """
    stories = load_demo_stories(path)
    client = ApiClient(api)
    result: dict[str, Any] = {
        "submitted": 0,
        "published": 0,
        "held": 0,
        "rejected": 0,
        "pending": 0,
        "already decided": 0,
        "errors": [],
        "ids": [],
        "subscriptions": None,
        "conversation": {"read": 0, "responses": 0, "held responses": 0, "replies": 0, "replies pending": 0},
    }
    if subscriptions:
        try:
            report = load_subscriptions(subscriptions, show_progress)
            result["subscriptions"] = report
            result["errors"] += [
                f"demo subscriptions, {line.strip()}" for line in problem_lines({**report, "notes": []})
            ]
        except Exception as e:  # keep going: the stories matter more than the alerts
            result["errors"].append(f"loading demo subscriptions: {e}")
    if subscriptions:
        try:
            request_demo_membership()
        except Exception as e:  # keep going: the stories matter more than the request
            result["errors"].append(f"the demo request to join: {e}")
    decided = [s for s in stories if (s.get("moderation") or {}).get("decision", "pending") != "pending"]
    talk = [
        s
        for s in stories
        if conversations and s.get("conversation") and (s.get("moderation") or {}).get("decision") == "publish"
    ]
    total = len(stories) + len(decided) + sum(conversation_steps(s["conversation"]) for s in talk)
    with bar("Seeding demo stories", "step", total=total, enabled=show_progress) as progress:
        ids: list[str | None] = []
        for entry in stories:
            try:
                ids.append(client.submit(submission_body(entry, today))["id"])
                result["submitted"] += 1
                confirm_demo_address(ids[-1])
            except Exception as e:  # keep going: one bad story must not stop the demo
                ids.append(None)
                result["errors"].append(str(e))
            progress.update(1)
        result["ids"] = ids
        if decided:
            client.sign_in(username, password, authenticator_key)
        for entry, story_id in zip(stories, ids):
            moderation = entry.get("moderation") or {"decision": "pending"}
            action = moderation.get("decision", "pending")
            if action == "pending":
                result["pending"] += 1
                continue
            try:
                if story_id is None:
                    continue
                _apply(client, story_id, moderation, result)
            except Exception as e:
                result["errors"].append(f"deciding {entry['title']!r}: {e}")
            finally:
                progress.update(1)
        if talk:
            seeder, chosen = ConversationSeeder(client), {id(s) for s in talk}
            for entry, story_id in zip(stories, ids):
                if id(entry) in chosen and story_id is not None:
                    seeder.seed(story_id, entry, result, progress.update)
            first = next((i for e, i in zip(stories, ids) if id(e) in chosen and i), None)
            if first:
                try:
                    seeder.teamwork(first)
                except Exception as e:  # keep going: the demo works without it
                    result["errors"].append(f"the demo's tags and pass: {e}")
    if subscriptions:  # issue 19: an invitation (made by a demo responder), a story through it, a phone story
        from tools.reach_demo import seed_reach

        try:
            result["reach"] = seed_reach(client, username, password, today)
        except Exception as e:  # keep going: the demo works without it
            result["errors"].append(f"the demo invitation and phone story: {e}")
    return result


# What the demo's team does with its first story: tags, and a pass to a colleague.
DEMO_TEAMWORK: dict[str, Any] = {
    "by": "joanne.price@northbridge.nhs.example",
    "tags": [
        {"tag": "kindness", "polarity": "positive", "visibility": "public"},
        {"tag": "waiting times", "polarity": "negative", "visibility": "shared"},
    ],
    "pass": {
        "to": "colleague",
        "colleague": "helen.marsh@northbridge.nhs.example",
        "note": "Could you pick this one up with the night team?",
    },
}

# Someone from outside Northbridge's domains asks to join: their request waits for its lead.
DEMO_REQUEST = {
    "name": "Jordan Fairley",
    "display_name": "Jordan, agency nurse",
    "role": "Agency staff nurse",
    "organisation": "northbridge-teaching-hospitals",
    "email": "jordan.fairley@nursing-agency.example",
    "service": "northbridge-general-ward-7",
    "frequency": "immediate",
}


def request_demo_membership() -> str:
    """Sign the demo's outsider up and confirm their address, as they would from the email; their
    request then waits for a lead (who is emailed). Done once: a second run finds them."""
    from chalicelib import wiring

    store = wiring.store()
    if store.find_subscriber(DEMO_REQUEST["email"]) is None:
        wiring.subscriptions().sign_up(dict(DEMO_REQUEST))
    person = store.find_subscriber(DEMO_REQUEST["email"])
    if person is None or person.get("status") != "pending":
        return str((person or {}).get("status", ""))
    pending = next((s for s in store.subscriptions_of(person["id"]) if s.get("status") == "pending"), None)
    return wiring.membership().admit(person, pending) if pending else "no sign-up to confirm"


def _apply(client: ApiClient, story_id: str, moderation: dict[str, Any], result: dict[str, Any]) -> None:
    status_for = {"publish": "published", "hold": "held", "reject": "rejected"}
    for attempt in range(3):
        story = client.story(story_id)
        if story.get("status") not in ("pending", "held") or story.get("status") == status_for[moderation["decision"]]:
            result["already decided"] += 1
            return
        resp = client.decide(story_id, decision_body(moderation, int(story["version"])))
        if resp.status_code == 200:
            result[status_for[moderation["decision"]]] += 1
            return
        if resp.status_code != 409 or attempt == 2:
            raise SeedError(_error(resp))


# ---- seed-demo: the conversation on the demo stories ----------------------------------------------

CROCKFORD = "0123456789abcdefghjkmnpqrstvwxyz"  # ids.new_id()'s alphabet (no i, l, o, u)


def stable_id(*parts: str, length: int = 17) -> str:
    """An id in ids.new_id()'s shape, the same for the same parts: seeding twice writes nothing twice."""
    n = int.from_bytes(hashlib.sha256("\x1f".join(parts).encode()).digest(), "big")
    out = []
    for _ in range(length):
        n, i = divmod(n, 32)
        out.append(CROCKFORD[i])
    return "".join(out)


def conversation_steps(conversation: dict[str, Any]) -> int:
    reply = conversation.get("reply") or {}
    return (
        len(conversation.get("read_by") or [])
        + len(conversation.get("responses") or [])
        + (1 + (reply.get("decision") == "publish") if reply else 0)
    )


class ConversationSeeder:
    """Writes a demo story's conversation through the same code the emailed links run:
    Conversation.read and .respond with a read-and-respond link, as the alert would have given
    the member of staff; Replies.reply with the author's private link; and a moderator's
    decision on the reply over HTTP. The stream does the rest (progress, pages, emails)."""

    def __init__(self, client: ApiClient):
        from chalicelib import wiring
        from chalicelib.core.settings import get_settings

        self._client = client
        self._store = wiring.store()
        self._links = wiring.links()
        self._conversation = wiring.conversation()
        self._replies = wiring.replies()
        self._settings = get_settings()

    def respond_link(self, story_id: str, email: str) -> str:
        from chalicelib.core.matching import pick_subscription

        subscriber = self._store.find_subscriber(email)
        if not subscriber or subscriber.get("status") != "active":
            raise SeedError(f"{email} is not an active demo subscriber (data/demo_subscriptions.json)")
        story = self._store.get_story(story_id, consistent=True) or {}
        services = self._store.get_services(story.get("services", []))
        subscription = pick_subscription(self._store.subscriptions_of(subscriber["id"]), story, list(services.values()))
        if not subscription:
            raise SeedError(f"{email} has no subscription that covers this story's services")
        return self._links.issue(
            "respond",
            story_id,
            subscriber["id"],
            self._settings.respond_link_days,
            subscriber_id=subscriber["id"],
            subscription_id=subscription["id"],
            service=subscription["service"],
        )

    def teamwork(self, story_id: str) -> None:
        """A responder tags the story (in public, and for the organisation) and passes it to a
        colleague with a note, as the demo's team would. Tags overwrite; a pass is made once."""
        from chalicelib import wiring

        flow, by = wiring.teamwork(), DEMO_TEAMWORK["by"]
        link = self.respond_link(story_id, by)
        for tag in DEMO_TEAMWORK["tags"]:
            flow.tag(link, tag)
        if not self._store.passes(story_id):
            flow.pass_on(link, DEMO_TEAMWORK["pass"])

    def seed(self, story_id: str, entry: dict[str, Any], result: dict[str, Any], step: Callable[[int], Any]) -> None:
        conversation, counts = entry["conversation"], result["conversation"]

        def attempt(what: str, action: Callable[[], Any]) -> None:
            try:
                action()
            except Exception as e:  # keep going: one bad entry must not stop the demo
                result["errors"].append(f"{what} on {entry['title']!r}: {e}")
            finally:
                step(1)

        def read(email: str) -> None:
            self._conversation.read(self.respond_link(story_id, email))
            counts["read"] += 1

        def respond(response: dict[str, Any]) -> None:
            body = {k: response[k] for k in ("text", "change", "change_description") if response.get(k)}
            body["response_id"] = stable_id(story_id, response["by"], response["text"])
            answer = self._conversation.respond(self.respond_link(story_id, response["by"]), body)
            if (
                answer["status"] == "held"
                and answer.get("checks")
                and not answer.get("flags")
                and not response.get("wait")
            ):
                # Held only by the risk-based checks (a first response, a change made, a serious
                # story): the demo's moderator publishes it, as one would. `wait` leaves one for the screen.
                resp = self._client.decide_item(story_id, "responses", answer["id"], {"action": "publish", "note": ""})
                if resp.status_code not in (200, 409):  # 409: published by an earlier seeding
                    raise SeedError(_error(resp))
                answer = {**answer, "status": "published"}
            counts["held responses" if answer["status"] == "held" else "responses"] += 1

        for email in conversation.get("read_by") or []:
            attempt(f"{email} reading", lambda email=email: read(email))
        for response in conversation.get("responses") or []:
            attempt(f"{response['by']} responding", lambda response=response: respond(response))
        reply = conversation.get("reply")
        if not reply:
            return
        reply_id = "demo-" + stable_id(story_id, "reply", reply["text"], length=24)
        sent: list[bool] = []

        def author_replies() -> None:
            token = self._links.issue("author", story_id, "author", self._settings.author_link_days)
            self._replies.reply(token, {"reply_id": reply_id, "text": reply["text"]})
            sent.append(True)
            if reply.get("decision") != "publish":
                counts["replies pending"] += 1

        def moderator_publishes() -> None:
            resp = self._client.decide_item(story_id, "replies", reply_id, {"action": "publish", "note": ""})
            if resp.status_code not in (200, 409):  # 409: published by an earlier seeding
                raise SeedError(_error(resp))
            counts["replies"] += 1

        attempt("the author replying", author_replies)
        if reply.get("decision") == "publish":
            if sent:
                attempt("publishing the author's reply", moderator_publishes)
            else:
                step(1)


def conversation_summary(counts: dict[str, int]) -> str:
    return (
        f"Demo conversation: {counts['read']} read receipts without a response, {counts['responses']} responses published"
        f" and {counts['held responses']} held for a moderator, {counts['replies']} author replies published"
        f" and {counts['replies pending']} waiting for a moderator."
    )


# ---- the command line ------------------------------------------------------------------------


def read_env_file(path: str) -> None:
    for line in Path(path).read_text(encoding="utf-8").splitlines():
        line = line.strip()
        if line and not line.startswith("#") and "=" in line:
            key, value = line.removeprefix("export ").split("=", 1)
            words = shlex.split(value)
            os.environ[key.strip()] = words[0] if words else ""


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m tools.ff",
        description="FeedForward admin tools.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--env-file", help="read KEY=VALUE settings from this file first (e.g. .local-state/stack-4566.env)")
    p.add_argument("--no-progress", action="store_true", help="no progress bars")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")

    d = sub.add_parser(
        "load-directory",
        help="create or update the service directory from a JSON tree (idempotent)",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    d.add_argument(
        "file",
        nargs="?",
        default=str(DIRECTORY_FILE.relative_to(ROOT)),
        help="nested JSON list of {slug, name, kind, children} (default: data/directory.json)",
    )
    d.add_argument(
        "--synonyms",
        help=f"the finder's synonym groups (default: {SYNONYMS_NAME} beside the directory file, if there is one)",
    )

    le = sub.add_parser(
        "leads",
        help="name or remove an organisation's lead (who manages its members, from an emailed link)",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    le.add_argument("action", choices=("add", "remove"))
    le.add_argument("organisation", help="the organisation's slug (a top-level node of the directory)")
    le.add_argument("email", help="the lead's work email address")

    wa = sub.add_parser(
        "webhook-add",
        help="register a partner's HTTPS endpoint for a service subtree's events; prints its signing secret once",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    wa.add_argument("service", help="the slug of the service (an organisation's is its top) whose events it gets")
    wa.add_argument("url", help="https://... (plain http only to 127.0.0.1, on the local stack)")
    wa.add_argument("--name", required=True, help="the partner's name, as its organisation's leads will read it")
    wr = sub.add_parser(
        "webhook-resume",
        help="resume a paused partner: every delivery kept while it was paused is sent again (same ids)",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    wr.add_argument("partner", help="the partner's id, as webhook-add printed it")

    sources.add_parsers(sub, EPILOG)  # issue 21: source-add, import-source

    sub.add_parser(
        "plan-rebuild",
        help="queue the full rebuild's render jobs for the render workers (unchanged pages are not uploaded); "
        "orphaned archive pages are deleted",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub.add_parser(
        "rebuild-site",
        help="render every page again; unchanged pages are not uploaded",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )

    ls = sub.add_parser(
        "load-subscriptions",
        help="load staff (members and their subscriptions) from a JSON, CSV or XLSX file, as active (idempotent)",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    ls.add_argument(
        "file",
        help="a JSON list of objects, or a CSV file with a header row, with the fields "
        + ", ".join(SUBSCRIPTION_COLUMNS)
        + " (tags: separated by commas; access: reader, responder or lead, reader if blank;"
        " e.g. data/demo_subscriptions.json)",
    )

    s = sub.add_parser(
        "seed-demo",
        help="load the demo staff subscriptions, then submit the demo stories over HTTP and moderate them as a moderator would",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    s.add_argument(
        "--api", required=True, help="the API's base address, e.g. http://127.0.0.1:8000 (with or without /api)"
    )
    s.add_argument("--moderator-user", required=True, help="a moderator's username (Cognito)")
    s.add_argument(
        "--moderator-password",
        default=os.environ.get("FF_MODERATOR_PASSWORD"),
        help="that moderator's password (or set FF_MODERATOR_PASSWORD)",
    )
    s.add_argument(
        "--authenticator-key",
        default=os.environ.get("FF_MODERATOR_AUTHENTICATOR_KEY", ""),
        help="the key of that moderator's authenticator app, for the code the pool asks for "
        "(or set FF_MODERATOR_AUTHENTICATOR_KEY; on the local stack: python -m local.totp's key)",
    )
    s.add_argument(
        "--stories", default=str(DEMO_STORIES_FILE.relative_to(ROOT)), help="default: data/demo_stories.json"
    )
    s.add_argument(
        "--subscriptions",
        default=str(DEMO_SUBSCRIPTIONS_FILE.relative_to(ROOT)),
        help="demo staff subscriptions, loaded first (default: data/demo_subscriptions.json)",
    )
    s.add_argument("--no-subscriptions", action="store_true", help="do not load demo subscriptions")
    s.add_argument(
        "--no-conversations",
        action="store_true",
        help="do not add the demo read receipts, staff responses and author replies (they need the subscriptions)",
    )
    return p


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    if args.env_file:
        read_env_file(args.env_file)
    show = not args.no_progress
    if args.command == "load-directory":
        counts = load_directory(args.file, show, args.synonyms)
        print(
            f"Services: {counts['created']} created, {counts['updated']} updated, {counts['unchanged']} unchanged. "
            f"Leads named or updated: {counts['leads']}."
        )
        return 0
    if args.command == "leads":
        outcome = change_lead(args.action, args.organisation, args.email)
        print(f"Lead {args.email} of {args.organisation}: {outcome}.")
        return 0
    if args.command == "plan-rebuild":
        counts = plan_rebuild(show)
        print(
            f"Queued {counts['jobs']} render jobs in {counts['steps']} steps; "
            f"deleted {counts['deleted']} orphaned archive pages. Watch the render queue's depth on the dashboard."
        )
        return 0
    if args.command in ("webhook-add", "webhook-resume"):
        return webhook_command(args)
    if args.command in ("source-add", "import-source"):
        return sources.command(args, progress_wrapper, show)
    if args.command == "rebuild-site":
        result = rebuild_site(show)
        if result is not None:
            print(f"Rebuilt: {json.dumps(result, default=str) if isinstance(result, dict) else result}")
        return 0
    if args.command == "load-subscriptions":
        report = load_subscriptions(args.file, show)
        print(subscriptions_summary(report))
        for line in problem_lines(report):
            print(line, file=sys.stderr)
        return 1 if report["errors"] else 0
    if args.command == "seed-demo":
        if not args.moderator_password:
            print("Give --moderator-password (or set FF_MODERATOR_PASSWORD).", file=sys.stderr)
            return 2
        result = seed_demo(
            args.api,
            args.moderator_user,
            args.moderator_password,
            args.stories,
            show,
            subscriptions=None if args.no_subscriptions else args.subscriptions,
            conversations=not (args.no_conversations or args.no_subscriptions),
            authenticator_key=args.authenticator_key,
        )
        print(seed_summary(result))
        for err in result["errors"]:
            print(f"  error: {err}", file=sys.stderr)
        return 1 if result["errors"] else 0
    return 2


def webhook_command(args: argparse.Namespace) -> int:
    from chalicelib.core.errors import FeedForwardError

    try:
        if args.command == "webhook-resume":
            print(f"Partner {args.partner} resumed: {resume_webhook(args.partner)} kept deliveries queued again.")
            return 0
        partner, secret = add_webhook(args.service, args.url, args.name)
    except FeedForwardError as e:
        for f in getattr(e, "fields", None) or [{"field": "partner", "message": str(e)}]:
            print(f"  {f['field']}: {f['message']}", file=sys.stderr)
        return 1
    print(f"Partner {partner['id']} ({partner['name']}) gets the events of {partner['service']} at {partner['url']}.")
    # Shown here once, never logged or stored in the clear: the partner verifies signatures with it.
    print(f"Signing secret (shown once; give it to the partner over a safe channel): {secret}")
    return 0


def seed_summary(result: dict[str, Any]) -> str:
    subs = result.get("subscriptions")
    return (
        (subscriptions_summary(subs).replace("Subscriptions:", "Demo subscriptions:") + " " if subs else "")
        + f"Demo stories: {result['submitted']} submitted, {result['published']} published, {result['held']} held, "
        f"{result['rejected']} rejected, {result['pending']} left pending"
        + (f", {result['already decided']} already decided" if result["already decided"] else "")
        + (f", {len(result['errors'])} errors" if result["errors"] else "")
        + "."
        + (" " + conversation_summary(result["conversation"]) if any(result.get("conversation", {}).values()) else "")
    )


if __name__ == "__main__":
    sys.exit(main())
