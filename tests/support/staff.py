"""Members of staff with subscriptions, written straight to the store as the subscriptions flow
leaves them, and the alerts they were sent."""

from __future__ import annotations

import re

from moto.core import DEFAULT_ACCOUNT_ID
from moto.ses.models import ses_backends

from chalicelib import wiring
from chalicelib.core import clock, ids
from local.resources import REGION
from tests.support import mailbox

NAMES = {
    "riverside-trust": "Riverside NHS Foundation Trust",
    "riverside-general": "Riverside General Hospital",
    "riverside-ward-7": "Ward 7 (Acute Medicine)",
    "riverside-maternity": "Maternity Unit",
    "hillside-trust": "Hillside Community Health",
    "hillside-district-nursing": "District Nursing",
}
PEOPLE = 150
LINK = r"https://api\.test/api/{}/([A-Za-z0-9_-]{{43}})"


def _records(email: str, subscriptions: tuple, name: str, status: str) -> tuple[dict, list[dict]]:
    """A subscriber and their subscriptions, as the subscriptions flow would leave them."""
    sid = ids.new_id()
    now = clock.iso()
    profile = {
        "id": sid,
        "email": email,
        "name": name,
        "display_name": name,
        "role": "Ward Manager",
        "organisation": "riverside-trust",
        "organisation_name": NAMES["riverside-trust"],
        "status": status,
        "access": "responder",
        "responses_sent": 3,
        "created_at": now,
        "confirmed_at": now,
        "links_valid_after": "",
    }
    subs = [
        {
            "id": ids.new_id(),
            "subscriber_id": sid,
            "service": sub["service"],
            "service_name": NAMES[sub["service"]],
            "tags": sub.get("tags", []),
            "min_criticality": sub.get("min_criticality", 0),
            "frequency": sub.get("frequency", "immediate"),
            "status": sub.get("status", "active"),
            "created_at": now,
        }
        for sub in subscriptions
    ]
    return profile, subs


def staff(email: str, *subscriptions: dict, name: str = "Sam Carter", status: str = "active") -> str:
    profile, subs = _records(email, subscriptions, name, status)
    store = wiring.store()
    assert store.create_subscriber(profile)
    for sub in subs:
        store.put_subscription(sub)
    return profile["id"]


def crowd(people: dict[str, list[dict]]) -> None:
    """Many subscribers at once (address -> subscriptions), loaded in batches."""
    records = [_records(email, tuple(subs), "Sam Carter", "active") for email, subs in people.items()]
    wiring.store().seed_subscribers([p for p, _ in records], [s for _, subs in records for s in subs])


def staff_mail() -> list:
    """Alerts and digests (not the author's emails, nor a subscription's confirmation)."""
    return [m for m in mailbox.sent() if str(m["Subject"]).startswith("New story") or "new stor" in str(m["Subject"])]


def count_to(address: str) -> int:
    return len([m for m in staff_mail() if str(m["To"]) == address])


def alerts_to(address: str) -> list:
    return [m for m in staff_mail() if str(m["To"]) == address]


def raw_to(address: str) -> list[str]:
    """The raw MIME of every email to one address, exactly as it was handed to SES."""
    backend = ses_backends[DEFAULT_ACCOUNT_ID][REGION]
    raws = [getattr(m, "raw_data", "") for m in backend.sent_messages]
    return [r for r in raws if re.search(rf"^To: {re.escape(address)}$", r.split("\n\n", 1)[0], re.M)]
