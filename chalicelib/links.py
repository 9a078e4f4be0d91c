"""Capability tokens behind emailed links: random, stored only as a hash, bound to one purpose.

A link is refused the same way whether it never existed, was revoked, expired or is for
something else, so a guess learns nothing.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import TYPE_CHECKING, Any, Protocol

from .core import clock
from .core.errors import NotFound
from .core.status import SubscriberStatus

if TYPE_CHECKING:
    from .store import PeopleStore, Subscriber, Subscription

    class LinkStore(PeopleStore, Protocol):
        def set_author_link(self, story_id: str, token_hash: str, issued_at: str) -> None: ...
        def author_links(self, story_id: str, newest: int) -> list[str]: ...


_TOKEN = re.compile(r"^[A-Za-z0-9_-]{43}$")  # 32 random bytes, base64url without padding
# Links that stop working when their holder unsubscribes or is frozen.
REVOCABLE = frozenset({"respond", "organisation"})
NOT_VALID = "This link is not valid. It may have expired or been stopped."
# How many of a story's newest author links work (issue 18): two, because two letters often go
# together (on confirming the address: the receipt and, for a story already decided, the decision),
# and the author may open either. A third email stops the oldest, so an old, forwarded email dies.
WORKING_AUTHOR_LINKS = 2


def token_hash(raw: str) -> str:
    return hashlib.sha256(raw.encode("ascii")).hexdigest()


class Links:
    def __init__(self, store: LinkStore):
        self._store = store
        self._held: list[tuple[str, dict[str, Any], int]] | None = None

    @contextmanager
    def held(self) -> Iterator[None]:
        """Links issued within are written together when it ends (one BatchWriteItem: an alert's
        three links, issue 17); nothing is written if it ends with an error. Not for author links."""
        self._held = []
        try:
            yield
            if self._held:
                self._store.put_tokens(self._held)
        finally:
            self._held = None

    def issue(self, purpose: str, story_id: str, subject: str, days: int, **bound: str) -> str:
        """A new link for one purpose. `subject` says who holds it ("author" or a subscriber id);
        `bound` adds what else it is tied to (e.g. subscriber_id, subscription_id, service)."""
        raw = secrets.token_urlsafe(32)  # 256 bits
        expires = int((clock.now() + timedelta(days=days)).timestamp())
        hashed = token_hash(raw)
        token = {
            "purpose": purpose,
            "story_id": story_id,
            "subject": subject,
            "issued_at": clock.iso(),
            "revoked": False,
            **bound,
        }
        if self._held is not None and purpose != "author":
            self._held.append((hashed, token, expires))
        else:
            self._store.put_token(hashed, token, expires)
        if purpose == "author":
            # Only the newest author links of a story work (issue 18): this one may stop an older one.
            self._store.set_author_link(story_id, hashed, clock.iso())
        return raw

    def resolve(self, raw: str, purpose: str) -> dict[str, Any]:
        return self.resolve_holder(raw, purpose)[0]

    def resolve_holder(self, raw: str, purpose: str) -> tuple[dict[str, Any], Subscriber | None, Subscription | None]:
        """(the link, its subscriber, its subscription): for a revocable link, the two items read to
        check it is still good, so a caller that shows who holds it need not read them again."""
        if not isinstance(raw, str) or not _TOKEN.match(raw):
            raise NotFound(NOT_VALID)
        token = self._store.get_token(token_hash(raw))
        if (
            not token
            or token.get("purpose") != purpose
            or token.get("revoked")
            or int(token["expires_at"]) <= int(clock.now().timestamp())
        ):
            raise NotFound(NOT_VALID)
        if purpose == "author" and token_hash(raw) not in self._store.author_links(
            str(token.get("story_id", "")), WORKING_AUTHOR_LINKS
        ):
            raise NotFound(NOT_VALID)  # newer emails brought newer links: this one is stopped
        if purpose not in REVOCABLE:
            return token, None, None
        subscriber, subscription = self._holder_still_subscribed(token)
        return token, subscriber, subscription

    def _holder_still_subscribed(self, token: dict[str, Any]) -> tuple[Subscriber, Subscription | None]:
        """Unsubscribing revokes a person's read-and-respond links: each link issued before
        their `links_valid_after` stops working, with no need to find the links one by one."""
        subscriber_id = token.get("subscriber_id", "")
        subscription: Subscription | None = None
        if token.get("subscription_id"):  # the person and the subscription in one read (issue 17)
            subscriber, subscription = self._store.get_holder(subscriber_id, token["subscription_id"])
        else:
            subscriber = self._store.get_subscriber(subscriber_id)
        if not subscriber or subscriber.get("status") != SubscriberStatus.ACTIVE:
            raise NotFound(NOT_VALID)
        if token.get("issued_at", "") < subscriber.get("links_valid_after", ""):
            raise NotFound(NOT_VALID)
        # Stopping one subscription (from the manage page) revokes the links it brought.
        if token.get("subscription_id"):
            if not subscription or subscription.get("status") != SubscriberStatus.ACTIVE:
                raise NotFound(NOT_VALID)
            return subscriber, subscription
        return subscriber, None
