"""The browser modules' chromium, written once. Module scope: a Playwright sync session left open holds an
asyncio loop on the thread, and the tests elsewhere that drive chromium (search, reply moderation) start
their own on the same worker."""

from __future__ import annotations

import pytest

from tests.support.live import CHROMIUM, CHROMIUM_ARGS


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield b
        b.close()


@pytest.fixture(scope="session")
def stack(live_stack):
    """The worker's shared stack (tests/conftest.py); a module that needs settings of its own
    (test_form_browser) defines its own `stack`."""
    return live_stack
