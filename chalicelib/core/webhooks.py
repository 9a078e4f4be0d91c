"""Webhooks' primitives: the signature (Stripe's scheme), a partner's secret sealed at rest, and the POST.

A delivery is signed with HMAC-SHA256 over f"{timestamp}.{body}" with the partner's secret and sent
as `FeedForward-Signature: t=<unix seconds>,v1=<hex>` (docs/partners.md has the receiver's recipe).
The platform must sign, so it must be able to read the secret back: a hash would not do. The secret
is sealed with KMS on AWS (the key never leaves KMS; the table holds only ciphertext, bound to the
partner by the encryption context), and locally with AES-GCM under a settings key.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import time
from functools import cache
from typing import Any, Protocol

SIGNATURE_HEADER = "FeedForward-Signature"
TOLERANCE_SECONDS = 300  # the receiver's replay window: a signature older (or newer) than this fails
SECRET_PREFIX = "whsec_"


def new_secret() -> str:
    """256 bits from `secrets`, shown to the admin once."""
    return SECRET_PREFIX + secrets.token_urlsafe(32)


def signature(secret: str, timestamp: int, body: bytes) -> str:
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return mac.hexdigest()


def sign(secret: str, body: bytes, timestamp: int | None = None) -> str:
    """The header's value for this body, now (or at `timestamp`)."""
    ts = int(time.time()) if timestamp is None else timestamp
    return f"t={ts},v1={signature(secret, ts, body)}"


def verify(secret: str, header: str, body: bytes, now: float | None = None, tolerance: int = TOLERANCE_SECONDS) -> bool:
    """The receiver's check (the recipe in docs/partners.md, in Python): a v1 signature of this exact
    body at a timestamp within `tolerance` seconds of now. Anything malformed is False, never an error."""
    parts: dict[str, list[str]] = {}
    for piece in header.split(","):
        key, _, value = piece.strip().partition("=")
        parts.setdefault(key, []).append(value)
    try:
        ts = int(parts.get("t", [""])[0])
    except ValueError:
        return False
    if abs((time.time() if now is None else now) - ts) > tolerance:
        return False
    expected = signature(secret, ts, body)
    return any(hmac.compare_digest(expected, v) for v in parts.get("v1", []))


# ---- the secret at rest --------------------------------------------------------------------------


class SecretBox(Protocol):
    """Seals a partner's secret for the table and opens it to sign; `bound_to` (the partner id) must match."""

    def seal(self, secret: str, bound_to: str) -> str: ...
    def open(self, sealed: str, bound_to: str) -> str: ...


class KmsBox:
    """AWS: KMS Encrypt/Decrypt with the partner id as encryption context (a ciphertext copied to
    another partner's item does not open). Only the delivery worker may Decrypt (infra/template.yaml)."""

    def __init__(self, kms: Any, key_id: str):
        self._kms, self._key = kms, key_id

    def seal(self, secret: str, bound_to: str) -> str:
        out = self._kms.encrypt(KeyId=self._key, Plaintext=secret.encode(), EncryptionContext={"partner": bound_to})
        return "kms:" + base64.b64encode(out["CiphertextBlob"]).decode()

    def open(self, sealed: str, bound_to: str) -> str:
        kind, _, blob = sealed.partition(":")
        if kind != "kms":
            raise ValueError("not a KMS-sealed secret")
        out = self._kms.decrypt(CiphertextBlob=base64.b64decode(blob), EncryptionContext={"partner": bound_to})
        return bytes(out["Plaintext"]).decode()


class LocalBox:
    """The local stack and tests: AES-256-GCM under a key from settings (FF_WEBHOOK_SECRET_KEY, 32
    bytes in base64), the partner id as associated data."""

    def __init__(self, key_b64: str):
        key = base64.b64decode(key_b64)
        if len(key) != 32:
            raise ValueError("FF_WEBHOOK_SECRET_KEY must be 32 bytes in base64")
        self._key = key

    def seal(self, secret: str, bound_to: str) -> str:
        from cryptography.hazmat.primitives.ciphers.aead import AESGCM  # only where a secret is sealed

        nonce = secrets.token_bytes(12)
        blob = nonce + AESGCM(self._key).encrypt(nonce, secret.encode(), bound_to.encode())
        return "local:" + base64.b64encode(blob).decode()

    def open(self, sealed: str, bound_to: str) -> str:
        from cryptography.hazmat.primitives.ciphers.aead import AESGCM  # only where a secret is opened

        kind, _, blob = sealed.partition(":")
        if kind != "local":
            raise ValueError("not a locally sealed secret")
        raw = base64.b64decode(blob)
        return AESGCM(self._key).decrypt(raw[:12], raw[12:], bound_to.encode()).decode()


# ---- the POST ------------------------------------------------------------------------------------


def post(url: str, body: bytes, headers: dict[str, str], timeout: float) -> int:
    """POST the body; the HTTP status, or 0 when none came (refused, timed out, TLS failed). Redirects
    are not followed: a partner's endpoint answers itself."""
    import urllib.error
    import urllib.request

    request = urllib.request.Request(url, data=body, headers=headers, method="POST")
    try:
        with _opener().open(request, timeout=timeout) as answer:
            return int(answer.status)
    except urllib.error.HTTPError as e:
        return int(e.code)
    except (OSError, ValueError):
        return 0


@cache
def _opener() -> Any:
    """Made on the first delivery, not at import: its TLS context loads the CA store (about 40 ms of a
    cold start), and the stream, which imports this module for the signature's names, never posts."""
    import urllib.request

    class NoRedirects(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *args: Any, **kwargs: Any) -> None:
            return None

    return urllib.request.build_opener(NoRedirects)
