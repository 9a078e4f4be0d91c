"""The speed-ups in local/moto_speed.py change nothing a client can see: checked here against botocore's and
moto's own code on values of every kind (the rest of the suite runs on top of them)."""

from __future__ import annotations

import pickle

from botocore.parsers import BaseJSONParser

from local import moto_speed

NESTED = {
    "M": {
        "s": {"S": "text"},
        "n": {"N": "12.5"},
        "t": {"BOOL": True},
        "z": {"NULL": True},
        "ss": {"SS": ["a", "b"]},
        "ns": {"NS": ["1", "2"]},
        "l": {"L": [{"S": "x"}, {"M": {"deep": {"N": "3"}}}]},
    }
}
BINARY = {"M": {"b": {"B": "aGVsbG8="}, "s": {"S": "x"}}}


def _parse(value, real: bool):
    """The parsed value: through the class as installed now, or (real) through botocore's own walk alone."""
    import botocore.session

    shape = botocore.session.get_session().get_service_model("dynamodb").shape_for("AttributeValue")
    installed = BaseJSONParser._handle_structure
    if real:
        BaseJSONParser._handle_structure = getattr(installed, "botocore", installed)
    try:
        return BaseJSONParser()._parse_shape(shape, value)
    finally:
        BaseJSONParser._handle_structure = installed


def test_attribute_values_parse_as_botocore_parses_them_binary_included():
    moto_speed.apply()
    assert hasattr(BaseJSONParser._handle_structure, "botocore")  # the speed-up is installed
    for value in (NESTED, BINARY, {"S": ""}, {"L": []}, {"M": {}}):
        assert _parse(value, real=False) == _parse(value, real=True), value
    assert _parse(BINARY, real=False)["M"]["b"]["B"] == b"hello"  # decoded, as botocore does
    assert moto_speed._plain(NESTED) and not moto_speed._plain(BINARY)
    assert not moto_speed._plain({"S": "a", "N": "1"}) and not moto_speed._plain({"X": "?"})


def test_attribute_values_are_written_and_read_by_moto_as_by_their_own_code():
    """botocore's request serializer and moto's request parser, each against its own walk."""
    import botocore.session
    from botocore.serialize import JSONSerializer
    from moto.core.parse import BaseJSONParser as MotoParser
    from moto.core.parse import JSONParser

    moto_speed.apply()
    operation = botocore.session.get_session().get_service_model("dynamodb").operation_model("PutItem")
    fast_write, real_write = JSONSerializer._serialize_type_structure, JSONSerializer._serialize_type_structure.botocore
    fast_read, real_read = MotoParser._parse_structure, MotoParser._parse_structure.moto
    for value in (NESTED, {"S": ""}, {"L": []}, {"M": {}}, {"B": b"hello"}):
        params = {"TableName": "t", "Item": {"pk": {"S": "a"}, "v": value}}
        bodies, parsed = [], []
        for write, read in ((fast_write, fast_read), (real_write, real_read)):
            JSONSerializer._serialize_type_structure, MotoParser._parse_structure = write, read
            try:
                body = JSONSerializer().serialize_to_request(params, operation)["body"]
                bodies.append(body)
                parsed.append(
                    JSONParser(operation).parse(
                        {"body": body, "headers": {}, "method": "POST", "url_path": "/", "values": {}}
                    )
                )
            finally:
                JSONSerializer._serialize_type_structure, MotoParser._parse_structure = fast_write, fast_read
        assert bodies[0] == bodies[1] and parsed[0] == parsed[1], value
    assert b'"B": "aGVsbG8="' in bodies[0]  # binary still goes as base64, through botocore's own code


def test_an_item_is_refused_at_the_same_size_and_comes_back_whole_from_a_pickle():
    import boto3
    from moto import mock_aws
    from moto.core import DEFAULT_ACCOUNT_ID
    from moto.dynamodb.models import dynamodb_backends

    moto_speed.apply()
    with mock_aws():
        db = boto3.client("dynamodb", region_name="eu-west-2")
        db.create_table(
            TableName="t",
            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
        )
        outcomes = []
        for n in (404_960, 405_000):  # moto refuses an item over 405,000 bytes (names and values)
            try:
                db.put_item(TableName="t", Item={"pk": {"S": "a"}, "x": {"S": "y" * n}, "n": {"N": "1"}})
                outcomes.append("stored")
            except db.exceptions.ClientError as e:
                outcomes.append(e.response["Error"]["Code"])
        assert outcomes == ["stored", "ValidationException"]
        item = next(iter(dynamodb_backends[DEFAULT_ACCOUNT_ID]["eu-west-2"].tables["t"].all_items()))
        copy = pickle.loads(pickle.dumps(item))
        assert copy.attrs == item.attrs and type(copy.attrs) is type(item.attrs) and copy.size() == item.size()


def test_the_pumps_look_at_a_queue_counts_its_messages_as_sqs_does():
    """local/moto_peek.py's count, which the pump uses for dead letters: visible and in flight, not delayed."""
    import boto3
    from moto import mock_aws

    from local.moto_peek import MotoPeek

    with mock_aws():
        sqs = boto3.client("sqs", region_name="eu-west-2")
        url = sqs.create_queue(QueueName="dlq")["QueueUrl"]
        peek = MotoPeek()

        def by_sqs() -> int:
            names = ["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"]
            return sum(
                int(v) for v in sqs.get_queue_attributes(QueueUrl=url, AttributeNames=names)["Attributes"].values()
            )

        assert peek.messages(url) == by_sqs() == 0
        for n in range(3):
            sqs.send_message(QueueUrl=url, MessageBody=str(n))
        sqs.send_message(QueueUrl=url, MessageBody="later", DelaySeconds=900)
        sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=1)  # one in flight
        assert peek.messages(url) == by_sqs() == 3
        assert peek.messages(url.replace("/dlq", "/missing")) is None
