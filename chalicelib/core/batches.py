"""Batch processing with partial failures (powertools), for the stream and both queues.

A failing record is reported back, so only it is retried; the rest of its batch is done.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from .observability import logger, metrics

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse


def stream_batch(
    event: dict[str, Any], handle: Callable[[dict[str, Any]], list], send: Callable[[list], Any]
) -> PartialItemFailureResponse:
    """Handle each record, then send the jobs of the whole batch once (fifteen stories, one home page render)."""
    from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response

    jobs: list = []

    def record_handler(record):
        jobs.extend(handle(record.raw_event))

    try:
        result = process_partial_response(
            event=event, record_handler=record_handler, processor=BatchProcessor(event_type=EventType.DynamoDBStreams)
        )
        # If sending fails the whole batch is retried; every step is idempotent, so that is safe.
        if jobs:
            send(jobs)
        return result
    finally:
        metrics.flush_metrics()


def queue_batch(
    event: dict[str, Any], handle: Callable[[str], Any], back_off: Callable[[str, int], Any] | None = None
) -> PartialItemFailureResponse:
    """Handle each message; a failed one is reported back and, with `back_off` (receipt handle, receive
    count), held back longer each time before it comes again."""
    from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response

    def record_handler(record):
        logger.append_keys(message_id=record.message_id)
        return handle(record.body)

    try:
        result = process_partial_response(
            event=event, record_handler=record_handler, processor=BatchProcessor(event_type=EventType.SQS)
        )
        failed = {f["itemIdentifier"] for f in result.get("batchItemFailures", [])}
        if back_off and failed:
            for record in event.get("Records", []):
                if record.get("messageId") not in failed:
                    continue
                receives = int(record.get("attributes", {}).get("ApproximateReceiveCount", "1"))
                try:
                    back_off(record["receiptHandle"], receives)
                except Exception as e:  # the queue's own visibility timeout applies instead
                    logger.warning("could not hold a failed message back", extra={"error": type(e).__name__})
        return result
    finally:
        # A warm Lambda's next invocation must not log this batch's last message id.
        logger.remove_keys(["message_id"])
        metrics.flush_metrics()


def whole_batch(event: dict[str, Any], handle: Callable[[list[str]], Any]) -> PartialItemFailureResponse:
    """Handle a batch's bodies together (a FIFO queue's: the search worker rebuilds each shard once for
    the whole batch). An error fails the whole batch, which SQS gives back in order: nothing is partial."""
    try:
        handle([r["body"] for r in event.get("Records", [])])
        return {"batchItemFailures": []}
    finally:
        metrics.flush_metrics()
