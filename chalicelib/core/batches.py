"""Batch processing with partial failures, for the stream and the queues.

A failing record is reported back (Lambda's ReportBatchItemFailures), so only it is retried; the rest
of its batch is done. When every record fails the batch raises, and the whole of it comes again.

This is what powertools' BatchProcessor did for us, in a few lines: importing it cost each worker's
first invocation about a fifth of its time (asyncio, and the parser's twenty-five pydantic models of
event shapes, built at import), and the handlers read only the raw records (issue 17).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypedDict

from .observability import logger, metrics


class PartialItemFailureResponse(TypedDict):
    batchItemFailures: list[dict[str, str]]


class BatchFailed(RuntimeError):
    """Every record of the batch failed: Lambda retries the whole batch (and the stream holds its shard)."""


def _each(
    records: list[dict[str, Any]], handle: Callable[[dict[str, Any]], Any], ident: Callable[[dict[str, Any]], str]
) -> PartialItemFailureResponse:
    failed: list[dict[str, str]] = []
    for record in records:
        try:
            handle(record)
        except Exception as e:  # noqa: BLE001 - reported back: only this record is retried
            # The error's type only: its message may quote what the record held.
            logger.warning("a record failed; it alone is retried", extra={"error": type(e).__name__})
            failed.append({"itemIdentifier": ident(record)})
    if records and len(failed) == len(records):
        raise BatchFailed(f"all {len(records)} records failed")
    return {"batchItemFailures": failed}


def stream_batch(
    event: dict[str, Any], handle: Callable[[dict[str, Any]], list], send: Callable[[list], Any]
) -> PartialItemFailureResponse:
    """Handle each record, then send the jobs of the whole batch once (fifteen stories, one home page render)."""
    jobs: list = []
    try:
        result = _each(
            event["Records"], lambda record: jobs.extend(handle(record)), lambda r: r["dynamodb"]["SequenceNumber"]
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

    def record_handler(record: dict[str, Any]) -> Any:
        logger.append_keys(message_id=record["messageId"])
        return handle(record["body"])

    try:
        result = _each(event["Records"], record_handler, lambda r: r["messageId"])
        failed = {f["itemIdentifier"] for f in result["batchItemFailures"]}
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
