"""Reading what a source sends (issue 21): a JSON Feed, an Atom feed, FeedForward's own public JSON API,
or a CSV or JSON export, each turned into the same plain items (a reference to name it by, and its
fields as strings, under a story's names). Pure: the bytes come in, items go out; the importer
(chalicelib/importer.py) fetches, checks and writes.

An Atom document with a DOCTYPE or an entity declaration is refused before it is parsed: nothing a
feed needs comes that way, and it is how XML is made to expand or to read local files. A document that
cannot be read at all raises SourceUnreadable, naming why; one bad item is the importer's to refuse.
"""

from __future__ import annotations

import csv
import io
import json
import re
import xml.etree.ElementTree as ET
from collections.abc import Mapping
from dataclasses import dataclass, field
from html.parser import HTMLParser
from typing import Any

KINDS = ("json_feed", "atom", "feedforward_api", "csv", "json")
# A story's fields an item may fill, and what a CSV or JSON export's mapping names.
FIELDS = ("id", "title", "story", "good", "improve", "date", "service", "role", "url")
ATOM = "{http://www.w3.org/2005/Atom}"


class SourceUnreadable(ValueError):
    """The document as a whole is not what its kind promises (not JSON, not Atom, no items)."""


@dataclass
class RawItem:
    """One item as the source gave it: `ref` names it in a refusal ("line 4", "item urn:x:1")."""

    ref: str
    fields: dict[str, str] = field(default_factory=dict)
    # feedforward_api: the story's own address, read only for the items a run takes (bounded).
    detail: str = ""


def parse(kind: str, body: bytes, mapping: Mapping[str, str] | None = None) -> list[RawItem]:
    """The items of a document of `kind`, in the order the source lists them."""
    if kind == "json_feed":
        return _json_feed(_json(body))
    if kind == "atom":
        return _atom(body)
    if kind == "feedforward_api":
        return _feedforward_list(_json(body))
    if kind == "csv":
        return _csv(body, mapping or {})
    if kind == "json":
        return _json_export(_json(body), mapping or {})
    raise SourceUnreadable(f"kind: {kind!r} is not one of {', '.join(KINDS)}")


def feedforward_story(body: bytes) -> dict[str, str]:
    """One story from another FeedForward's public API (GET /api/public/stories/<id>)."""
    story = _json(body)
    if not isinstance(story, dict):
        raise SourceUnreadable("story: the answer is not a JSON object")
    return {
        "id": _text(story.get("id")),
        "title": _text(story.get("title")),
        "story": _text(story.get("story")),
        "good": _text(story.get("good")),
        "improve": _text(story.get("improve")),
        "date": _text(story.get("published_at")),
        "role": _text(story.get("role")),
        "url": _text(story.get("url")),
    }


# ---- each kind -----------------------------------------------------------------------------------


def _json(body: bytes) -> Any:
    try:
        return json.loads(body.decode("utf-8-sig"))
    except (UnicodeDecodeError, ValueError) as e:
        raise SourceUnreadable(f"source: not JSON ({e})") from None


def _json_feed(doc: Any) -> list[RawItem]:
    """JSON Feed 1.0/1.1: items[] with id, url, title, content_text (or content_html), date_published."""
    if not isinstance(doc, dict) or not isinstance(doc.get("items"), list):
        raise SourceUnreadable("source: a JSON Feed is an object with a list of items")
    out = []
    for n, item in enumerate(doc["items"], 1):
        if not isinstance(item, dict):
            out.append(RawItem(f"item {n}"))
            continue
        text = _text(item.get("content_text")) or plain(_text(item.get("content_html"))) or _text(item.get("summary"))
        out.append(
            RawItem(
                _ref(item.get("id"), n),
                {
                    "id": _text(item.get("id")),
                    "title": _text(item.get("title")),
                    "story": text,
                    "date": _text(item.get("date_published")) or _text(item.get("date_modified")),
                    "url": _text(item.get("url")),
                },
            )
        )
    return out


def _atom(body: bytes) -> list[RawItem]:
    # Decoded first, so that no other encoding can hide a declaration from the check below; and with no
    # DOCTYPE anywhere there is no DTD, so no entity to expand or to fetch (what defusedxml guards against).
    try:
        text = body.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise SourceUnreadable("source: an Atom feed must be UTF-8") from None
    lowered = text.lower()
    if "<!doctype" in lowered or "<!entity" in lowered:
        raise SourceUnreadable("source: an Atom feed with a DOCTYPE or entities is not read")
    try:
        root = ET.fromstring(text)  # nosec B314 - no DOCTYPE (checked above), so no entity can expand or be fetched
    except ET.ParseError as e:
        raise SourceUnreadable(f"source: not XML ({e})") from None
    if root.tag != f"{ATOM}feed":
        raise SourceUnreadable("source: not an Atom feed (no <feed> in the Atom namespace)")
    out = []
    for n, entry in enumerate(root.findall(f"{ATOM}entry"), 1):
        entry_id = _el(entry, "id")
        links = entry.findall(f"{ATOM}link")
        link = next((x for x in links if x.get("rel", "alternate") == "alternate"), None)
        content = entry.find(f"{ATOM}content")
        if content is None:
            content = entry.find(f"{ATOM}summary")
        text = "".join(content.itertext()) if content is not None else ""
        if content is not None and content.get("type") == "html":
            text = plain(text)
        fields = {
            "id": entry_id,
            "title": _el(entry, "title"),
            "story": text.strip(),
            "date": _el(entry, "published") or _el(entry, "updated"),
            "url": (link.get("href") or "") if link is not None else "",
        }
        out.append(RawItem(_ref(entry_id, n), fields))
    return out


def _feedforward_list(doc: Any) -> list[RawItem]:
    """A page of another FeedForward's GET /api/public/stories: each story's full words are read from its
    own address (`detail`) when a run takes it."""
    if not isinstance(doc, dict) or not isinstance(doc.get("stories"), list):
        raise SourceUnreadable("source: a FeedForward API page is an object with a list of stories")
    out = []
    for n, s in enumerate(doc["stories"], 1):
        sid = _text(s.get("id")) if isinstance(s, dict) else ""
        out.append(RawItem(_ref(sid, n), {"id": sid}, detail=sid))
    return out


def _csv(body: bytes, mapping: Mapping[str, str]) -> list[RawItem]:
    try:
        text = body.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise SourceUnreadable("source: a CSV export must be UTF-8") from None
    reader = csv.DictReader(io.StringIO(text, newline=""))
    header = reader.fieldnames or []
    missing = [column for column in mapping.values() if column not in header]
    if missing:
        raise SourceUnreadable(f"source: the CSV has no column {missing[0]!r} (the mapping names it)")
    out = []
    try:
        for row in reader:
            out.append(RawItem(f"line {reader.line_num}", _mapped(row, mapping)))
    except csv.Error as e:
        raise SourceUnreadable(f"source: line {reader.line_num}: {e}") from None
    return out


def _json_export(doc: Any, mapping: Mapping[str, str]) -> list[RawItem]:
    rows = doc.get("items") if isinstance(doc, dict) else doc
    if not isinstance(rows, list):
        raise SourceUnreadable("source: a JSON export is a list of objects (or an object with `items`)")
    return [
        RawItem(f"item {n}", _mapped(row, mapping)) if isinstance(row, dict) else RawItem(f"item {n}")
        for n, row in enumerate(rows, 1)
    ]


# ---- helpers -------------------------------------------------------------------------------------


def _mapped(row: Mapping[str, Any], mapping: Mapping[str, str]) -> dict[str, str]:
    """An export's row under a story's names: the mapping's column for each field, else the field's own name."""
    return {f: _text(row.get(mapping.get(f, f))) for f in FIELDS if row.get(mapping.get(f, f)) is not None}


def _text(value: Any) -> str:
    if value is None or isinstance(value, (dict, list)):
        return ""
    return str(value).strip()


def _el(entry: ET.Element, name: str) -> str:
    found = entry.find(f"{ATOM}{name}")
    return "".join(found.itertext()).strip() if found is not None else ""


def _ref(item_id: Any, n: int) -> str:
    text = _text(item_id)
    return f"item {text[:80]}" if text else f"item {n}"


class _Plain(HTMLParser):
    PARAGRAPHS = frozenset({"p", "div", "blockquote", "h1", "h2", "h3", "h4", "ul", "ol"})
    LINES = frozenset({"br", "li"})
    UNSAID = frozenset({"script", "style", "template"})  # their text is no one's words

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._unsaid = 0

    def handle_starttag(self, tag: str, attrs: Any) -> None:
        if tag in self.UNSAID:
            self._unsaid += 1
        elif tag in self.PARAGRAPHS:
            self.parts.append("\n\n")
        elif tag in self.LINES:
            self.parts.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in self.UNSAID and self._unsaid:
            self._unsaid -= 1

    def handle_data(self, data: str) -> None:
        if not self._unsaid:
            self.parts.append(data)


def plain(html: str) -> str:
    """HTML as the plain text a story is (never HTML): the words, with paragraphs as line breaks."""
    if not html:
        return ""
    parser = _Plain()
    parser.feed(html)
    parser.close()
    return re.sub(r"[ \t]*\n\s*\n\s*", "\n\n", "".join(parser.parts)).strip()


# ---- reading a location --------------------------------------------------------------------------

MAX_BYTES = 20 * 1024 * 1024  # a source's document; a larger one is refused, not read in part


def fetch(location: str, timeout: float = 20.0, limit: int = MAX_BYTES) -> bytes:
    """The document at an http(s) address. Anything else, a failed fetch, or more than `limit` bytes raises
    SourceUnreadable."""
    if not location.startswith(("http://", "https://")):
        raise SourceUnreadable("source: its location must be an http(s) address here (a file only from the command)")
    return fetch_or_read(location, timeout, limit)


def fetch_or_read(location: str, timeout: float = 20.0, limit: int = MAX_BYTES) -> bytes:
    """fetch, or a local file's bytes: only the admin command reads files (a CSV or JSON export on the
    admin's own disk); anything that runs for others (a scheduled job, a lead's page) uses fetch, so a
    location can never name a file of the machine it runs on."""
    if not location.startswith(("http://", "https://")):
        try:
            with open(location, "rb") as f:
                body = f.read(limit + 1)
        except OSError as e:
            raise SourceUnreadable(f"source: cannot read {location!r} ({e.strerror})") from None
    else:
        import urllib.request  # only where a source is fetched (the importer), not on any request's path

        body = http_get(location, timeout, limit, urllib.request.urlopen)
    if len(body) > limit:
        raise SourceUnreadable(f"source: larger than {limit} bytes")
    return body


def http_get(location: str, timeout: float, limit: int, open_url: Any) -> bytes:
    """At most `limit` + 1 bytes of an http(s) address, through `open_url` (urlopen, or an opener's open
    that checks where it is redirected); a failed fetch raises SourceUnreadable, naming the address."""
    import urllib.error
    import urllib.request

    request = urllib.request.Request(location, headers={"User-Agent": "FeedForward importer"})
    try:
        with open_url(request, timeout=timeout) as answer:  # nosec B310 - http(s) only: checked by the callers
            return bytes(answer.read(limit + 1))
    except urllib.error.HTTPError as e:
        raise SourceUnreadable(f"source: {location} answered {e.code}") from None
    except (OSError, ValueError) as e:
        raise SourceUnreadable(f"source: cannot fetch {location} ({e})") from None
