"""A look into moto's memory, without an API call, at whether a queue or the table's stream has anything
for the pump: for a pump that runs in the same process as moto (the tests' in-process moto, and the
local stack, whose emulator is a thread of its own process).

Most of a pump's rounds find nothing: each asks every queue and the stream again (seven calls through
botocore's and moto's whole request path). The look replaces those empty calls; when it sees work,
or cannot tell, the pump makes its real calls as before. It is advisory: a look that races with a write
at worst costs one empty call, or leaves the work for the next round.
"""

from __future__ import annotations


class MotoPeek:
    """`queue(url)` and `stream(arn, last)` say whether a real call might find something."""

    def queue(self, url: str) -> bool:
        try:
            from moto.sqs.models import sqs_backends

            account, name = url.rstrip("/").split("/")[-2:]
            region = _region_of_queue(url)
            queue = sqs_backends[account][region].queues.get(name)
            if queue is None:
                return True
            return any(m.visible and not m.delayed for m in list(queue._messages))
        except Exception:  # a shape of moto this does not know: ask for real
            return True

    def messages(self, url: str) -> int | None:
        """What GetQueueAttributes would count as the queue's messages, visible and in flight; None when
        it cannot tell (then the pump asks)."""
        try:
            from moto.sqs.models import sqs_backends

            account, name = url.rstrip("/").split("/")[-2:]
            queue = sqs_backends[account][_region_of_queue(url)].queues.get(name)
            if queue is None:
                return None
            return int(queue.approximate_number_of_messages) + int(queue.approximate_number_of_messages_not_visible)
        except Exception:  # a shape of moto this does not know
            return None

    def stream(self, arn: str, last: dict[str, str]) -> bool:
        try:
            from moto.dynamodb.models import dynamodb_backends

            _, _, _, region, account, resource = arn.split(":", 5)
            table = dynamodb_backends[account][region].tables.get(resource.split("/")[1])
            shard = table.stream_shard if table is not None else None
            if shard is None:
                return True
            if not shard.items:
                return False
            newest = shard.starting_sequence_number + len(shard.items) - 1
            seen = [int(v) for v in last.values()]
            return not seen or max(seen) < newest
        except Exception:  # as above
            return True


def _region_of_queue(url: str) -> str:
    """The region of a queue URL: moto's are `https://sqs.<region>.amazonaws.com/<account>/<name>`,
    or the emulator's `http://127.0.0.1:<port>/<account>/<name>` (its region is the default one)."""
    host = url.split("/")[2]
    parts = host.split(".")
    if len(parts) >= 3 and parts[0] == "sqs":
        return parts[1]
    from local.resources import REGION

    return REGION
