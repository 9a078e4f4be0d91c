"""Atom 1.0 and JSON Feed 1.1 feeds, and sitemaps, built from listing entries.

XML is built with ElementTree and JSON with json.dumps, never by joining strings, so any text a
person typed is escaped by the library. Only public listing fields are read (changes.listing_entry):
no criticality, no contact detail can reach a feed. Output depends only on its input, so a job run
twice, or a rebuild with nothing changed, writes the same bytes.
"""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

from . import pages

ATOM_NS = "http://www.w3.org/2005/Atom"
SITEMAP_NS = "http://www.sitemaps.org/schemas/sitemap/0.9"
JSON_FEED_VERSION = "https://jsonfeed.org/version/1.1"

ATOM = "application/atom+xml; charset=utf-8"
JSON_FEED = "application/feed+json; charset=utf-8"
XML = "application/xml; charset=utf-8"

ATOM_NAME = "atom.xml"
JSON_NAME = "feed.json"
# An empty feed still needs an <updated>: a fixed instant keeps its bytes stable.
EPOCH = "1970-01-01T00:00:00.000Z"

# Characters XML 1.0 cannot carry at all, escaped or not (ElementTree would write them as they are).
_NOT_XML = re.compile("[^\u0009\u000a\u000d\u0020-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def clean(text: Any) -> str:
    return _NOT_XML.sub("", str(text or ""))


def rfc3339(value: Any) -> str:
    """An ISO timestamp as RFC 3339 in UTC ("2026-11-26T13:00:00.000Z"); unreadable values give EPOCH."""
    try:
        moment = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return EPOCH
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def is_feed(key: str) -> bool:
    return key.rsplit("/", 1)[-1] in (ATOM_NAME, JSON_NAME)


def feed_keys(prefix: str) -> tuple[str, str]:
    """The Atom and JSON Feed keys beside a page: prefix "" (everything), "services/<slug>/", "tags/<tag>/"."""
    return prefix + ATOM_NAME, prefix + JSON_NAME


def story_url(site_url: str, story_id: str) -> str:
    return f"{site_url}/stories/{story_id}/"


def _entry(site_url: str, e: Mapping[str, Any]) -> dict[str, Any]:
    """What a feed shows of one listing entry: public fields, chosen one by one."""
    return {
        "url": story_url(site_url, e["id"]),
        "title": clean(e.get("title", "")),
        "summary": clean(e.get("excerpt", "")),
        "author": clean(f"{e.get('pseudonym', '')}, {pages.role_label(e.get('role'))}"),
        "published": rfc3339(e.get("published_at")),
        "tags": [clean(t) for t in e.get("tags", [])],
    }


def _newest_first(entries: Iterable[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    return sorted(entries, key=lambda e: (e.get("published_at", ""), e.get("id", "")), reverse=True)


def atom(
    site_url: str, title: str, page_path: str, prefix: str, entries: Iterable[Mapping[str, Any]], hub: str = ""
) -> bytes:
    """One Atom 1.0 feed. page_path is the page the feed belongs to ("/", "/tags/x/"); `hub`, a WebSub
    hub the feed announces (site/websub.py), or none."""
    items = [_entry(site_url, e) for e in _newest_first(entries)]
    self_url = f"{site_url}/{feed_keys(prefix)[0]}"
    feed = ET.Element("feed", {"xmlns": ATOM_NS, "{http://www.w3.org/XML/1998/namespace}lang": "en-GB"})
    ET.SubElement(feed, "id").text = self_url
    ET.SubElement(feed, "title").text = clean(title)
    ET.SubElement(feed, "updated").text = items[0]["published"] if items else EPOCH
    ET.SubElement(feed, "link", rel="self", type="application/atom+xml", href=self_url)
    if hub:
        ET.SubElement(feed, "link", rel="hub", href=hub)
    ET.SubElement(feed, "link", rel="alternate", type="text/html", href=site_url + page_path)
    ET.SubElement(ET.SubElement(feed, "author"), "name").text = "FeedForward"
    ET.SubElement(feed, "generator").text = "FeedForward"
    for item in items:
        entry = ET.SubElement(feed, "entry")
        ET.SubElement(entry, "id").text = item["url"]
        ET.SubElement(entry, "title", type="text").text = item["title"]
        ET.SubElement(entry, "link", rel="alternate", type="text/html", href=item["url"])
        ET.SubElement(entry, "published").text = item["published"]
        ET.SubElement(entry, "updated").text = item["published"]
        ET.SubElement(ET.SubElement(entry, "author"), "name").text = item["author"]
        for tag in item["tags"]:
            ET.SubElement(entry, "category", term=tag, label=tag.replace("-", " "))
        ET.SubElement(entry, "summary", type="text").text = item["summary"]
    return ET.tostring(feed, encoding="utf-8", xml_declaration=True) + b"\n"


def json_feed(
    site_url: str, title: str, page_path: str, prefix: str, entries: Iterable[Mapping[str, Any]], hub: str = ""
) -> bytes:
    """One JSON Feed 1.1 feed: the same entries and hub as atom()."""
    items = [_entry(site_url, e) for e in _newest_first(entries)]
    feed = {
        "version": JSON_FEED_VERSION,
        "title": title,
        "home_page_url": site_url + page_path,
        "feed_url": f"{site_url}/{feed_keys(prefix)[1]}",
        "language": "en-GB",
        **({"hubs": [{"type": "WebSub", "url": hub}]} if hub else {}),
        "items": [
            {
                "id": i["url"],
                "url": i["url"],
                "title": i["title"],
                "content_text": i["summary"],
                "summary": i["summary"],
                "date_published": i["published"],
                "date_modified": i["published"],
                "authors": [{"name": i["author"]}],
                "tags": i["tags"],
            }
            for i in items
        ],
    }
    return (json.dumps(feed, ensure_ascii=False, indent=1) + "\n").encode("utf-8")


# ---- sitemaps --------------------------------------------------------------------------------


def sitemap(urls: Iterable[tuple[str, str]]) -> bytes:
    """A <urlset> of (absolute URL, lastmod or "")."""
    root = ET.Element("urlset", xmlns=SITEMAP_NS)
    for loc, lastmod in urls:
        url = ET.SubElement(root, "url")
        ET.SubElement(url, "loc").text = clean(loc)
        if lastmod:
            ET.SubElement(url, "lastmod").text = lastmod
    return ET.tostring(root, encoding="utf-8", xml_declaration=True) + b"\n"


def sitemap_index(locations: Iterable[str]) -> bytes:
    root = ET.Element("sitemapindex", xmlns=SITEMAP_NS)
    for loc in locations:
        ET.SubElement(ET.SubElement(root, "sitemap"), "loc").text = clean(loc)
    return ET.tostring(root, encoding="utf-8", xml_declaration=True) + b"\n"


def feed_links(prefix: str, title: str) -> list[dict[str, str]]:
    """The <link rel="alternate"> of a page's feeds (root-relative: the site's own pages)."""
    atom_key, json_key = feed_keys(prefix)
    return [
        {"href": f"/{atom_key}", "type": "application/atom+xml", "title": f"{title} (Atom)"},
        {"href": f"/{json_key}", "type": "application/feed+json", "title": f"{title} (JSON Feed)"},
    ]
