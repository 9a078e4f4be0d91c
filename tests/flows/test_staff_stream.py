"""Staff see one stream (issue 21): a story pulled in from a source not licensed for republication, once a
moderator publishes it, is in the lead's report, its export and a member's list of stories waiting for a
reply, marked with its source and a link to the original, and no staff page or letter links it to a
public page it does not have (its public address says "no longer available"). A licensed import beside
it is linked as any story is: the checks can fail.

The reports through the real stream (moto, the pump: the staff-only listing is the stream's work); the
letters on the in-memory store.
"""

from __future__ import annotations

import csv
import io
import json
from types import SimpleNamespace
from urllib.parse import urlencode

from chalicelib import wiring
from chalicelib.core import clock
from chalicelib.core.jobs import MailJob
from chalicelib.core.settings import get_settings
from chalicelib.links import Links
from chalicelib.mail.letters.conversation import ConversationLetters
from chalicelib.mail.sender import _templates, render
from chalicelib.moderation import Moderator
from tests.support.conversation import make_staff
from tests.support.feed_server import FeedServer
from tests.support.memory_store import MemoryStore

MOD = Moderator("mod@example.org", "Mo Derator")
LEAD = "lena.lead@nhs.example"
JSON_H = {"Accept": "application/json"}
WORDS = "The staff on the ward were kind and explained every step of the treatment."
NO_PAGE = "For staff only: its source is not licensed for republication, so it has no public page."


def feed(word: str, extra: str = "") -> str:
    item = {
        "id": f"urn:{word}:1",
        "url": f"https://reviews.example.org/{word}",
        "title": f"The {word} ward",
        "content_text": f"{WORDS} The {word} room was calm.{extra}",
        "date_published": "2026-11-02T10:00:00Z",
    }
    return json.dumps({"version": "https://jsonfeed.org/version/1.1", "title": "Reviews", "items": [item]})


def imported(server: FeedServer, word: str, licensed: bool) -> None:
    wiring.importer().add_source(
        {
            "slug": word,
            "name": "NHS website reviews",
            "organisation": "riverside-trust",
            "kind": "json_feed",
            "location": server.serve(f"/{word}.json", feed(word)),
            "service": "riverside-ward-7",
            "licensed": licensed,
        }
    )
    assert wiring.importer().run(word).line() == "1 imported, 0 updated, 0 unchanged, 0 refused"


def publish_all(pump) -> dict[str, str]:
    """Every waiting story published; title -> id."""
    pump.drain()
    ids = {}
    for s in wiring.moderation().queue():
        version = wiring.store().get_story(s["id"], consistent=True)["version"]
        wiring.moderation().decide(s["id"], {"action": "publish", "version": version, "criticality": 2}, MOD)
        ids[s["title"]] = s["id"]
    pump.drain()
    return ids


def lead_link() -> str:
    wiring.membership().name_lead(
        {"slug": "riverside-trust", "name": "Riverside NHS Foundation Trust"}, LEAD, by="test", name="Lena Lead"
    )
    lead = wiring.store().find_subscriber(LEAD)
    return wiring.links().issue(
        "organisation",
        "",
        lead["id"],
        get_settings().organisation_link_days,
        subscriber_id=lead["id"],
        organisation="riverside-trust",
    )


def report(client, token: str, service: str = "riverside-trust") -> dict:
    query = urlencode({"period": "30-days", "service": service})
    resp = client.http.get(f"/api/organisation/{token}/report?{query}", headers=JSON_H)
    assert resp.status_code == 200, resp.body
    return {s["title"]: s for s in json.loads(resp.body)["stories"]}


def test_a_story_kept_for_staff_only_is_in_the_report_export_and_waiting_list_marked_with_its_source(
    aws, client, pump, directory
):
    nurse = make_staff()["profile"]  # a responder of Ward 7
    with FeedServer() as server:
        imported(server, "secret", licensed=False)
        imported(server, "open", licensed=True)
        ids = publish_all(pump)
        token = lead_link()

        for service in ("riverside-trust", "riverside-ward-7"):  # the organisation, and the ward itself
            listed = report(client, token, service)
            kept, shown = listed["The secret ward"], listed["The open ward"]
            assert kept["staff_only"] is True and kept["url"] == ""
            assert kept["source"] == {"name": "NHS website reviews", "url": "https://reviews.example.org/secret"}
            assert shown["staff_only"] is False and shown["url"].endswith(f"/stories/{ids['The open ward']}/")
        page = client.http.get(
            f"/api/organisation/{token}/report?period=30-days", headers={"Accept": "text/html"}
        ).body.decode()
        assert "The secret ward" in page and f"/stories/{ids['The secret ward']}/" not in page
        assert NO_PAGE.rstrip(".") in page and 'href="https://reviews.example.org/secret"' in page

        export = client.http.get(f"/api/organisation/{token}/report.csv?period=30-days", headers={"Accept": "*/*"})
        rows = {r["title"]: r for r in csv.DictReader(io.StringIO(export.body.decode("utf-8")))}
        secret, open_ = rows["The secret ward"], rows["The open ward"]
        assert (secret["staff_only"], secret["url"], secret["source"]) == ("yes", "", "NHS website reviews")
        assert secret["source_url"] == "https://reviews.example.org/secret" and secret["route"] == "import"
        assert open_["staff_only"] == "no" and open_["url"].endswith(f"/stories/{ids['The open ward']}/")

        manage = wiring.links().issue(
            "manage", "", nurse["id"], get_settings().subscriber_link_days, subscriber_id=nurse["id"]
        )
        waiting = json.loads(client.http.get(f"/api/subscriptions/manage/{manage}/waiting", headers=JSON_H).body)
        assert {"The secret ward", "The open ward"} <= {s["title"] for s in waiting["stories"]}

        # Edited at the source, it goes back to moderation: off the report until a moderator decides again.
        server.serve("/secret.json", feed("secret", " They brought tea."))
        assert wiring.importer().run("secret").line() == "0 imported, 1 updated, 0 unchanged, 0 refused"
        pump.drain()
        assert "The secret ward" not in report(client, token) and "The open ward" in report(client, token)


# ---- the letters: on the in-memory store ----------------------------------------------------------------

SETTINGS = SimpleNamespace(
    site_url="https://site.test", api_url="https://api.test", respond_link_days=14, subscriber_link_days=365
)


def decided(staff_only: bool) -> tuple[str, str, str]:
    """A responder's held response on a published story, published by a moderator: their letter."""
    store = MemoryStore()
    store.create_subscriber({"id": "sam", "email": "sam@nhs.example", "name": "Sam", "status": "active"})
    story = {"id": "s1", "title": "The ward", "status": "published", "pseudonym": "NHS website reviews"}
    store.create_story(story | {"staff_only": staff_only}, None)
    store.put_response("s1", {"id": "r1", "status": "published", "subscriber_id": "sam", "text": "Thank you."})
    letters = ConversationLetters(store, Links(store), SETTINGS)  # type: ignore[arg-type]
    letter = letters.response_decided(MailJob(kind="staff_response_decided", story_id="s1", ref="r1"))
    assert letter is not None
    return render(letter.template, letter.context)


def test_a_response_published_on_a_story_kept_for_staff_only_is_not_linked_to_a_public_page():
    clock.now()  # the links are dated by it
    subject, text, html = decided(staff_only=True)
    assert "/stories/s1/" not in text + html
    assert NO_PAGE in text and NO_PAGE.replace("'", "’") in html.replace("'", "’")
    _, text, html = decided(staff_only=False)  # a public story's letter links its page: the check can fail
    assert "https://site.test/stories/s1/" in text and 'href="https://site.test/stories/s1/"' in html
    assert NO_PAGE not in text


def test_an_author_s_reply_and_an_alert_about_a_story_kept_for_staff_only_link_no_public_page():
    base = {
        "name": "Sam",
        "story": {"id": "s1", "title": "The ward", "pseudonym": "NHS website reviews"},
        "reply": {"text": "Thank you for answering."},
        "respond_url": "https://api.test/api/respond/x",
        "unsubscribe_url": "https://api.test/u",
        "manage_url": "https://api.test/m",
        "link_days": 14,
        "site_url": "https://site.test",
    }
    for story_url in ("", "https://site.test/stories/s1/"):
        _, text, html = render("staff_author_replied", base | {"story_url": story_url})
        if story_url:
            assert story_url in text and f'href="{story_url}"' in html and NO_PAGE not in text
        else:
            assert "/stories/" not in text + html and 'href=""' not in html and NO_PAGE in text
    # An alert, a reminder, an escalation and a passed-on story share the read-and-respond part.
    for ext in ("html", "txt"):
        part = _templates().from_string(
            f'{{% import "_parts.{ext}" as parts with context %}}{{{{ parts.respond(story) }}}}'
        )
        for url in ("", "https://site.test/stories/s1/"):
            out = part.render(story={"respond_url": "https://api.test/r", "url": url}, respond_link_days=14)
            assert (url in out and NO_PAGE not in out) if url else ("/stories/" not in out and NO_PAGE in out)
            assert 'href=""' not in out


def test_the_board_report_names_a_story_kept_for_staff_only_without_a_public_link():
    story = {"title": "The secret ward", "url": "", "published": "2 November 2026", "due": "9 November 2026"}
    shown = story | {"title": "The open ward", "url": "https://site.test/stories/s2/"}
    context = {
        "name": "Lena",
        "organisation_name": "Riverside",
        "month": "November 2026",
        "before": "October 2026",
        "rows": [],
        "enough": False,
        "min_stories": 5,
        "months": [],
        "overdue": [story, shown],
        "overdue_count": 2,
        "made": [story],
        "made_count": 1,
        "named": 10,
        "report_url": "https://api.test/api/organisation/t/report?period=month",
        "organisation_url": "https://api.test/api/organisation/t",
        "link_days": 7,
        "site_url": "https://site.test",
    }
    _, text, html = render("board_report", context)
    assert 'href=""' not in html and "The secret ward (for staff only)" in html
    assert 'href="https://site.test/stories/s2/"' in html  # a public story is linked: the check can fail
    assert text.count("For staff only: it has no public page.") == 2 and "https://site.test/stories/s2/" in text
