"""Signing in to the moderation screen of a local stack, as a moderator does: the password, then the
authenticator app's code the pool requires (issue 20: the local pool enforces MFA as AWS does)."""

from __future__ import annotations

from typing import Any


def moderator_headers(api: str) -> dict[str, str]:
    """The demo moderator's bearer token for the stack's API (`api` ends in /api/)."""
    from local.resources import DEMO_MODERATOR
    from local.totp import sign_in

    signed_in = sign_in(api, DEMO_MODERATOR["username"], DEMO_MODERATOR["password"])
    return {"Authorization": f"Bearer {signed_in['id_token']}"}


def sign_in_on_screen(page: Any, api: str, press_enter: bool = False) -> None:
    """Open the moderation screen and sign in as the demo moderator, by keyboard if `press_enter`."""
    from local.resources import DEMO_MODERATOR
    from local.totp import emulator_key, fresh_code

    page.goto(f"{api}moderate")
    page.fill("#username", DEMO_MODERATOR["username"])
    page.fill("#password", DEMO_MODERATOR["password"])
    if press_enter:
        page.keyboard.press("Enter")
    else:
        page.click("#sign-in-form button[type=submit]")
    page.wait_for_selector("#sign-in-heading:has-text('Enter your security code')")
    page.fill("#answer", fresh_code(emulator_key()))
    if press_enter:
        page.keyboard.press("Enter")
    else:
        page.click("#challenge-form button[type=submit]")
    page.wait_for_selector("#view-queue:not([hidden])")
