"""Running a domain function once per key (powertools idempotency), the same way everywhere."""

from __future__ import annotations

from typing import Any, Callable


def once(
    fn: Callable[..., Any],
    layer: Any,
    key_prefix: str,
    expires_after_seconds: int,
    lambda_context: Any = None,
    event_key_jmespath: str = "",
    data_keyword_argument: str = "data",
) -> Callable[..., Any]:
    """`fn` wrapped so that a second call with the same key returns the first call's result."""
    from aws_lambda_powertools.utilities.idempotency import IdempotencyConfig, idempotent_function

    config = IdempotencyConfig(
        event_key_jmespath=event_key_jmespath,
        raise_on_no_idempotency_key=bool(event_key_jmespath),
        expires_after_seconds=expires_after_seconds,
    )
    if lambda_context is not None:
        # Lets a call that died half-way be retried once its Lambda's time is up.
        config.register_lambda_context(lambda_context)
    return idempotent_function(
        data_keyword_argument=data_keyword_argument, persistence_store=layer, config=config, key_prefix=key_prefix
    )(fn)
