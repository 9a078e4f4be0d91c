"""Speed-ups for botocore and moto in the test process that change nothing a test can observe."""

from __future__ import annotations

from typing import Any


def memoise_moto_attribute_aliases() -> None:
    """moto's response serializer works out, for every member of every structure it writes, which
    attribute names to look for on the Python object (its alias providers, xform_name...). For a
    stream's GetRecords that is each of the ten members of every AttributeValue of every image: most
    of the time a test spends reading the stream. The names depend only on the picker, the object's
    class, the member's shape (and its parent) and the key, so they are worked out once."""
    from moto.core import serialize

    picker = serialize.AttributePicker
    names: dict[tuple, tuple] = {}

    def __call__(self: Any, context: Any) -> Any:
        obj, shape = context.obj, context.shape
        parent = getattr(shape, "parent", None)
        key = (type(self), tuple(self.alias_providers), type(obj), id(shape), id(parent), context.key)
        known = names.get(key)
        if known is None or known[0] is not shape or known[1] is not parent:
            known = names[key] = (shape, parent, tuple(self.get_possible_keys(context)))
        for possible_key in known[2]:
            value = serialize.get_value(obj, possible_key, serialize.MISSING)
            if value is not serialize.MISSING:
                break
        else:
            value = None
        if self.response_transformers:
            key_path = f"{context.key_path}.{context.key}"
            for transform_path, transform in self.response_transformers.items():
                if key_path.endswith(transform_path):
                    value = transform(value)
                    break
        return value

    picker.__call__ = __call__


def stream_records_as_plain_json() -> None:
    """GetRecords on a table's stream, answered with the records moto keeps, dumped as JSON.

    The records moto keeps are already in the wire's shape (each image as DynamoDB JSON); only the
    creation time is a datetime, which the JSON protocol writes as epoch seconds to the millisecond.
    moto's generic serializer walks the output shape for every attribute of every image instead,
    which made reading the stream the slowest part of most tests. A record holding anything JSON
    cannot hold goes through moto's own serializer as before."""
    import calendar
    import json
    from datetime import datetime

    from moto.core.responses import ActionResult
    from moto.dynamodbstreams.responses import DynamoDBStreamsHandler

    class _NotPlain(Exception):
        pass

    def timestamp(value: Any) -> Any:
        if not isinstance(value, datetime):
            raise _NotPlain
        base = calendar.timegm(value.timetuple())
        return base + (value.microsecond // 1000) / 1000.0 if value.microsecond else base

    def get_records(self: Any) -> Any:
        result = self.backend.get_records(self._get_param("ShardIterator"), self._get_param("Limit") or 1000)
        try:
            return json.dumps(result, default=timestamp)
        except _NotPlain:
            return ActionResult(result)

    DynamoDBStreamsHandler.get_records = get_records


def dynamodb_transactions_copy_less() -> None:
    """moto keeps a copy of a table to roll a cancelled TransactWriteItems back to, and makes that copy
    (of every item, and of every record on the table's stream) once for each item of the transaction,
    though nothing changes between the copies. The copy is made once per table per transaction here,
    and the stream's records, which nothing changes once written, are shared by the copy rather than
    copied (the copy's list of them is its own, so a rollback still drops the records the cancelled
    transaction wrote). Items are still copied deeply: moto updates them in place."""
    import copy
    import threading

    from moto.dynamodb import models
    from moto.dynamodb.models.table import StreamShard, Table

    local = threading.local()

    class _Copy:
        def __getattr__(self, name: str) -> Any:
            return getattr(copy, name)

        @staticmethod
        def deepcopy(x: Any, memo: Any = None) -> Any:
            tables = getattr(local, "tables", None)
            if tables is None or not isinstance(x, Table):
                return copy.deepcopy(x, memo)
            if id(x) not in tables:
                tables[id(x)] = (x, copy.deepcopy(x))
            return tables[id(x)][1]

    def shard_deepcopy(self: Any, memo: dict) -> Any:
        new = StreamShard.__new__(StreamShard)
        memo[id(self)] = new
        for name, value in vars(self).items():
            setattr(new, name, list(value) if name == "items" else copy.deepcopy(value, memo))
        return new

    real = models.DynamoDBBackend.transact_write_items

    def transact_write_items(self: Any, transact_items: Any) -> Any:
        local.tables = {}
        try:
            return real(self, transact_items)
        finally:
            local.tables = None

    models.copy = _Copy()
    models.DynamoDBBackend.transact_write_items = transact_write_items
    StreamShard.__deepcopy__ = shard_deepcopy
