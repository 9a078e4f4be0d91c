"""A member of staff's sign-up, and an active subscriber loaded as an admin would."""

from __future__ import annotations

from chalicelib import wiring

EMAIL = "sam.patel@riverside.nhs.example"


def signup(**overrides):
    body = {
        "name": "Sam Patel",
        "display_name": "Sam, Ward Manager",
        "role": "Ward Manager",
        "organisation": "riverside-trust",
        "email": EMAIL,
        "service": "riverside-ward-7",
        "tags": [],
        "min_criticality": 0,
        "frequency": "immediate",
    }
    body.update(overrides)
    return body


def active(email=EMAIL, access="reader", **overrides) -> tuple[dict, dict]:
    """An active member with `access`, loaded as an admin would (quicker than the email round trip)."""
    report = wiring.subscriptions().bulk_load([(1, signup(email=email, **overrides) | {"access": access})])
    assert report["errors"] == [] and report["created"] == 1, report
    subscriber = wiring.store().find_subscriber(email)
    return subscriber, wiring.store().subscriptions_of(subscriber["id"])[0]
