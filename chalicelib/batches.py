"""Batch processing with partial failures (powertools), for the stream and both queues.

A failing record is reported back, so only it is retried; the rest of its batch is done.
"""

from __future__ import annotations

from typing import Any, Callable

from .observability import logger, metrics


def stream_batch(event: dict[str, Any], handle: Callable[[dict[str, Any]], Any]) -> dict[str, Any]:
    from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response

    def record_handler(record):
        return handle(record.raw_event)

    try:
        return process_partial_response(
            event=event, record_handler=record_handler, processor=BatchProcessor(event_type=EventType.DynamoDBStreams)
        )
    finally:
        metrics.flush_metrics()


def queue_batch(event: dict[str, Any], handle: Callable[[str], Any]) -> dict[str, Any]:
    from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response

    def record_handler(record):
        logger.append_keys(message_id=record.message_id)
        return handle(record.body)

    try:
        return process_partial_response(
            event=event, record_handler=record_handler, processor=BatchProcessor(event_type=EventType.SQS)
        )
    finally:
        metrics.flush_metrics()
