"""Running a domain function once per key (powertools idempotency), the same way everywhere.

A powertools persistence layer adds an event hook to the DynamoDB client it is given, and is
configured once, by its first call. Building one per email grew the shared client's hooks
without bound (2,052 after a 1,000-email fan-out). So `Records` (what Store.idempotency_layer
gives) only names where the records live, and `once` keeps ONE layer per client, key prefix and
configuration, telling it the partition of each call through a context variable.
"""

from __future__ import annotations

import secrets
import threading
import time
from collections.abc import Callable
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

_PARTITION: ContextVar[str] = ContextVar("idempotency_partition")
# The id the in-progress record being put carries (store.table.WRITE_ID), so that the SDK's retry of
# that PutItem, after its answer was lost, knows the record it meets is its own (issue 22).
_WRITING: ContextVar[str] = ContextVar("idempotency_write_id", default="")
_LAYERS: dict[tuple, Any] = {}
_MOST_LAYERS = 64  # a process sees a handful; tests make a client per case, so forget old ones
_LOCK = threading.Lock()  # `chalice local` serves requests on threads
_SAVE_TRIES = 3


@dataclass(frozen=True)
class Records:
    """Where one family of idempotency records lives: a partition of the table."""

    client: Any
    table: str
    partition: str  # the PK of every record of this family, e.g. IDEMPOTENCY#mail#<story id>
    key_attr: str = "PK"
    sort_key_attr: str = "SK"
    expiry_attr: str = "expires_at"


def _layer(records: Records, key_prefix: str, config: Any) -> Any:
    config_key = (config.event_key_jmespath, config.expires_after_seconds, config.raise_on_no_idempotency_key)
    key = (
        id(records.client),
        records.table,
        records.key_attr,
        records.sort_key_attr,
        records.expiry_attr,
        key_prefix,
        config_key,
    )
    cached = _LAYERS.get(key)
    if cached is not None and cached.client is records.client:
        return cached
    with _LOCK:
        cached = _LAYERS.get(key)
        if cached is not None and cached.client is records.client:
            return cached
        return _new_layer(records, key_prefix, config, key)


def _new_layer(records: Records, key_prefix: str, config: Any, key: tuple) -> Any:
    from aws_lambda_powertools.utilities.idempotency import DynamoDBPersistenceLayer

    class PartitionedLayer(DynamoDBPersistenceLayer):
        def _get_key(self, idempotency_key: str) -> dict:
            key = {self.key_attr: {"S": _PARTITION.get()}, self.sort_key_attr: {"S": idempotency_key}}
            writing = _WRITING.get()
            return key | {"write_id": {"S": writing}} if writing else key

        def _put_record(self, data_record: Any) -> None:
            from aws_lambda_powertools.utilities.idempotency.exceptions import IdempotencyItemAlreadyExistsError

            write_id = secrets.token_hex(12)
            try:
                writing = _WRITING.set(write_id)
                try:
                    super()._put_record(data_record)
                finally:
                    _WRITING.reset(writing)
            except IdempotencyItemAlreadyExistsError:
                there = self.client.get_item(
                    TableName=self.table_name, Key=self._get_key(data_record.idempotency_key), ConsistentRead=True
                ).get("Item", {})
                if there.get("write_id", {}).get("S") != write_id:
                    raise
                # The record in progress is this very call's: its PutItem was applied, its answer lost.

        def save_success(self, data: Any, result: Any) -> None:
            # FAULTS: the side effect has happened; without this record a redelivered job does it
            # again once the call's in-progress time is up. Worth a few tries beyond botocore's.
            for attempt in range(_SAVE_TRIES):
                try:
                    return super().save_success(data, result)
                except Exception:
                    if attempt == _SAVE_TRIES - 1:
                        raise
                    time.sleep(0.05 * 2**attempt)

    if len(_LAYERS) >= _MOST_LAYERS:
        _LAYERS.clear()
    layer = PartitionedLayer(
        table_name=records.table,
        key_attr=records.key_attr,
        sort_key_attr=records.sort_key_attr,
        static_pk_value="unused",  # _get_key takes the partition of the call
        expiry_attr=records.expiry_attr,
        boto3_client=records.client,
    )
    # Configured here, before any thread can use it (powertools marks a layer configured before it
    # has copied the configuration, and never configures it again).
    layer.configure(config, key_prefix=key_prefix)
    _LAYERS[key] = layer
    return layer


def once(
    fn: Callable[..., Any],
    records: Records,
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
    layer = _layer(records, key_prefix, config)
    wrapped = idempotent_function(
        data_keyword_argument=data_keyword_argument, persistence_store=layer, config=config, key_prefix=key_prefix
    )(fn)

    def run(*args: Any, **kwargs: Any) -> Any:
        token = _PARTITION.set(records.partition)
        try:
            return wrapped(*args, **kwargs)
        finally:
            _PARTITION.reset(token)

    return run
