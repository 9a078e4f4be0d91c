"""Shared fixtures: a fresh in-process AWS (moto) with every resource, the app's test client, and the pump."""

from __future__ import annotations

import os
import uuid
from dataclasses import dataclass
from typing import Any

import boto3
import pytest
from moto import mock_aws

from chalicelib import wiring
from local.resources import DEMO_MODERATOR, REGION, Resources, create_all, create_moderator

SITE_URL = "https://site.test"
API_URL = "https://api.test"


@dataclass
class AwsEnv:
    session: Any
    resources: Resources

    def client(self, name: str) -> Any:
        return self.session.client(name, region_name=REGION)


@pytest.fixture
def aws(monkeypatch):
    for key in [k for k in os.environ if k.startswith("FF_") or k == "AWS_ENDPOINT_URL"]:
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    monkeypatch.setenv("AWS_ACCOUNT_ID_ENDPOINT_MODE", "disabled")
    monkeypatch.setenv("POWERTOOLS_METRICS_DISABLED", "true")
    with mock_aws():
        session = boto3.Session(region_name=REGION)
        res = create_all(session)
        for k, v in res.environment(SITE_URL, API_URL, None).items():
            monkeypatch.setenv(k, v)
        wiring.reset()
        yield AwsEnv(session, res)
        wiring.reset()


@pytest.fixture
def client(aws):
    from chalice.test import Client

    from app import app

    with Client(app, stage_name="local") as c:
        yield c


@pytest.fixture
def pump(aws, client):
    from local.pump import Pump

    def invoke(name, event):
        return client.lambda_.invoke(name, event).payload

    return Pump(aws.session, aws.resources, invoke)


@pytest.fixture
def directory(aws):
    """A small service directory: two trusts, hospitals, wards."""
    from tests.factories import SMALL_DIRECTORY

    wiring.directory().load(SMALL_DIRECTORY)
    return SMALL_DIRECTORY


@pytest.fixture
def moderator_user(aws):
    create_moderator(aws.session, aws.resources, DEMO_MODERATOR["username"], DEMO_MODERATOR["password"], DEMO_MODERATOR["name"])
    return DEMO_MODERATOR


def submission_id() -> str:
    return uuid.uuid4().hex
