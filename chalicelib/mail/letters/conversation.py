"""Emails to staff about their own responses: the author replied, or a moderator decided."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from ...core.jobs import MailJob
from ...core.status import ItemStatus, Status, SubscriberStatus
from ...views.links import manage_url, unsubscribe_headers
from .base import Composer, Letter, Letters

if TYPE_CHECKING:
    from ...store import Story, Subscriber


class ConversationLetters(Letters):
    def composers(self) -> dict[str, Composer]:
        return {"staff_author_replied": self.author_replied, "staff_response_decided": self.response_decided}

    def author_replied(self, job: MailJob) -> Letter | None:
        """ref "<reply id>:<subscriber id>": the author answered; tell one responder, with a fresh link."""
        reply_id, _, subscriber_id = job.ref.partition(":")
        story = self._story(job.story_id)
        reply = self._store.get_thread_item(job.story_id, "reply", reply_id) if story and reply_id else None
        subscriber = self._active(subscriber_id)
        if not story or not reply or reply.get("status") != Status.PUBLISHED or not subscriber:
            return None
        thread = self._store.story_thread(job.story_id)
        theirs = [
            i
            for i in thread
            if i["item"] == "response"
            and i.get("subscriber_id") == subscriber_id
            and i.get("status") == Status.PUBLISHED
        ]
        if not theirs:
            return None  # only people whose response is public hear about replies to it
        latest = max(theirs, key=lambda i: i.get("created_at", ""))
        return self._letter(
            subscriber, story, "staff_author_replied", latest, {"reply": {"text": reply.get("text", "")}}
        )

    def response_decided(self, job: MailJob) -> Letter | None:
        """ref = response id: a moderator published or rejected a held response; tell its author."""
        story = self._story(job.story_id)
        response = self._store.get_thread_item(job.story_id, "response", job.ref) if story and job.ref else None
        if not story or not response or response.get("status") not in (ItemStatus.PUBLISHED, ItemStatus.REJECTED):
            return None
        subscriber = self._active(response.get("subscriber_id", ""))
        if not subscriber:
            return None
        return self._letter(
            subscriber,
            story,
            "staff_response_decided",
            response,
            {
                "response": {
                    "status": response["status"],
                    "text": response.get("text", ""),
                    "created_at": response.get("created_at", ""),
                    "note": response.get("decision_note", "") if response["status"] == ItemStatus.REJECTED else "",
                },
            },
        )

    def _story(self, story_id: str) -> Story | None:
        story = self._store.get_story(story_id, consistent=True) if story_id else None
        return story if story and story.get("status") == Status.PUBLISHED else None

    def _active(self, subscriber_id: str) -> Subscriber | None:
        subscriber = self._store.get_subscriber(subscriber_id) if subscriber_id else None
        return (
            subscriber
            if subscriber and subscriber.get("status") == SubscriberStatus.ACTIVE and subscriber.get("email")
            else None
        )

    def _letter(
        self,
        subscriber: Mapping[str, Any],
        story: Mapping[str, Any],
        template: str,
        response: Mapping[str, Any],
        extra: dict[str, Any],
    ) -> Letter:
        s = self._settings
        token = self._links.issue(
            "respond",
            story["id"],
            subscriber["id"],
            s.respond_link_days,
            subscriber_id=subscriber["id"],
            subscription_id=response.get("subscription_id", ""),
            service=response.get("service", ""),
        )
        headers = unsubscribe_headers(self._links, s, subscriber["id"])
        context = {
            "name": subscriber.get("display_name") or subscriber.get("name", ""),
            "story": {"id": story["id"], "title": story.get("title", ""), "pseudonym": story.get("pseudonym", "")},
            # None for a story kept for staff only (issue 21): its public address says "no longer available".
            "story_url": "" if story.get("staff_only") else f"{s.site_url.rstrip('/')}/stories/{story['id']}/",
            "respond_url": f"{s.api_url.rstrip('/')}/api/respond/{token}",
            "unsubscribe_url": headers["List-Unsubscribe"].strip("<>"),
            "manage_url": manage_url(self._links, s, subscriber["id"]),
            "link_days": s.respond_link_days,
            "site_url": s.site_url.rstrip("/"),
            **extra,
        }
        return Letter(subscriber["email"], template, context, headers)
