"""What the board sees (issue 15): a lead's report on their organisation's stories, its export, the
choice to get the monthly board report, and the scheduled run that queues that email.

Every step takes the lead's "manage your organisation" link (organisations.lead_of: the holder must
still be an active lead of the organisation it was issued for), and every service asked about must
be in that organisation's tree: a lead of one organisation never sees another's stories.

A report reads the chosen service's listing (its whole subtree: a story is listed on every ancestor
of its services) by publication date, then the stories themselves for their staff-only fields
(store.published_stories): a fixed number of calls per 100 stories, never a Scan. Staff see one
stream (issue 21): a story pulled in from a source not licensed for republication is in the report,
the export and the figures (core/reporting.py sums figures.facts) like any other, marked with its
source and a link to the original, and never linked to a public page it does not have. Only the
chart, the public site's own counter, leaves it out. The methods return data; the edge renders it
(edge/reports.py).
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING, Any

from .core import calendar, clock, reporting
from .core.errors import NotFound, ValidationFailed
from .core.jobs import MailJob
from .core.observability import logger, metrics
from .core.status import Access, ItemStatus, SubscriberStatus
from .links import NOT_VALID

if TYPE_CHECKING:
    from .core.jobs import Queues
    from .core.settings import Settings
    from .organisations import Organisations
    from .store import ReportStore, Story

# The most stories one period of a report reads (a 10,000-story organisation's year fits twice).
MOST = 20_000
# Stories listed on the page (the export has them all).
LISTED = 50
# Threads read at once for an export: one Query per responded story, so a year's export of a big
# organisation is seconds, not minutes (boto3 clients are safe to share between threads).
THREADS = 8
EXPORT_COLUMNS = (
    "id",
    "url",
    "title",
    "published_at",
    "experience",
    "role",
    "pseudonym",
    "story",
    "good",
    "improve",
    "feelings",
    "services",
    "service_paths",
    "tags",
    "route",
    "source",
    "source_url",
    "staff_only",
    "criticality",
    "progress",
    "first_read_at",
    "first_response_at",
    "change_planned_at",
    "change_made_at",
    "response_due_at",
    "overdue_at",
    "overdue_now",
    "change_verdict",
    "me_too_count",
    "responders",
    "responses",
)


@dataclass(frozen=True)
class Viewer:
    """Who is asking, and what they may see: a lead sees their whole organisation (roots = the
    organisation); any other member the services they follow, with everything under them."""

    person: Any
    organisation: str
    roots: tuple[str, ...]
    lead: bool


class Reports:
    def __init__(self, store: ReportStore, organisations: Organisations, settings: Settings, queues: Queues):
        self._store = store
        self._organisations = organisations
        self._settings = settings
        self._queues = queues

    # ---- the report (GET: changes nothing) -------------------------------------------------------

    def report(self, token: str, params: dict[str, Any]) -> dict[str, Any]:
        """A lead's report on their organisation (their "manage your organisation" link)."""
        return self._report(self._lead(token), params)

    def member_report(self, token: str, params: dict[str, Any]) -> dict[str, Any]:
        """Any member's report on the services they follow (their "manage your alerts" link)."""
        return self._report(self._member(token), params)

    def _report(self, viewer: Viewer, params: dict[str, Any]) -> dict[str, Any]:
        """The report page's data: the query, the figures now and before, each sub-service's figures
        (only with MIN_STORIES stories), the months of the chart, and the newest stories."""
        person, org = viewer.person, viewer.organisation
        query, service = self._ask(viewer, params)
        chosen, before, complete = self._read(service["slug"], query)
        children = self._store.children(service["slug"])
        paths = {slug: s.get("path") or [slug] for slug, s in self._services(chosen).items()}
        now_figures, before_figures = reporting.tally(chosen), reporting.tally(before)
        services = self._store.get_services({*service.get("path", []), service["slug"], org, *viewer.roots})
        # The way down to the chosen service, from the highest one this person may see.
        trail = [
            services[s]
            for s in service.get("path", [])
            if s in services and s != service["slug"] and _within(services[s], viewer.roots)
        ]
        others = [
            services[r] for r in viewer.roots if r in services and r != service["slug"] and services[r] not in trail
        ]
        metrics.add_metric(name="ReportViewed", unit="Count", value=1)
        logger.info("report viewed", extra={"member_id": person["id"], "lead": viewer.lead, "stories": len(chosen)})
        return {
            "organisation": {
                "slug": org,
                "name": services.get(org, {}).get("name") or person.get("organisation_name", org),
            },
            "lead": {
                "id": person["id"],
                "name": person.get("name", ""),
                "board_report": person.get("board_report") is not False,
            }
            if viewer.lead
            else None,
            "member": {"id": person["id"], "name": person.get("name", "")},
            "query": query,
            "params": query.params(),
            "service": {"slug": service["slug"], "name": service.get("name", service["slug"])},
            "choices": {
                "services": [{"slug": s["slug"], "name": s.get("name", s["slug"]), "depth": 0} for s in others]
                + [
                    {"slug": s["slug"], "name": s.get("name", s["slug"]), "depth": i}
                    for i, s in enumerate([*trail, service])
                ]
                + [{"slug": c["slug"], "name": c.get("name", c["slug"]), "depth": len(trail) + 1} for c in children],
                "tags": self._store.registered_names("tags"),
            },
            "figures": now_figures,
            "before_figures": before_figures,
            "comparison": reporting.compare(now_figures, before_figures),
            "enough": now_figures["stories"] >= reporting.MIN_STORIES,
            "by_service": reporting.by_service(chosen, children, paths),
            "months": self._store.figures(service["slug"]).get("months", {}),
            "stories": [self._line(s, paths) for s in chosen[:LISTED]],
            "more": max(0, len(chosen) - LISTED),
            "complete": complete,
            "min_stories": reporting.MIN_STORIES,
        }

    def export(self, token: str, params: dict[str, Any]) -> dict[str, Any]:
        """A lead's export (see _export)."""
        return self._export(self._lead(token), params)

    def member_export(self, token: str, params: dict[str, Any]) -> dict[str, Any]:
        """A member's export, of the services they follow (see _export)."""
        return self._export(self._member(token), params)

    def _export(self, viewer: Viewer, params: dict[str, Any]) -> dict[str, Any]:
        """Every story the report's filters choose, one row each: public fields, service paths, tags,
        criticality, progress dates, and the published responses with who wrote them. Never the
        author's contact details (never read: they live apart, under PRIVATE#<id>)."""
        org = viewer.organisation
        query, service = self._ask(viewer, params)
        chosen, _, complete = self._read(service["slug"], query, before=False)
        services = self._services(chosen)
        threads = self._threads([s["id"] for s in chosen if s.get("first_response_at")])
        rows = [self._row(s, services, threads.get(s["id"], [])) for s in chosen]
        metrics.add_metric(name="ReportExported", unit="Count", value=1)
        logger.info(
            "report exported", extra={"member_id": viewer.person["id"], "lead": viewer.lead, "stories": len(rows)}
        )
        first, last = query.period.first_day.isoformat(), query.period.last_day.isoformat()
        return {
            "header": list(EXPORT_COLUMNS),
            "rows": rows,
            "title": f"{service.get('name', org)} {first} to {last}",
            "filename": f"feedforward-{service['slug']}-{first}-to-{last}",
            "complete": complete,
        }

    # ---- the board report: on or off (POST) -------------------------------------------------------

    def choose(self, token: str, data: dict[str, Any]) -> str:
        """A lead turns their monthly board report on or off."""
        lead, _ = self._organisations.lead_of(token)
        action, wanted = _one(data, "action"), data.get("board_report")
        if action != "board-report":
            raise ValidationFailed([{"field": "action", "message": "Choose what to do"}], data)
        on = _on_off(wanted)
        if on is None:
            raise ValidationFailed([{"field": "board_report", "message": "Choose on or off"}], data)
        self._store.update_subscriber(lead["id"], {"board_report": on})
        logger.info("board report chosen", extra={"lead_id": lead["id"], "on": on})
        return "board-on" if on else "board-off"

    # ---- the monthly run (scheduled) ---------------------------------------------------------------

    def queue_board_reports(self) -> dict[str, Any]:
        """On the first working day of a month (UK time, England and Wales): one board_report job per
        active lead who has not turned it off, ref "<YYYY-MM of last month>:<lead id>", so a run
        repeated that day (or a job delivered twice) sends each lead one email."""
        today = clock.now().astimezone(calendar.uk_zone()).date()
        if today != first_working_day(today):
            return {"queued": 0, "why": "not the first working day of the month"}
        month = reporting.month_period(clock.now()).start.strftime("%Y-%m")
        jobs = []
        for organisation in self._store.children(None):
            for lead in self._store.leads(organisation["slug"]):
                if lead.get("status") == SubscriberStatus.ACTIVE and lead.get("access") == Access.LEAD:
                    if lead.get("board_report") is not False:
                        jobs.append(MailJob(kind="board_report", ref=f"{month}:{lead['id']}"))
        queued = self._queues.send(jobs) if jobs else 0
        metrics.add_metric(name="BoardReportsQueued", unit="Count", value=queued)
        logger.info("board reports queued", extra={"month": month, "queued": queued})
        return {"queued": queued, "month": month}

    # ---- pieces ---------------------------------------------------------------------------------

    def _lead(self, token: str) -> Viewer:
        lead, org = self._organisations.lead_of(token)
        return Viewer(lead, org, (org,), lead=True)

    def _member(self, token: str) -> Viewer:
        """A member who follows nothing in their own organisation has nothing to report on: refused
        like a bad link, as there is no page to show them."""
        person, org, follows = self._organisations.member_of(token)
        services = self._store.get_services(follows) if follows else {}
        roots = tuple(slug for slug in follows if (services.get(slug, {}).get("path") or [""])[0] == org)
        if not roots:
            raise NotFound(NOT_VALID)
        return Viewer(person, org, roots, lead=False)

    def _ask(self, viewer: Viewer, params: dict[str, Any]) -> tuple[reporting.Query, dict[str, Any]]:
        """The query and the service it is about (the viewer's first if none is asked for). The link
        was checked first: a bad link is refused as every bad link is, whatever else is wrong."""
        query = reporting.parse_query(params, clock.now())
        slug = query.service or viewer.roots[0]
        service = self._store.get_service(slug)
        if not service or not _within(service, viewer.roots):
            # Another organisation's service, or one this member does not follow, answers like one
            # that does not exist.
            message = "Choose one of your organisation's services" if viewer.lead else "Choose a service you follow"
            raise ValidationFailed([{"field": "service", "message": message}], query.params())
        return query, service

    def _read(self, listing: str, query: reporting.Query, before: bool = True) -> tuple[list[Story], list[Story], bool]:
        stories, complete = self._store.published_stories(listing, query.period.lo, query.period.hi, MOST)
        chosen = [s for s in stories if reporting.matches(s, query, query.period)]
        prior: list[Story] = []
        if before:
            older, done = self._store.published_stories(listing, query.before.lo, query.before.hi, MOST)
            prior = [s for s in older if reporting.matches(s, query, query.before)]
            complete = complete and done
        return chosen, prior, complete

    def _services(self, stories: list[Story]) -> dict[str, dict[str, Any]]:
        return self._store.get_services({svc for s in stories for svc in s.get("services") or []})

    def _threads(self, story_ids: list[str]) -> dict[str, list[dict[str, Any]]]:
        """Each story's published responses, oldest first (one Query per story, THREADS at once)."""

        def responses(story_id: str) -> tuple[str, list[dict[str, Any]]]:
            items = self._store.story_thread(story_id)
            mine = [dict(i) for i in items if i.get("item") == "response" and i.get("status") == ItemStatus.PUBLISHED]
            return story_id, sorted(mine, key=lambda r: r.get("published_at") or r.get("created_at", ""))

        if len(story_ids) < 2:
            return dict(responses(s) for s in story_ids)
        with ThreadPoolExecutor(max_workers=THREADS) as pool:
            return dict(pool.map(responses, story_ids))

    def _url(self, story: Story) -> str:
        """Its public page; none for a story kept for staff only, whose page would say "no longer available"."""
        return "" if story.get("staff_only") else f"{self._settings.site_url.rstrip('/')}/stories/{story['id']}/"

    def _line(self, story: Story, paths: dict[str, list[str]]) -> dict[str, Any]:
        source = story.get("source") or {}
        return {
            "id": story["id"],
            "url": self._url(story),
            "source": {"name": source.get("name", ""), "url": source.get("url", "")} if source else None,
            "staff_only": bool(story.get("staff_only")),
            "title": story.get("title", ""),
            "published_at": story.get("published_at", ""),
            "services": story.get("services", []),
            "criticality": int(story.get("criticality") or 0),
            "progress": reporting.PROGRESS[reporting.progress_key(story)],
            "overdue": reporting.is_overdue(story),
            "tags": story.get("tags", []),
        }

    def _row(self, story: Story, services: dict[str, dict[str, Any]], responses: list[dict[str, Any]]) -> list[Any]:
        def name(slug: str) -> str:
            return str(services.get(slug, {}).get("name", slug))

        def path(slug: str) -> str:
            # The service item carries its ancestors' names (its trail): no further read.
            trail = [t.get("name", t.get("slug", "")) for t in services.get(slug, {}).get("trail") or []]
            return " > ".join([*trail, name(slug)])

        def who(r: dict[str, Any]) -> str:
            return ", ".join(p for p in (r.get("name", ""), r.get("role", ""), r.get("organisation_name", "")) if p)

        mine = story.get("services") or []
        source = story.get("source") or {}
        values: dict[str, Any] = {
            "url": self._url(story),
            "source": source.get("name", ""),
            "source_url": source.get("url", ""),
            "staff_only": "yes" if story.get("staff_only") else "no",
            "feelings": ", ".join(story.get("feelings") or []),
            "services": "; ".join(name(s) for s in mine),
            "service_paths": "; ".join(path(s) for s in mine),
            "tags": ", ".join(story.get("tags") or []),
            "route": story.get("route") or "web",
            "criticality": int(story.get("criticality") or 0),
            "progress": reporting.PROGRESS[reporting.progress_key(story)],
            "overdue_now": "yes" if reporting.is_overdue(story) else "no",
            "me_too_count": int(story.get("me_too_count") or 0),
            "responders": "; ".join(who(r) for r in responses),
            "responses": "\n\n".join(
                f"{who(r)} ({(r.get('published_at') or r.get('created_at', ''))[:10]}): {r.get('text', '')}"
                + (
                    f"\nChange {r['change']}: {r.get('change_description', '')}"
                    if r.get("change") in ("planned", "made")
                    else ""
                )
                for r in responses
            ),
        }
        story_fields: dict[str, Any] = dict(story)
        return [values[c] if c in values else story_fields.get(c, "") for c in EXPORT_COLUMNS]


def first_working_day(day: date) -> date:
    """The first working day (England and Wales) of day's month."""
    first = day.replace(day=1)
    while not calendar.is_working_day(first):
        first = first.replace(day=first.day + 1)
    return first


def _within(service: dict[str, Any], roots: tuple[str, ...]) -> bool:
    """Is this service one of the roots or under one (its path holds its ancestors and itself)?"""
    return bool(set(service.get("path") or [service.get("slug", "")]) & set(roots))


def _one(data: dict[str, Any], name: str) -> str:
    value = data.get(name, "")
    if isinstance(value, list):
        value = value[-1] if value else ""
    return str(value).strip() if value is not None else ""


def _on_off(value: Any) -> bool | None:
    if isinstance(value, list):
        value = value[-1] if value else None
    if isinstance(value, bool):
        return value
    return {"on": True, "off": False, "true": True, "false": False}.get(str(value).strip().lower())
