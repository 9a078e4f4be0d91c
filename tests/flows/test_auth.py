"""Moderator sign-in and token checks, through the API and against moto's Cognito.

Under in-process moto the pool's JWKS cannot be fetched over HTTP, so the `moto_jwks`
fixture stands in for the default fetcher with moto's (fixed) public key set. moto's ID
tokens carry the real-looking issuer, the client id as `aud` and `token_use: id`, so every
check runs exactly as it would against AWS.
"""

from __future__ import annotations

import base64
import json
import re
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, unquote, urlsplit

import jwt
import pytest

from chalicelib import wiring
from chalicelib.core.errors import Forbidden, Unauthorized
from chalicelib.core.settings import Settings
from chalicelib.edge import auth
from local.resources import REGION
from tests.support.auth import JSON_HEADERS, JwksSource, bearer, error_of, moto_jwks, sign_in  # noqa: F401


def claims_of(tok: str) -> dict:
    return jwt.decode(tok, options={"verify_signature": False})


def mint(claims: dict, key=None, algorithm: str = "RS256", kid: str = "dummy") -> str:
    """A token signed with moto's private key (or the key given)."""
    if key is None:
        key = jwt.PyJWK(moto_jwks(private=True)).key
    return jwt.encode(claims, key, algorithm=algorithm, headers={"kid": kid})


def moderator_claims(aws, **overrides) -> dict:
    now = int(time.time())
    claims = {
        "iss": f"https://cognito-idp.{REGION}.amazonaws.com/{aws.resources.user_pool_id}",
        "aud": aws.resources.client_id,
        "token_use": "id",
        "sub": "0b0f6a44-0000-4000-8000-000000000001",
        "cognito:username": "moderator@feedforward.example",
        "cognito:groups": ["moderators"],
        "iat": now,
        "auth_time": now,
        "exp": now + 3600,
    }
    claims.update(overrides)
    return {k: v for k, v in claims.items() if v is not None}


def get_queue(client, headers: dict | None = None):
    return client.http.get("/api/moderation/queue?status=pending", headers=headers or {})


# ---- signing in ---------------------------------------------------------------------------


def test_the_demo_moderator_signs_in_and_can_read_the_queue(client, moderator_user, jwks):
    result = sign_in(client, moderator_user["username"], moderator_user["password"])
    assert result["status"] == 200
    assert set(result["body"]) == {"id_token", "expires_in"}
    assert result["body"]["expires_in"] > 0
    claims = claims_of(result["body"]["id_token"])
    assert claims["token_use"] == "id" and "moderators" in claims["cognito:groups"]

    resp = get_queue(client, bearer(result["body"]["id_token"]))
    assert resp.status_code == 200
    assert json.loads(resp.body) == {"moderator": moderator_user["username"], "stories": []}


@pytest.mark.parametrize(
    "username, password",
    [("moderator@feedforward.example", "Wrong-password-1!"), ("nobody@feedforward.example", "Whatever-2026!")],
)
def test_a_wrong_password_and_an_unknown_user_get_the_same_answer(client, moderator_user, username, password):
    result = sign_in(client, username, password)
    assert result["status"] == 401
    assert result["body"]["error"]["message"] == "The email or password is not right"
    assert result["headers"]["WWW-Authenticate"].startswith("Bearer")
    assert password not in json.dumps(result["body"])


@pytest.mark.parametrize(
    "code", ["TooManyRequestsException", "TooManyFailedAttemptsException", "LimitExceededException"]
)
def test_cognitos_own_limits_are_a_429_with_retry_after(client, moderator_user, code):
    """Cognito limits one user's sign-in attempts: the moderator is told to wait, as with our limits."""
    from chalicelib import wiring

    def refuse(**_):
        parsed = {
            "Error": {"Code": code, "Message": "Rate exceeded"},
            "ResponseMetadata": {"HTTPStatusCode": 400, "HTTPHeaders": {}},
        }
        return type("R", (), {"status_code": 400, "headers": {}, "content": b"", "raw": None})(), parsed

    wiring.authenticator()._cognito().meta.events.register("before-call.cognito-idp.InitiateAuth", refuse)
    result = sign_in(client, moderator_user["username"], moderator_user["password"])
    assert result["status"] == 429, result
    assert result["headers"]["Retry-After"] == "300"
    assert result["body"]["error"]["message"] == "Too many sign-in attempts. Wait 5 minutes, then try again."
    assert moderator_user["password"] not in json.dumps(result["body"])


def test_sign_in_input_is_validated_without_echoing_the_password(client, aws):
    resp = client.http.post(
        "/api/moderation/sign-in", body=json.dumps({"username": "moderator@feedforward.example"}), headers=JSON_HEADERS
    )
    assert resp.status_code == 422
    assert [f["field"] for f in error_of(resp)["fields"]] == ["password"]

    body = {
        "username": "m@feedforward.example",
        "session": "s" * 40,
        "challenge": "SOFTWARE_TOKEN_MFA",
        "answer": "12ab",
    }
    resp = client.http.post("/api/moderation/sign-in", body=json.dumps(body), headers=JSON_HEADERS)
    assert resp.status_code == 422
    assert [f["field"] for f in error_of(resp)["fields"]] == ["answer"]

    secret = "Sup3r-secret-pw!"
    resp = client.http.post(
        "/api/moderation/sign-in",
        body=json.dumps({"username": "m@x.example", "password": secret, "extra": 1}),
        headers=JSON_HEADERS,
    )
    assert resp.status_code == 422
    assert secret not in resp.body.decode()


def test_a_new_moderator_must_choose_a_new_password(client, aws, jwks):
    idp = aws.client("cognito-idp")
    pool = aws.resources.user_pool_id
    idp.admin_create_user(
        UserPoolId=pool,
        Username="new@feedforward.example",
        TemporaryPassword="Temporary-2026!",
        MessageAction="SUPPRESS",
    )
    idp.admin_add_user_to_group(UserPoolId=pool, Username="new@feedforward.example", GroupName="moderators")

    first = sign_in(client, "new@feedforward.example", "Temporary-2026!")
    assert first["status"] == 200
    assert first["body"]["challenge"] == "NEW_PASSWORD_REQUIRED" and first["body"]["session"]

    step = {
        "username": "new@feedforward.example",
        "session": first["body"]["session"],
        "challenge": "NEW_PASSWORD_REQUIRED",
        "answer": "Brand-new-2026!",
    }
    resp = client.http.post("/api/moderation/sign-in", body=json.dumps(step), headers=JSON_HEADERS)
    assert resp.status_code == 200
    tok = json.loads(resp.body)["id_token"]
    assert get_queue(client, bearer(tok)).status_code == 200

    # The session is used up: answering again means starting again.
    again = client.http.post("/api/moderation/sign-in", body=json.dumps(step), headers=JSON_HEADERS)
    assert again.status_code == 401


def test_a_moderator_with_an_authenticator_app_is_asked_for_the_code(client, aws, moderator_user, jwks):
    idp = aws.client("cognito-idp")
    pool, app_client = aws.resources.user_pool_id, aws.resources.client_id
    tokens = idp.initiate_auth(
        AuthFlow="USER_PASSWORD_AUTH",
        ClientId=app_client,
        AuthParameters={"USERNAME": moderator_user["username"], "PASSWORD": moderator_user["password"]},
    )["AuthenticationResult"]
    idp.associate_software_token(AccessToken=tokens["AccessToken"])
    idp.verify_software_token(AccessToken=tokens["AccessToken"], UserCode="123456")
    idp.admin_set_user_mfa_preference(
        UserPoolId=pool,
        Username=moderator_user["username"],
        SoftwareTokenMfaSettings={"Enabled": True, "PreferredMfa": True},
    )

    first = sign_in(client, moderator_user["username"], moderator_user["password"])
    assert first["body"]["challenge"] == "SOFTWARE_TOKEN_MFA"
    step = {
        "username": moderator_user["username"],
        "session": first["body"]["session"],
        "challenge": "SOFTWARE_TOKEN_MFA",
        "answer": "123456",
    }
    resp = client.http.post("/api/moderation/sign-in", body=json.dumps(step), headers=JSON_HEADERS)
    assert resp.status_code == 200
    assert get_queue(client, bearer(json.loads(resp.body)["id_token"])).status_code == 200


# ---- a pool that requires MFA, as infra/template.yaml makes it on AWS ----------------------


def totp_code(secret: str, offset_steps: int = 0) -> str:
    """The code an authenticator app shows for this secret (RFC 6238: SHA-1, 6 digits, 30 s)."""
    from cryptography.hazmat.primitives.hashes import SHA1
    from cryptography.hazmat.primitives.twofactor.totp import TOTP

    # Not a timing test: only keeps the code and moto's check inside the same 30-second step.
    if 30 - time.time() % 30 < 2:
        time.sleep(30 - time.time() % 30 + 0.1)
    key = base64.b32decode(secret + "=" * (-len(secret) % 8), casefold=True)
    return TOTP(key, 6, SHA1(), 30, enforce_key_length=False).generate(time.time() + 30 * offset_steps).decode()


@pytest.fixture
def mfa_pool(aws, monkeypatch):
    """The local pool switched to MFA required (software token only), with moto checking codes."""
    monkeypatch.setenv("MOTO_COGNITO_IDP_USER_POOL_ENABLE_TOTP", "true")
    idp = aws.client("cognito-idp")
    pool = aws.resources.user_pool_id
    idp.set_user_pool_mfa_config(
        UserPoolId=pool, SoftwareTokenMfaConfiguration={"Enabled": True}, MfaConfiguration="ON"
    )
    idp.admin_create_user(
        UserPoolId=pool,
        Username="first@feedforward.example",
        TemporaryPassword="Temporary-2026!",
        MessageAction="SUPPRESS",
    )
    idp.admin_add_user_to_group(UserPoolId=pool, Username="first@feedforward.example", GroupName="moderators")
    return {"username": "first@feedforward.example", "temporary": "Temporary-2026!", "password": "Chosen-pass-2026!"}


def post_step(client, **step):
    resp = client.http.post("/api/moderation/sign-in", body=json.dumps(step), headers=JSON_HEADERS)
    return resp.status_code, json.loads(resp.body or b"null")


def to_mfa_setup(client, user) -> dict:
    first = sign_in(client, user["username"], user["temporary"])
    assert first["body"]["challenge"] == "NEW_PASSWORD_REQUIRED"
    status, body = post_step(
        client,
        username=user["username"],
        session=first["body"]["session"],
        challenge="NEW_PASSWORD_REQUIRED",
        answer=user["password"],
    )
    assert status == 200, body
    return body


def test_a_first_sign_in_sets_up_the_authenticator_app_then_every_sign_in_asks_for_its_code(
    client, mfa_pool, jwks, capfd
):
    user = mfa_pool
    setup = to_mfa_setup(client, user)
    assert setup["challenge"] == "MFA_SETUP" and setup["session"] and setup["secret_code"]
    uri = urlsplit(setup["otpauth_uri"])
    assert (uri.scheme, uri.netloc) == ("otpauth", "totp")
    assert unquote(uri.path) == f"/FeedForward:{user['username']}"
    assert parse_qs(uri.query) == {"secret": [setup["secret_code"]], "issuer": ["FeedForward"]}
    # The QR code to scan: one SVG path whose squares are exactly the modules of the URI's QR code.
    assert qr_modules(setup["qr"]) == qr_of(setup["otpauth_uri"])

    # A code that is not the app's current one is refused, naming the field; the session survives it.
    status, body = post_step(
        client,
        username=user["username"],
        session=setup["session"],
        challenge="MFA_SETUP",
        answer=totp_code(setup["secret_code"], offset_steps=10),
    )
    assert status == 422 and body["error"]["fields"][0]["field"] == "answer"

    status, body = post_step(
        client,
        username=user["username"],
        session=setup["session"],
        challenge="MFA_SETUP",
        answer=totp_code(setup["secret_code"]),
    )
    assert status == 200, body
    assert get_queue(client, bearer(body["id_token"])).status_code == 200

    # From now on the password alone is not enough.
    again = sign_in(client, user["username"], user["password"])
    assert again["status"] == 200 and again["body"]["challenge"] == "SOFTWARE_TOKEN_MFA"
    assert "secret_code" not in again["body"]
    status, body = post_step(
        client,
        username=user["username"],
        session=again["body"]["session"],
        challenge="SOFTWARE_TOKEN_MFA",
        answer=totp_code(setup["secret_code"]),
    )
    assert status == 200 and body["id_token"]

    # The secret went to the moderator's browser only: never to a log line.
    out, err = capfd.readouterr()
    assert setup["secret_code"] not in out + err


@pytest.mark.parametrize("answer", [None, "", "12345", "1234567", "12ab56", "١٢٣٤٥٦", " 123456"])
def test_an_mfa_setup_answer_must_be_six_digits(client, mfa_pool, answer):
    setup = to_mfa_setup(client, mfa_pool)
    step = {"username": mfa_pool["username"], "session": setup["session"], "challenge": "MFA_SETUP"}
    if answer is not None:
        step["answer"] = answer
    status, body = post_step(client, **step)
    assert status == 422
    assert [f["field"] for f in body["error"]["fields"]] == ["answer"]
    if answer:
        assert "6-digit code" in body["error"]["fields"][0]["message"]


@pytest.mark.parametrize("session", ["not-a-session", "x" * 64])
def test_an_mfa_setup_with_an_unknown_session_must_start_again(client, mfa_pool, session):
    status, body = post_step(
        client, username=mfa_pool["username"], session=session, challenge="MFA_SETUP", answer="123456"
    )
    assert status == 401
    assert "Start again" in body["error"]["message"]


# ---- checking tokens ----------------------------------------------------------------------


def test_a_signed_in_user_outside_the_moderators_group_is_forbidden(client, aws, jwks):
    from local.resources import create_moderator

    create_moderator(
        aws.session, aws.resources, "staff@feedforward.example", "Staff-member-2026!", "A Member Of Staff", group=""
    )
    result = sign_in(client, "staff@feedforward.example", "Staff-member-2026!")
    assert result["status"] == 200
    resp = get_queue(client, bearer(result["body"]["id_token"]))
    assert resp.status_code == 403
    assert error_of(resp)["code"] == "Forbidden"


def flip_signature_byte(tok: str) -> str:
    head, body, sig = tok.split(".")
    raw = bytearray(base64.urlsafe_b64decode(sig + "=" * (-len(sig) % 4)))
    raw[len(raw) // 2] ^= 0x01
    return f"{head}.{body}.{base64.urlsafe_b64encode(bytes(raw)).rstrip(b'=').decode()}"


def unsigned(claims: dict) -> str:
    def part(obj: dict) -> str:
        return base64.urlsafe_b64encode(json.dumps(obj).encode()).rstrip(b"=").decode()

    return f"{part({'alg': 'none', 'typ': 'JWT', 'kid': 'dummy'})}.{part(claims)}."


def hs256_with_public_key(claims: dict) -> str:
    """The classic key-confusion trick: HMAC keyed with the RSA public key's PEM (PyJWT refuses to mint it)."""
    import hashlib
    import hmac

    from cryptography.hazmat.primitives import serialization

    pem = jwt.PyJWK(moto_jwks()["keys"][0]).key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )

    def part(data: bytes) -> str:
        return base64.urlsafe_b64encode(data).rstrip(b"=").decode()

    signing_input = f"{part(json.dumps({'alg': 'HS256', 'typ': 'JWT', 'kid': 'dummy'}).encode())}.{part(json.dumps(claims).encode())}"
    return f"{signing_input}.{part(hmac.new(pem, signing_input.encode(), hashlib.sha256).digest())}"


def other_rsa_key():
    from cryptography.hazmat.primitives.asymmetric import rsa

    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


BAD_TOKENS = {
    "no header": lambda aws, tok: None,
    "empty bearer": lambda aws, tok: "Bearer ",
    "another scheme": lambda aws, tok: f"Basic {base64.b64encode(b'moderator:pw').decode()}",
    "garbage": lambda aws, tok: "Bearer not-a-token",
    "garbled segments": lambda aws, tok: "Bearer aaa.bbb.ccc",
    "token without scheme": lambda aws, tok: tok,
    "one signature byte flipped": lambda aws, tok: f"Bearer {flip_signature_byte(tok)}",
    "expired": lambda aws, tok: (
        "Bearer " + mint(moderator_claims(aws, iat=int(time.time()) - 7200, exp=int(time.time()) - 3600))
    ),
    "no expiry": lambda aws, tok: "Bearer " + mint(moderator_claims(aws, exp=None)),
    "wrong audience": lambda aws, tok: "Bearer " + mint(moderator_claims(aws, aud="some-other-client")),
    "wrong issuer": lambda aws, tok: (
        "Bearer " + mint(moderator_claims(aws, iss="https://cognito-idp.eu-west-2.amazonaws.com/eu-west-2_other"))
    ),
    "an access token": lambda aws, tok: "Bearer " + mint(moderator_claims(aws, token_use="access")),
    "no token_use": lambda aws, tok: "Bearer " + mint(moderator_claims(aws, token_use=None)),
    "alg none": lambda aws, tok: "Bearer " + unsigned(moderator_claims(aws)),
    "HS256 with a shared secret": lambda aws, tok: (
        "Bearer " + mint(moderator_claims(aws), key="secret" * 6, algorithm="HS256")
    ),
    "HS256 keyed with the public key": lambda aws, tok: "Bearer " + hs256_with_public_key(moderator_claims(aws)),
    "signed by another key with moto's kid": lambda aws, tok: (
        "Bearer " + mint(moderator_claims(aws), key=other_rsa_key())
    ),
    "unknown kid": lambda aws, tok: "Bearer " + mint(moderator_claims(aws), kid="rotated-away"),
}


@pytest.mark.parametrize("case", list(BAD_TOKENS))
def test_bad_tokens_are_unauthorized(client, aws, token, case):
    header = BAD_TOKENS[case](aws, token)
    resp = get_queue(client, {"Authorization": header} if header is not None else {})
    assert resp.status_code == 401, resp.body
    assert error_of(resp)["code"] == "Unauthorized"
    assert resp.headers["WWW-Authenticate"].startswith("Bearer")


def test_a_token_minted_with_the_moto_key_and_right_claims_is_accepted(client, aws, jwks, moderator_user):
    """The control for the cases above: only the one thing each case changes makes it fail."""
    tok = mint(moderator_claims(aws, name="Dr Jo Bloggs"))
    resp = get_queue(client, bearer(tok))
    assert resp.status_code == 200
    assert json.loads(resp.body)["moderator"] == "Dr Jo Bloggs"


# ---- the Authenticator on its own --------------------------------------------------------


def settings_for(aws) -> Settings:
    return Settings(
        cognito_region=REGION,
        cognito_user_pool_id=aws.resources.user_pool_id,
        cognito_client_id=aws.resources.client_id,
    )


class FakeClock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_nothing_is_built_or_fetched_until_a_token_arrives(aws):
    made, source = [], JwksSource()
    a = auth.Authenticator(settings_for(aws), lambda: made.append(1), jwks_fetch=source)
    assert made == [] and source.urls == []
    with pytest.raises(Unauthorized):
        a.moderator("")
    assert source.urls == []  # a missing header needs no keys


def test_the_jwks_is_fetched_once_from_the_pool_and_kept(aws):
    source = JwksSource()
    s = settings_for(aws)
    a = auth.Authenticator(s, lambda: None, jwks_fetch=source)
    tok = mint(moderator_claims(aws))
    for _ in range(3):
        assert a.moderator(f"Bearer {tok}").username == "moderator@feedforward.example"
    assert source.urls == [
        f"https://cognito-idp.{REGION}.amazonaws.com/{aws.resources.user_pool_id}/.well-known/jwks.json"
    ]


def test_an_unknown_kid_causes_one_refetch_at_most_per_interval(aws):
    source, clock = JwksSource(), FakeClock()
    a = auth.Authenticator(settings_for(aws), lambda: None, jwks_fetch=source, min_refetch_seconds=60, clock=clock)
    a.moderator("Bearer " + mint(moderator_claims(aws)))
    assert len(source.urls) == 1

    rotated = "Bearer " + mint(moderator_claims(aws), kid="new-key")
    clock.now += 5
    with pytest.raises(Unauthorized):
        a.moderator(rotated)
    assert len(source.urls) == 1  # too soon to ask again

    clock.now += 120
    with pytest.raises(Unauthorized):
        a.moderator(rotated)
    with pytest.raises(Unauthorized):
        a.moderator(rotated)
    assert len(source.urls) == 2  # one refetch, then the answer is kept

    # After rotation the pool publishes the new key under its kid: the next refetch finds it.
    new_key = dict(moto_jwks()["keys"][0], kid="new-key")
    source.document = {"keys": [new_key]}
    clock.now += 120
    assert a.moderator(rotated).username == "moderator@feedforward.example"
    assert len(source.urls) == 3


def test_no_keys_at_all_is_a_503_not_a_pass(aws):
    from chalicelib.core.errors import FeedForwardError

    source = JwksSource()
    source.fail = True
    a = auth.Authenticator(settings_for(aws), lambda: None, jwks_fetch=source)
    with pytest.raises(FeedForwardError) as caught:
        a.moderator("Bearer " + mint(moderator_claims(aws)))
    assert caught.value.status == 503


def test_moderator_name_and_username_come_from_the_claims(aws):
    a = auth.Authenticator(settings_for(aws), lambda: None, jwks_fetch=JwksSource())
    who = a.moderator("Bearer " + mint(moderator_claims(aws, name="Sam Moderator")))
    assert (who.username, who.name) == ("moderator@feedforward.example", "Sam Moderator")
    who = a.moderator(
        "bearer " + mint(moderator_claims(aws, **{"cognito:username": None, "email": "e@feedforward.example"}))
    )
    assert (who.username, who.name) == ("e@feedforward.example", "e@feedforward.example")
    with pytest.raises(Forbidden):
        a.moderator("Bearer " + mint(moderator_claims(aws, **{"cognito:groups": ["staff"]})))
    with pytest.raises(Forbidden):
        a.moderator("Bearer " + mint(moderator_claims(aws, **{"cognito:groups": None})))


def test_the_default_fetcher_reads_the_configured_jwks_url(aws, monkeypatch):
    """As in `make run`: FF_COGNITO_JWKS_URL points at the emulator, which serves the pool's keys."""
    document = json.dumps(moto_jwks()).encode()
    seen = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802
            seen.append(self.path)
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(document)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        pool = aws.resources.user_pool_id
        monkeypatch.setenv("FF_COGNITO_JWKS_URL", f"http://127.0.0.1:{server.server_port}/{pool}/.well-known/jwks.json")
        wiring.reset()
        from chalicelib.core.settings import get_settings

        a = auth.Authenticator(get_settings(), lambda: None)
        assert a.moderator("Bearer " + mint(moderator_claims(aws))).username == "moderator@feedforward.example"
        assert seen == [f"/{pool}/.well-known/jwks.json"]
    finally:
        server.shutdown()
        server.server_close()
        wiring.reset()


# ---- Hardening (issue 18): sign-in limits, a removed moderator, dropped keys ------------------------


def _from_ip(monkeypatch, ip: str) -> None:
    from chalice.local import LambdaEventConverter

    monkeypatch.setattr(LambdaEventConverter, "LOCAL_SOURCE_IP", ip)


def test_sign_in_has_a_limit_per_client_answered_429_with_retry_after(client, moderator_user, jwks, monkeypatch):
    """On c219401 /api/moderation/sign-in had no limit of its own: every guess went to Cognito."""
    _from_ip(monkeypatch, "198.51.100.7")
    limit = wiring.get_settings().sign_in_limit
    answers = [sign_in(client, f"guess{n}@feedforward.example", "Wrong-password-1!")["status"] for n in range(limit)]
    assert set(answers) == {401}
    refused = sign_in(client, moderator_user["username"], moderator_user["password"])
    assert refused["status"] == 429 and int(refused["headers"]["Retry-After"]) > 0
    _from_ip(monkeypatch, "198.51.100.8")  # another connection is not affected
    assert sign_in(client, moderator_user["username"], moderator_user["password"])["status"] == 200


def test_sign_in_has_a_limit_per_user_name_from_every_client(client, moderator_user, jwks, monkeypatch):
    limit = wiring.get_settings().sign_in_user_limit
    for n in range(limit):
        _from_ip(monkeypatch, f"203.0.113.{n + 1}")
        assert sign_in(client, moderator_user["username"].upper(), "Wrong-password-1!")["status"] == 401
    _from_ip(monkeypatch, "192.0.2.200")
    refused = sign_in(client, moderator_user["username"], "Wrong-password-1!")
    assert refused["status"] == 429 and refused["headers"]["Retry-After"]
    assert moderator_user["username"] not in json.dumps(refused["body"])


def test_a_moderator_removed_from_the_group_loses_access_within_a_minute(aws, client, moderator_user, jwks):
    """On c219401 the token's own cognito:groups was all that was checked, for up to its 60 minutes."""
    tok = sign_in(client, moderator_user["username"], moderator_user["password"])["body"]["id_token"]
    assert client.http.get("/api/moderation/queue", headers=bearer(tok)).status_code == 200
    aws.client("cognito-idp").admin_remove_user_from_group(
        UserPoolId=aws.resources.user_pool_id, Username=moderator_user["username"], GroupName="moderators"
    )
    clock = FakeClock()
    a = auth.Authenticator(
        wiring.get_settings(),
        lambda: aws.client("cognito-idp"),
        jwks_fetch=JwksSource(),
        clock=clock,
        recheck_groups=True,
    )
    with pytest.raises(Forbidden):
        a.moderator(f"Bearer {tok}")
    # Through the app: its cached "yes" lasts moderator_recheck_seconds (60) at most.
    wiring.authenticator()._members.clear()
    assert client.http.get("/api/moderation/queue", headers=bearer(tok)).status_code == 403


def test_a_key_the_pool_drops_stops_working_within_the_jwks_max_age(aws):
    source, clock = JwksSource(), FakeClock()
    a = auth.Authenticator(settings_for(aws), lambda: None, jwks_fetch=source, clock=clock)
    tok = "Bearer " + mint(moderator_claims(aws))
    assert a.moderator(tok).username == "moderator@feedforward.example"
    source.document = {"keys": []}  # the pool rotated its key out
    clock.now += 30
    assert a.moderator(tok).username == "moderator@feedforward.example"  # within the max age, kept
    clock.now += settings_for(aws).jwks_max_age_seconds
    with pytest.raises(Unauthorized):
        a.moderator(tok)
    assert len(source.urls) == 2


def qr_modules(qr: dict) -> set[tuple[int, int]]:
    """The dark squares an SVG path of row runs ("M x y h n v1 h-n z") paints."""
    assert re.fullmatch(r"(M\d+ \d+h\d+v1h-\d+z)+", qr["d"]), qr["d"][:80]
    dark = set()
    for x, y, n in re.findall(r"M(\d+) (\d+)h(\d+)", qr["d"]):
        dark |= {(int(x) + i, int(y)) for i in range(int(n))}
    assert all(0 <= x < qr["size"] and 0 <= y < qr["size"] for x, y in dark)
    return dark


def qr_of(text: str) -> set[tuple[int, int]]:
    import segno

    code = segno.make(text, error="m", micro=False)
    return {(x, y) for y, row in enumerate(code.matrix_iter(border=4)) for x, dark in enumerate(row) if dark}
