"""The demo's invitation and phone story (issue 19), seeded as `make run` seeds them, in process: the
seeder's HTTP client is played by chalice's test client over the real directory and demo staff."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

from chalicelib import wiring
from tests.support.auth import bearer
from tools import ff
from tools.reach_demo import seed_reach

ROOT = Path(__file__).resolve().parents[2]


class FakeApiClient:
    """The few calls seed_reach makes of tools.ff.ApiClient, over chalice's test client."""

    def __init__(self, client, token: str):
        self._client, self.token, self.timeout = client, "", 30
        self._token = token
        self.http = SimpleNamespace(post=self._post)

    def _url(self, path: str) -> str:
        return path

    def _auth(self) -> dict[str, str]:
        return bearer(self.token)

    def _post(self, url, json=None, headers=None, timeout=None):  # noqa: A002 - requests' own names
        resp = self._client.http.post(
            url, body=_dumps(json), headers={"Content-Type": "application/json"} | (headers or {})
        )
        return SimpleNamespace(status_code=resp.status_code, text=resp.body.decode(), json=lambda: _loads(resp.body))

    def sign_in(self, username: str, password: str) -> str:
        self.token = self._token
        return self.token

    def submit(self, body: dict) -> dict:
        resp = self._client.http.post("/api/stories", body=_dumps(body), headers={"Content-Type": "application/json"})
        assert resp.status_code == 201, resp.body
        return _loads(resp.body)

    def story(self, story_id: str) -> dict:
        resp = self._client.http.get(f"/api/moderation/stories/{story_id}", headers=self._auth())
        return _loads(resp.body)["story"]

    def decide(self, story_id: str, body: dict):
        return self._post(f"/api/moderation/stories/{story_id}/decision", json=body, headers=self._auth())


def _dumps(data) -> str:
    return json.dumps(data)


def _loads(raw):
    return json.loads(raw.decode() if isinstance(raw, bytes) else raw)


def test_the_demo_seeds_an_invitation_with_its_card_and_a_phone_story(aws, client, pump, token):
    wiring.directory().load(json.loads((ROOT / "data" / "directory.json").read_text(encoding="utf-8")))
    ff.load_subscriptions(ROOT / "data" / "demo_subscriptions.json", show_progress=False)
    api = FakeApiClient(client, token)
    first = seed_reach(api, "moderator", "password")
    pump.drain()
    again = seed_reach(api, "moderator", "password")  # a second run makes nothing new
    pump.drain()
    assert again["invitation"] == first["invitation"] and again["phone_story"] == first["phone_story"]
    code = first["invitation"].rsplit("/", 1)[1]
    assert wiring.store().get_invitation(code)["stories"] == 1
    card = client.http.get(first["card"].split("api.test", 1)[1])
    assert card.status_code == 200 and "<svg" in card.body.decode()
    pdf = client.http.get(first["card_pdf"].split("api.test", 1)[1], headers={"Accept": "*/*"})
    assert pdf.status_code == 200 and pdf.body.startswith(b"%PDF-")
    phone = json.loads(client.http.get(f"/api/public/stories/{first['phone_story']}").body)
    assert phone["route"] == "phone"
    invited = json.loads(client.http.get(f"/api/public/stories/{first['invited_story']}").body)
    assert (invited["route"], invited["tags"]) == ("invitation", ["discharge"])
    s3 = aws.session.client("s3")
    page = s3.get_object(Bucket=aws.resources.bucket, Key=f"stories/{first['phone_story']}/index.html")["Body"].read()
    assert "Through a phone call, written down by a member of staff" in page.decode()
    assert "Joanne" not in page.decode() and "Moderator" not in page.decode()
    # Two stories told in Welsh (issue 19): recorded so, the same ones again on a second run, and on the Welsh site.
    assert again["welsh_stories"] == first["welsh_stories"] and len(first["welsh_stories"]) == 2
    for sid in first["welsh_stories"]:
        assert wiring.store().get_story(sid)["language"] == "cy"
        welsh = s3.get_object(Bucket=aws.resources.bucket, Key=f"cy/stories/{sid}/index.html")["Body"].read().decode()
        assert '<html lang="cy">' in welsh and "Adroddwyd gan" in welsh
