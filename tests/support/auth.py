"""Signing in as a moderator under in-process moto: moto's JWKS in place of the default fetcher
(the `jwks` fixture), a signed-in moderator's ID token (the `token` fixture), and the helpers around them.
The fixtures are registered for every test through conftest's `pytest_plugins`."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import moto
import pytest

from chalicelib.edge import auth

MOTO_KEYS = Path(moto.__file__).parent / "cognitoidp" / "resources"
JSON_HEADERS = {"Content-Type": "application/json"}


def moto_jwks(private: bool = False) -> dict:
    name = "jwks-private.json.gz" if private else "jwks-public.json.gz"
    with gzip.open(MOTO_KEYS / name, "rt", encoding="utf-8") as f:
        return json.load(f)


class JwksSource:
    """A stand-in for auth.fetch_jwks that counts its calls."""

    def __init__(self, document: dict | None = None):
        self.document = document if document is not None else moto_jwks()
        self.urls: list[str] = []
        self.fail = False

    def __call__(self, url: str) -> dict:
        self.urls.append(url)
        if self.fail:
            raise OSError("network is down")
        return self.document


@pytest.fixture
def jwks(monkeypatch):
    """moto's public JWKS, served in place of the default fetcher."""
    source = JwksSource()
    monkeypatch.setattr(auth, "fetch_jwks", source)
    return source


def sign_in(client, username: str, password: str) -> dict:
    resp = client.http.post(
        "/api/moderation/sign-in", body=json.dumps({"username": username, "password": password}), headers=JSON_HEADERS
    )
    return {"status": resp.status_code, "body": json.loads(resp.body or b"null"), "headers": resp.headers}


@pytest.fixture
def token(client, moderator_user, jwks) -> str:
    result = sign_in(client, moderator_user["username"], moderator_user["password"])
    assert result["status"] == 200, result
    return result["body"]["id_token"]


def bearer(tok: str) -> dict:
    return {"Authorization": f"Bearer {tok}"}


def error_of(resp) -> dict:
    return json.loads(resp.body)["error"]
