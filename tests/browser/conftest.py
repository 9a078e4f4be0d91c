"""One chromium for every browser test on a worker (the browser modules are one xdist group, so one in all):
each test opens its own context and pages, which share nothing."""

from __future__ import annotations

import pytest

from tests.support.live import CHROMIUM, CHROMIUM_ARGS


@pytest.fixture(scope="session")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield b
        b.close()
