"""The local stack's webhook receiver (local/hooks.py), on a real mailbox server: it checks each
delivery's signature by the documented recipe and says so, and refuses what does not verify."""

from __future__ import annotations

import json

import requests

from chalicelib.core.webhooks import SIGNATURE_HEADER, new_secret, sign
from local.hooks import HookInbox
from local.mailbox import Mailbox
from tests.support.live import free_port


def _post(url: str, body: bytes, signature: str) -> requests.Response:
    headers = {
        "Content-Type": "application/json",
        SIGNATURE_HEADER: signature,
        "FeedForward-Event": "story.published",
        "FeedForward-Delivery": "evt_1",
    }
    return requests.post(url, data=body, headers=headers, timeout=10)


def test_the_receiver_verifies_signatures_and_refuses_what_does_not():
    hooks, secret = HookInbox(), new_secret()
    hooks.add_receiver("demo", secret)
    port = free_port()
    box = Mailbox("http://127.0.0.1:1", port=port, hooks=hooks).start()
    try:
        base = f"http://127.0.0.1:{port}"
        body = json.dumps({"id": "evt_1", "type": "story.published", "data": {"story_id": "s1"}}).encode()
        assert _post(f"{base}/webhooks/receive/demo", body, sign(secret, body)).status_code == 200
        # An altered body, another secret's signature, an unknown receiver: each refused, each shown as such.
        assert _post(f"{base}/webhooks/receive/demo", body + b" ", sign(secret, body)).status_code == 401
        assert _post(f"{base}/webhooks/receive/demo", body, sign(new_secret(), body)).status_code == 401
        assert _post(f"{base}/webhooks/receive/other", body, sign(secret, body)).status_code == 401
        kept = requests.get(f"{base}/webhooks.json", timeout=10).json()
        assert [d["verified"] for d in kept] == [False, False, False, True]  # newest first
        assert kept[-1]["body"]["data"] == {"story_id": "s1"} and kept[-1]["delivery"] == "evt_1"
        page = requests.get(f"{base}/webhooks", timeout=10).text
        assert page.count("Signature verified") == 1 and page.count("Signature NOT verified") == 3
    finally:
        box.stop()
