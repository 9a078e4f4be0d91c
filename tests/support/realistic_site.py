"""A realistic site in the moto bucket, for the quality bars (tests/site/test_site_quality.py, tests/browser/test_form_browser.py,
tools/screenshots.py): several services, published stories with tags, a read receipt, staff responses (a change
planned, a change made), a published author reply, a pending story; then the full rebuild.

Everything goes through the real code paths: the API (test client), the moderation decision, the emailed-link
code (Conversation.respond, Replies.reply) and the stream (the pump).
"""

from __future__ import annotations

import json
import mimetypes
import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from chalicelib import wiring
from chalicelib.moderation import Moderator
from tests.support.conversation import make_staff, respond_link
from tests.support.factories import story_body

MOD = Moderator("mod@example.org", "Mo Derator")
AUTHOR = "realistic.author@example.org"
STAFF = {
    "email": "alex.morgan@example.org",
    "display_name": "Alex Morgan",
    "role": "Ward Manager",
    "organisation": "riverside-trust",
    "organisation_name": "Riverside NHS Foundation Trust",
}
STORIES = [
    dict(
        title="Kind nurses on a busy night",
        services=["riverside-ward-7"],
        tags=["night-care", "nursing"],
        story="I was admitted at night with chest pain.\nThe nurses explained everything & stayed calm.\n\n"
        "The next morning a doctor came back to check on me.",
    ),
    dict(
        title="A long wait, then great care",
        services=["riverside-maternity", "riverside-ward-7"],
        tags=["waiting"],
        story="We waited four hours to be seen. Once we were, the midwives were wonderful.",
    ),
    dict(
        title="The district nurse who listened",
        services=["hillside-district-nursing"],
        tags=["nursing"],
        story="My father is cared for at home. The nurse always asks him first, not me.",
    ),
]


def _staff(service: str, service_name: str, **who: str) -> dict[str, Any]:
    return make_staff(service, service_name, **(STAFF | who))


def build(client: Any, pump: Any) -> dict[str, Any]:
    """Load the small directory, tell and publish the stories, hold a conversation on the first, rebuild.
    Returns {"stories": [ids], "conversation": id, "pending": id, "staff": staff, "author_token": token}."""
    from tests.support.factories import SMALL_DIRECTORY

    wiring.directory().load(SMALL_DIRECTORY)
    ids = []
    for n, s in enumerate(STORIES):
        body = story_body(
            title=s["title"],
            story=s["story"],
            services=s["services"],
            email=AUTHOR if n == 0 else "",
            pseudonym=f"Reader {n + 1}",
        )
        resp = client.http.post("/api/stories", body=json.dumps(body), headers={"Content-Type": "application/json"})
        assert resp.status_code == 201, resp.body
        ids.append(json.loads(resp.body)["id"])
    pending = client.http.post(
        "/api/stories",
        body=json.dumps(story_body(title="Still with the moderator")),
        headers={"Content-Type": "application/json"},
    )
    assert pending.status_code == 201, pending.body
    pump.drain()
    for story_id, s in zip(ids, STORIES):
        version = wiring.store().get_story(story_id, consistent=True)["version"]
        wiring.moderation().decide(
            story_id, {"action": "publish", "version": version, "criticality": 3, "tags": s["tags"]}, MOD
        )
    pump.drain()

    first = ids[0]
    staff = _staff("riverside-ward-7", "Ward 7 (Acute Medicine)")
    conversation = wiring.conversation()
    conversation.respond(
        respond_link(first, staff),
        {
            "text": "Thank you for telling us. I have shared your story with the night team.\n\nWe are changing how we hand over at night.",
            "change": "planned",
            "change_description": "A written handover sheet for every night shift",
        },
    )
    pump.drain()
    other = _staff(
        "riverside-maternity",
        "Maternity Unit",
        email="sam.patel@example.org",
        display_name="Sam Patel",
        role="Lead Midwife",
    )
    conversation.respond(
        respond_link(ids[1], other),
        {
            "text": "We are sorry about the wait. We have added a second triage midwife.",
            "change": "made",
            "change_description": "A second triage midwife in the evenings",
        },
    )
    pump.drain()
    from chalicelib.core.settings import get_settings

    token = wiring.links().issue("author", first, "author", get_settings().author_link_days)
    reply_id = "realistic-reply-" + uuid.uuid4().hex[:16]
    wiring.replies().reply(
        token, {"reply_id": reply_id, "text": "Thank you for answering. I hope the next patient has it easier."}
    )
    pump.drain()
    wiring.moderation().decide_item(first, "replies", reply_id, {"action": "publish", "note": ""}, MOD)
    pump.drain()
    wiring.site().rebuild_all()
    pump.drain()
    return {
        "stories": ids,
        "conversation": first,
        "pending": json.loads(pending.body)["id"],
        "staff": staff,
        "author_token": token,
    }


def bucket_objects(aws: Any) -> dict[str, dict[str, Any]]:
    """Every object in the site bucket: key -> {"body": bytes, "content_type": str}."""
    s3 = aws.client("s3")
    out: dict[str, dict[str, Any]] = {}
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=aws.resources.bucket):
        for o in page.get("Contents", []):
            obj = s3.get_object(Bucket=aws.resources.bucket, Key=o["Key"])
            out[o["Key"]] = {"body": obj["Body"].read(), "content_type": obj.get("ContentType", "")}
    return out


def write_site(objects: dict[str, dict[str, Any]], root: Path) -> None:
    for key, obj in objects.items():
        path = root / key
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(obj["body"])


@contextmanager
def moto_site() -> Iterator[dict[str, Any]]:
    """The conftest fixtures (aws, client, pump), once, outside a test: for module-scoped fixtures and tools.
    Yields {"aws", "client", "pump"}; the environment is restored afterwards."""
    import boto3
    import pytest
    from chalice.test import Client
    from moto import mock_aws

    from local.pump import Pump
    from local.resources import REGION, create_all
    from tests.support.env import API_URL, SITE_URL, AwsEnv

    mp = pytest.MonkeyPatch()
    try:
        for key in [k for k in os.environ if k.startswith("FF_") or k == "AWS_ENDPOINT_URL"]:
            mp.delenv(key, raising=False)
        for k, v in {
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_DEFAULT_REGION": REGION,
            "AWS_ACCOUNT_ID_ENDPOINT_MODE": "disabled",
            "POWERTOOLS_METRICS_DISABLED": "true",
        }.items():
            mp.setenv(k, v)
        with mock_aws():
            session = boto3.Session(region_name=REGION)
            res = create_all(session)
            for k, v in res.environment(SITE_URL, API_URL, None).items():
                mp.setenv(k, v)
            wiring.reset()
            from app import app

            with Client(app, stage_name="local") as client:
                pump = Pump(session, res, lambda name, event: client.lambda_.invoke(name, event).payload)
                yield {"aws": AwsEnv(session, res), "client": client, "pump": pump}
            wiring.reset()
    finally:
        mp.undo()
        wiring.reset()


def content_type(path: Path) -> str:
    guessed = mimetypes.guess_type(str(path))[0] or "application/octet-stream"
    return guessed + (
        "; charset=utf-8" if guessed.startswith("text/") or guessed.endswith(("json", "xml", "javascript")) else ""
    )
