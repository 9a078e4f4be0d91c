"""A story told through the Welsh form (issue 19): it records `language: cy`, the form's thank-you page is the
Welsh one, and the author's letters (the address check, "published" and a reply) are written in Welsh, with
links to the Welsh pages; a story told in English still gets English letters."""

from __future__ import annotations

import gettext
import re
from urllib.parse import urlencode

from chalicelib import wiring
from chalicelib.core import i18n
from chalicelib.core.jobs import MailJob
from chalicelib.mail.sender import render
from tests.support import mailbox
from tests.support.author import AUTHOR, error_fields, post_json, publish, respond, staff_member
from tests.support.env import SITE_URL
from tests.support.factories import story_body

FORM_H = {"Content-Type": "application/x-www-form-urlencoded", "Accept": "text/html"}


def send_form(client, **fields) -> str:
    """The form as a browser sends it, without JavaScript: the thank-you page's address."""
    body = story_body(email=AUTHOR, consent="yes", **fields)
    resp = client.http.post("/api/stories", body=urlencode(body, doseq=True), headers=FORM_H)
    assert resp.status_code == 303, resp.body
    return resp.headers["Location"]


def story_of(location: str) -> dict:
    return wiring.store().get_story(location.rsplit("ref=", 1)[1], consistent=True)


def test_a_story_told_in_welsh_is_recorded_so_and_its_author_is_written_to_in_welsh(client, pump, directory):
    location = send_form(client, language="cy")
    assert location.startswith(f"{SITE_URL}/cy/thank-you/?ref=")
    story = story_of(location)
    assert story["language"] == "cy"
    pump.drain()

    [check] = mailbox.to(AUTHOR)
    assert check["Subject"] == "Ai hwn yw eich cyfeiriad e-bost? Cadarnhewch ef i FeedForward"
    assert "Ie, fy nghyfeiriad i yw hwn" in mailbox.html_of(check)
    assert '<html lang="cy">' in mailbox.html_of(check)
    assert "Mae’r ddolen yn gweithio am" in mailbox.text_of(check)

    # Its link opens the question, and the thanks, in Welsh.
    path = re.search(r"https://api\.test(/api/confirm/[A-Za-z0-9_-]{43}\?lang=cy)", mailbox.text_of(check)).group(1)
    asked = client.http.get(path, headers={"Accept": "text/html"})
    assert asked.status_code == 200 and '<html lang="cy">' in asked.body.decode()
    assert (
        "Ai hwn yw eich cyfeiriad e-bost?" in asked.body.decode()
        and f'action="https://api.test{path}"' in asked.body.decode()
    )
    done = client.http.post(path, body="", headers=FORM_H)
    assert (
        "Diolch: mae eich cyfeiriad wedi’i gadarnhau" in done.body.decode() and '<html lang="cy">' in done.body.decode()
    )
    pump.drain()
    publish(story["id"])
    pump.drain()
    published = [m for m in mailbox.to(AUTHOR) if m["Subject"].startswith("Mae eich stori wedi’i chyhoeddi")]
    assert len(published) == 1, [m["Subject"] for m in mailbox.to(AUTHOR)]
    assert f"{SITE_URL}/cy/stories/{story['id']}/" in mailbox.text_of(published[0])
    assert "Darllen eich stori" in mailbox.html_of(published[0])

    rid = respond(
        story["id"], staff_member(), "Diolch am ddweud wrthym.", change="planned", change_description="Mwy o staff."
    )
    wiring.notifications().send(MailJob(kind="author_response", story_id=story["id"], ref=rid))
    [reply] = [m for m in mailbox.to(AUTHOR) if m["Subject"].startswith("Ateb i’ch stori")]
    text = mailbox.text_of(reply)
    assert (
        "Mae Sam Carter, Ward Manager, Ward 7 (Acute Medicine) (Riverside NHS Foundation Trust) wedi ateb eich stori"
        in text
    )
    assert "Mae newid wedi’i gynllunio: Mwy o staff." in text
    assert "You can read" not in text and "A moderator" not in text


def test_a_story_told_in_english_keeps_english_letters(client, pump, directory):
    location = send_form(client)
    assert location.startswith(f"{SITE_URL}/thank-you/?ref=")
    assert story_of(location)["language"] == "en"
    pump.drain()
    [check] = mailbox.to(AUTHOR)
    assert check["Subject"] == "Is this your email address? Confirm it for FeedForward"
    assert '<html lang="en-GB">' in mailbox.html_of(check)
    path = re.search(r"https://api\.test(/api/confirm/[A-Za-z0-9_-]{43})\s", mailbox.text_of(check)).group(1)
    asked = client.http.get(path, headers={"Accept": "text/html"}).body.decode()
    assert "Is this your email address?" in asked and '<html lang="en-GB">' in asked


def test_a_language_we_do_not_publish_is_refused_naming_the_field(client, directory):
    resp = post_json(client, "/api/stories", story_body(language="fr"))
    assert resp.status_code == 422 and error_fields(resp) == ["language"]


AUTHOR_LETTERS = (
    "author_confirmation",
    "author_receipt",
    "author_published",
    "author_read",
    "author_response",
    "author_rejected",
    "author_removed",
    "author_restricted",
    "author_message",
)


class Pseudo(gettext.NullTranslations):
    """Every message wrapped in ⟦…⟧."""

    def gettext(self, message):
        return f"⟦{message}⟧"

    def ngettext(self, singular, plural, n):
        return f"⟦{singular if n == 1 else plural}⟧"


def left_in_english(text: str) -> list[str]:
    """Words outside ⟦…⟧, once the values (all "Zed…") and the brand are left out."""
    while re.search(r"⟦[^⟦⟧]*⟧", text):
        text = re.sub(r"⟦[^⟦⟧]*⟧", " ", text)
    text = re.sub(r"<[^>]+>|&[a-z]+;|\bZed\w*|\bFeedForward\b", " ", text)
    return re.findall(r"[^\W\d_]{2,}", text)


def test_every_letter_to_an_author_has_all_its_words_in_the_catalogue():
    """Rendered in a pseudo-locale, no word of the author's letters is left outside a message (subject, text, HTML)."""
    response = {"name": "Zedname", "role": "Zedrole", "service_name": "Zedward", "organisation_name": "Zedtrust"}
    context = {
        "story": {"title": "Zedtitle", "status": "pending", "decision_note": "Zednote", "edited_fields": ["story"]},
        "reader": {"name": "Zedreader", "role": "Zedrole", "service_name": "Zedward"},
        "response": response | {"text": "Zedtext", "change": "made", "change_description": "Zedchange"},
        "message": {"text": "Zedmessage"},
        "placeholder": "Zedplaceholder",
        "private_url": "Zedprivate",
        "story_url": "Zedstory",
        "confirm_url": "Zedconfirm",
        "site_url": "Zedsite",
        "form_path": "/Zedform/",
        "link_days": 730,
    }
    with i18n.using("qps", Pseudo()):
        for name in AUTHOR_LETTERS:
            subject, text, html = render(name, context)
            body = html.split("<body", 1)[1].split(">", 1)[1]
            assert (left_in_english(subject), left_in_english(text), left_in_english(body)) == ([], [], []), name
