"""An invitation's card and poster as PDF (issue 19), as a member fetches them from their link: read
back with pypdf, the page sizes, the text, the QR code drawn as rectangles compared with segno's
matrix of the short link, Welsh when asked for or when the service has a Welsh name, nothing fetched
from elsewhere, and only the invitation's own organisation's members get one."""

from __future__ import annotations

import copy
import io
import json
import re
import socket

import pypdf
import pytest

from chalicelib import wiring
from chalicelib.edge.invitations import PDF_KB
from chalicelib.site import printed
from chalicelib.site.qr import qr_rows
from tests.support.conversation import make_staff
from tests.support.factories import SMALL_DIRECTORY

SIZES_MM = {"card": (105, 148), "poster": (210, 297)}
JSON_H = {"Content-Type": "application/json"}
BROWSER = {"Accept": "text/html,application/xhtml+xml,*/*;q=0.8"}  # as a browser follows a link to a PDF
WELSH_TITLE = "Sut oedd eich gofal? Dywedwch eich stori wrthym"
ENGLISH_TITLE = "How was your care? Tell us your story"


def manage_token(staff: dict) -> str:
    sid = staff["profile"]["id"]
    return wiring.links().issue("manage", "", sid, 30, subscriber_id=sid)


def invite(client, token: str) -> dict:
    data = {"service": "riverside-ward-7", "tags": ["discharge"]}
    resp = client.http.post(f"/api/subscriptions/manage/{token}/invitations", body=json.dumps(data), headers=JSON_H)
    assert resp.status_code == 201, resp.body
    return json.loads(resp.body)


def read(data: bytes) -> tuple[pypdf.PageObject, str]:
    page = pypdf.PdfReader(io.BytesIO(data)).pages[0]
    return page, re.sub(r"\s+", " ", page.extract_text())


def qr_from_page(page: pypdf.PageObject, n: int) -> list[str]:
    """The code's matrix as the page draws it: each `col row len 1 re` is a run of dark modules, in
    module units with row 0 at the bottom (printed._qr)."""
    rows = [["0"] * n for _ in range(n)]
    content = page.get_contents().get_data().decode("latin-1")
    for col, row, length in re.findall(r"(?m)(?:^|\s)(\d+) (\d+) (\d+) 1 re\b", content):
        for c in range(int(col), int(col) + int(length)):
            rows[n - 1 - int(row)][c] = "1"
    return ["".join(r) for r in rows]


def same(resp) -> str:
    """A refusal's page, less what differs on every response (the script nonce)."""
    return re.sub(r'nonce-?[="][^"; ]*', "", resp.body.decode())


def get_pdf(client, token: str, code: str, kind: str, lang: str = ""):
    query = f"?lang={lang}" if lang else ""
    return client.http.get(f"/api/subscriptions/manage/{token}/invitations/{code}/{kind}/pdf{query}", headers=BROWSER)


def test_the_card_and_poster_are_pdfs_with_the_link_the_service_and_the_qr_code_of_the_link(client, directory):
    token = manage_token(make_staff())
    made = invite(client, token)
    short = made["url"].split("://", 1)[1]
    for kind, (width, height) in SIZES_MM.items():
        resp = get_pdf(client, token, made["code"], kind)
        assert resp.status_code == 200
        assert resp.headers["Content-Type"] == "application/pdf" and resp.headers["Cache-Control"] == "no-store"
        assert f'filename="invitation-{made["code"]}-{kind}.pdf"' in resp.headers["Content-Disposition"]
        page, text = read(resp.body)
        assert [round(float(v) * 25.4 / 72) for v in page.mediabox[2:]] == [width, height]
        assert short in text and "Ward 7 (Acute Medicine)" in text and "You do not have to give your name" in text
        assert WELSH_TITLE not in text  # the service has no Welsh name and no one asked for Welsh
        rows = qr_rows(made["url"])
        assert qr_from_page(page, len(rows)) == rows
        assert qr_from_page(page, len(rows)) != qr_rows(made["url"] + "x")
        # Nothing names another host: no link, no font or image from elsewhere, no producer's web site.
        assert not re.search(rb"https?:|www\.|/URI", resp.body)
        assert b"/FontFile2" in resp.body  # the font travels inside the file


def test_welsh_when_asked_for_or_when_the_service_has_a_welsh_name(client, directory):
    token = manage_token(make_staff())
    made = invite(client, token)
    _, text = read(get_pdf(client, token, made["code"], "card", lang="cy").body)
    assert text.index(WELSH_TITLE) < text.index(ENGLISH_TITLE)  # Welsh first, then English
    assert "Does dim rhaid i chi roi eich enw" in text and made["url"].split("://")[1] in text
    tree = copy.deepcopy(SMALL_DIRECTORY)
    ward = next(s for s in _nodes(tree) if s["slug"] == "riverside-ward-7")
    ward["name_cy"] = "Ward 7 (Meddygaeth Acíwt), Tŷ Gŵyr"
    wiring.directory().load(tree)
    _, text = read(get_pdf(client, token, made["code"], "poster").body)
    assert "Ward 7 (Meddygaeth Acíwt), Tŷ Gŵyr" in text and WELSH_TITLE in text and ENGLISH_TITLE in text
    _, text = read(get_pdf(client, token, made["code"], "poster", lang="en").body)
    assert WELSH_TITLE not in text and ENGLISH_TITLE in text and "Tŷ Gŵyr" not in text


def _nodes(tree: list[dict]):
    for node in tree:
        yield node
        yield from _nodes(node.get("children", []))


def test_the_font_has_welsh_letters_and_the_pdf_is_made_without_the_network(monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("a PDF card must not reach the network")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setattr(socket, "getaddrinfo", refuse)
    invitation = {
        "code": "abcdefghjkmn",
        "url": "https://site.test/i/abcdefghjkmn",
        "service_name": "Gower Ward",
        "service_name_cy": "Ward Gŵyr, Tŷ Ŵ Ŷ",
    }
    _, text = read(printed.pdf(invitation, "card", printed.languages(invitation["service_name_cy"], None)))
    assert "Ward Gŵyr, Tŷ Ŵ Ŷ" in text and "Gower Ward" in text


def test_only_a_member_of_the_invitations_organisation_gets_it_and_others_get_the_unknown_links_404(client, directory):
    token = manage_token(make_staff())
    made = invite(client, token)
    other = manage_token(make_staff(email="hal@hillside.nhs.example", organisation="hillside-trust"))
    theirs = get_pdf(client, other, made["code"], "card")
    unknown_code = get_pdf(client, other, "nothere23456", "card")
    assert theirs.status_code == unknown_code.status_code == 404
    assert same(theirs) == same(unknown_code)
    spoilt = get_pdf(client, token[:-2] + ("AA" if not token.endswith("AA") else "BB"), made["code"], "card")
    nobody = get_pdf(client, "x" * len(token), made["code"], "card")
    assert spoilt.status_code == nobody.status_code == 404
    assert same(spoilt) == same(nobody)
    assert b"%PDF" not in spoilt.body + theirs.body
    reader = manage_token(make_staff(email="rae@riverside.nhs.example", access="reader"))
    assert get_pdf(client, reader, made["code"], "card").status_code == 403
    assert get_pdf(client, token, made["code"], "leaflet").status_code == 404


@pytest.mark.parametrize("asked", [None, "en", "cy", "fr"])
def test_the_languages_of_a_card(asked):
    expected = {"en": ("en",), "cy": ("cy", "en")}.get(asked or "", ("en",))
    assert printed.languages("", asked) == expected
    assert printed.languages("Ward Gŵyr", asked) == (("en",) if asked == "en" else ("cy", "en"))


def test_the_manage_page_links_to_the_pdfs_with_their_size_and_gives_the_letters_line_in_welsh_too(client, directory):
    token = manage_token(make_staff())
    made = invite(client, token)
    html = client.http.get(f"/api/subscriptions/manage/{token}", headers=BROWSER).body.decode()
    short = made["url"].split("://", 1)[1]
    for kind in ("card", "poster"):
        assert f'{made["code"]}/{kind}/pdf" type="application/pdf">{kind.title()} (PDF, about {PDF_KB} KB)' in html
        size = len(get_pdf(client, token, made["code"], kind).body) / 1024
        assert 0.75 * PDF_KB <= size <= 1.25 * PDF_KB, f"the page says about {PDF_KB} KB; the {kind} is {size:.0f} KB"
    assert f"Tell us about your care at {short}. You do not have to give your name." in html
    assert (
        f'<span lang="cy">Dywedwch wrthym am eich gofal yn {short}. Does dim rhaid i chi roi eich enw.</span>' in html
    )
