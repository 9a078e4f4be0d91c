"""Speed-ups for moto that change nothing a client can observe: for the local stack's emulator
(local/run.py) and the tests' in-process moto (tests/conftest.py).

moto's DynamoDB is written for correctness, not for tables of a few thousand items: every Query
sorts the whole table, every transaction deep-copies it, and every value of a response goes
through a generic shape walk. Each function here replaces one such cost with code that gives
the same answer; `apply()` installs them all, once."""

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
    and only what the transaction can change is copied:
    - the items it names (by the key of each Update, Delete and ConditionCheck, and the key attributes
      of each Put) are copied deeply, as moto updates an item in place;
    - every other item is shared by the copy, which has its own dict of partitions and of each
      partition the transaction names (so an item it adds or removes is not added to or removed
      from the copy; it changes no other partition);
    - the stream's records, which nothing changes once written, are shared by the copy, whose list of
      them is its own (so a rollback still drops the records the cancelled transaction wrote).
    A transaction whose keys cannot be read that way gets moto's deep copy of the whole table."""
    import copy
    import threading
    from collections import defaultdict

    from moto.dynamodb import models
    from moto.dynamodb.models.dynamo_type import DynamoType
    from moto.dynamodb.models.table import StreamShard, Table

    local = threading.local()

    class _Unknown(Exception):
        pass

    def named_keys(table: Any, transact_items: Any) -> list[tuple[Any, Any]]:
        keys = []
        for entry in transact_items:
            if not isinstance(entry, dict) or len(entry) != 1:
                raise _Unknown
            (kind, op), *_ = entry.items()
            if not isinstance(op, dict):
                raise _Unknown
            if op.get("TableName") != table.name:
                continue
            source = op.get("Item") if kind == "Put" else op.get("Key")
            if not isinstance(source, dict) or table.hash_key_attr not in source:
                raise _Unknown
            if table.range_key_attr and table.range_key_attr not in source:
                raise _Unknown
            hash_key = DynamoType(source[table.hash_key_attr])
            range_key = DynamoType(source[table.range_key_attr]) if table.range_key_attr else None
            keys.append((hash_key, range_key))
        return keys

    def backup(table: Any, transact_items: Any) -> Any:
        try:
            keys = named_keys(table, transact_items)
        except (_Unknown, KeyError, IndexError, TypeError, AttributeError):
            return copy.deepcopy(table)
        if type(table.items) is not defaultdict:
            return copy.deepcopy(table)
        clone = copy.copy(table)
        clone.items = table.items.copy()  # a dict copy keeps its keys' hashes: no DynamoType is hashed again
        for hash_key, range_key in keys:
            if hash_key not in clone.items:
                continue
            if table.range_key_attr:
                part = dict(clone.items[hash_key])
                if range_key in part:
                    part[range_key] = copy.deepcopy(part[range_key])
                clone.items[hash_key] = part
            else:
                clone.items[hash_key] = copy.deepcopy(clone.items[hash_key])
        if table.stream_shard is not None:
            shard = copy.copy(table.stream_shard)
            shard.items = list(table.stream_shard.items)
            shard.table = clone
            clone.stream_shard = shard
        return clone

    class _Copy:
        def __getattr__(self, name: str) -> Any:
            return getattr(copy, name)

        @staticmethod
        def deepcopy(x: Any, memo: Any = None) -> Any:
            tables = getattr(local, "tables", None)
            if tables is None or not isinstance(x, Table):
                return copy.deepcopy(x, memo)
            if id(x) not in tables:
                tables[id(x)] = (x, backup(x, local.transact_items))
            return tables[id(x)][1]

    def shard_deepcopy(self: Any, memo: dict) -> Any:
        new = StreamShard.__new__(StreamShard)
        memo[id(self)] = new
        for name, value in vars(self).items():
            setattr(new, name, list(value) if name == "items" else copy.deepcopy(value, memo))
        return new

    real = models.DynamoDBBackend.transact_write_items

    def transact_write_items(self: Any, transact_items: Any) -> Any:
        local.tables, local.transact_items = {}, transact_items
        try:
            return real(self, transact_items)
        finally:
            local.tables, local.transact_items = None, None

    models.copy = _Copy()
    models.DynamoDBBackend.transact_write_items = transact_write_items
    StreamShard.__deepcopy__ = shard_deepcopy


def dynamodb_query_reads_its_partition() -> None:
    """moto answers every Query by sorting every item of the table (comparing DynamoDB values, each
    comparison a conversion), then keeping those of the one partition asked for, then sorting those
    again by their sort key. Here a Query of the table itself starts from the items of its partition,
    and a Query of an index from the table's items unsorted: either way the final sort, by keys that
    no two items share (an index's keys end with the table's), decides the order on its own, so the
    answer is the same. A Scan, whose order is moto's first sort's, still gets it."""
    import threading

    from moto.dynamodb.models.table import Table

    local = threading.local()
    real_query, real_all_items = Table.query, Table.all_items

    def query(self: Any, hash_key: Any, *args: Any, **kwargs: Any) -> Any:
        index_name = args[6] if len(args) > 6 else kwargs.get("index_name")
        local.partition = (hash_key,) if index_name is None and hash_key is not None else ()
        try:
            return real_query(self, hash_key, *args, **kwargs)
        finally:
            local.partition = None

    def all_items(self: Any) -> Any:
        partition = getattr(local, "partition", None)
        if partition is None:
            return real_all_items(self)
        local.partition = None  # once: only the call Query makes itself
        if not partition:
            if not self.range_key_attr:
                return list(self.items.values())
            return [item for hash_set in self.items.values() for item in hash_set.values()]
        found = self.items.get(partition[0])
        if found is None:
            return []
        return list(found.values()) if self.range_key_attr else [found]

    Table.query = query
    Table.all_items = all_items


def dynamodb_values_compare_directly() -> None:
    """A DynamoDB value is compared (and hashed) by its `cast_value`, which asks five questions of
    its type before giving back a string as it is. The common types are answered first here; the
    rest as before."""
    from decimal import Decimal

    from moto.dynamodb.models.dynamo_type import DynamoType

    real = DynamoType.cast_value.fget
    as_is = {"S", "B", "BOOL"}

    def cast_value(self: Any) -> Any:
        kind = self.type
        if kind in as_is:
            return self.value
        if kind == "N":
            return Decimal(self.value)
        return real(self)

    DynamoType.cast_value = property(cast_value)


def dynamodb_values_serialize_directly() -> None:
    """moto writes every DynamoDB value of a response (each attribute of each item a Query returns)
    by walking the AttributeValue shape: for each of its ten members, the names the member might go
    by, looked up on the value, then the member's own shape. The value is already a dict holding
    just its type (dynamo_to_dict makes it), so here it is written as that walk would write it:
    strings and numbers as str(), binaries in base64, sets and lists item by item, maps key by key,
    NULL and BOOL as they are, members in the shape's order, a missing or None member left out. A
    value in any other form goes through moto's walk as before."""
    from enum import Enum

    from moto.core.serialize import BaseJSONSerializer

    members = ("S", "N", "B", "SS", "NS", "BS", "M", "L", "NULL", "BOOL")
    known = frozenset(members)
    real = BaseJSONSerializer._serialize_type_structure

    class _NotPlain(Exception):
        pass

    def string(value: Any) -> Any:
        if isinstance(value, Enum):
            value = value.value
        return str(value) if value not in [None, {}, []] else value

    def attribute_value(self: Any, value: Any) -> dict[str, Any]:
        if type(value) is not dict or not known.issuperset(value):
            raise _NotPlain
        out: dict[str, Any] = {}
        for name in members:
            member = value.get(name)
            if member is None:
                continue
            if name == "S" or name == "N":
                out[name] = string(member)
            elif name == "B":
                out[name] = self._base64(member)
            elif name == "M":
                if type(member) is not dict:
                    raise _NotPlain
                out[name] = {k: attribute_value(self, v) for k, v in member.items() if v is not None}
            else:
                if type(member) is not list and name != "NULL" and name != "BOOL":
                    raise _NotPlain
                if name == "SS" or name == "NS":
                    out[name] = [string(v) for v in member]
                elif name == "BS":
                    out[name] = [self._base64(v) for v in member]
                elif name == "L":
                    out[name] = [None if v is None else attribute_value(self, v) for v in member]
                else:
                    out[name] = member
        return out

    def _serialize_type_structure(self: Any, serialized: Any, value: Any, shape: Any, key: str) -> None:
        if key and value is not None and shape.name == "AttributeValue" and tuple(shape.members) == members:
            try:
                serialized[self.get_serialized_name(shape, key)] = attribute_value(self, value)
                return
            except _NotPlain:
                pass
        real(self, serialized, value, shape, key)

    BaseJSONSerializer._serialize_type_structure = _serialize_type_structure


def moto_finds_an_action_without_listing_every_method() -> None:
    """For each request moto lists every function of its response class (inspect.getmembers, which
    reads every attribute of the class) to ask whether the action is one of them. The answer is the
    same as asking the class for that one name: whether it names a function there."""
    import inspect

    from moto.core import responses

    class _Functions:
        def __init__(self, clazz: Any):
            self._clazz = clazz

        def __contains__(self, name: object) -> bool:
            return isinstance(name, str) and inspect.isfunction(getattr(self._clazz, name, None))

    responses.method_names_from_class = _Functions  # type: ignore[assignment]


def _limited_size_dict(items: dict) -> Any:
    """A LimitedSizeDict holding `items`, made without a size check per key (see below)."""
    from moto.dynamodb.models.dynamo_type import LimitedSizeDict

    made = LimitedSizeDict.__new__(LimitedSizeDict)
    dict.update(made, items)
    return made


def dynamodb_items_sized_once() -> None:
    """An item's size checked once when it is made, and not at all when it is unpickled.

    moto keeps each item's attributes in a LimitedSizeDict, whose every `d[key] = value` adds up the
    size of all the attributes already there, to refuse an item over 400 KB: making an item of n
    attributes sizes n(n+1)/2 of them, and unpickling one (the tests' kept worlds, tests/support/
    moto_state.py) does the same, though the item passed the check when it was written. Sizes are never
    negative, so each check an item's making would run is passed if the last, over the whole item, is:
    that one check is made instead, with the same error. Setting one attribute later is checked as before.
    """
    from moto.dynamodb.exceptions import ItemSizeTooLarge
    from moto.dynamodb.models.dynamo_type import DynamoType, Item, LimitedSizeDict

    def __init__(self: Any, hash_key: Any, range_key: Any, attrs: dict[str, Any]) -> None:
        self.hash_key = hash_key
        self.range_key = range_key
        self.attrs = _limited_size_dict({key: DynamoType(value) for key, value in attrs.items()})
        if self.attrs and self.size() > 405000:  # moto's own limit (LimitedSizeDict.__setitem__)
            raise ItemSizeTooLarge

    def __reduce__(self: Any) -> Any:
        return _limited_size_dict, (dict(self),)

    Item.__init__ = __init__  # type: ignore[method-assign]
    LimitedSizeDict.__reduce__ = __reduce__  # type: ignore[method-assign,assignment]


_SCALARS = {"S": str, "N": str, "BOOL": bool, "NULL": bool}


def _plain(value: Any) -> bool:
    """Whether an AttributeValue, as JSON gave it, is what botocore's parse would make of it: one known
    member, no binary (B and BS are base64 on the wire and bytes once parsed), and the same all the way down."""
    if type(value) is not dict or len(value) != 1:
        return False
    ((tag, inner),) = value.items()
    kind = _SCALARS.get(tag)
    if kind is not None:
        return type(inner) is kind
    if tag in ("SS", "NS"):
        return type(inner) is list and all(type(x) is str for x in inner)
    if tag == "M":
        return type(inner) is dict and all(_plain(x) for x in inner.values())
    if tag == "L":
        return type(inner) is list and all(_plain(x) for x in inner)
    return False


def botocore_reads_attribute_values_as_sent() -> None:
    """DynamoDB's answers (and its stream's) read without walking every attribute value's shape.

    botocore parses each AttributeValue of every item member by member, through its generic shape walk:
    a tenth of the CPU of a test that reads the table. For one that holds no binary, that walk returns
    a copy of what the JSON parser already made, so the parsed JSON is kept as it is. Anything else
    (binary, an unknown member) is parsed by botocore as before."""
    from botocore.parsers import BaseJSONParser

    real = BaseJSONParser._handle_structure

    def _handle_structure(self: Any, shape: Any, value: Any) -> Any:
        if shape.name == "AttributeValue" and _plain(value):
            return value
        return real(self, shape, value)

    _handle_structure.botocore = real  # type: ignore[attr-defined]  # for tests/unit/test_moto_speed.py
    BaseJSONParser._handle_structure = _handle_structure  # type: ignore[method-assign]


def botocore_writes_attribute_values_as_given() -> None:
    """A request's attribute values written as they were given, when they hold no binary: botocore's
    serializer otherwise copies each one member by member into the same JSON (after its validator has
    already checked their shape, which still runs)."""
    from botocore.serialize import JSONSerializer

    real = JSONSerializer._serialize_type_structure

    def _serialize_type_structure(self: Any, serialized: Any, value: Any, shape: Any, key: Any) -> None:
        if key is not None and shape.name == "AttributeValue" and self.MAP_TYPE is dict and _plain(value):
            serialized[key] = value
            return
        real(self, serialized, value, shape, key)

    _serialize_type_structure.botocore = real  # type: ignore[attr-defined]  # for tests/unit/test_moto_speed.py
    JSONSerializer._serialize_type_structure = _serialize_type_structure  # type: ignore[method-assign]


def moto_reads_attribute_values_as_sent() -> None:
    """moto's side of the same: it parses each request's JSON through the operation's shape, attribute
    value by attribute value, making the same dicts again (a seventh of the time of loading the demo
    directory's 3,500 items). For values with no binary the parsed JSON is kept as it is."""
    from moto.core.parse import BaseJSONParser

    real = BaseJSONParser._parse_structure

    def _parse_structure(self: Any, shape: Any, value: Any) -> Any:
        if shape.name == "AttributeValue" and self.MAP_TYPE is dict and _plain(value):
            return value
        return real(self, shape, value)

    _parse_structure.moto = real  # type: ignore[attr-defined]  # for tests/unit/test_moto_speed.py
    BaseJSONParser._parse_structure = _parse_structure  # type: ignore[method-assign]


def moto_names_attributes_once() -> None:
    """moto turns each queue attribute's and each action's name from CamelCase into snake_case with
    regular expressions, every time it reads a queue's attributes (each of its sends and receives) or
    answers a request. The answer depends only on the name, so it is remembered."""
    from functools import lru_cache

    from moto.core import responses, utils
    from moto.sqs import models

    remembered = lru_cache(maxsize=4096)(utils.camelcase_to_underscores)
    models.camelcase_to_underscores = remembered  # type: ignore[attr-defined]
    responses.camelcase_to_underscores = remembered  # type: ignore[attr-defined]


_applied = False


def apply() -> None:
    """Install every speed-up above (once per process)."""
    global _applied
    if _applied:
        return
    _applied = True
    memoise_moto_attribute_aliases()
    stream_records_as_plain_json()
    dynamodb_transactions_copy_less()
    dynamodb_query_reads_its_partition()
    dynamodb_values_compare_directly()
    dynamodb_values_serialize_directly()
    moto_finds_an_action_without_listing_every_method()
    dynamodb_items_sized_once()
    botocore_reads_attribute_values_as_sent()
    botocore_writes_attribute_values_as_given()
    moto_reads_attribute_values_as_sent()
    moto_names_attributes_once()
