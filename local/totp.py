"""An authenticator app for the local stack: `python -m local.totp [KEY]` prints the current 6-digit code.

The moderators' pool in `make run` requires an authenticator app, as on AWS. The emulator gives
every account the same key (it shows on the moderation screen at the first sign-in); this prints
the code an app would show for it (RFC 6238: SHA-1, 6 digits, 30 seconds), so no phone is needed.
A real authenticator app works too: add the key by hand, or open the screen's link on the phone.
"""

from __future__ import annotations

import base64
import sys
import time


def emulator_key() -> str:
    """The key moto gives every account (it keeps no key per user)."""
    try:
        from moto.cognitoidp.models import COGNITO_TOTP_MFA_SECRET
    except ImportError:  # a moto without it: the key it has always used
        return "asdfasdfasdf"
    return COGNITO_TOTP_MFA_SECRET


def code(key: str, at: float | None = None) -> str:
    from cryptography.hazmat.primitives.hashes import SHA1
    from cryptography.hazmat.primitives.twofactor.totp import TOTP

    secret = "".join(key.split()).upper()
    raw = base64.b32decode(secret + "=" * (-len(secret) % 8))
    return TOTP(raw, 6, SHA1(), 30, enforce_key_length=False).generate(time.time() if at is None else at).decode()  # nosec B303 - RFC 6238 is HMAC-SHA-1


def fresh_code(key: str) -> str:
    """The code now, waiting out the last seconds of its 30 so it is still good when checked."""
    if 30 - time.time() % 30 < 3:
        time.sleep(30 - time.time() % 30 + 0.2)
    return code(key)


def sign_in(api: str, username: str, password: str, key: str | None = None, timeout: float = 30) -> dict:
    """A moderator's sign-in on the local stack's API (`api` ends in /api/): the password, then
    the authenticator app's code the pool asks for. Returns the final answer (id_token...)."""
    import requests

    url = f"{api.rstrip('/')}/moderation/sign-in"
    resp = requests.post(url, json={"username": username, "password": password}, timeout=timeout)
    resp.raise_for_status()
    answer = resp.json()
    if answer.get("challenge") == "SOFTWARE_TOKEN_MFA":
        step = {
            "username": username,
            "session": answer["session"],
            "challenge": "SOFTWARE_TOKEN_MFA",
            "answer": fresh_code(key or emulator_key()),
        }
        resp = requests.post(url, json=step, timeout=timeout)
        resp.raise_for_status()
        answer = resp.json()
    return answer


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if args and args[0] in ("-h", "--help"):
        print(__doc__.strip())
        return 0
    key = args[0] if args else emulator_key()
    try:
        now = code(key)
    except ValueError:
        print(f"{key!r} is not an authenticator key (base32: letters A-Z and digits 2-7).", file=sys.stderr)
        return 2
    left = 30 - int(time.time() % 30)
    print(f"{now}  (changes in {left} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
