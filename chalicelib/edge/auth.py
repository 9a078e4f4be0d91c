"""Moderators: signing in with the Cognito user pool, and checking the ID token on every call.

The API Gateway authorizer is not relied on (chalice local and the test client accept any
JWT), so every moderation route verifies the token here: RS256 only, against the pool's
JWKS, with expiry, issuer, audience, token use and group all checked.

Nothing is fetched and no client is built at import: the JWKS is fetched on the first token
seen, refetched at most once per `min_refetch_seconds` when a token names a key we do not know,
and fetched again once it is `jwks_max_age_seconds` old, so a key the pool drops stops working
within that (issue 18). The Cognito client is built on the first sign-in or group check.

A removed moderator loses access within `moderator_recheck_seconds` (60; at most 300): the token's
`cognito:groups` claim is only what was true when it was issued (up to an hour before), so the
group is also asked of Cognito (AdminListGroupsForUser), and the answer kept that long per user.
A user deleted or disabled in the pool is refused the same way. Passwords, codes, sessions and
tokens are never logged.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from ..core.errors import FeedForwardError, Forbidden, TooManyRequests, Unauthorized, ValidationFailed, pydantic_fields
from ..core.observability import logger
from ..moderation import Moderator

ALGORITHMS = ["RS256"]  # the only algorithm Cognito signs with; never "none" or HS*
MAX_TOKEN_CHARS = 8192
LEEWAY_SECONDS = 30  # clock skew allowed on exp / iat
JWKS_TIMEOUT_SECONDS = 3
JWKS_MAX_BYTES = 64 * 1024

BAD_CREDENTIALS = "The email or password is not right"
CHALLENGES = ("NEW_PASSWORD_REQUIRED", "SOFTWARE_TOKEN_MFA", "MFA_SETUP")
CODE_CHALLENGES = ("SOFTWARE_TOKEN_MFA", "MFA_SETUP")  # answered with a 6-digit code
ENTER_CODE = "Enter the 6-digit code from your authenticator app"
WRONG_CODE = "The code is not right. Enter the current 6-digit code"
# What the authenticator app shows beside the code, and what Cognito calls the device.
TOTP_ISSUER = "FeedForward"
TOTP_DEVICE_NAME = "FeedForward moderation"
SIGN_IN_LABELS = {
    "username": "your email address",
    "password": "your password",
    "answer": "the answer",
    "session": "the session",
}

JwksFetch = Callable[[str], dict[str, Any]]


class ServiceUnavailable(FeedForwardError):
    status, code = 503, "ServiceUnavailable"


def _unauthorized(message: str, error: str | None = "invalid_token") -> Unauthorized:
    challenge = f'Bearer error="{error}"' if error else "Bearer"
    return Unauthorized(message, headers={"WWW-Authenticate": challenge})


def fetch_jwks(url: str) -> dict[str, Any]:
    """The default JWKS source: one small HTTPS GET with a short timeout."""
    from urllib.request import Request, urlopen

    if not url.startswith(("https://", "http://")):
        raise ValueError("the JWKS address must be http(s)")
    request = Request(url, headers={"Accept": "application/json", "User-Agent": "feedforward"})
    with urlopen(request, timeout=JWKS_TIMEOUT_SECONDS) as resp:  # nosec B310 - scheme checked above
        body = resp.read(JWKS_MAX_BYTES + 1)
    if len(body) > JWKS_MAX_BYTES:
        raise ValueError("the JWKS document is too large")
    return json.loads(body)


class SignIn(BaseModel):
    """Step one (username + password) or a challenge step (username + session + challenge + answer)."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=False, defer_build=True)

    username: str = Field(min_length=3, max_length=254)
    password: str | None = Field(default=None, min_length=1, max_length=256)
    session: str | None = Field(default=None, min_length=1, max_length=4096)
    challenge: Literal["NEW_PASSWORD_REQUIRED", "SOFTWARE_TOKEN_MFA", "MFA_SETUP"] | None = None
    answer: str | None = Field(default=None, min_length=1, max_length=256)

    @model_validator(mode="before")
    @classmethod
    def _trim_username(cls, data: Any) -> Any:
        if isinstance(data, dict) and isinstance(data.get("username"), str):
            data = {**data, "username": data["username"].strip()}
        return data

    @model_validator(mode="after")
    def _one_step(self):
        if self.session is None and self.challenge is None and self.answer is None:
            if self.password is None:
                raise ValueError("password: Enter your password")
            return self
        if self.password is not None:
            raise ValueError("password: Send either a password or a challenge answer, not both")
        if self.session is None:
            raise ValueError("session: Your sign-in has expired; start again")
        if self.challenge is None:
            raise ValueError("challenge: Say which sign-in step this answers")
        if self.answer is None:
            raise ValueError(
                "answer: Enter a new password" if self.challenge == "NEW_PASSWORD_REQUIRED" else f"answer: {ENTER_CODE}"
            )
        if self.challenge in CODE_CHALLENGES and not (
            len(self.answer) == 6 and self.answer.isascii() and self.answer.isdigit()
        ):
            raise ValueError(f"answer: {ENTER_CODE}")
        return self


class Authenticator:
    def __init__(
        self,
        settings: Any,
        cognito_client_factory: Callable[[], Any],
        jwks_fetch: JwksFetch | None = None,
        min_refetch_seconds: float = 60.0,
        clock: Callable[[], float] = time.monotonic,
        recheck_groups: bool = False,
    ):
        self._settings = settings
        self._client_factory = cognito_client_factory
        self._client: Any = None
        # None means "use the module's fetch_jwks, looked up at call time" (tests can replace it).
        self._jwks_fetch = jwks_fetch
        self._min_refetch = min_refetch_seconds
        self._clock = clock
        self._keys: dict[str, Any] | None = None  # kid -> PyJWK
        self._fetched_at: float | None = None
        self._lock = threading.Lock()
        # Whether to ask Cognito, not only the token, that a moderator is still in the group.
        # wiring.authenticator() always does; tests of the token checks alone build one without.
        self._recheck_groups = recheck_groups
        self._members: dict[str, tuple[float, bool]] = {}  # username -> (when asked, in the group)

    # ---- checking a token ----------------------------------------------------------------

    def moderator(self, authorization_header: str) -> Moderator:
        """The moderator behind `Authorization: Bearer <ID token>`, or 401 / 403."""
        import jwt

        token = self._bearer(authorization_header)
        s = self._settings
        if not s.cognito_user_pool_id or not s.cognito_client_id:
            raise ServiceUnavailable("Moderator sign-in is not set up on this stage.")
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError:
            raise _unauthorized("The sign-in token is not valid. Sign in again.") from None
        if header.get("alg") not in ALGORITHMS:
            raise _unauthorized("The sign-in token is not signed the way we expect. Sign in again.")
        kid = header.get("kid")
        if not isinstance(kid, str) or not kid:
            raise _unauthorized("The sign-in token is not valid. Sign in again.")
        key = self._key(kid)
        try:
            claims = jwt.decode(
                token,
                key=key,
                algorithms=ALGORITHMS,
                audience=s.cognito_client_id,
                issuer=s.cognito_issuer,
                leeway=LEEWAY_SECONDS,
                options={"require": ["exp", "iat", "iss", "aud", "token_use"], "verify_signature": True},
            )
        except jwt.ExpiredSignatureError:
            raise _unauthorized("Your sign-in has expired. Sign in again.") from None
        except jwt.PyJWTError:
            raise _unauthorized("The sign-in token is not valid. Sign in again.") from None
        if claims.get("token_use") != "id":
            raise _unauthorized("The sign-in token is not an ID token. Sign in again.")
        username = claims.get("cognito:username") or claims.get("email")
        if not isinstance(username, str) or not username:
            raise _unauthorized("The sign-in token does not say who you are. Sign in again.")
        groups = claims.get("cognito:groups") or []
        if not isinstance(groups, list) or s.moderator_group not in groups:
            raise Forbidden(
                "Your account is not in the moderators group, so it cannot moderate stories.",
                headers={"WWW-Authenticate": 'Bearer error="insufficient_scope"'},
            )
        if self._recheck_groups and not self._still_in_group(claims.get("cognito:username") or username):
            raise Forbidden(
                "Your account is no longer in the moderators group, so it cannot moderate stories.",
                headers={"WWW-Authenticate": 'Bearer error="insufficient_scope"'},
            )
        name = claims.get("name")
        return Moderator(username=username, name=name if isinstance(name, str) and name.strip() else username)

    def _still_in_group(self, username: str) -> bool:
        """Cognito's answer now (or at most `moderator_recheck_seconds` ago): is this user, enabled,
        still in the moderators group? A user Cognito does not know (deleted) is not."""
        now, ttl = self._clock(), self._settings.moderator_recheck_seconds
        with self._lock:
            known = self._members.get(username)
        if known is not None and now - known[0] < ttl:
            return known[1]
        s = self._settings
        try:
            client = self._cognito()
            user = client.admin_get_user(UserPoolId=s.cognito_user_pool_id, Username=username)
            groups = client.admin_list_groups_for_user(UserPoolId=s.cognito_user_pool_id, Username=username)
            member = bool(user.get("Enabled", True)) and any(
                g.get("GroupName") == s.moderator_group for g in groups.get("Groups", [])
            )
        except Exception as e:
            code = getattr(e, "response", {}).get("Error", {}).get("Code", "") if hasattr(e, "response") else ""
            if code != "UserNotFoundException":
                logger.warning("could not ask Cognito about a moderator", extra={"error": code or type(e).__name__})
                raise ServiceUnavailable("Sign-in cannot be checked just now. Try again in a minute.") from None
            member = False
        with self._lock:
            if len(self._members) > 1000:
                self._members.clear()
            self._members[username] = (now, member)
        return member

    @staticmethod
    def _bearer(header: str) -> str:
        if not header or not header.strip():
            raise _unauthorized("Sign in to moderate stories.", error=None)
        scheme, _, token = header.strip().partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or not token:
            raise _unauthorized("Send the sign-in token as 'Authorization: Bearer <token>'.", error="invalid_request")
        if len(token) > MAX_TOKEN_CHARS or token.count(".") != 2:
            raise _unauthorized("The sign-in token is not valid. Sign in again.")
        return token

    def _key(self, kid: str) -> Any:
        with self._lock:
            if self._keys is None or self._stale():
                self._refresh()  # first use, or the pool may have dropped a key since
            elif kid not in self._keys and self._may_refetch():
                # Keys rotate: look once more, but never more often than min_refetch_seconds.
                self._refresh()
            key = (self._keys or {}).get(kid)
        if key is None:
            raise _unauthorized("The sign-in token is signed with a key we do not know. Sign in again.")
        return key

    def _stale(self) -> bool:
        max_age = getattr(self._settings, "jwks_max_age_seconds", 300)
        return self._fetched_at is not None and self._clock() - self._fetched_at >= max_age

    def _may_refetch(self) -> bool:
        return self._fetched_at is None or self._clock() - self._fetched_at >= self._min_refetch

    def _refresh(self) -> None:
        import jwt

        fetch = self._jwks_fetch or fetch_jwks
        url = self._settings.jwks_url
        try:
            document = fetch(url)
        except Exception as e:  # network, timeout, bad JSON: we cannot check tokens right now
            logger.warning("could not fetch the moderators' JWKS", extra={"jwks_url": url, "error": type(e).__name__})
            if self._keys is None:
                raise ServiceUnavailable("Sign-in cannot be checked just now. Try again in a minute.") from None
            self._fetched_at = self._clock()  # keep the keys we have; do not hammer the endpoint
            return
        keys: dict[str, Any] = {}
        for jwk in (document or {}).get("keys", []) if isinstance(document, dict) else []:
            if not isinstance(jwk, dict) or jwk.get("kty") != "RSA" or not jwk.get("kid"):
                continue
            if jwk.get("use", "sig") != "sig" or jwk.get("alg", "RS256") not in ALGORITHMS:
                continue
            try:
                keys[jwk["kid"]] = jwt.PyJWK(jwk, algorithm="RS256")
            except jwt.PyJWTError:
                continue
        self._keys = keys
        self._fetched_at = self._clock()
        logger.info("fetched the moderators' JWKS", extra={"keys": len(keys)})

    # ---- signing in ------------------------------------------------------------------------

    def _cognito(self) -> Any:
        if self._client is None:
            self._client = self._client_factory()
        return self._client

    def sign_in(self, data: dict[str, Any]) -> dict[str, Any]:
        """Password sign-in, or one challenge step. Gives {id_token, expires_in} or {challenge, session}.

        The pool requires an authenticator app (TOTP). A moderator who has none yet gets the
        MFA_SETUP challenge with `secret_code` and `otpauth_uri` to add to the app, and answers
        it with the app's first code; later sign-ins get SOFTWARE_TOKEN_MFA."""
        try:
            step = SignIn.model_validate(data)
        except ValidationError as e:
            # `from None`: the pydantic error carries the input, which may hold a password.
            raise ValidationFailed(pydantic_fields(e, SIGN_IN_LABELS), {"username": data.get("username", "")}) from None
        client_id = self._settings.cognito_client_id
        if not client_id:
            raise ServiceUnavailable("Moderator sign-in is not set up on this stage.")
        try:
            if step.password is not None:
                resp = self._cognito().initiate_auth(
                    AuthFlow="USER_PASSWORD_AUTH",
                    ClientId=client_id,
                    AuthParameters={"USERNAME": step.username, "PASSWORD": step.password},
                )
            elif step.challenge == "MFA_SETUP":
                resp = self._finish_mfa_setup(client_id, step)
            else:
                answer_key = "NEW_PASSWORD" if step.challenge == "NEW_PASSWORD_REQUIRED" else "SOFTWARE_TOKEN_MFA_CODE"
                resp = self._cognito().respond_to_auth_challenge(
                    ClientId=client_id,
                    ChallengeName=step.challenge,
                    Session=step.session,
                    ChallengeResponses={"USERNAME": step.username, answer_key: step.answer},
                )
            if resp.get("ChallengeName") == "MFA_SETUP" and resp.get("Session"):
                # The pool requires MFA and this moderator has no authenticator app yet.
                return self._start_mfa_setup(step.username, resp["Session"])
        except FeedForwardError:
            raise
        except Exception as e:
            raise self._sign_in_error(e, step) from None
        return self._sign_in_result(resp)

    def _start_mfa_setup(self, username: str, session: str) -> dict[str, Any]:
        """Ask Cognito for a new TOTP secret, for the moderator to add to an authenticator app.

        The secret goes back to the moderator's browser once (never to a log); the next step
        sends the first code the app shows, with the session returned here."""
        from urllib.parse import quote, urlencode

        resp = self._cognito().associate_software_token(Session=session)
        secret = resp.get("SecretCode")
        if not secret or not resp.get("Session"):
            raise ServiceUnavailable("Sign-in is not working just now. Try again in a minute.")
        logger.info("moderator sign-in challenge", extra={"challenge": "MFA_SETUP"})
        label = quote(f"{TOTP_ISSUER}:{username}", safe="@:")
        uri = f"otpauth://totp/{label}?{urlencode({'secret': secret, 'issuer': TOTP_ISSUER})}"
        return {
            "challenge": "MFA_SETUP",
            "session": resp["Session"],
            "secret_code": secret,
            "otpauth_uri": uri,
            "qr": qr_path(uri),
        }

    def _finish_mfa_setup(self, client_id: str, step: SignIn) -> dict[str, Any]:
        """Check the first code from the new authenticator app, then finish the MFA_SETUP challenge."""
        verified = self._cognito().verify_software_token(
            Session=step.session, UserCode=step.answer, FriendlyDeviceName=TOTP_DEVICE_NAME
        )
        if verified.get("Status") != "SUCCESS" or not verified.get("Session"):
            raise ValidationFailed([{"field": "answer", "message": WRONG_CODE}])
        return self._cognito().respond_to_auth_challenge(
            ClientId=client_id,
            ChallengeName="MFA_SETUP",
            Session=verified["Session"],
            ChallengeResponses={"USERNAME": step.username},
        )

    @staticmethod
    def _sign_in_result(resp: dict[str, Any]) -> dict[str, Any]:
        result = resp.get("AuthenticationResult")
        if result and result.get("IdToken"):
            logger.info("moderator signed in")
            return {"id_token": result["IdToken"], "expires_in": int(result.get("ExpiresIn", 3600))}
        challenge = resp.get("ChallengeName")
        if challenge in CHALLENGES and resp.get("Session"):
            logger.info("moderator sign-in challenge", extra={"challenge": challenge})
            return {"challenge": challenge, "session": resp["Session"]}
        logger.warning("moderator sign-in needs an unsupported step", extra={"challenge": challenge})
        raise _unauthorized(
            f"Your account needs a sign-in step this screen cannot do ({challenge or 'unknown'}). "
            "Ask an administrator to finish setting up your account.",
            error=None,
        )

    @staticmethod
    def _sign_in_error(e: Exception, step: SignIn) -> FeedForwardError:
        code = getattr(e, "response", {}).get("Error", {}).get("Code", "") if hasattr(e, "response") else ""
        logger.info("moderator sign-in refused", extra={"reason": code or type(e).__name__})
        if not code and type(e).__name__ == "ParamValidationError" and step.password is None:
            # botocore refuses a session Cognito could never have issued (too short, say) before sending it.
            return _unauthorized("Your sign-in has expired or is not right. Start again.", error=None)
        if code in ("NotAuthorizedException", "UserNotFoundException"):
            if step.password is None:
                return _unauthorized("Your sign-in has expired or is not right. Start again.", error=None)
            return _unauthorized(BAD_CREDENTIALS, error=None)
        if code in ("CodeMismatchException", "EnableSoftwareTokenMFAException"):
            # Cognito names a wrong first code from a new authenticator app EnableSoftwareTokenMFAException.
            return ValidationFailed([{"field": "answer", "message": WRONG_CODE}])
        if code in ("ExpiredCodeException", "ResourceNotFoundException"):
            # Cognito (and its emulator) name an unknown or used-up session like this.
            return _unauthorized("Your sign-in has expired. Start again.", error=None)
        if code == "InvalidPasswordException":
            return ValidationFailed(
                [
                    {
                        "field": "answer",
                        "message": "Choose a stronger password: at least 12 characters with upper and lower case letters, a number and a symbol",
                    }
                ]
            )
        if code == "PasswordResetRequiredException":
            return _unauthorized("Your password must be reset. Ask an administrator.", error=None)
        if code == "UserNotConfirmedException":
            return _unauthorized("Your account is not confirmed yet. Ask an administrator.", error=None)
        if code in ("TooManyRequestsException", "TooManyFailedAttemptsException", "LimitExceededException"):
            # Cognito's own limits on one user's attempts: the moderator waits, as for ours (limits.py).
            return TooManyRequests(
                "Too many sign-in attempts. Wait 5 minutes, then try again.",
                retry_after=300,
                limit={"action": "sign_in"},
            )
        if code == "InvalidParameterException":
            return ValidationFailed([{"field": "username", "message": "Check your email address and password"}])
        logger.warning("moderator sign-in failed", extra={"error": code or type(e).__name__})
        return ServiceUnavailable("Sign-in is not working just now. Try again in a minute.")


def qr_path(text: str) -> dict[str, Any]:
    """The QR code of `text` as one SVG path (dark modules, a row's run at a time) and its size in
    modules, quiet zone included. The screen draws it as inline SVG from these two values only, so
    no markup from an answer is ever parsed in the browser."""
    import segno  # only at authenticator set-up

    code = segno.make(text, error="m", micro=False)
    runs: list[str] = []
    for y, row in enumerate(code.matrix_iter(border=4)):
        x = 0
        cells = list(row)
        while x < len(cells):
            if cells[x]:
                start = x
                while x < len(cells) and cells[x]:
                    x += 1
                runs.append(f"M{start} {y}h{x - start}v1h-{x - start}z")
            else:
                x += 1
    return {"size": code.symbol_size(border=4)[0], "d": "".join(runs)}
