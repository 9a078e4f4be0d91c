"""One settings object, read from the environment on first use (never at import).

The chalice test client only sets a stage's environment variables during a call,
so nothing may read them at import time.
"""

from __future__ import annotations

from functools import lru_cache

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="FF_", extra="ignore", frozen=True)

    stage: str = "local"
    table_name: str = "feedforward"
    site_bucket: str = "feedforward-site"
    render_queue_url: str = ""
    mail_queue_url: str = ""
    mail_from: str = "FeedForward <stories@feedforward.example>"
    # The SES configuration set whose bounce and complaint events go to SNS (on_mail_event); empty locally.
    mail_configuration_set: str = ""
    # Public addresses, used to build links in pages and emails.
    site_url: str = "http://127.0.0.1:8080"
    api_url: str = "http://127.0.0.1:8000"
    # Moderators sign in with this Cognito user pool.
    cognito_region: str = "eu-west-2"
    cognito_user_pool_id: str = ""
    cognito_client_id: str = ""
    # Only set locally: where the emulator serves the pool's JWKS and which issuer its tokens carry.
    cognito_jwks_url: str = ""
    moderator_group: str = "moderators"
    # How long the author's private link to their story keeps working.
    author_link_days: int = Field(default=730, ge=1)
    # Bound on any request body we accept.
    max_body_bytes: int = Field(default=64 * 1024, ge=1024)
    # How long a submission id is remembered, so a re-sent form makes no second story.
    submission_idempotency_seconds: int = Field(default=24 * 3600, ge=60)
    stories_per_page: int = Field(default=20, ge=1, le=100)
    # Staff links. A read-and-respond link lasts 60 days: long enough for leave and rotas,
    # short enough that a forwarded alert stops working (docs/emailed-links.md says why).
    respond_link_days: int = Field(default=60, ge=1)
    # Unsubscribe and manage links must keep working for as long as alerts might be read.
    subscriber_link_days: int = Field(default=400, ge=1)
    confirm_link_days: int = Field(default=7, ge=1)
    # Organisations that restrict self-service sign-up, as JSON: {"org-slug": ["nhs.net", "trust.nhs.uk"]}.
    signup_domains: dict[str, list[str]] = Field(default_factory=dict)

    @property
    def cognito_issuer(self) -> str:
        return f"https://cognito-idp.{self.cognito_region}.amazonaws.com/{self.cognito_user_pool_id}"

    @property
    def jwks_url(self) -> str:
        return self.cognito_jwks_url or f"{self.cognito_issuer}/.well-known/jwks.json"


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()


def reset_settings() -> None:
    """Forget the cached settings (tests change the environment between cases)."""
    get_settings.cache_clear()
