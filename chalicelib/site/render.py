"""The render worker: one RenderJob becomes the S3 objects of one page, and a full rebuild.

Each job reads a fixed, small number of items (a story and its services; a service, its
children and one page of its listing), so publishing one story costs the same at any size.
A job run twice writes the same bytes: jobs are idempotent.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from contextlib import nullcontext
from typing import TYPE_CHECKING, Any

from .. import store as store_module
from ..core import clock, figures, i18n
from ..core.concerns import PLACEHOLDER, placeholder
from ..core.jobs import RenderJob
from ..core.observability import logger
from ..core.status import Status, public
from ..views import (
    conversation,
    listing_entry_view,
    service_link,
    service_name,
    service_promise,
    story_extras,
    story_view,
)
from . import feeds, pages, places, search, websub, widget
from .archives import ARCHIVE_PAGE, archive_key, archive_path, figures_view, listing_prefix
from .forms import FORM_FOR_SERVICE_KEY, directory_groups, form_context, form_for_service_pages
from .outputs import Delete, Output, Put, gone, localised
from .outputs import page as html_page
from .pages import HTML_CACHE, TEXT
from .subscribe import check_email_page, signup_page

if TYPE_CHECKING:
    from ..core.settings import Settings
    from ..store import ListingEntry, PublicStore

STORY_KEY = "stories/{}/index.html"
SERVICE_KEY = "services/{}/index.html"
HOME_KEY = "index.html"
FORM_KEY = "tell-your-story/index.html"
THANKS_KEY = "thank-you/index.html"
NOT_FOUND_KEY = "404.html"
SUBSCRIBE_KEY = "subscribe/index.html"
CHECK_EMAIL_KEY = "subscribe/check-your-email/index.html"
ROBOTS_KEY = "robots.txt"
WEBSUB_TIMEOUT = 3.0  # seconds: a slow hub must not hold the render worker
TAG_KEY = "tags/{}/index.html"
SITEMAP_KEY = "sitemap.xml"  # the index: the children below
PAGES_SITEMAP_KEY = "sitemaps/pages.xml"  # home, the form, every service (the static job)
TAGS_SITEMAP_KEY = "sitemaps/tags.xml"  # every tag page (each tag job)
MONTH_SITEMAP_KEY = "sitemaps/stories-{}.xml"  # the stories first listed in one month (its sitemap job)
# A child sitemap holds at most 50,000 URLs (sitemaps.org): each page is listed in English and in Welsh.
SITEMAP_LIMIT = 50_000 // len(i18n.LOCALES)

ROBOTS = "User-agent: *\nAllow: /\n\nSitemap: {}/sitemap.xml\n"


def _in_every_language(site: str, urls: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """A sitemap's pages in English and then in Welsh (issue 19): the same addresses under /cy/."""
    site = site.rstrip("/")
    return urls + [(f"{site}{i18n.prefix(loc)}{u.removeprefix(site)}", m) for loc in i18n.LOCALES[1:] for u, m in urls]


def _published(entry: ListingEntry) -> tuple[str, str]:
    return (entry["published_at"], entry["id"])


class SiteRenderer:
    def __init__(self, store: PublicStore, publisher: Any, settings: Settings):
        self._store = store
        self._publisher = publisher
        self._settings = settings

    # ---- the worker -----------------------------------------------------------------------

    def render(self, job: RenderJob) -> list[str]:
        """Build one page and put (or delete) its objects. Returns the keys written or deleted."""
        keys = []
        for out in self.build(job):
            if isinstance(out, Delete):
                if job.skip_unchanged and self._publisher.etag(out.key) is None:
                    continue  # a rebuild's: already absent
                self._publisher.delete(out.key)
            elif job.skip_unchanged:  # a rebuild's: one HeadObject, a put only when the content differs
                if not self._publisher.put_if_changed(out.key, out.body, out.content_type, out.cache_control):
                    continue
            else:
                self._publisher.put(out.key, out.body, out.content_type, out.cache_control)
            keys.append(out.key)
        logger.info("page rendered", extra={"job": job.key, "keys": len(keys)})
        written = [k for k in keys if feeds.is_feed(k)]
        if written and self._settings.websub_hub:  # after the write: the hub fetches what is there now
            site = self._settings.site_url.rstrip("/")
            websub.announce(self._settings.websub_hub, [f"{site}/{k}" for k in written], WEBSUB_TIMEOUT)
        return keys

    def build(self, job: RenderJob) -> list[Output]:
        builders: dict[str, Callable[[str], list[Output]]] = {
            "story": self._story,
            "service": self._service,
            "home": lambda _ref: self._home(),
            "static": lambda _ref: self._static(),
            "tag": self._tag,
            "sitemap": self._month_sitemap,
            "archive": self._archive,
            "search": self._search,  # OUTWARD: Pagefind
            "place": lambda town: places.town_page(self._store, self._settings, town),  # issue 20
        }
        return builders[job.page](job.ref)

    # ---- pages ----------------------------------------------------------------------------

    def _search(self, ref: str) -> list[Output]:
        """ "drop/<month>/<story id>": a story that left the site leaves search at once (its fragment).
        Empty: the search page and every shard (the full rebuild); shards are otherwise the search
        worker's (app.search_worker), rebuilt one at a time."""
        index = search.SearchIndex(self._store, self._publisher, self._settings.search_shard_stories)
        if ref.startswith("drop/"):
            return index.drop(ref.removeprefix("drop/"))
        return index.rebuild_all()

    def _story(self, story_id: str) -> list[Output]:
        key = STORY_KEY.format(story_id)
        # One Query: the story with its read receipts, responses and replies.
        items = self._store.story_thread(story_id)
        story = next((i for i in items if i["item"] == "story"), None)
        if not story or story.get("status") == Status.REMOVED:
            return gone(key)  # removed by a moderator (issue 16): gone, with no placeholder
        if story.get("status") in PLACEHOLDER:
            words = placeholder("story", dict(story))  # hidden until decided, or restricted
            return localised(key, "story_placeholder.html", lambda: {"robots": "noindex", "words": words})
        if not public(story):  # not published, or kept for staff only (issue 21): never a public page
            return localised(key, "story_gone.html", lambda: {"robots": "noindex"})
        services = self._store.get_services(story.get("services", []))
        extras = story_extras(story, items, self._store, self._settings)
        return localised(
            key,
            "story.html",
            lambda: {
                "story": story_view(story, services),
                "conversation": conversation(items),
                "extras": extras,
                # OUTWARD: the API's "Report a concern" form pages (issue 16)
                "report_base": f"{self._settings.api_url.rstrip('/')}/api/stories/{story_id}/concerns",
                "site_url": self._settings.site_url.rstrip("/"),  # OUTWARD: the address to share
            },
        )

    def _service(self, slug: str) -> list[Output]:
        key = SERVICE_KEY.format(slug)
        prefix = f"services/{slug}/"
        service = self._store.get_service(slug)
        if not service:
            feeds_gone = [*(Delete(k) for k in feeds.feed_keys(prefix)), *widget.outputs(slug, None, [])]
            return [*gone(key), *feeds_gone, *gone(FORM_FOR_SERVICE_KEY.format(slug))]  # and its copy of the form
        children = self._store.children(slug)
        listing = self._store.listing(slug, self._settings.stories_per_page)
        services_of = self._listed_services(listing)
        stories = self._entries(listing, services_of)
        feed_title = f"Stories about {service['name']} – FeedForward"
        counter = self._store.figures(slug, consistent=True)
        html = localised(
            key,
            "service.html",
            lambda: {
                "service": {"slug": service["slug"], "name": service_name(service), "kind": service.get("kind", "")},
                "trail": [service_link(a) for a in service.get("trail", [])],
                "children": [{"slug": c["slug"], "name": service_name(c), "kind": c.get("kind", "")} for c in children],
                "stories": self._entries(listing, services_of),
                "feeds": feeds.feed_links(prefix, feed_title),
                "site_url": self._settings.site_url.rstrip("/"),  # OUTWARD: the embed snippet's and feeds' addresses
                "figures": figures_view(slug, counter, clock.now()),
                # The service's own promise, when it has one (pages/_promise.html, if present, shows it).
                "promise": service_promise(service),
                "filters": places.filter_links(self._settings, slug, listing),  # issue 20
            },
        )
        return [
            *html,
            *self._feeds(feed_title, f"/{prefix}", prefix, listing),
            *widget.outputs(slug, service, stories),
        ]

    def _home(self) -> list[Output]:
        listing = self._store.listing(store_module.EVERYTHING, self._settings.stories_per_page)
        services_of = self._listed_services(listing)
        tops = self._store.children(None)
        title = "Latest stories – FeedForward"
        counter = self._store.figures(store_module.EVERYTHING, consistent=True)
        html = localised(
            HOME_KEY,
            "home.html",
            lambda: {
                "stories": self._entries(listing, services_of),
                "organisations": [
                    {"slug": c["slug"], "name": service_name(c), "kind": c.get("kind", "")} for c in tops
                ],
                "feeds": feeds.feed_links("", title),
                "site_url": self._settings.site_url.rstrip("/"),  # OUTWARD: the feeds' absolute addresses
                "figures": figures_view(store_module.EVERYTHING, counter, clock.now()),
                "find_place": places.find_address(self._settings),
                "place_value": "",
                "place_error": "",
            },
        )
        return [*html, *self._feeds(title, "/", "", listing), self._sitemap_index()]

    # ---- month archives ---------------------------------------------------------------------

    def _archive(self, ref: str) -> list[Output]:
        """A listing's archive for one month. "<listing>/<month>/since/<published_at>#<id>" builds
        the pages from that newly published story's page to the newest (and the page before, which
        gains a link, when it starts a page), from one Query of the newest two pages: publishing
        costs the same at any size. Stories published before the job ran are on those pages too; if
        they reach further back, or the counter and the listing disagree, the whole month is built,
        as "<listing>/<month>" always does."""
        listing, month, *rest = ref.split("/")
        size = self._settings.stories_per_page
        built: dict[int, list[ListingEntry]] = {}
        total = 0
        whole = rest[:1] not in (["since"], ["latest"])
        if not whole:
            since = tuple(rest[1].split("#", 1)) if rest[0] == "since" and len(rest) > 1 else None
            n = int(self._store.figures(listing, consistent=True)["months"].get(month, 0))
            total = math.ceil(n / size)
            newest = n - (total - 1) * size
            want = min(n, newest + size)
            items = self._store.listing_month(listing, month, limit=want) if n else []
            # The stories published since (and with) the named one are the newest `fresh`.
            fresh = sum(1 for e in items if (e["published_at"], e["id"]) >= since) if since else 1
            position = n - fresh + 1  # the oldest of them, counted from the month's first story
            first = min(total, math.ceil(position / size) - (1 if position > 1 and (position - 1) % size == 0 else 0))
            known = fresh < len(items) or len(items) == n  # else it may lie further back than was read
            if n and len(items) == want and known and first >= max(1, total - 1):
                read = {total: items[:newest], total - 1: items[newest:]}
                built = {p: read[p] for p in range(first, total + 1)}
            else:
                whole = True
        if whole:
            items = self._store.listing_month(listing, month, newest_first=False)
            total = math.ceil(len(items) / size)
            built = {p: items[(p - 1) * size : p * size][::-1] for p in range(1, total + 1)}
        # One BatchGetItem: the stories' services and, for a service's archive, the service itself.
        own = {listing} if not listing.startswith("tag:") and listing != store_module.EVERYTHING else set()
        services = self._store.get_services(
            own | {s for page in built.values() for e in page for s in e.get("services", [])}
        )
        out: list[Output] = []
        for p in sorted(built):

            def context(p: int = p) -> dict[str, Any]:
                return {
                    "listing": self._listing_head(listing, services),
                    "month": {"value": month, "label": pages.month_year(month)},
                    "page": p,
                    # Archive pages leave progress out, so a response re-renders none of them. Oldest
                    # first, as the pages are numbered: a month reads in the order it was published.
                    "stories": [
                        listing_entry_view(e, services) | {"progress": ""} for e in sorted(built[p], key=_published)
                    ],
                    "older": archive_path(listing, month, p - 1) if p > 1 else "",
                    "newer": archive_path(listing, month, p + 1) if p < total else "",
                }

            out += localised(archive_key(listing, month, p), "archive.html", context)
        if whole:
            out += gone(archive_key(listing, month, total + 1))  # a page a withdrawal emptied
        return out

    def _listing_head(self, listing: str, services: dict[str, dict[str, Any]]) -> dict[str, Any]:
        """What an archive page says of its listing: a name, where it lives, and the trail to it."""
        if listing == store_module.EVERYTHING:
            return {
                "name": i18n.gettext("all services"),
                "href": "/",
                "trail": [],
                "current": i18n.gettext("All stories"),
            }
        if listing.startswith("tag:"):
            label = listing.removeprefix("tag:").replace("-", " ")
            return {
                "name": label,
                "href": "/" + listing_prefix(listing),
                "trail": [],
                "current": i18n.gettext("Stories about %(tag)s") % {"tag": label},
            }
        svc = services.get(listing) or {"slug": listing, "name": listing, "trail": []}
        trail = [service_link(a) for a in [*svc.get("trail", []), svc]]
        return {"name": service_name(svc), "href": "/" + listing_prefix(listing), "trail": trail, "current": ""}

    # ---- tags, feeds and sitemaps ---------------------------------------------------------

    def _tag(self, tag: str) -> list[Output]:
        """A tag's page and feeds. A tag with no published story keeps an empty page and
        empty feeds, so a feed reader that follows it gets a valid feed, not a 404."""
        prefix = f"tags/{tag}/"
        listing = self._store.listing(store_module.tag_list(tag), self._settings.stories_per_page)
        label = tag.replace("-", " ")
        title = f"Stories about {label} – FeedForward"
        name = store_module.tag_list(tag)
        months = figures.summary(self._store.figures(name, consistent=True))["months"]
        services_of = self._listed_services(listing)
        html = localised(
            TAG_KEY.format(tag),
            "tag.html",
            lambda: {
                "tag": {"slug": tag, "label": label},
                "stories": self._entries(listing, services_of),
                "feeds": feeds.feed_links(prefix, title),
                "site_url": self._settings.site_url.rstrip("/"),
                "archive": [
                    {"label": pages.month_year(m), "count": n, "href": archive_path(name, m)}
                    for m, n in sorted(months.items(), reverse=True)
                ],
            },
        )
        return [
            *html,
            *self._feeds(title, f"/{prefix}", prefix, listing),
            self._tags_sitemap(),
        ]

    def _feeds(self, title: str, page_path: str, prefix: str, listing: list[ListingEntry]) -> list[Output]:
        site, hub = self._settings.site_url, self._settings.websub_hub
        atom_key, json_key = feeds.feed_keys(prefix)
        return [
            Put(atom_key, feeds.atom(site, title, page_path, prefix, listing, hub), feeds.ATOM, HTML_CACHE),
            Put(json_key, feeds.json_feed(site, title, page_path, prefix, listing, hub), feeds.JSON_FEED, HTML_CACHE),
        ]

    def _sitemap_index(self) -> Put:
        """sitemap.xml: the pages, the tags (once there is one), and one child per month."""
        site = self._settings.site_url
        children = [PAGES_SITEMAP_KEY, places.SITEMAP_KEY]
        if self._store.registered_names("tags", limit=1):
            children.append(TAGS_SITEMAP_KEY)
        children += [MONTH_SITEMAP_KEY.format(m) for m in self._store.registered_names("months")]
        return Put(SITEMAP_KEY, feeds.sitemap_index(f"{site}/{k}" for k in children), feeds.XML, HTML_CACHE)

    def _tags_sitemap(self) -> Put:
        site = self._settings.site_url
        urls = [(f"{site}/tags/{t}/", "") for t in self._store.registered_names("tags")]
        return Put(TAGS_SITEMAP_KEY, feeds.sitemap(_in_every_language(site, urls)), feeds.XML, HTML_CACHE)

    def _month_sitemap(self, month: str) -> list[Output]:
        """A month's child sitemap: its stories, and every page of its archives (everything's, each
        tag's, each service's up the tree), counted from the same entries, so no archive page is
        only reachable by following links."""
        site = self._settings.site_url
        listing = self._store.listing_keys(store_module.month_list(month), SITEMAP_LIMIT)
        urls = [(feeds.story_url(site, e["id"]), pages.iso_date(e.get("published_at"))) for e in listing]
        services = self._store.get_services({s for e in listing for s in e.get("services", [])}) if listing else {}
        counts: dict[str, int] = {}
        for e in listing:
            lists = {store_module.EVERYTHING} | {store_module.tag_list(t) for t in e.get("tags", [])}
            lists |= {slug for s in e.get("services", []) for slug in (services.get(s) or {}).get("path", [])}
            for name in lists:
                counts[name] = counts.get(name, 0) + 1
        size = self._settings.stories_per_page
        urls += [
            (f"{site.rstrip('/')}{archive_path(name, month, p)}", "")
            for name in sorted(counts)
            for p in range(1, math.ceil(counts[name] / size) + 1)
        ]
        return [
            Put(MONTH_SITEMAP_KEY.format(month), feeds.sitemap(_in_every_language(site, urls)), feeds.XML, HTML_CACHE)
        ]

    def _pages_sitemap(self, groups: list[dict[str, Any]]) -> Put:
        site = self._settings.site_url
        urls = [(f"{site}/", ""), (f"{site}/{FORM_KEY.removesuffix('index.html')}", "")]
        urls += [(f"{site}/services/{o['value']}/", "") for g in groups for o in g["options"]]
        return Put(PAGES_SITEMAP_KEY, feeds.sitemap(_in_every_language(site, urls)), feeds.XML, HTML_CACHE)

    def _static(self, groups: list[dict[str, Any]] | None = None) -> list[Output]:
        groups = groups if groups is not None else directory_groups(self._store)
        out: list[Output] = []
        for asset in pages.assets().values():
            out.append(Put(asset.hashed_key, asset.body, asset.content_type, pages.HASHED_CACHE))
            out.append(Put(asset.key, asset.body, asset.content_type, pages.ASSET_CACHE))
        out += localised(FORM_KEY, "form.html", lambda: form_context({}, [], groups, self._settings, script=True))
        out += [html_page(key, page) for key, page in form_for_service_pages(groups, self._settings).items()]
        thanks = {"days": pages.MODERATION_WORKING_DAYS, "moderators_email": self._settings.moderators_email}
        out += localised(THANKS_KEY, "thank_you.html", lambda: thanks)
        out.append(html_page(SUBSCRIBE_KEY, signup_page(groups, self._settings)))
        out.append(html_page(CHECK_EMAIL_KEY, check_email_page(self._settings)))
        out += localised(NOT_FOUND_KEY, "not_found.html", lambda: {"robots": "noindex"})
        out.append(Put(ROBOTS_KEY, ROBOTS.format(self._settings.site_url).encode("utf-8"), TEXT, HTML_CACHE))
        out.append(self._pages_sitemap(groups))
        return out + places.all_pages(self._store, self._settings)  # the towns, from the directory

    def _listed_services(self, listing: list[ListingEntry]) -> dict[str, dict[str, Any]]:
        """The services a list of stories names (one BatchGetItem; none for an empty list)."""
        return self._store.get_services({s for e in listing for s in e.get("services", [])}) if listing else {}

    def _entries(self, listing: list[ListingEntry], services: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
        return [listing_entry_view(e, services) for e in listing]

    # ---- the full rebuild -----------------------------------------------------------------

    def _walk(self, parent: str | None) -> Iterable[dict[str, Any]]:
        for child in self._store.children(parent):
            yield child
            yield from self._walk(child["slug"])

    def rebuild_all(
        self, progress: Callable[[Iterable[RenderJob]], Iterable[RenderJob]] = lambda it: it, workers: int = 1
    ) -> dict[str, int]:
        """Render every page, uploading only objects whose content changed.

        Also visits story, service and tag pages in the bucket that no listing or tree knows any
        more, so pages of withdrawn stories and removed services are replaced or deleted.
        `workers` > 1 builds and uploads that many pages at once, in threads: boto3 clients are
        thread-safe, and each page reads and writes only its own keys of `known`.
        """
        known = self._publisher.etags()
        services = [s["slug"] for s in self._walk(None)]
        everything = self._store.listing(store_module.EVERYTHING, 10**9)
        story_ids = [e["id"] for e in everything]
        seen_stories, seen_services = set(story_ids), set(services)
        seen_places, jobs_first = set(places.known_places(self._store).get("towns", {})), []
        # Tags from the listing entries and the registry (a tag whose stories all went keeps its
        # empty page); months from the registry; and any tag page or month sitemap in the bucket.
        tags = {t for e in everything for t in e.get("tags", [])} | set(self._store.registered_names("tags"))
        months = set(self._store.registered_names("months"))
        for key in known:
            parts = key.split("/")
            if len(parts) == 3 and parts[2] == "index.html":
                if parts[0] == "stories" and parts[1] not in seen_stories:
                    story_ids.append(parts[1])
                    seen_stories.add(parts[1])
                elif parts[0] == "services" and parts[1] not in seen_services:
                    services.append(parts[1])
                    seen_services.add(parts[1])
                elif parts[0] == "tags":
                    tags.add(parts[1])
                elif parts[0] == "places" and parts[1] not in seen_places:  # a town no longer in the directory
                    jobs_first.append(RenderJob(page="place", ref=parts[1]))
            elif (
                len(parts) == 2
                and parts[0] == "sitemaps"
                and parts[1].startswith("stories-")
                and parts[1].endswith(".xml")
            ):
                months.add(parts[1].removeprefix("stories-").removesuffix(".xml"))
        jobs = [RenderJob(page="static"), RenderJob(page="home"), RenderJob(page="search"), *jobs_first]
        jobs += [RenderJob(page="service", ref=s) for s in services]
        jobs += [RenderJob(page="story", ref=i) for i in story_ids]
        jobs += [RenderJob(page="tag", ref=t) for t in sorted(tags)]
        jobs += [RenderJob(page="sitemap", ref=m) for m in sorted(months)]
        # Every month archive of every listing, from the counters (one GetItem a listing); archive
        # pages in the bucket that no job builds any more are deleted below.
        listings = [store_module.EVERYTHING, *services, *(store_module.tag_list(t) for t in sorted(tags))]
        for name in listings:
            for m in sorted(self._store.figures(name)["months"]):
                jobs.append(RenderJob(page="archive", ref=f"{name}/{m}"))
        built: set[str] = set()

        counts = {"jobs": 0, "objects": 0, "uploaded": 0, "unchanged": 0, "deleted": 0}

        def rebuild(job: RenderJob) -> dict[str, int]:
            done = dict.fromkeys(counts, 0) | {"jobs": 1}
            for out in self.build(job):
                built.add(out.key)
                done["objects"] += 1
                if isinstance(out, Delete):
                    if out.key in known:
                        self._publisher.delete(out.key)
                        del known[out.key]
                        done["deleted"] += 1
                    else:
                        done["unchanged"] += 1  # already absent: nothing to do
                elif self._publisher.put_if_changed(
                    out.key, out.body, out.content_type, out.cache_control, known=known
                ):
                    done["uploaded"] += 1
                else:
                    done["unchanged"] += 1
            return done

        with ThreadPoolExecutor(max_workers=workers) if workers > 1 else nullcontext() as pool:
            results = pool.map(rebuild, jobs) if pool else map(rebuild, jobs)
            for _job, done in zip(progress(jobs), results):
                for k, n in done.items():
                    counts[k] += n
        for key in sorted(k for k in list(known) if ARCHIVE_PAGE.match(k) and k not in built):
            self._publisher.delete(key)
            del known[key]
            counts["deleted"] += 1
        logger.info("site rebuilt", extra=counts)
        return counts
