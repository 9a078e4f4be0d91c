"""Static search with Pagefind, in shards: each a Pagefind bundle of some months' published stories,
merged in the browser (Pagefind's mergeIndex). docs/search.md tells the whole design.

- The hot shard holds the current month; frozen shards hold closed months, each bounded
  (core/shards.py). A shard is rebuilt only when one of its stories changes in a field the index
  holds, by the search worker (its own function and FIFO queue: one rebuild at a time, debounced).
  A rebuild reads its months' listing entries and stories (a Query per month, a BatchGetItem per
  100), never the whole site.
- pagefind/shards.json, the public manifest, lists the shards newest first; the search page reads
  it, searches the newest and merges older ones on request.
- search/shards/<id>.json, each shard's file manifest, holds the MD5 of every file uploaded and
  which fragment holds which story: a rebuild uploads only what changed and deletes what went,
  without listing the bucket, and a story that leaves the site loses its fragment at once (a
  render job, "drop"), before its shard is rebuilt.
- Only what the JS API needs is uploaded: pagefind.js, its worker and WebAssembly, and the index.

The page at /search/ works with JavaScript (our own small script on Pagefind's JS API, all from
this host; only Pagefind's worker may compile WebAssembly) and without it says where to look.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import os
import shutil
import stat
import subprocess
import tempfile
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .. import store as store_module
from ..core import clock, shards
from ..core.observability import logger, metrics
from ..core.status import public
from . import pages
from .outputs import Delete, Output, Put
from .pages import HTML, HTML_CACHE, JS
from .publisher import md5_hex

if TYPE_CHECKING:
    from ..core.jobs import SearchJob
    from ..store import PublicStore

PREFIX = "pagefind/"
MANIFEST_KEY = PREFIX + "shards.json"  # public: the search page reads it
STATE_KEY = "search/shards/{}.json"  # each shard's file manifest (the search job's own)
PAGE_KEY = "search/index.html"
SCRIPT = Path(__file__).with_name("search_page.js")
SCRIPT_KEY = "search/search.{}.js"
LANGUAGE = "en"
# What the JS API loads from a bundle. Pagefind also writes its UI bundles (pagefind-ui.js,
# component and modular UI, highlight: about 400 KB) and a wasm for unknown languages: not uploaded.
RUNTIME = ("pagefind.js", "pagefind-worker.js", f"wasm.{LANGUAGE}.pagefind")
ENTRY = "pagefind-entry.json"
# Files Pagefind names by their content never change: cache them for a year. The entry file,
# the loader and the wasm keep their names across builds: a short cache.
_HASHED_DIRS = ("fragment/", "index/", "filter/")
_TYPES = {".js": JS, ".json": "application/json", ".css": pages.CSS}
_SIGNATURE = b"pagefind_dcd"


def _content_type(name: str) -> str:
    return _TYPES.get(os.path.splitext(name)[1], "application/octet-stream")


def _cache(name: str) -> str:
    hashed = name.startswith(_HASHED_DIRS) or name.endswith(".pf_meta")
    return pages.HASHED_CACHE if hashed else HTML_CACHE


def _wanted(name: str) -> bool:
    return name in RUNTIME or name == ENTRY or name.endswith(".pf_meta") or name.startswith(_HASHED_DIRS)


def bundle_prefix(shard_id: str) -> str:
    return f"{PREFIX}{shard_id}/"


# ---- what the index holds of a story ---------------------------------------------------------


def record(story: Mapping[str, Any], services: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """What the index holds of one published story: public fields only, chosen one by one.

    The searched text is the story's own words. Its services and tags are metadata, shown beside a
    result: as text they made excerpts end in index words ("…Ward 12 (Respiratory). inhaler technique
    medicines.", issue 20); a service's and a tag's stories are on their own pages."""
    names = [services[s]["name"] for s in story.get("services", []) if s in services]
    tags = [t.replace("-", " ") for t in story.get("tags", [])]
    fields = ("title", "story", "good", "improve")
    text = "\n\n".join(p for p in (story.get(f, "") for f in fields) if p)
    published = story.get("published_at", "")
    return {
        "url": f"/stories/{story['id']}/",
        "content": text,
        "language": LANGUAGE,
        "meta": {
            "title": story.get("title", ""),
            "date": pages.long_date(published),
            "services": " · ".join(names),
            "tags": " · ".join(tags),
        },
        # No Pagefind filters: Pagefind writes filter values in hash-map order, so with filters two
        # builds of the same stories differ and every build would upload the whole index again.
        "sort": {"date": published},
    }


def records(store: PublicStore, months: Iterable[str]) -> list[dict[str, Any]]:
    """The published stories first listed in these months, as index records: one Query of the
    "_all" listing per month, then the stories' full text (a BatchGetItem per 100)."""
    entries = [e for m in sorted(months) for e in store.listing_month(store_module.EVERYTHING, m, newest_first=False)]
    stories = store.get_stories([e["id"] for e in entries])
    published = [stories[e["id"]] for e in entries if public(stories.get(e["id"]))]
    services = store.get_services({s for st in published for s in st.get("services", [])}) if published else {}
    return [record(s, services) for s in published]


def record_html(r: dict[str, Any]) -> str:
    """One record as the small HTML page Pagefind reads: its text, and its meta and sort as
    Pagefind's data attributes. Every value is escaped."""
    from html import escape

    # One element a meta: in one attribute, "date:…, services:…" became a date of "1 December 2026,
    # services:Ward 12" (Pagefind reads the first key only), and the search page showed it (issue 20).
    meta = "".join(
        f'<span data-pagefind-meta="{escape(k)}:{escape(v.replace(",", ""))}"></span>'
        for k, v in r["meta"].items()
        if v and k != "title"
    )
    sort = "".join(f'<span data-pagefind-sort="{escape(k)}:{escape(v)}"></span>' for k, v in r["sort"].items() if v)
    paras = "".join(f"<p>{escape(p)}</p>" for p in r["content"].split("\n\n")[1:])
    return (
        f'<!DOCTYPE html><html lang="{LANGUAGE}"><head><meta charset="utf-8"><title>{escape(r["meta"]["title"])}</title></head>'
        f'<body><main data-pagefind-body><h1 data-pagefind-meta="title">{escape(r["meta"]["title"])}</h1>'
        f"{paras}{meta}{sort}</main></body></html>"
    )


# ---- the binary -------------------------------------------------------------------------------


def executable() -> str:
    """Pagefind's binary, runnable. The package sets its execute bit in the zip (tools/package.py);
    if a zip made some other way lost it, a copy in /tmp (Lambda's one writable place) is made
    executable once per warm process, as /var/task is read-only."""
    from pagefind.service import get_executable

    binary = get_executable()
    if binary is None:
        raise RuntimeError("The pagefind binary is missing: pip install 'pagefind[bin]' (requirements.txt)")
    if os.access(binary, os.X_OK):
        return str(binary)
    copy = Path(tempfile.gettempdir()) / "feedforward-pagefind"
    if not os.access(copy, os.X_OK):
        shutil.copyfile(binary, copy)
        copy.chmod(copy.stat().st_mode | stat.S_IXUSR | stat.S_IRUSR)
    return str(copy)


def build_index(recs: list[dict[str, Any]]) -> dict[str, bytes]:
    """Pagefind's files for these records, as the JS API needs them: {name in the bundle: bytes}.

    The records are written as small HTML files and the binary indexes the folder in one run.
    (Pagefind's Python API answers one request per 0.1 s, as it polls the binary's output: a
    record at a time took 100 s for 1,000 stories, one folder through it 12 s, the binary 4 s.)"""
    if not recs:
        return {}  # Pagefind cannot index nothing: the shard has no bundle
    binary = executable()
    with tempfile.TemporaryDirectory(prefix="pagefind-") as tmp:
        site, out = os.path.join(tmp, "site"), os.path.join(tmp, "pagefind")
        os.makedirs(site)
        for r in recs:
            path = Path(site + r["url"]) / "index.html"
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(record_html(r), encoding="utf-8")
        done = subprocess.run(
            [binary, "--site", site, "--output-path", out, "--force-language", LANGUAGE],
            capture_output=True,
            text=True,
            timeout=840,
            check=False,
        )
        if done.returncode != 0:
            raise RuntimeError(f"pagefind failed ({done.returncode}): {done.stderr[-2000:] or done.stdout[-2000:]}")
        files = (p for p in sorted(Path(out).rglob("*")) if p.is_file())
        return {name: p.read_bytes() for p in files if _wanted(name := str(p.relative_to(out)))}


def fragment_url(body: bytes) -> str:
    """The page a fragment is about (a fragment is gzip'd JSON after Pagefind's signature)."""
    data = gzip.decompress(body)
    start = data.index(b"{", len(_SIGNATURE) if data.startswith(_SIGNATURE) else 0)
    return str(json.loads(data[start:]).get("url", ""))


def story_of(url: str) -> str:
    return url.strip("/").removeprefix("stories/")


# ---- the search page -------------------------------------------------------------------------


def script() -> tuple[str, bytes]:
    body = SCRIPT.read_bytes()
    return SCRIPT_KEY.format(hashlib.sha256(body).hexdigest()[:12]), body


def page(script_url: str) -> str:
    # The site's usual policy. Pagefind compiles its WebAssembly in a worker (pagefind-worker.js),
    # and a worker takes its policy from its own response: CloudFront adds 'wasm-unsafe-eval' to
    # /pagefind/* only (infra/template.yaml). The page itself needs none, so vnu can check it.
    return pages.render_page("search.html", robots="noindex", search_js_url=script_url)


def page_outputs() -> list[Put]:
    script_key, script_body = script()
    return [
        Put(PAGE_KEY, page("/" + script_key).encode("utf-8"), HTML, HTML_CACHE),
        Put(script_key, script_body, JS, pages.HASHED_CACHE),
    ]


# ---- shards ----------------------------------------------------------------------------------


def shard_outputs(
    store: PublicStore,
    shard: shards.Shard,
    state: dict[str, Any],
    dropped: Iterable[str] = (),
) -> tuple[list[Output], dict[str, Any]]:
    """One shard rebuilt: the Puts of the files that changed (new content first, the entry that
    names them after), the Deletes of the files that went, and the shard's new file manifest.

    `state` is the manifest of the last build ({} for none). A story in `dropped` left the site
    since: its fragment was deleted without the manifest knowing, so it is uploaded again if the
    story is back."""
    prefix = bundle_prefix(shard["id"])
    files = build_index(records(store, shard["months"]))
    known: dict[str, str] = dict(state.get("files", {}))
    hashed = {n for n in files if n.startswith(_HASHED_DIRS)}
    if known and ENTRY in known and hashed == {n for n in known if n.startswith(_HASHED_DIRS)}:
        # The same index (its files are named by content). Pagefind's meta file can still differ
        # between two builds of the same records (the order of a hash map), and the entry file
        # names the meta: keep the pair already published.
        files = {n: b for n, b in files.items() if n != ENTRY and not n.endswith(".pf_meta")}
        files |= {n: b"" for n in known if n == ENTRY or n.endswith(".pf_meta")}  # kept as they are
    pages_of = {story_of(fragment_url(b)): n for n, b in files.items() if n.startswith("fragment/")}
    gone = set(dropped)
    forced = {n for s, n in pages_of.items() if s in gone}
    new_known = {n: (known[n] if not b else md5_hex(b)) for n, b in files.items()}
    changed = [n for n, b in files.items() if b and (known.get(n) != new_known[n] or n in forced)]
    # Content first, then the meta, then the entry that names it: a browser never finds a name
    # whose file is not there yet.
    order = sorted(changed, key=lambda n: (n == ENTRY, n.endswith(".pf_meta"), n))
    out: list[Output] = [Put(prefix + n, files[n], _content_type(n), _cache(n)) for n in order]
    out += [Delete(prefix + n) for n in sorted(known) if n not in files]
    new_state = {"id": shard["id"], "months": shard["months"], "files": new_known, "pages": pages_of}
    return out, new_state


def state_put(shard_id: str, state: dict[str, Any]) -> Put:
    body = json.dumps(state, sort_keys=True, separators=(",", ":")).encode("utf-8")
    return Put(STATE_KEY.format(shard_id), body, "application/json", "no-store")


def manifest_put(manifest: dict[str, Any]) -> Put:
    body = json.dumps(manifest, separators=(",", ":")).encode("utf-8")
    return Put(MANIFEST_KEY, body, "application/json", HTML_CACHE)


class SearchIndex:
    """The search worker's work, and the render worker's part (a story's fragment, at once)."""

    def __init__(self, store: PublicStore, publisher: Any, shard_limit: int = shards.SHARD_LIMIT):
        self._store = store
        self._publisher = publisher
        self._limit = shard_limit

    def _json(self, key: str) -> dict[str, Any]:
        body = self._publisher.read(key)
        return json.loads(body) if body else {}

    def manifest(self) -> dict[str, Any]:
        return self._json(MANIFEST_KEY) or {"version": 1, "page": "", "shards": []}

    # ---- the search worker ----------------------------------------------------------------

    def update(self, jobs: Iterable[SearchJob]) -> dict[str, int]:
        """Rebuild the shards of these jobs' months (and any the layout changed), then the manifest."""
        jobs = list(jobs)
        return self.write(self.plan({j.month for j in jobs}, {j.gone for j in jobs if j.gone}))

    def rebuild_all(self) -> list[Output]:
        """Every shard and the search page, for the full rebuild (it uploads what changed)."""
        return self.plan(None, set())

    def plan(self, months: set[str] | None, dropped: set[str]) -> list[Output]:
        """The outputs of rebuilding the shards that hold `months` (None: every shard), those the
        layout added or changed, and the deletion of shards that are gone (the last month's hot
        shard, once that month is in a frozen one). The search page comes too when it (or its
        script) changed. The manifest is written after every shard it names, and shards are deleted after it."""
        manifest = self.manifest()
        first = not manifest["shards"]
        previous: list[shards.Shard] = [
            {"id": s["id"], "months": s["months"], "stories": s.get("stories", 0)} for s in manifest["shards"]
        ]
        counts = self._store.figures(store_module.EVERYTHING, consistent=True)["months"]
        layout = shards.plan(previous, counts, clock.iso()[:7], self._limit)
        before = {s["id"]: s["months"] for s in previous}
        bundles = {s["id"]: s.get("bundle", "") for s in manifest["shards"]}
        page_puts = page_outputs()
        page_md5 = md5_hex(b"".join(p.body for p in page_puts))
        out: list[Output] = [*page_puts] if manifest.get("page") != page_md5 else []
        entries: list[dict[str, Any]] = []
        for shard in layout:
            stale = months is None or before.get(shard["id"]) != shard["months"] or bool(set(shard["months"]) & months)
            if stale:
                state = self._json(STATE_KEY.format(shard["id"]))
                built, new_state = shard_outputs(self._store, shard, state, dropped)
                out += built
                if new_state != state and (new_state["files"] or state):
                    out.append(state_put(shard["id"], new_state))
                bundle = "/" + bundle_prefix(shard["id"]) if ENTRY in new_state["files"] else ""
            else:
                bundle = bundles.get(shard["id"], "")
            entries.append({**shard, "bundle": bundle})
        new_manifest = {"version": 1, "page": page_md5, "shards": entries}
        if new_manifest != manifest:
            out.append(manifest_put(new_manifest))
        for gone in sorted(set(before) - {s["id"] for s in layout}):
            state = self._json(STATE_KEY.format(gone))
            out += [Delete(bundle_prefix(gone) + n) for n in sorted(state.get("files", {}))]
            out.append(Delete(STATE_KEY.format(gone)))
        if first:
            # No manifest yet: what an older layout (one index for the whole site) left under
            # pagefind/ goes. One listing, once; every later build knows its files.
            written = {o.key for o in out}
            out += [Delete(k) for k in sorted(self._publisher.etags(PREFIX)) if k not in written]
        return out

    def write(self, outputs: list[Output]) -> dict[str, int]:
        counts = {"uploaded": 0, "deleted": 0}
        for o in outputs:
            if isinstance(o, Delete):
                self._publisher.delete(o.key)
                counts["deleted"] += 1
            else:
                self._publisher.put(o.key, o.body, o.content_type, o.cache_control)
                counts["uploaded"] += 1
        logger.info("search shards rebuilt", extra=counts)
        metrics.add_metric(name="SearchFilesUploaded", unit="Count", value=counts["uploaded"])
        return counts

    # ---- the render worker: a story that left the site leaves search at once -----------------

    def drop(self, ref: str) -> list[Output]:
        """ref "<YYYY-MM>/<story id>": delete that story's fragment now, unless it is public again.
        Its words stay in the shard's index chunks until the shard's rebuild (a SearchJob queued
        with this job), but nothing a browser can fetch holds its text, and no result shows it."""
        month, _, story_id = ref.partition("/")
        story = self._store.get_story(story_id, consistent=True)
        if public(story):
            return []
        shard = shards.shard_of(self.manifest()["shards"], month)
        if not shard:
            return []
        fragment = self._json(STATE_KEY.format(shard["id"])).get("pages", {}).get(story_id)
        return [Delete(bundle_prefix(shard["id"]) + fragment)] if fragment else []
