"""The full rebuild, fanned out (issue 17): a planner that queues the rebuild's render jobs in
batches for the render workers, which skip unchanged objects, and deletes orphaned archive pages.

The plan is made in steps, each bounded whatever the site's size, so that a job on the render
queue (`RenderJob(page="rebuild")`, from the CLI, the console or anything that can send to SQS)
runs one step and queues the steps that follow:
  ""               the fixed pages: static, home, every service, every tag, every month's sitemap,
                   and every month archive of every listing (from the listings' counters);
  "stories/<after>" one page of the everything listing: its stories' pages;
  "keys/<after>"    one ListObjectsV2 page of the bucket (keys and ETags, never a body): pages that
                   nothing lists any more. A story, service or tag page is given its job (which
                   replaces or deletes it); an archive page past its month's last is deleted here.
`tools.ff plan-rebuild` runs the same steps in one process, with a progress bar.

Each render job is marked `skip_unchanged`: the worker asks S3 for the object's ETag (HeadObject,
the MD5 of a simple put) and puts only what differs, so a rebuild with nothing changed uploads 0
objects and reads no object body.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from .. import store as store_module
from ..core.jobs import RenderJob
from ..core.observability import logger
from ..core.status import public as is_public
from .archives import ARCHIVE_PAGE

if TYPE_CHECKING:
    from ..core.settings import Settings
    from ..store import PublicStore

STORIES_PER_STEP = 1000  # one listing Query page, and one SendMessageBatch per ten of them
KEYS_PER_STEP = 1000  # one ListObjectsV2 page


@dataclass
class Step:
    jobs: list[RenderJob] = field(default_factory=list)  # render jobs to queue, each skip_unchanged
    deleted: list[str] = field(default_factory=list)  # orphaned archive pages deleted by the step
    next: list[str] = field(default_factory=list)  # the steps that follow


def _rebuild(jobs: Iterable[RenderJob]) -> list[RenderJob]:
    return [job.model_copy(update={"skip_unchanged": True}) for job in jobs]


class RebuildPlanner:
    def __init__(self, store: PublicStore, publisher: Any, queues: Any, settings: Settings):
        self._store = store
        self._publisher = publisher
        self._queues = queues
        self._settings = settings

    def run(self, ref: str) -> dict[str, int]:
        """The worker's side: one step, its jobs and the next steps queued (one SendMessageBatch per ten)."""
        step = self.step(ref)
        self._queues.send([*step.jobs, *(RenderJob(page="rebuild", ref=n) for n in step.next)])
        counts = {"jobs": len(step.jobs), "deleted": len(step.deleted), "next": len(step.next)}
        logger.info("rebuild step planned", extra={"step": ref or "fixed", **counts})
        return counts

    def step(self, ref: str) -> Step:
        kind, _, after = ref.partition("/")
        if not ref:
            return Step(_rebuild(self._fixed()), [], ["stories/", "keys/"])
        if kind == "stories":
            return self._stories(after)
        if kind == "keys":
            return self._keys(after)
        raise ValueError(f"no rebuild step {ref!r}")

    # ---- the steps -------------------------------------------------------------------------------

    def _walk(self, parent: str | None) -> Iterable[dict[str, Any]]:
        for child in self._store.children(parent):
            yield child
            yield from self._walk(child["slug"])

    def _fixed(self) -> list[RenderJob]:
        services = [s["slug"] for s in self._walk(None)]
        tags = sorted(self._store.registered_names("tags"))
        months = sorted(self._store.registered_names("months"))
        jobs = [RenderJob(page="static"), RenderJob(page="home")]
        jobs += [RenderJob(page="service", ref=s) for s in services]
        jobs += [RenderJob(page="tag", ref=t) for t in tags]
        jobs += [RenderJob(page="sitemap", ref=m) for m in months]
        for name in [store_module.EVERYTHING, *services, *(store_module.tag_list(t) for t in tags)]:
            jobs += [RenderJob(page="archive", ref=f"{name}/{m}") for m in sorted(self._store.figures(name)["months"])]
        return jobs

    def _stories(self, after: str) -> Step:
        entries, cursor = self._store.listing_page(store_module.EVERYTHING, STORIES_PER_STEP, after=after or None)
        jobs = _rebuild(RenderJob(page="story", ref=e["id"]) for e in entries)
        return Step(jobs, [], [f"stories/{cursor}"] if cursor else [])

    def _keys(self, after: str) -> Step:
        keys, more = self._publisher.keys_page(after, KEYS_PER_STEP)
        named: dict[str, set[str]] = {"stories": set(), "services": set(), "tags": set()}
        archives: list[tuple[str, Any]] = []
        for key in keys:
            parts = key.split("/")
            if len(parts) == 3 and parts[2] == "index.html" and parts[0] in named:
                named[parts[0]].add(parts[1])
            elif match := ARCHIVE_PAGE.match(key):
                archives.append((key, match))
        stories, services, tags = named["stories"], named["services"], named["tags"]
        found = self._store.get_stories(stories) if stories else {}
        public = {i for i, story in found.items() if is_public(story)}  # the listing's step
        jobs = [RenderJob(page="story", ref=i) for i in sorted(stories) if i not in public]
        known = self._store.get_services(services) if services else {}
        jobs += [RenderJob(page="service", ref=s) for s in sorted(services) if s not in known]
        registered = set(self._store.registered_names("tags")) if tags else set()
        jobs += [RenderJob(page="tag", ref=t) for t in sorted(tags) if t not in registered]
        deleted = self._orphaned_archives(archives)
        for key in deleted:
            self._publisher.delete(key)
        return Step(_rebuild(jobs), deleted, [f"keys/{keys[-1]}"] if more and keys else [])

    def _orphaned_archives(self, archives: list[tuple[str, Any]]) -> list[str]:
        """Archive pages past the last page of their month (the counter says how many stories it has)."""
        size = self._settings.stories_per_page
        counters: dict[str, dict[str, Any]] = {}
        out = []
        for key, match in archives:
            prefix, month, page = match.group(1), match.group(2), int(match.group(3) or 1)
            if prefix == "archive":
                listing = store_module.EVERYTHING
            elif prefix.startswith("tags/"):
                listing = store_module.tag_list(prefix.removeprefix("tags/"))
            else:
                listing = prefix.removeprefix("services/")
            if listing not in counters:
                counters[listing] = self._store.figures(listing)
            n = int(counters[listing]["months"].get(month, 0))
            if page > max(1, math.ceil(n / size)) or n == 0:
                out.append(key)
        return out
