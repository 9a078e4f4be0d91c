"""The shapes of the core items the store returns: stories, thread items, subscribers,
subscriptions and listing entries.

They are TypedDicts, not dataclasses or pydantic models, on purpose: at run time each is the
plain dict the store always returned, so every caller that indexes with ["..."] or calls .get()
works unchanged, and a renderer or a test that builds one by hand needs nothing new. What they
add is a name in the store's signatures and keys a type checker knows. Every key is optional
(total=False): which ones an item holds depends on its state (a pending story has no
published_at; a story with no promise has no response_due_at).
"""

from __future__ import annotations

from typing import Any, TypedDict


class Story(TypedDict, total=False):
    """A story item (STORY#<id> / STORY), without its keys."""

    id: str
    status: str  # models.Status: pending, held, published, rejected, withdrawn, erasing
    version: int
    submitted_at: str
    title: str
    story: str
    good: str
    improve: str
    feelings: list[str]
    role: str
    pseudonym: str
    experience: str  # YYYY-MM
    services: list[str]
    tags: list[str]
    criticality: int
    has_contact: bool
    related_story: str
    decided_at: str
    decided_by: str
    decision_note: str
    edited_fields: list[str]
    published_at: str
    withdrawn_at: str
    erase_requested_at: str
    # After publication (issue 16): hidden by a report, restricted (who asked, why), removed, edited.
    hidden_at: str
    restricted_by: str
    restricted_reason: str
    restricted_at: str
    removed_at: str
    moderator_edited_at: str
    # Progress, set once each by the stream.
    first_read_at: str
    first_response_at: str
    change_planned_at: str
    change_made_at: str
    # The response promise and the ladder's marks.
    response_days: int
    response_due_at: str
    response_holidays: str
    overdue_at: str
    # Me-too counts and the change check's answers.
    me_too_count: int
    me_too_yes: int
    me_too_partly: int
    me_too_no: int
    change_verdict: str
    change_verdict_at: str
    # Pulled in from a source (issue 21, importer.py): where from, and whether only staff may read it.
    route: str
    source: dict[str, Any]
    staff_only: bool


class Response(TypedDict, total=False):
    """A staff response on a story's thread (RESPONSE#<id>); an author's reply (REPLY#<id>) and
    a change check's answer (CHECK#<id>) are thread items of the same family with fewer fields."""

    id: str
    story_id: str
    subscriber_id: str
    subscription_id: str
    service: str
    service_name: str
    name: str
    role: str
    organisation_name: str
    text: str
    change: str  # models.ChangeMark: none, planned, made
    change_description: str
    status: str
    flags: list[str]
    created_at: str
    published_at: str
    decided_at: str
    decided_by: str
    decision_note: str
    checks: list[str]  # why a moderator sees it first: first-responses, change-made, high-criticality
    verified: bool  # sent by a confirmed member of the organisation (shown in public)
    organisation: str
    edits: int  # changes its author made in its edit window (the words before each are kept privately)
    edited_at: str
    deleted_at: str


class ThreadItem(Story, Response, total=False):
    """One item of a story's partition as story_thread and the replies queue return it: the
    story, a read receipt, a response, a reply or a check answer, named by `item`."""

    item: str  # "story", "read", "response", "reply", "check"
    read_at: str


class Subscriber(TypedDict, total=False):
    """A member of staff who gets alerts (SUBSCRIBER#<id> / PROFILE)."""

    id: str
    email: str
    name: str
    display_name: str
    role: str
    organisation: str
    organisation_name: str
    status: str  # status.SubscriberStatus: pending, active, requested, refused, frozen, unsubscribed
    access: str  # status.Access: reader, responder, lead; absent until granted
    created_at: str
    confirmed_at: str
    requested_at: str
    granted_at: str
    granted_by: str
    frozen_at: str
    links_valid_after: str
    last_active_at: str
    responses_sent: int
    board_report: bool  # a lead's monthly report (on unless they turn it off)
    source: str


class Subscription(TypedDict, total=False):
    """One subscription of a subscriber (SUBSCRIBER#<id> / SUB#<id>): a service's subtree to hear about."""

    id: str
    subscriber_id: str
    service: str
    service_name: str
    tags: list[str]
    min_criticality: int
    frequency: str  # immediate, daily
    status: str  # pending, active, paused, unsubscribed
    created_at: str
    confirmed_at: str
    address_confirmed_at: str  # the person followed the link; their organisation's leads decide
    source: str
    requested: dict[str, Any]


class ListingEntry(TypedDict, total=False):
    """What a list of stories shows of one story (changes.listing_entry): public fields only.
    listing_keys returns only id, published_at, services and tags; listing_page adds `sk`."""

    id: str
    title: str
    excerpt: str
    pseudonym: str
    role: str
    experience: str
    published_at: str
    services: list[str]
    feelings: list[str]
    tags: list[str]
    first_read_at: str
    first_response_at: str
    change_planned_at: str
    change_made_at: str
    sk: str
