"""Shared fixtures: a fresh in-process AWS (moto) with every resource, the app's test client, and the pump."""

from __future__ import annotations

import dataclasses
import json
import os
import uuid
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws
from moto.core import DEFAULT_ACCOUNT_ID

from chalicelib import wiring
from local import moto_speed
from local.resources import DEMO_MODERATOR, REGION, create_all, create_moderator
from tests.support import infra_build, moto_state
from tests.support.env import API_URL, SITE_URL, AwsEnv, SharedSession

# Fixtures that many test modules share, kept beside their helpers.
pytest_plugins = ["tests.support.auth"]

# Modules holding a test that takes a minute or more, started first, so that two workers do not end
# with one of them running a long test alone (xdist hands out the rest in collection order).
LONG_FIRST = [
    "security/test_privacy_sweep.py",
    "unit/test_figures.py",
    "security/test_xss.py",
    "e2e/test_local_stack.py",
    "flows/test_reply_moderation.py",
    "pipeline/test_faults.py",
    "flows/test_alerts.py",
    "site/test_feeds.py",
]

# Modules whose module-scoped fixtures (or per-worker kept state) are expensive: a local stack, chromium,
# a realistic site, the finder's demo directory. Under xdist's `load` (what `-n 2` does) each goes whole
# to one worker (pytest_xdist_make_scheduler, below), so that it is made once; before, each worker that
# got one of their tests made its own. Every other test is still handed out one at a time.
ONE_WORKER = [
    "browser/test_browser.py",
    "browser/test_form_browser.py",
    "browser/test_loop_browser.py",
    "site/test_site_quality.py",
    "security/test_schema_fuzz.py",
    "flows/test_finder.py",
]


def _whole(module: str) -> bool:
    """Whether a module runs whole on one worker: those named above, and every browser module (each
    starts its own stack and chromium in a module-scoped fixture)."""
    return module in ONE_WORKER or module.startswith("browser/")


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(config, items):
    here = Path(__file__).parent

    def rel(item) -> str:
        return Path(str(item.path)).relative_to(here).as_posix() if str(item.path).startswith(str(here)) else ""

    first = LONG_FIRST + [m for m in ONE_WORKER if m not in LONG_FIRST]  # then the costly modules, each a long unit
    items.sort(key=lambda item: first.index(rel(item)) if rel(item) in first else len(first))


def pytest_collection_finish(session):
    # The tests this worker will choose from (after -k and -m): if infra tests are among them, their
    # package starts building now, behind the other tests.
    infra_build.start(session.config, session.items)


def pytest_xdist_make_scheduler(config, log):
    """xdist's load scheduling, except that each module of ONE_WORKER is one unit of work. (Not
    `--dist loadgroup`: xdist 3.8 marks a group by rewriting item._nodeid, which pytest 9 no longer reads.)"""
    if config.getoption("dist") != "load":
        return None
    from xdist.scheduler import LoadScopeScheduling

    config.option.loadscopereorder = False  # keep the order above (xdist would put the largest units first)

    class CostlyModulesWhole(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            path = nodeid.split("::", 1)[0]
            return path if _whole(path.removeprefix("tests/")) else nodeid

    return CostlyModulesWhole(config, log)


def pytest_sessionfinish(session, exitstatus):
    infra_build.finish(interrupted=exitstatus == pytest.ExitCode.INTERRUPTED)


@pytest.fixture(scope="session")
def live_stack():
    """One `make run` stack (no demo seed) per test worker, shared by the browser modules that need
    no settings of their own: starting one costs 13 s of a core, and seven modules each started theirs.
    Tests on it use addresses and stories of their own, so what one module leaves does not touch another;
    sign-in limits are raised because every module signs the demo moderator in from 127.0.0.1."""
    from tests.support.live import start_stack

    stack = start_stack("--no-seed", settings={"FF_SIGN_IN_LIMIT": "1000", "FF_SIGN_IN_USER_LIMIT": "1000"})
    yield stack
    stack.stop()


def _share_botocore_loader() -> None:
    """One botocore data loader for the whole test process.

    Every boto3 Session (each test's, and the app's per-client sessions) otherwise makes its own
    loader and parses the same service models and endpoints.json again: about half a second of
    JSON per test. The loader's caches only hold parsed model files, which nothing mutates.
    """
    import botocore.loaders
    import botocore.session

    loaders: dict[Any, Any] = {}
    create = botocore.loaders.create_loader

    def shared(search_path_string: Any = None) -> Any:
        if search_path_string not in loaders:
            loaders[search_path_string] = create(search_path_string)
        return loaders[search_path_string]

    botocore.session.create_loader = shared


def _one_moto_pool_key() -> None:
    """moto's Cognito imports the same private JWK for every user pool it makes (RSA prime recovery:
    a quarter to a whole second of each test's setup). Import it once; every pool signs with it anyway."""
    import moto.cognitoidp.models as cognito

    real, keys = cognito.jwk.RSAKey.import_key, {}

    class RSAKey(cognito.jwk.RSAKey):
        @classmethod
        def import_key(cls, value: Any, *args: Any, **kwargs: Any) -> Any:
            if args or kwargs or not isinstance(value, dict):
                return real(value, *args, **kwargs)
            key = json.dumps(value, sort_keys=True)
            if key not in keys:
                keys[key] = real(value)
            return keys[key]

    class Jwk:
        def __getattr__(self, name: str) -> Any:
            return getattr(real_module, name)

    real_module = cognito.jwk
    jwk = Jwk()
    jwk.RSAKey = RSAKey
    cognito.jwk = jwk


_share_botocore_loader()
_one_moto_pool_key()
moto_speed.apply()


_session: list[SharedSession] = []  # the worker's one (tests/support/env.py)


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
        if not _session:
            _session.append(SharedSession(boto3.Session(region_name=REGION)))
        session = _session[0]
        if moto_state.saved("resources"):
            res = dataclasses.replace(moto_state.restore("resources"))
        else:
            res = create_all(session)
            moto_state.save("resources", dataclasses.replace(res))
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
def pump(aws, client, monkeypatch):
    """The event pump. A test fails if a handler failed, a batch item failed or a message was
    dead-lettered, unless it called `pump.expect_failures()` (Lambda would retry such work behind
    the visibility timeout, so a test that only drains would never see it)."""
    from local.moto_peek import MotoPeek
    from local.pump import Pump

    def invoke(name, event):
        return client.lambda_.invoke(name, event).payload

    p = Pump(aws.session, aws.resources, invoke, peek=MotoPeek())
    # Why each batch item failed: the handlers report only which ones did (core/batches.py).
    from chalicelib.core import batches

    reasons: list[str] = []
    real_each = batches._each

    def each(records, handle, ident):
        def recording(record):
            try:
                return handle(record)
            except Exception as e:
                reasons.append(f"{type(e).__name__}: {e}")
                raise

        return real_each(records, recording, ident)

    monkeypatch.setattr(batches, "_each", each)
    p.failure_reasons = reasons
    yield p
    if not p.failures_expected:
        problems = p.problems() + [f"because {r}" for r in reasons]
        if problems:
            pytest.fail(
                "the pump met failures the test did not expect (call pump.expect_failures() if they are "
                "part of the test):\n  " + "\n  ".join(problems[:20]),
                pytrace=False,
            )


@pytest.fixture
def directory(aws):
    """A small service directory: two trusts, hospitals, wards."""
    from tests.support.factories import SMALL_DIRECTORY

    # Loaded into an empty table, the directory always leaves the same items and stream records:
    # the first test of a worker loads it and keeps moto's table; later ones get a copy of that table.
    pristine = moto_state.table_is_empty(DEFAULT_ACCOUNT_ID, REGION)
    if pristine and moto_state.saved("directory"):
        moto_state.restore("directory")
    else:
        wiring.directory().load(SMALL_DIRECTORY)
        if pristine:
            moto_state.save("directory", services={"dynamodb"})
    return SMALL_DIRECTORY


@pytest.fixture
def moderator_user(aws):
    create_moderator(
        aws.session, aws.resources, DEMO_MODERATOR["username"], DEMO_MODERATOR["password"], DEMO_MODERATOR["name"]
    )
    return DEMO_MODERATOR


def submission_id() -> str:
    return uuid.uuid4().hex
