"""The emulator's Cognito made to require an authenticator app as the pool on AWS does.

moto gives tokens for a password alone to a user who never set up an authenticator app, even in a
pool whose MfaConfiguration is ON; Cognito on AWS answers with the MFA_SETUP challenge instead.
`apply()` makes moto's USER_PASSWORD_AUTH do the same, so the local stack enforces what the pool
requires (stack-facts: "moto's Cognito does not enforce the pool's MFA setting").
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

_APPLIED = False


def enforcing(plain: Callable[..., Any]) -> Callable[..., Any]:
    """moto's CognitoIdpBackend.initiate_auth, but a password alone in a pool that requires MFA,
    from a user with no authenticator app yet, gets MFA_SETUP rather than tokens."""

    def initiate_auth(self: Any, client_id: str, auth_flow: str, auth_parameters: dict[str, str]) -> Any:
        answer = plain(self, client_id, auth_flow, auth_parameters)
        if "AuthenticationResult" not in answer or auth_flow != "USER_PASSWORD_AUTH":
            return answer
        pool = next((p for p in self.user_pools.values() if client_id in p.clients), None)
        if pool is None or pool.mfa_config != "ON":
            return answer
        user = self.admin_get_user(pool.id, auth_parameters.get("USERNAME", ""))
        if getattr(user, "token_verified", False) or getattr(user, "software_token_mfa_enabled", False):
            return answer
        session = str(uuid.uuid4())
        self.sessions[session] = (user.username, pool)
        return {
            "ChallengeName": "MFA_SETUP",
            "ChallengeParameters": {"MFAS_CAN_SETUP": '["SOFTWARE_TOKEN_MFA"]'},
            "Session": session,
        }

    return initiate_auth


def apply() -> None:
    global _APPLIED
    if _APPLIED:
        return
    from moto.cognitoidp.models import CognitoIdpBackend

    CognitoIdpBackend.initiate_auth = enforcing(CognitoIdpBackend.initiate_auth)  # type: ignore[method-assign]
    _APPLIED = True
