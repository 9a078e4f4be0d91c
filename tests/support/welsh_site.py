"""A small public site in memory for the Welsh site's tests (issue 19): one trust, one ward, one published
story with a conversation, and a render of every public page type in English and in Welsh (or in a
pseudo-locale). Everything a person typed starts with "Zed" (USER_WORDS), so a test can leave it out."""

from __future__ import annotations

import re
from typing import Any

import pytest

from chalicelib.core import i18n
from chalicelib.core.jobs import RenderJob
from chalicelib.core.settings import get_settings
from chalicelib.site.outputs import Put
from chalicelib.site.render import SiteRenderer
from chalicelib.store import EVERYTHING, tag_list

TRUST = {"slug": "zz-trust", "name": "Zedtrust", "name_cy": "Zedymddiriedolaeth", "path": ["zz-trust"], "trail": []}
TRUST["kind"] = "trust"
WARD = {
    "slug": "zz-ward",
    "name": "Zedward",
    "path": ["zz-trust", "zz-ward"],
    "trail": [{"slug": "zz-trust", "name": "Zedtrust", "name_cy": "Zedymddiriedolaeth"}],
    "kind": "ward",
    "name_cy": "Zedward Gymraeg",
    "response_days": 2,
}
STORY = {
    "item": "story",
    "id": "0123456789abcdefg",
    "status": "published",
    "title": "Zedtitle",
    "story": "Zedstory zedwords.",
    "good": "Zedgood.",
    "improve": "Zedimprove.",
    "pseudonym": "Zedname",
    "role": "carer",
    "experience": "2026-06",
    "feelings": ["reassured", "rushed"],
    "services": ["zz-ward"],
    "tags": ["zedtag"],
    "published_at": "2026-11-02T10:00:00Z",
    "first_read_at": "2026-11-03T09:00:00Z",
    "first_response_at": "2026-11-04T09:00:00Z",
    "change_planned_at": "2026-11-04T09:00:00Z",
    "response_days": 2,
    "response_due_at": "2026-11-04T10:00:00Z",
    "me_too_count": 2,
    "me_too_yes": 1,
    "me_too_partly": 1,
    "change_verdict": "partly",
    "change_verdict_at": "2026-11-20T10:00:00Z",
    "moderator_edited_at": "2026-11-02T09:00:00Z",
    "route": "phone",
    "language": "en",
}
THREAD = [
    STORY,
    {"item": "receipt", "id": "r1", "name": "Zedreader", "role": "Zedrole", "read_at": "2026-11-03T09:00:00Z"},
    {
        "item": "response",
        "id": "p1",
        "status": "published",
        "name": "Zedstaff",
        "role": "Zedrole",
        "organisation_name": "Zedtrust",
        "verified": True,
        "published_at": "2026-11-04T09:00:00Z",
        "text": "Zedresponse.",
        "change": "planned",
        "change_description": "Zedchange.",
    },
    {"item": "reply", "id": "q1", "status": "published", "published_at": "2026-11-05T09:00:00Z", "text": "Zedreply."},
]
ENTRY = {k: STORY[k] for k in ("id", "title", "pseudonym", "role", "experience", "published_at", "services", "tags")}
ENTRY |= {"excerpt": "Zedstory zedwords.", "first_read_at": STORY["first_read_at"]}
COUNTER = {"published": 1, "responded": 1, "hours": {"47": 1}, "months": {"2026-11": 1}, "planned": 1}
# The ward's town (issue 20): its page lists the ward and the story.
PLACES = {"towns": {"zedtown": {"name": "Zedtown", "districts": ["Zed1"], "services": [WARD]}}}
PLACES["districts"] = {"Zed1": ["zedtown"]}
USER_WORDS = re.compile(r"\bZed\w*|\bzz-\w+|\S+@\S+", re.I)  # everything a person typed in the fixtures starts so


class SiteStore:
    """What the renderer reads, for one trust, one ward and one published story."""

    def story_thread(self, story_id: str) -> list[dict[str, Any]]:
        return THREAD if story_id == STORY["id"] else []

    def get_story(self, story_id: str, consistent: bool = False) -> dict[str, Any] | None:
        return STORY if story_id == STORY["id"] else None

    def get_service(self, slug: str) -> dict[str, Any] | None:
        return {"zz-trust": TRUST, "zz-ward": WARD}.get(slug)

    def get_services(self, slugs: Any) -> dict[str, dict[str, Any]]:
        return {s: svc for s in slugs if (svc := self.get_service(s))}

    def children(self, parent: str | None) -> list[dict[str, Any]]:
        return {None: [TRUST], "zz-trust": [WARD]}.get(parent, [])

    def listing(self, name: str, limit: int) -> list[dict[str, Any]]:
        return [ENTRY]

    def listing_month(self, name: str, month: str, limit: int | None = None, newest_first: bool = True) -> list:
        return [ENTRY] if month == "2026-11" else []

    def figures(self, name: str, consistent: bool = False) -> dict[str, Any]:
        return COUNTER

    def registered_names(self, kind: str, limit: int | None = None) -> list[str]:
        return {"tags": ["zedtag"], "months": ["2026-11"]}.get(kind, [])

    def get_finder(self) -> dict[str, Any]:
        return {"places": PLACES}  # the place pages' one read (issue 20)


class Publisher:
    def etag(self, key: str) -> None:
        return None


JOBS = [
    RenderJob(page="home"),
    RenderJob(page="story", ref=STORY["id"]),
    RenderJob(page="service", ref="zz-ward"),
    RenderJob(page="tag", ref="zedtag"),
    RenderJob(page="archive", ref=f"{EVERYTHING}/2026-11"),
    RenderJob(page="archive", ref="zz-ward/2026-11"),
    RenderJob(page="archive", ref=f"{tag_list('zedtag')}/2026-11"),
    RenderJob(page="static"),
]
# One key of each public page type (English; Welsh is the same under cy/).
PAGE_TYPES = {
    "home": "index.html",
    "story": f"stories/{STORY['id']}/index.html",
    "service": "services/zz-ward/index.html",
    "tag": "tags/zedtag/index.html",
    "archive": "archive/2026-11/index.html",
    "service archive": "services/zz-ward/2026-11/index.html",
    "tag archive": "tags/zedtag/2026-11/index.html",
    "form": "tell-your-story/index.html",
    "form for a service": "tell-your-story/zz-ward/index.html",
    "thank you": "thank-you/index.html",
    "not found": "404.html",
    "places": "places/index.html",  # issue 20
    "place": "places/zedtown/index.html",
}


def build(translations: Any = None, locale: str | None = None) -> dict[str, str]:
    """Every HTML object the jobs write: key -> page (in `locale` with `translations`, when given, for
    every language the site builds)."""
    renderer = SiteRenderer(SiteStore(), Publisher(), get_settings())  # type: ignore[arg-type]
    out: dict[str, str] = {}
    real = i18n.using
    with pytest.MonkeyPatch.context() as patch:
        if locale:  # every language the site builds becomes the pseudo-locale
            patch.setattr("chalicelib.site.outputs.i18n.using", lambda _locale: real(locale, translations))
        outs = [o for job in JOBS for o in renderer.build(job)]
    for o in outs:
        if isinstance(o, Put) and o.content_type.startswith("text/html"):
            out[o.key] = o.body.decode("utf-8")
    return out
