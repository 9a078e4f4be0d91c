"""The author's private page: where their story is, in plain words. Reached by a capability link."""

from __future__ import annotations

from typing import Any

from . import pages

STATUS_WORDS = {
    "pending": ("Waiting for a moderator", "A moderator will read your story before it is published. "
                "They check it for names, dates of birth and contact details before it is published."),
    "published": ("Published", "Your story is on FeedForward for everyone to read. Staff who look after the "
                  "services you named have been told about it."),
    "held": ("We are taking a careful look", "Something in your story made us want to take a careful look before "
             "we publish it. A moderator may contact you."),
    "rejected": ("Not published", "A moderator decided not to publish your story."),
    "withdrawn": ("Withdrawn", "Your story has been withdrawn. It is no longer on FeedForward."),
}


def author_page(token: str, links: Any, store: Any, settings: Any) -> str:
    """The private status page for one author. An unknown, expired or revoked token raises NotFound."""
    found = links.resolve(token, "author")
    story = store.get_story(found["story_id"], consistent=True)
    if not story:
        from ..errors import NotFound
        from ..links import NOT_VALID

        raise NotFound(NOT_VALID)
    status = story.get("status", "pending")
    heading, explanation = STATUS_WORDS.get(status, (status.capitalize(), ""))
    site = settings.site_url.rstrip("/")
    view = {
        "id": story["id"],
        "title": story.get("title", ""),
        "story": story.get("story", ""),
        "good": story.get("good", ""),
        "improve": story.get("improve", ""),
        "pseudonym": story.get("pseudonym", ""),
        "role": pages.role_label(story.get("role")),
        "experience": pages.month_year(story.get("experience")),
        "submitted_at": story.get("submitted_at", ""),
        "published_at": story.get("published_at", ""),
        "feelings": [pages.feeling_label(f) for f in story.get("feelings", [])],
    }
    return pages.render_page(
        "author.html",
        site_base=site,
        robots="noindex",
        story=view,
        status=status,
        status_heading=heading,
        status_explanation=explanation,
        # Only a rejection's reason is for the author; a hold's note is for moderators.
        reason=story.get("decision_note", "") if status == "rejected" else "",
        edited=bool(story.get("edited_fields")) and status == "published",
        public_url=f"{site}/stories/{story['id']}/" if status == "published" else "",
    )
