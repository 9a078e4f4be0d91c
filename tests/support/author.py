"""The author's side: telling a story with an email address, publishing it, and the staff, read
receipts and responses that the author's private page shows, written straight to the store."""

from __future__ import annotations

import json
import re
from urllib.parse import urlencode

from chalicelib import wiring
from chalicelib.core import clock, ids
from chalicelib.moderation import Moderator
from tests.support import moto_state, stories
from tests.support.stories import submit

JSON_H = {"Content-Type": "application/json"}
FORM_H = {"Content-Type": "application/x-www-form-urlencoded"}
AUTHOR = "author.private@example.org"
STAFF = "sam.staff.private@nhs.example"
MOD = Moderator("mod@example.org", "Mo Derator")
REPLY_ID = "r" * 32


# ---- helpers (the other author-side test modules use them too) -------------------------------------


def tell(client, confirmed: bool = True, **overrides) -> str:
    """A story with the author's address, which (by default) its owner has confirmed is theirs, as
    they would from the first email (issue 18): only then does mail with the story go to it."""
    return submit(client, confirmed=confirmed, email=AUTHOR, **overrides)


def publish(story_id: str) -> dict:
    return stories.publish(story_id)


@moto_state.remembered
def told_and_published(client, pump) -> str:
    """A published story about Ward 7 whose author gave an address, its mail so far sent: made once
    per worker (moto_state.remembered)."""
    sid = tell(client)
    pump.drain()
    publish(sid)
    pump.drain()
    return sid


def author_link(story_id: str) -> str:
    return wiring.links().issue("author", story_id, "author", 30)


def link_in(text: str) -> str:
    found = re.search(r"https://api\.test/api/my/([A-Za-z0-9_-]{43})", text)
    assert found, text
    return found.group(1)


def body_of(resp) -> str:
    return resp.body.decode() if isinstance(resp.body, bytes) else (resp.body or "")


def staff_member(name: str = "Sam Carter", email: str = STAFF) -> str:
    """A subscribed member of staff, as the subscriptions flow stores one."""
    sid = ids.new_id()
    assert wiring.store().create_subscriber(
        {
            "id": sid,
            "email": email,
            "name": name,
            "display_name": name,
            "role": "Ward Manager",
            "organisation": "riverside-trust",
            "organisation_name": "Riverside NHS Foundation Trust",
            "status": "active",
            "access": "responder",
            "responses_sent": 3,
            "created_at": clock.iso(),
            "confirmed_at": clock.iso(),
            "links_valid_after": "",
        }
    )
    return sid


def read_by(story_id: str, subscriber_id: str, name: str = "Sam Carter") -> None:
    wiring.store().put_read_receipt(
        story_id,
        subscriber_id,
        {
            "read_at": clock.iso(),
            "name": name,
            "role": "Ward Manager",
            "service": "riverside-ward-7",
            "service_name": "Ward 7 (Acute Medicine)",
            "organisation_name": "Riverside NHS Foundation Trust",
        },
    )


def respond(
    story_id: str,
    subscriber_id: str,
    text: str,
    status: str = "published",
    flags=(),
    change="none",
    change_description="",
    name="Sam Carter",
) -> str:
    """A staff response, as the respond flow stores it (held when an automatic check flagged it)."""
    rid = ids.new_id()
    now = clock.iso()
    item = {
        "id": rid,
        "subscriber_id": subscriber_id,
        "name": name,
        "role": "Ward Manager",
        "organisation_name": "Riverside NHS Foundation Trust",
        "service_name": "Ward 7 (Acute Medicine)",
        "text": text,
        "change": change,
        "change_description": change_description,
        "status": status,
        "flags": list(flags),
        "created_at": now,
    }
    if status == "published":
        item["published_at"] = now
    wiring.store().put_response(story_id, item)
    return rid


def post_form(client, path: str, fields: dict) -> object:
    return client.http.post(path, body=urlencode(fields, doseq=True), headers=FORM_H)


def post_json(client, path: str, data: dict) -> object:
    return client.http.post(path, body=json.dumps(data), headers=JSON_H)


def error_fields(resp) -> list[str]:
    return [f["field"] for f in json.loads(resp.body)["error"].get("fields", [])]


def table_items(aws) -> list[dict]:
    ddb = aws.client("dynamodb")
    items, args = [], {"TableName": aws.resources.table}
    while True:
        resp = ddb.scan(**args)
        items += resp["Items"]
        if "LastEvaluatedKey" not in resp:
            return sorted(items, key=lambda i: (i["PK"]["S"], i["SK"]["S"]))
        args["ExclusiveStartKey"] = resp["LastEvaluatedKey"]


def s3_page(aws, key: str) -> str | None:
    s3 = aws.client("s3")
    try:
        return s3.get_object(Bucket=aws.resources.bucket, Key=key)["Body"].read().decode("utf-8")
    except s3.exceptions.NoSuchKey:
        return None
