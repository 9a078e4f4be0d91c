"""Emails to the author of a story, each with a fresh private link, once the author has confirmed
that the address is theirs. Until then, one email in fixed words asks them to (issue 18): no
text a stranger typed, and no private link, goes to an address nobody has confirmed."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ...core import i18n
from ...core.concerns import placeholder
from ...core.jobs import MailJob
from ...core.labels import ROLE_LABELS
from ...core.status import ItemStatus, Status
from .base import Composer, Letter, Letters

GONE = (Status.WITHDRAWN, Status.ERASING)


def _lang_query(story: Mapping[str, Any]) -> str:
    """ "?lang=cy" for a story told in Welsh: the page the confirm link opens speaks the letter's language."""
    locale = i18n.known(story.get("language"))
    return "" if locale == i18n.DEFAULT else f"?lang={locale}"


class AuthorLetters(Letters):
    def composers(self) -> dict[str, Composer]:
        return {
            "author_confirmation": self._confirm_address,
            "author_receipt": lambda job: self._letter(job, "author_receipt"),
            "author_published": lambda job: self._letter(job, "author_published"),
            "author_rejected": lambda job: self._letter(job, "author_rejected"),
            # After a report (issue 16): taken off the site, or shown as a placeholder.
            "author_removed": lambda job: self._letter(job, "author_removed"),
            "author_restricted": self._restricted,
            "author_read": self._read,
            "author_response": self._response,
            "author_message": self._message,
        }

    def _confirm_address(self, job: MailJob) -> Letter | None:
        """Fixed words and a confirm link: nothing from the story, which a stranger may have written."""
        story, contact = self._store.get_story_and_contact(job.story_id)
        if not story or not contact or contact.get("confirmed_at") or story.get("status") in GONE:
            return None
        link = self._links.issue("address", job.story_id, "author", self._settings.confirm_link_days)
        return Letter(
            contact["email"],
            "author_confirmation",
            {
                "confirm_url": f"{self._settings.api_url}/api/confirm/{link}" + _lang_query(story),
                "link_days": self._settings.confirm_link_days,
                "site_url": self._settings.site_url,
                "language": i18n.known(story.get("language")),  # the form's language (issue 19)
            },
        )

    def context(self, job: MailJob) -> tuple[str, dict[str, Any]] | None:
        """(address, template context) for an email to a story's author, or None if there is no one to
        tell: no address, an address its owner has not confirmed, or a story withdrawn or being erased."""
        story, contact = self._store.get_story_and_contact(job.story_id)
        if not story or not contact or not contact.get("confirmed_at") or story.get("status") in GONE:
            return None
        link = self._links.issue("author", job.story_id, "author", self._settings.author_link_days)
        language = i18n.known(story.get("language"))  # letters in the language the story was told in (issue 19)
        return contact["email"], {
            "story": story,
            "role": ROLE_LABELS.get(story.get("role", ""), ""),
            "private_url": f"{self._settings.api_url}/api/my/{link}",
            "story_url": f"{self._settings.site_url}{i18n.prefix(language)}/stories/{job.story_id}/",
            "site_url": self._settings.site_url,
            "link_days": self._settings.author_link_days,
            "language": language,
            "form_path": f"{i18n.prefix(language)}/tell-your-story/",  # "tell it again", in the same language
        }

    def _letter(self, job: MailJob, template: str, **extra: Any) -> Letter | None:
        found = self.context(job)
        return Letter(found[0], template, found[1] | extra) if found else None

    def _restricted(self, job: MailJob) -> Letter | None:
        found = self.context(job)
        if not found or found[1]["story"].get("status") != Status.RESTRICTED:
            return None
        return Letter(
            found[0], "author_restricted", found[1] | {"placeholder": placeholder("story", found[1]["story"])}
        )

    def _read(self, job: MailJob) -> Letter | None:
        """Staff have read the story for the first time: who read it first (as shown in public)."""
        receipts = sorted(
            (i for i in self._store.story_thread(job.story_id) if i["item"] == "read"),
            key=lambda r: r.get("read_at", ""),
        )
        if not receipts:
            return None
        first = receipts[0]
        reader = {k: first.get(k, "") for k in ("name", "role", "service_name", "organisation_name", "read_at")}
        return self._letter(job, "author_read", reader=reader, readers=len(receipts))

    def _response(self, job: MailJob) -> Letter | None:
        """A response was published (ref: its id). Public fields only: never the responder's address."""
        item = self._store.get_thread_item(job.story_id, "response", job.ref) if job.ref else None
        if not item or item.get("status") != ItemStatus.PUBLISHED:
            return None
        keep = ("name", "role", "service_name", "organisation_name", "text", "change", "change_description")
        return self._letter(job, "author_response", response={k: item.get(k, "") for k in keep})

    def _message(self, job: MailJob) -> Letter | None:
        """A moderator's message about a story not yet published (issue 20): its words and the private
        link, where the author can answer. The moderator never sees the address; this letter is sent
        from the mail worker, never from the moderator's request."""
        found = next((m for m in self._store.messages(job.story_id) if m.get("id") == job.ref), None)
        if not found or found.get("sender") != "moderator":
            return None
        return self._letter(job, "author_message", message={"text": found.get("text", "")})
