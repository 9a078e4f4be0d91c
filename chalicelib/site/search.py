"""Static search with Pagefind: the index of every published story, and the search page.

The render job "search" (one fixed key, so a batch of story changes builds it once) reads the
"_all" listing (one Query page per 1 MB) and the stories' full text (one BatchGetItem per 100),
then has Pagefind's binary index them, written as small HTML files in a temporary folder.
This is a job, never a request. Pagefind names its index, fragment and filter files by content,
so only the files whose content changed are uploaded (compared with S3's ETags) and files no
longer named by the new index are deleted.

The page at /search/ works with JavaScript (our own small script on Pagefind's JS API, all from
this host; only Pagefind's worker may compile WebAssembly) and without it says where to look.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .. import store as store_module
from ..core.status import Status
from . import pages
from .outputs import Delete, Output, Put
from .pages import HTML, HTML_CACHE, JS
from .publisher import md5_hex

if TYPE_CHECKING:
    from ..store import PublicStore

PREFIX = "pagefind/"
PAGE_KEY = "search/index.html"
ENTRY_KEY = PREFIX + "pagefind-entry.json"
SCRIPT = Path(__file__).with_name("search_page.js")
SCRIPT_KEY = "search/search.{}.js"
LANGUAGE = "en"
# Files Pagefind names by their content never change: cache them for a year. The entry file,
# the loader and the wasm keep their names across builds: a short cache.
_HASHED_DIRS = ("fragment/", "index/", "filter/")
_TYPES = {".js": JS, ".json": "application/json", ".css": pages.CSS}


def _content_type(name: str) -> str:
    return _TYPES.get(os.path.splitext(name)[1], "application/octet-stream")


def _cache(name: str) -> str:
    hashed = name.startswith(_HASHED_DIRS) or name.endswith(".pf_meta")
    return pages.HASHED_CACHE if hashed else HTML_CACHE


def record(story: Mapping[str, Any], services: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """What the index holds of one published story: public fields only, chosen one by one."""
    names = [services[s]["name"] for s in story.get("services", []) if s in services]
    tags = [t.replace("-", " ") for t in story.get("tags", [])]
    text = "\n\n".join(
        p
        for p in (
            story.get("title", ""),
            story.get("story", ""),
            story.get("good", ""),
            story.get("improve", ""),
            " ".join(names),
            " ".join(tags),
        )
        if p
    )
    published = story.get("published_at", "")
    return {
        "url": f"/stories/{story['id']}/",
        "content": text,
        "language": LANGUAGE,
        "meta": {"title": story.get("title", ""), "date": pages.long_date(published), "services": " · ".join(names)},
        # No Pagefind filters: services and tags are searched as words. Pagefind writes filter
        # values in hash-map order, so with filters two builds of the same stories differ and
        # every build would upload the whole index again.
        "sort": {"date": published},
    }


def records(store: PublicStore) -> list[dict[str, Any]]:
    """Every published story as an index record: the "_all" listing, then the stories' full text."""
    entries = store.listing(store_module.EVERYTHING, 10**9)
    stories = store.get_stories(e["id"] for e in entries)
    published = [stories[e["id"]] for e in entries if stories.get(e["id"], {}).get("status") == Status.PUBLISHED]
    services = store.get_services({s for st in published for s in st.get("services", [])}) if published else {}
    return [record(s, services) for s in published]


def record_html(r: dict[str, Any]) -> str:
    """One record as the small HTML page Pagefind reads: its text, and its meta and sort as
    Pagefind's data attributes. Every value is escaped."""
    from html import escape

    meta = ", ".join(f"{k}:{v}".replace(",", "") for k, v in r["meta"].items() if v and k != "title")
    sort = "".join(f'<span data-pagefind-sort="{escape(k)}:{escape(v)}"></span>' for k, v in r["sort"].items() if v)
    paras = "".join(f"<p>{escape(p)}</p>" for p in r["content"].split("\n\n")[1:])
    return (
        f'<!DOCTYPE html><html lang="{LANGUAGE}"><head><meta charset="utf-8"><title>{escape(r["meta"]["title"])}</title></head>'
        f'<body><main data-pagefind-body data-pagefind-meta="{escape(meta)}"><h1 data-pagefind-meta="title">{escape(r["meta"]["title"])}</h1>'
        f"{paras}{sort}</main></body></html>"
    )


def build_index(recs: list[dict[str, Any]]) -> dict[str, bytes]:
    """Pagefind's files for these records: {name under pagefind/: bytes}.

    The records are written as small HTML files and the binary indexes the folder in one run.
    (Pagefind's Python API answers one request per 0.1 s, as it polls the binary's output: a
    record at a time took 100 s for 1,000 stories, one folder through it 12 s, the binary 4 s.)"""
    from pagefind.service import get_executable

    if not recs:
        return {}  # Pagefind cannot index nothing: no index, and the page says search is not available
    binary = get_executable()
    if binary is None:
        raise RuntimeError("The pagefind binary is missing: pip install 'pagefind[bin]' (requirements.txt)")
    with tempfile.TemporaryDirectory(prefix="pagefind-") as tmp:
        site, out = os.path.join(tmp, "site"), os.path.join(tmp, "pagefind")
        os.makedirs(site)
        for r in recs:
            path = Path(site + r["url"]) / "index.html"
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(record_html(r), encoding="utf-8")
        done = subprocess.run(
            [str(binary), "--site", site, "--output-path", out, "--force-language", LANGUAGE],
            capture_output=True,
            text=True,
            timeout=600,
            check=False,
        )
        if done.returncode != 0:
            raise RuntimeError(f"pagefind failed ({done.returncode}): {done.stderr[-2000:] or done.stdout[-2000:]}")
        return {str(p.relative_to(out)): p.read_bytes() for p in sorted(Path(out).rglob("*")) if p.is_file()}


def script() -> tuple[str, bytes]:
    body = SCRIPT.read_bytes()
    return SCRIPT_KEY.format(hashlib.sha256(body).hexdigest()[:12]), body


def page(script_url: str) -> str:
    # The site's usual policy. Pagefind compiles its WebAssembly in a worker (pagefind-worker.js),
    # and a worker takes its policy from its own response: CloudFront adds 'wasm-unsafe-eval' to
    # /pagefind/* only (infra/template.yaml). The page itself needs none, so vnu can check it.
    return pages.render_page("search.html", robots="noindex", search_js_url=script_url)


def outputs(store: PublicStore, publisher: Any) -> list[Output]:
    """The search page, its script and the index: Puts of what changed, Deletes of what went."""
    script_key, script_body = script()
    wanted: dict[str, Put] = {
        PAGE_KEY: Put(PAGE_KEY, page("/" + script_key).encode("utf-8"), HTML, HTML_CACHE),
        script_key: Put(script_key, script_body, JS, pages.HASHED_CACHE),
    }
    for name, body in build_index(records(store)).items():
        key = PREFIX + name
        wanted[key] = Put(key, body, _content_type(name), _cache(name))
    known = publisher.etags(PREFIX) | publisher.etags("search/")
    hashed = tuple(PREFIX + d for d in _HASHED_DIRS)
    if ENTRY_KEY in known and {k for k in wanted if k.startswith(hashed)} == {k for k in known if k.startswith(hashed)}:
        # The same index (its files are named by content). Pagefind's meta file can still differ
        # between two builds of the same records (the order of a hash map), and the entry file
        # names the meta: keep the pair already published.
        kept = {k for k in known if k == ENTRY_KEY or _is_meta(k)}
        wanted = {k: p for k, p in wanted.items() if k != ENTRY_KEY and not _is_meta(k)}
    else:
        kept = set()
    out: list[Output] = [p for k, p in wanted.items() if known.get(k) != md5_hex(p.body)]
    out += [Delete(k) for k in sorted(known) if k not in wanted and k not in kept]
    return out


def _is_meta(key: str) -> bool:
    return key.startswith(PREFIX) and key.endswith(".pf_meta")
