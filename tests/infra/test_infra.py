"""The AWS stack, checked offline: infra/template.yaml merged into `chalice package` output.

One build per test run, shared by the xdist workers through a lock and started in the background when
the tests are collected (tests/support/infra_build.py): `python -m tools.package
build --stage prod` under .venv-package (Python 3.13, the Lambda runtime), then infra/expand.py
under .venv-iac turns the SAM template into the plain CloudFormation that would be deployed
(aws-sam-translator is the code of CloudFormation's own SAM transform). cfn-lint checks both,
checkov the merged template; the rest are assertions docs/operations.md and the code rely on.
Both virtualenvs are made by `make test`.
"""

from __future__ import annotations

import ast
import dataclasses
import json
import os
import pickle
import re
import shutil
import struct
import subprocess
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from jinja2 import bccache

from tests.support import infra_build

ROOT = Path(__file__).resolve().parents[2]
PACKAGE_PYTHON = ROOT / ".venv-package" / "bin" / "python"
IAC_BIN = ROOT / ".venv-iac" / "bin"
STAGE = "prod"
REGION = "eu-west-2"
AARCH64 = 183  # ELF e_machine

# Read by the code, deliberately not set on AWS.
LOCAL_ONLY = {
    "FF_COGNITO_JWKS_URL": "the emulator's JWKS address; on AWS the pool's issuer URL serves the keys",
    "FF_WEBHOOK_SECRET_KEY": "seals partners' secrets on one machine; on AWS, KMS does (FF_WEBHOOK_KMS_KEY_ID)",
    "FF_SOURCES_ALLOW_LOCAL": "lets the demo source on 127.0.0.1 in; on AWS a source must be public (issue 21)",
}
# On the dashboard before the code emits them. Remove a name once its flow records it.
AWAITED_METRICS: dict[str, str] = {}


def run(cmd: list[Any], timeout: int = 900) -> subprocess.CompletedProcess:
    return subprocess.run([str(c) for c in cmd], cwd=ROOT, capture_output=True, text=True, timeout=timeout)


@pytest.fixture(scope="session")
def build(request) -> Path:
    """build/<stage> of one `make package`, plus expanded.json. Built once for all workers, started in the
    background at collection (tests/support/infra_build.py)."""
    out, problem = infra_build.build_locked(infra_build.shared_dir(request.config))
    assert not problem, problem
    return out


@pytest.fixture(scope="session")
def sam(build) -> dict:
    """The merged template, as `make deploy` hands it to CloudFormation."""
    return json.loads((build / "sam.json").read_text())


@pytest.fixture(scope="session")
def cfn(build) -> dict:
    """The same after the SAM transform: what CloudFormation creates."""
    return json.loads((build / "expanded.json").read_text())


# ---- reading templates ---------------------------------------------------------------------------


def of_type(template: dict, kind: str) -> dict[str, dict]:
    return {name: r for name, r in template["Resources"].items() if r["Type"] == kind}


def props(template: dict, name: str) -> dict:
    return template["Resources"][name]["Properties"]


def referenced(value: Any) -> set[str]:
    """The logical ids a value points at through Ref, GetAtt or Sub (pseudo parameters left out)."""
    out: set[str] = set()
    if isinstance(value, dict):
        for key, inner in value.items():
            if key == "Ref" and isinstance(inner, str):
                out.add(inner)
            elif key == "Fn::GetAtt":
                out.add(inner[0] if isinstance(inner, list) else inner.split(".")[0])
            elif key == "Fn::Sub":
                text = inner[0] if isinstance(inner, list) else inner
                local = set(inner[1]) if isinstance(inner, list) else set()
                out |= {m.split(".")[0] for m in re.findall(r"\$\{([^}!]+)\}", text)} - local
                if isinstance(inner, list):
                    out |= referenced(inner[1])
            else:
                out |= referenced(inner)
    elif isinstance(value, list):
        for inner in value:
            out |= referenced(inner)
    return {r for r in out if not r.startswith("AWS::")}


def target(template: dict, value: Any, kind: str) -> str:
    """The one resource of `kind` a value refers to; fails if it names none or another kind."""
    names = [n for n in referenced(value) if n in template["Resources"]]
    assert len(names) == 1, f"{value!r} should refer to exactly one resource of this stack"
    assert template["Resources"][names[0]]["Type"] == kind, f"{value!r} should be a {kind}"
    return names[0]


def statements(template: dict) -> Iterator[tuple[str, dict]]:
    """Every policy statement in the stack: IAM roles and policies, and resource policies."""
    for name, r in template["Resources"].items():
        p = r.get("Properties", {})
        docs = [pol["PolicyDocument"] for pol in p.get("Policies", []) if "PolicyDocument" in pol]
        if "PolicyDocument" in p:
            docs.append(p["PolicyDocument"])
        for doc in docs:
            for st in doc.get("Statement", []):
                yield name, st


def as_list(value: Any) -> list:
    return value if isinstance(value, list) else [value]


def functions(cfn: dict) -> dict[str, dict]:
    return of_type(cfn, "AWS::Lambda::Function")


def function_env(cfn: dict, name: str) -> dict[str, Any]:
    return props(cfn, name).get("Environment", {}).get("Variables", {})


def handler_function(cfn: dict, handler: str) -> str:
    [name] = [n for n, r in functions(cfn).items() if r["Properties"]["Handler"] == handler]
    return name


# ---- what the code reads, emits and defines ------------------------------------------------------


def code_files() -> list[Path]:
    return [ROOT / "app.py", *sorted((ROOT / "chalicelib").rglob("*.py"))]


def env_names_the_code_reads() -> set[str]:
    """Every FF_ setting (chalicelib/core/settings.py) and every name read with os.environ in app.py or chalicelib."""
    from chalicelib.core.settings import PREFIX, Settings

    names = {f"{PREFIX}{f.name}".upper() for f in dataclasses.fields(Settings)}
    for path in code_files():
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Call) and ast.unparse(node.func) in (
                "os.environ.get",
                "os.getenv",
                "environ.get",
                "getenv",
            ):
                if node.args and isinstance(node.args[0], ast.Constant) and isinstance(node.args[0].value, str):
                    names.add(node.args[0].value)
            elif isinstance(node, ast.Subscript) and ast.unparse(node.value) in ("os.environ", "environ"):
                if isinstance(node.slice, ast.Constant) and isinstance(node.slice.value, str):
                    names.add(node.slice.value)
    return names


def metrics_the_code_emits() -> tuple[set[str], set[str]]:
    """(names, prefixes) of metrics.add_metric calls: literal names, f-string prefixes, and the
    CamelCase literals of a module that passes the name in a variable."""
    names: set[str] = set()
    prefixes: set[str] = set()
    for path in code_files():
        tree = ast.parse(path.read_text())
        variable = False
        for node in ast.walk(tree):
            if not (
                isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "add_metric"
            ):
                continue
            name = next((k.value for k in node.keywords if k.arg == "name"), node.args[0] if node.args else None)
            if isinstance(name, ast.Constant):
                names.add(name.value)
            elif isinstance(name, ast.JoinedStr) and name.values and isinstance(name.values[0], ast.Constant):
                prefixes.add(name.values[0].value)
            else:
                variable = True
        if variable:
            names |= {
                n.value
                for n in ast.walk(tree)
                if isinstance(n, ast.Constant)
                and isinstance(n.value, str)
                and re.fullmatch(r"[A-Z][a-z]+(?:[A-Z][a-z]+)+", n.value)
            }
    return names, prefixes


def chalice_app():
    from app import app

    return app


# ---- the linters -------------------------------------------------------------------------------


def test_cfn_lint_finds_nothing_in_the_merged_template_or_in_what_sam_makes_of_it(build):
    done = run(
        [
            IAC_BIN / "cfn-lint",
            "--regions",
            REGION,
            "--format",
            "parseable",
            "--",
            build / "sam.json",
            build / "expanded.json",
        ],
        timeout=600,
    )
    assert done.stdout.strip() == "" and done.returncode == 0, done.stdout + done.stderr


def test_checkov_fails_nothing_and_every_skip_says_why(build):
    done = run(
        [
            IAC_BIN / "python",  # checkov's own console script, with its jsonpath parse table built once
            ROOT / "tests" / "support" / "checkov_run.py",
            "--file",
            build / "sam.json",
            "--framework",
            "cloudformation",
            "--output",
            "json",
            "--skip-download",
        ],
        timeout=600,
    )
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]
    report = json.loads(done.stdout)
    results = report["results"]
    assert results["failed_checks"] == []
    assert report["summary"]["parsing_errors"] == 0
    assert report["summary"]["passed"] > 50  # it really looked
    for skipped in results["skipped_checks"]:
        reason = (skipped.get("check_result") or {}).get("suppress_comment", "")
        assert len(reason) >= 40, f"{skipped['check_id']} on {skipped['resource']} is skipped without a reason"


# ---- packaging ---------------------------------------------------------------------------------


def test_every_function_runs_python_3_13_on_arm64_with_its_own_role(sam):
    fns = of_type(sam, "AWS::Serverless::Function")
    assert {f["Properties"]["Handler"] for f in fns.values()} == {"app.app"} | {
        e.handler_string for e in chalice_app().event_sources
    }
    roles = of_type(sam, "AWS::IAM::Role")
    used = []
    for name, f in fns.items():
        p = f["Properties"]
        assert (p["Runtime"], p["Architectures"]) == ("python3.13", ["arm64"]), name
        used.append(target(sam, p["Role"], "AWS::IAM::Role"))
    assert sorted(used) == sorted(set(used)) == sorted(roles), "one role per function, and no role unused"


def test_the_template_deploys_only_as_the_stage_it_was_packaged_for(sam):
    assert sam["Parameters"]["Stage"]["AllowedValues"] == [STAGE] and sam["Parameters"]["Stage"]["Default"] == STAGE


def pyc_header(data: bytes) -> tuple[bytes, int]:
    return data[:4], struct.unpack("<I", data[4:8])[0]


def test_the_zip_has_bytecode_for_every_module_and_only_arm64_binaries(build):
    done = run(
        [
            PACKAGE_PYTHON,
            "-c",
            "import importlib.util, sys; print(importlib.util.MAGIC_NUMBER.hex(), sys.implementation.cache_tag)",
        ]
    )
    magic_hex, tag = done.stdout.split()
    assert tag == "cpython-313"
    with zipfile.ZipFile(build / "deployment.zip") as z:
        infos = {i.filename: i for i in z.infolist()}
        sources = [n for n in infos if n.endswith(".py") and "__pycache__" not in n]
        assert "app.py" in sources and "chalicelib/edge/auth.py" in sources
        missing = []
        for src in sources:
            parent, _, module = src.rpartition("/")
            pyc = f"{parent + '/' if parent else ''}__pycache__/{module[:-3]}.{tag}.pyc"
            if pyc not in infos:
                missing.append(src)
                continue
            magic, flags = pyc_header(z.read(pyc))
            assert magic.hex() == magic_hex and flags == 0b01, f"{pyc}: not unchecked-hash bytecode for 3.13"
        assert missing == []
        # The templates, compiled by the runtime's Python (core/templating.py): Jinja's header names 3.13.
        compiled = [n for n in infos if n.startswith("chalicelib/templates/.compiled/")]
        assert len(compiled) > 100 and all(n.endswith(".jinja") for n in compiled)
        header = b"j2" + pickle.dumps(bccache.bc_version, 2) + pickle.dumps(3 << 24 | 13, 2)
        assert all(z.read(n).startswith(header) for n in compiled)
        for name in infos:
            if name.endswith(".so") or ".so." in name:
                elf = z.read(name)[:20]
                assert elf[:4] == b"\x7fELF" and struct.unpack("<H", elf[18:20])[0] == AARCH64, (
                    f"{name} is not an arm64 binary"
                )
        tops = {n.split("/")[0] for n in infos}
        # The runtime brings boto3; the tracer extra is left out (cold start); tests and tools stay home.
        assert not tops & {"boto3", "botocore", "aws_xray_sdk", "tests", "local", "tools", "infra", "bench"}
        assert {"aws_lambda_powertools", "pydantic", "jinja2", "jwt", "cryptography"} <= tops
        assert sum(i.file_size for i in infos.values()) < 250 * 2**20  # Lambda's unzipped limit
    assert (build / "deployment.zip").stat().st_size < 50 * 2**20


def test_the_search_binary_is_in_the_zip_executable_and_built_for_arm64(build):
    """Pagefind's binary runs as a program: chalice's unpacking dropped its execute bit, and
    Lambda's /var/task is read-only, so tools/package.py sets the mode in the zip entry."""
    with zipfile.ZipFile(build / "deployment.zip") as z:
        info = z.getinfo("pagefind_bin/pagefind")
        mode = info.external_attr >> 16
        assert mode & 0o170000 == 0o100000, "a regular file"
        assert mode & 0o555 == 0o555, f"mode {oct(mode)}: everyone must be able to read and run it"
        elf = z.read(info)[:20]
    assert elf[:4] == b"\x7fELF" and struct.unpack("<H", elf[18:20])[0] == AARCH64, "not an arm64 program"


# ---- the table ---------------------------------------------------------------------------------


def test_the_table_is_the_one_store_py_describes_with_recovery_encryption_stream_and_ttl(sam):
    from chalicelib.store import TABLE_DEFINITION, TTL_ATTRIBUTE

    [name] = of_type(sam, "AWS::DynamoDB::Table")
    p = props(sam, name)
    key = lambda d: json.dumps(d, sort_keys=True)  # noqa: E731
    assert sorted(map(key, p["AttributeDefinitions"])) == sorted(map(key, TABLE_DEFINITION["AttributeDefinitions"]))
    assert p["KeySchema"] == TABLE_DEFINITION["KeySchema"]
    assert sorted(map(key, p["GlobalSecondaryIndexes"])) == sorted(map(key, TABLE_DEFINITION["GlobalSecondaryIndexes"]))
    assert p["BillingMode"] == TABLE_DEFINITION["BillingMode"] == "PAY_PER_REQUEST"
    assert (
        p["StreamSpecification"]["StreamViewType"]
        == TABLE_DEFINITION["StreamSpecification"]["StreamViewType"]
        == "NEW_AND_OLD_IMAGES"
    )
    assert p["PointInTimeRecoverySpecification"] == {"PointInTimeRecoveryEnabled": True}
    assert p["SSESpecification"]["SSEEnabled"] is True
    assert p["TimeToLiveSpecification"] == {"AttributeName": TTL_ATTRIBUTE, "Enabled": True}
    assert sam["Resources"][name]["DeletionPolicy"] == "Retain" and p["DeletionProtectionEnabled"] is True


# ---- queues and event sources --------------------------------------------------------------------


def dead_letter_targets(cfn: dict) -> set[str]:
    """Queues that receive what failed elsewhere: redrive targets, stream failures, async failures."""
    out = set()
    for q in of_type(cfn, "AWS::SQS::Queue").values():
        if "RedrivePolicy" in q["Properties"]:
            out.add(target(cfn, q["Properties"]["RedrivePolicy"]["deadLetterTargetArn"], "AWS::SQS::Queue"))
    for m in of_type(cfn, "AWS::Lambda::EventSourceMapping").values():
        if "DestinationConfig" in m["Properties"]:
            out.add(target(cfn, m["Properties"]["DestinationConfig"]["OnFailure"]["Destination"], "AWS::SQS::Queue"))
    for f in functions(cfn).values():
        if "DeadLetterConfig" in f["Properties"]:
            out.add(target(cfn, f["Properties"]["DeadLetterConfig"]["TargetArn"], "AWS::SQS::Queue"))
    return out


def test_every_queue_has_a_dead_letter_queue_or_is_one_and_is_encrypted(cfn):
    queues = of_type(cfn, "AWS::SQS::Queue")
    dlqs = dead_letter_targets(cfn)
    assert {"RenderDeadLetterQueue", "MailDeadLetterQueue"} <= dlqs
    for name, q in queues.items():
        p = q["Properties"]
        assert p.get("SqsManagedSseEnabled") is True or "KmsMasterKeyId" in p, f"{name} is not encrypted"
        if name in dlqs:
            assert "RedrivePolicy" not in p and p["MessageRetentionPeriod"] == 14 * 24 * 3600, name
        else:
            assert 1 <= int(p["RedrivePolicy"]["maxReceiveCount"]) <= 12, f"{name} has no dead-letter queue"


def test_the_mail_queues_retries_outlast_a_long_ses_throttle_as_the_worker_spaces_them(cfn):
    """Issue 22: 5 deliveries 6 minutes apart sent alerts to the DLQ after ~30 minutes of throttling. The
    worker's back-off (chalicelib/core/jobs.py) must use the queue's own numbers, and fit its retention."""
    from chalicelib.core.jobs import MAIL_MAX_RECEIVES, MAIL_VISIBILITY, mail_retry_window

    p = cfn["Resources"]["MailQueue"]["Properties"]
    assert int(p["RedrivePolicy"]["maxReceiveCount"]) == MAIL_MAX_RECEIVES
    assert int(p["VisibilityTimeout"]) == MAIL_VISIBILITY
    assert 24 * 3600 < mail_retry_window() < int(p["MessageRetentionPeriod"])


def test_each_queue_consumer_reports_partial_failures_and_has_time_to_finish(cfn):
    mappings = [m["Properties"] for m in of_type(cfn, "AWS::Lambda::EventSourceMapping").values()]
    sqs_mappings = [
        m
        for m in mappings
        if cfn["Resources"][next(iter(referenced(m["EventSourceArn"])))]["Type"] == "AWS::SQS::Queue"
    ]
    assert (
        len(sqs_mappings) == len([e for e in chalice_app().event_sources if type(e).__name__ == "SQSEventConfig"]) == 4
    )
    for m in sqs_mappings:
        queue = props(cfn, target(cfn, m["EventSourceArn"], "AWS::SQS::Queue"))
        fn = props(cfn, target(cfn, m["FunctionName"], "AWS::Lambda::Function"))
        assert m["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
        assert queue["VisibilityTimeout"] >= 6 * fn["Timeout"] + m.get("MaximumBatchingWindowInSeconds", 0)
        assert 2 <= m["ScalingConfig"]["MaximumConcurrency"] <= 10


def test_the_stream_mapping_retries_a_failing_record_apart_then_reports_it_instead_of_blocking(cfn):
    [m] = [
        m["Properties"]
        for m in of_type(cfn, "AWS::Lambda::EventSourceMapping").values()
        if "StreamArn" in json.dumps(m["Properties"]["EventSourceArn"])
    ]
    assert target(cfn, m["EventSourceArn"], "AWS::DynamoDB::Table") == "Table"
    assert target(cfn, m["FunctionName"], "AWS::Lambda::Function") == handler_function(cfn, "app.on_table_change")
    assert m["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    assert m["BisectBatchOnFunctionError"] is True
    assert 1 <= m["MaximumRetryAttempts"] <= 20 and m["MaximumRecordAgeInSeconds"] <= 86400
    failures = target(cfn, m["DestinationConfig"]["OnFailure"]["Destination"], "AWS::SQS::Queue")
    role = target(cfn, props(cfn, target(cfn, m["FunctionName"], "AWS::Lambda::Function"))["Role"], "AWS::IAM::Role")
    assert any(
        "sqs:SendMessage" in as_list(st["Action"]) and failures in referenced(st["Resource"])
        for name, st in statements(cfn)
        if name == role
    ), "the function's role must be able to report"


def test_the_asynchronous_functions_keep_what_failed(cfn):
    for handler in (
        "app.on_mail_event",
        "app.daily_digest",
        "app.escalation_ladder",
        "app.change_checks",
        "app.board_reports",
        "app.import_sources",
    ):
        fn = props(cfn, handler_function(cfn, handler))
        target(cfn, fn["DeadLetterConfig"]["TargetArn"], "AWS::SQS::Queue")


def test_the_search_worker_has_what_one_shard_rebuild_needs_one_at_a_time(cfn):
    """Its own function (memory, time and /tmp for a frozen shard), reserved concurrency 1 on a FIFO
    queue whose delay is the debounce the code uses, and a role that sends it jobs from the stream."""
    from chalicelib.core.settings import Settings

    name = handler_function(cfn, "app.search_worker")
    fn = props(cfn, name)
    assert fn["MemorySize"] >= 3008 and fn["Timeout"] == 900
    assert fn["EphemeralStorage"]["Size"] >= 1024
    assert fn["ReservedConcurrentExecutions"] == 1
    [m] = [
        m["Properties"]
        for m in of_type(cfn, "AWS::Lambda::EventSourceMapping").values()
        if target(cfn, m["Properties"]["FunctionName"], "AWS::Lambda::Function") == name
    ]
    queue = props(cfn, target(cfn, m["EventSourceArn"], "AWS::SQS::Queue"))
    assert queue["FifoQueue"] is True and queue["QueueName"]["Fn::Sub"].endswith(".fifo")
    env = function_env(cfn, name)
    assert int(queue["DelaySeconds"]) == int(env["FF_SEARCH_DEBOUNCE_SECONDS"]) >= 60
    most = next(f for f in dataclasses.fields(Settings) if f.name == "search_shard_stories").metadata["le"]
    assert 1 <= int(env["FF_SEARCH_SHARD_STORIES"]) <= most
    stream_role = target(cfn, props(cfn, handler_function(cfn, "app.on_table_change"))["Role"], "AWS::IAM::Role")
    senders = [
        st
        for n, st in statements(cfn)
        if "sqs:SendMessage" in as_list(st["Action"])
        and target(cfn, m["EventSourceArn"], "AWS::SQS::Queue") in referenced(st["Resource"])
    ]
    assert senders, "nothing may queue a search job"
    attached = [
        n
        for n, p in of_type(cfn, "AWS::IAM::Policy").items()
        if stream_role in referenced(p["Properties"]["Roles"])
        and any(st in p["Properties"]["PolicyDocument"]["Statement"] for st in senders)
    ]
    assert attached, "the stream's role must be able to queue search jobs"


def test_the_webhook_worker_retries_as_the_code_spaces_them_and_reaches_only_what_a_delivery_needs(cfn):
    """Issue 21: the delivery queue and its DLQ agree with jobs.py; the worker's role reads the table but
    no PRIVATE# item, writes only partners' items, consumes only its queue, and alone may decrypt
    partners' secrets (bound to a partner); the stream's role may queue deliveries."""
    from chalicelib.core.jobs import DELIVERY_MAX_RECEIVES, DELIVERY_VISIBILITY, delivery_retry_delay
    from chalicelib.core.settings import Settings

    queue = props(cfn, "DeliveryQueue")
    assert int(queue["RedrivePolicy"]["maxReceiveCount"]) == DELIVERY_MAX_RECEIVES
    assert int(queue["VisibilityTimeout"]) == DELIVERY_VISIBILITY
    assert target(cfn, queue["RedrivePolicy"]["deadLetterTargetArn"], "AWS::SQS::Queue") == "DeliveryDeadLetterQueue"
    pause_after = int(function_env(cfn, handler_function(cfn, "app.app"))["FF_WEBHOOK_PAUSE_AFTER"])
    assert pause_after < DELIVERY_MAX_RECEIVES  # a failing partner is paused (deliveries kept) before the DLQ
    assert pause_after == Settings().webhook_pause_after
    assert sum(delivery_retry_delay(n) for n in range(1, DELIVERY_MAX_RECEIVES)) < int(queue["MessageRetentionPeriod"])

    name = handler_function(cfn, "app.delivery_worker")
    role = target(cfn, props(cfn, name)["Role"], "AWS::IAM::Role")
    mine = [st for n, st in statements(cfn) if n == role]
    denied = [st for st in mine if st["Effect"] == "Deny"]
    assert any(
        st.get("Condition") == {"ForAnyValue:StringLike": {"dynamodb:LeadingKeys": ["PRIVATE#*"]}}
        and {"dynamodb:GetItem", "dynamodb:Query", "dynamodb:BatchGetItem"} <= set(as_list(st["Action"]))
        for st in denied
    ), "the delivery worker must be denied PRIVATE# items"
    for st in mine:
        if st["Effect"] != "Allow":
            continue
        actions = set(as_list(st["Action"]))
        writes = {a for a in actions if a.split(":")[1].startswith(("Put", "Update", "Delete", "BatchWrite"))}
        if writes and all(a.startswith("dynamodb:") for a in actions):
            assert st["Condition"] == {"ForAllValues:StringLike": {"dynamodb:LeadingKeys": ["PARTNER#*"]}}, st
        if any(a.startswith("sqs:") for a in actions):
            assert referenced(st["Resource"]) == {"DeliveryQueue"}, st
        if any(a.startswith("kms:") for a in actions):
            assert actions == {"kms:Decrypt"} and referenced(st["Resource"]) == {"WebhookSecretsKey"}
            assert st["Condition"] == {"ForAllValues:StringEquals": {"kms:EncryptionContextKeys": ["partner"]}}
    decrypters = {n for n, st in statements(cfn) if "kms:Decrypt" in as_list(st.get("Action", []))}
    assert decrypters == {role}, "only the delivery worker may open a partner's secret"
    assert props(cfn, "WebhookSecretsKey")["EnableKeyRotation"] is True
    stream_role = target(cfn, props(cfn, handler_function(cfn, "app.on_table_change"))["Role"], "AWS::IAM::Role")
    assert any(
        n == stream_role
        and "sqs:SendMessage" in as_list(st["Action"])
        and "DeliveryQueue" in referenced(st["Resource"])
        for n, st in statements(cfn)
    ), "the stream must be able to queue deliveries"


# ---- the environment -----------------------------------------------------------------------------


def test_the_code_reads_what_this_test_expects_it_to():
    """The discovery below is what keeps the next test true: check it sees what we know is read."""
    names = env_names_the_code_reads()
    assert {
        "FF_TABLE_NAME",
        "FF_SIGNUP_DOMAINS",
        "FF_RENDER_QUEUE_NAME",
        "FF_TABLE_STREAM_ARN",
        "POWERTOOLS_SERVICE_NAME",
    } <= names


def test_every_environment_variable_the_code_reads_is_set_on_every_function(cfn):
    wanted = env_names_the_code_reads() - set(LOCAL_ONLY)
    for name in functions(cfn):
        env = function_env(cfn, name)
        assert sorted(wanted - set(env)) == [], f"{name} lacks these"
        assert not set(LOCAL_ONLY) & set(env), f"{name} sets a local-only variable"


def resolve(template: dict, value: Any) -> str:
    """A stand-in string for a deployed value: parameters take their default or example."""
    if isinstance(value, str):
        return value
    if isinstance(value, dict) and set(value) == {"Ref"} and value["Ref"] in template.get("Parameters", {}):
        return str(template["Parameters"][value["Ref"]].get("Default", "example"))
    return "resolved-at-deploy"


def test_the_deployed_settings_are_valid(cfn, monkeypatch):
    from chalicelib.core.settings import load_settings

    env = function_env(cfn, handler_function(cfn, "app.app"))
    for key in [k for k in os.environ if k.startswith("FF_")]:
        monkeypatch.delenv(key)
    for key, value in env.items():
        monkeypatch.setenv(key, resolve(cfn, value))
    s = load_settings()
    assert s.stage == STAGE and s.signup_domains == {} and s.author_link_days == 730
    assert env["FF_SITE_URL"] == env["FF_API_URL"]  # one CloudFront name serves the site and /api/*
    assert s.sources_allow_local == 0  # a lead's source never reaches this network's own services (issue 21)


def test_every_queue_bucket_table_topic_and_pool_the_code_uses_is_this_stacks(cfn):
    kinds = {
        "_QUEUE_URL": ("AWS::SQS::Queue", "Ref"),
        "_QUEUE_NAME": ("AWS::SQS::Queue", "QueueName"),
        "_BUCKET": ("AWS::S3::Bucket", "Ref"),
        "_TABLE_NAME": ("AWS::DynamoDB::Table", "Ref"),
        "_STREAM_ARN": ("AWS::DynamoDB::Table", "StreamArn"),
        "_TOPIC": ("AWS::SNS::Topic", "TopicName"),
        "_USER_POOL_ID": ("AWS::Cognito::UserPool", "Ref"),
        "_CLIENT_ID": ("AWS::Cognito::UserPoolClient", "Ref"),
        "_CONFIGURATION_SET": ("AWS::SES::ConfigurationSet", "Ref"),
    }
    env = function_env(cfn, handler_function(cfn, "app.app"))
    checked = {}
    for key, value in env.items():
        for suffix, (kind, attribute) in kinds.items():
            if key.endswith(suffix):
                checked[key] = target(cfn, value, kind)
                assert (value.get("Fn::GetAtt", [None, "Ref"])[1] if isinstance(value, dict) else None) == attribute, (
                    key
                )
    assert {
        "FF_RENDER_QUEUE_URL",
        "FF_MAIL_QUEUE_URL",
        "FF_SITE_BUCKET",
        "FF_TABLE_NAME",
        "FF_MAIL_EVENTS_TOPIC",
    } <= set(checked)
    assert (
        checked["FF_RENDER_QUEUE_URL"]
        == checked["FF_RENDER_QUEUE_NAME"]
        != checked["FF_MAIL_QUEUE_URL"]
        == checked["FF_MAIL_QUEUE_NAME"]
    )

    # The handlers consume the very queues and topic the code sends to and names.
    consumes = {}
    for m in of_type(cfn, "AWS::Lambda::EventSourceMapping").values():
        fn = props(cfn, target(cfn, m["Properties"]["FunctionName"], "AWS::Lambda::Function"))["Handler"]
        consumes[fn] = [n for n in referenced(m["Properties"]["EventSourceArn"]) if n in cfn["Resources"]][0]
    assert consumes["app.render_worker"] == checked["FF_RENDER_QUEUE_URL"]
    assert consumes["app.mail_worker"] == checked["FF_MAIL_QUEUE_URL"]
    assert consumes["app.search_worker"] == checked["FF_SEARCH_QUEUE_URL"] == checked["FF_SEARCH_QUEUE_NAME"]
    assert consumes["app.on_table_change"] == checked["FF_TABLE_NAME"]
    assert consumes["app.delivery_worker"] == checked["FF_DELIVERY_QUEUE_URL"] == checked["FF_DELIVERY_QUEUE_NAME"]
    [sub] = [
        s["Properties"]
        for s in of_type(cfn, "AWS::SNS::Subscription").values()
        if s["Properties"]["Protocol"] == "lambda"
    ]
    assert target(cfn, sub["TopicArn"], "AWS::SNS::Topic") == checked["FF_MAIL_EVENTS_TOPIC"]
    assert target(cfn, sub["Endpoint"], "AWS::Lambda::Function") == handler_function(cfn, "app.on_mail_event")
    # SES tells that topic about bounces and complaints from our configuration set.
    [dest] = [
        d["Properties"]
        for d in of_type(cfn, "AWS::SES::ConfigurationSetEventDestination").values()
        if "SnsDestination" in d["Properties"]["EventDestination"]
    ]
    assert (
        target(cfn, dest["ConfigurationSetName"], "AWS::SES::ConfigurationSet") == checked["FF_MAIL_CONFIGURATION_SET"]
    )
    assert (
        target(cfn, dest["EventDestination"]["SnsDestination"]["TopicARN"], "AWS::SNS::Topic")
        == checked["FF_MAIL_EVENTS_TOPIC"]
    )
    assert sorted(dest["EventDestination"]["MatchingEventTypes"]) == ["bounce", "complaint"]


# ---- access --------------------------------------------------------------------------------------


def test_no_policy_allows_a_wildcard_action_or_a_resource_outside_the_stack(cfn):
    allows = [(name, st) for name, st in statements(cfn) if st["Effect"] == "Allow"]
    assert len(allows) > 20
    for name, st in allows:
        assert "NotAction" not in st and "NotResource" not in st, name
        for action in as_list(st["Action"]):
            assert "*" not in action, f"{name} allows {action}"
        if "Principal" in st:  # a resource policy: only a named AWS service, never everyone
            assert set(st["Principal"]) == {"Service"}, f"{name}: {st['Principal']}"
            assert "Condition" in st, f"{name} lets {st['Principal']} in without a condition"
            continue
        if as_list(st["Action"]) == ["sts:AssumeRole"]:
            continue
        for resource in as_list(st["Resource"]):
            assert not isinstance(resource, str), f"{name}: {resource} is not one of this stack's resources"
            assert referenced(resource), f"{name}: {resource} names no resource of this stack or parameter"
            text = json.dumps(resource)
            assert not re.search(r'"\*"|:\*:|/\*/', text), f"{name}: {text} is a wildcard"


def test_no_bucket_is_public_and_the_site_is_read_only_through_cloudfront(cfn):
    buckets = of_type(cfn, "AWS::S3::Bucket")
    for name, b in buckets.items():
        p = b["Properties"]
        assert p["PublicAccessBlockConfiguration"] == {
            k: True for k in ("BlockPublicAcls", "BlockPublicPolicy", "IgnorePublicAcls", "RestrictPublicBuckets")
        }
        assert "AccessControl" not in p and "WebsiteConfiguration" not in p, name
        assert p["OwnershipControls"]["Rules"] == [{"ObjectOwnership": "BucketOwnerEnforced"}]
    [policy] = of_type(cfn, "AWS::S3::BucketPolicy").values()
    site = target(cfn, policy["Properties"]["Bucket"], "AWS::S3::Bucket")
    [reader] = [st for st in policy["Properties"]["PolicyDocument"]["Statement"] if st["Effect"] == "Allow"]
    assert reader["Principal"] == {"Service": "cloudfront.amazonaws.com"} and reader["Action"] == "s3:GetObject"
    [distribution] = of_type(cfn, "AWS::CloudFront::Distribution")
    assert referenced(reader["Condition"]["StringEquals"]["AWS:SourceArn"]) == {distribution}
    config = props(cfn, distribution)["DistributionConfig"]
    [origin] = [o for o in config["Origins"] if site in referenced(o["DomainName"])]
    target(cfn, origin["OriginAccessControlId"], "AWS::CloudFront::OriginAccessControl")
    assert origin["S3OriginConfig"] == {"OriginAccessIdentity": ""}


def test_cloudfront_sends_security_headers_and_the_api_through_https(cfn):
    config = props(cfn, "Distribution")["DistributionConfig"]
    behaviours = [config["DefaultCacheBehavior"], *config["CacheBehaviors"]]
    policy = {
        b.get("PathPattern", "*"): target(cfn, b["ResponseHeadersPolicyId"], "AWS::CloudFront::ResponseHeadersPolicy")
        for b in behaviours
    }
    # One policy for every page and the API; only the service widgets may be framed (by any site),
    # and only Pagefind's files (its worker) may compile WebAssembly.
    strict = policy.pop("*")
    assert policy.pop("/api/*") == strict
    assert policy.pop("/services/*/widget/*") != strict
    assert policy.pop("/pagefind/*") != strict
    assert not policy, f"a behaviour nobody checked: {policy}"
    for name in {
        b_policy
        for b_policy in (
            target(cfn, b["ResponseHeadersPolicyId"], "AWS::CloudFront::ResponseHeadersPolicy") for b in behaviours
        )
    }:
        headers = props(cfn, name)["ResponseHeadersPolicyConfig"]["SecurityHeadersConfig"]
        assert (
            headers["StrictTransportSecurity"]["AccessControlMaxAgeSec"] >= 31536000
            and headers["StrictTransportSecurity"]["Override"]
        )
        csp = headers["ContentSecurityPolicy"]["ContentSecurityPolicy"]
        assert "default-src 'none'" in csp and "unsafe-inline" not in csp and "'unsafe-eval'" not in csp
        assert headers["ContentTypeOptions"]["Override"] is True
        assert headers["ReferrerPolicy"]["ReferrerPolicy"] == "no-referrer"
        framed = [
            b
            for b in behaviours
            if target(cfn, b["ResponseHeadersPolicyId"], "AWS::CloudFront::ResponseHeadersPolicy") == name
        ]
        if [b.get("PathPattern") for b in framed] == ["/services/*/widget/*"]:
            assert "frame-ancestors *" in csp and "FrameOptions" not in headers
        else:
            assert "frame-ancestors 'none'" in csp and headers["FrameOptions"]["FrameOption"] == "DENY"
            assert ("'wasm-unsafe-eval'" in csp) == (name != strict)
    assert all(b["ViewerProtocolPolicy"] in ("https-only", "redirect-to-https") for b in behaviours)
    [api] = [b for b in config["CacheBehaviors"] if b["PathPattern"] == "/api/*"]
    [origin] = [o for o in config["Origins"] if o["Id"] == api["TargetOriginId"]]
    assert "RestAPI" in referenced(origin["DomainName"])
    stage = json.loads((ROOT / ".chalice" / "config.json").read_text())["stages"][STAGE]["api_gateway_stage"]
    assert origin["OriginPath"] == f"/{stage}"
    assert origin["CustomOriginConfig"]["OriginProtocolPolicy"] == "https-only"


def test_the_site_url_function_maps_directories_to_their_index_pages(cfn):
    node = shutil.which("node")
    if not node:
        pytest.skip("node is not installed: the CloudFront Function cannot be run here")
    code = props(cfn, "SiteUrlsFunction")["FunctionCode"]
    cases = ["/", "/stories/abc/", "/stories/abc", "/assets/site.3f2a.css", "/feed.atom"]
    call = "handler({request: {uri: u, querystring: {}}})"  # JavaScript: its braces stay out of any format string
    script = code + "\nconsole.log(JSON.stringify(" + json.dumps(cases) + ".map(u => " + call + ")));"
    done = subprocess.run([node, "-e", script], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    got = json.loads(done.stdout)
    assert [r.get("uri") for r in got] == [
        "/index.html",
        "/stories/abc/index.html",
        None,
        "/assets/site.3f2a.css",
        "/feed.atom",
    ]
    assert got[2]["statusCode"] == 301 and got[2]["headers"]["location"]["value"] == "/stories/abc/"


def test_moderators_need_mfa_and_an_admin_to_exist(cfn):
    from chalicelib.core.settings import Settings
    from chalicelib.edge import auth

    [pool] = of_type(cfn, "AWS::Cognito::UserPool").values()
    p = pool["Properties"]
    assert p["MfaConfiguration"] == "ON" and p["EnabledMfas"] == ["SOFTWARE_TOKEN_MFA"]
    assert p["AdminCreateUserConfig"]["AllowAdminCreateUserOnly"] is True
    assert "MFA_SETUP" in auth.CHALLENGES and "SOFTWARE_TOKEN_MFA" in auth.CHALLENGES  # the sign-in can do both steps
    [group] = of_type(cfn, "AWS::Cognito::UserPoolGroup").values()
    assert group["Properties"]["GroupName"] == Settings().moderator_group
    [client] = of_type(cfn, "AWS::Cognito::UserPoolClient").values()
    c = client["Properties"]
    assert c["GenerateSecret"] is False  # chalicelib/edge/auth.py sends no SECRET_HASH
    assert {"ALLOW_USER_PASSWORD_AUTH", "ALLOW_USER_SRP_AUTH"} <= set(c["ExplicitAuthFlows"])
    source = (ROOT / "chalicelib" / "edge" / "auth.py").read_text()
    assert 'AuthFlow="USER_PASSWORD_AUTH"' in source
    assert (
        f"at least {p['Policies']['PasswordPolicy']['MinimumLength']} characters" in source
    )  # what a refused password is told


# ---- watching it -------------------------------------------------------------------------------


def test_each_function_logs_to_its_own_group_with_retention(cfn):
    groups = []
    for name, f in functions(cfn).items():
        group = target(cfn, f["Properties"]["LoggingConfig"]["LogGroup"], "AWS::Logs::LogGroup")
        assert "RetentionInDays" in props(cfn, group)
        role = target(cfn, f["Properties"]["Role"], "AWS::IAM::Role")
        logs = [
            st for n, st in statements(cfn) if n == role and any(a.startswith("logs:") for a in as_list(st["Action"]))
        ]
        assert [referenced(st["Resource"]) for st in logs] == [{group}], f"{name} may write only to its own log group"
        groups.append(group)
    assert len(set(groups)) == len(groups)


def alarms_on(cfn: dict, metric: str) -> list[dict]:
    found = []
    for a in of_type(cfn, "AWS::CloudWatch::Alarm").values():
        p = a["Properties"]
        names = [p.get("MetricName")] + [
            m["MetricStat"]["Metric"]["MetricName"] for m in p.get("Metrics", []) if "MetricStat" in m
        ]
        if metric in names:
            found.append(p)
    return found


def test_alarms_cover_every_dead_letter_queue_error_rates_and_mail_reputation(cfn):
    [topic] = [n for n in of_type(cfn, "AWS::SNS::Topic") if "Alarm" in n]
    for a in of_type(cfn, "AWS::CloudWatch::Alarm").values():
        assert referenced(a["Properties"]["AlarmActions"]) == {topic}
    dlq_alarms = {
        target(cfn, p["Dimensions"][0]["Value"], "AWS::SQS::Queue"): p
        for p in alarms_on(cfn, "ApproximateNumberOfMessagesVisible")
    }
    assert set(dlq_alarms) == dead_letter_targets(cfn)
    assert all(
        p["Threshold"] <= 1 and p["ComparisonOperator"] == "GreaterThanOrEqualToThreshold" for p in dlq_alarms.values()
    )
    watched = {
        target(cfn, d["Value"], "AWS::Lambda::Function")
        for p in alarms_on(cfn, "Errors")
        for d in p.get("Dimensions", [])
        + [d for m in p.get("Metrics", []) if "MetricStat" in m for d in m["MetricStat"]["Metric"]["Dimensions"]]
    }
    assert watched == set(functions(cfn)), "every function's errors are watched"
    [bounce] = alarms_on(cfn, "Reputation.BounceRate")
    [complaint] = alarms_on(cfn, "Reputation.ComplaintRate")
    assert (bounce["Threshold"], bounce["ComparisonOperator"]) == (0.02, "GreaterThanOrEqualToThreshold")
    assert (complaint["Threshold"], complaint["ComparisonOperator"]) == (0.0005, "GreaterThanOrEqualToThreshold")


def test_the_dashboard_shows_what_the_code_records(cfn):
    body = props(cfn, "Dashboard")["DashboardBody"]["Fn::Sub"]
    widgets = json.loads(re.sub(r"\$\{[^}]+\}", "x", body[0]))["widgets"]
    shown, namespace, name = set(), None, None
    for w in widgets:
        for row in w.get("properties", {}).get("metrics", []):
            if isinstance(row[0], dict):
                continue  # a metric-math expression over rows listed beside it
            if row[0] != "...":
                namespace = namespace if row[0] == "." else row[0]
                name = name if row[1] == "." else row[1]
            if namespace == "FeedForward":
                shown.add(name)
    emitted, prefixes = metrics_the_code_emits()
    assert {"StoriesSubmitted", "EmailsSent"} <= emitted and "Stories" in prefixes  # the scan works
    unknown = {m for m in shown if m not in emitted and not any(m.startswith(p) for p in prefixes)}
    assert unknown <= set(AWAITED_METRICS), (
        f"the dashboard shows metrics nothing records: {unknown - set(AWAITED_METRICS)}"
    )
    assert {"StoriesSubmitted", "StoriesPublished", "EmailsSent", "EmailsBounced"} <= shown
    titles = " ".join(w.get("properties", {}).get("title", "") for w in widgets)
    for figure in ("Stories", "Responses", "Emails", "Queue depths", "Errors", "p95"):
        assert figure in titles


def test_the_deployed_settings_reach_tools_ff_intact(tmp_path, monkeypatch):
    """`make stack-env` writes what the API function was given; tools/ff.py --env-file reads it back."""
    from tools.ff import read_env_file
    from tools.package import env_file_text

    deployed = {
        "FF_MAIL_FROM": "FeedForward <stories@x.example>",
        "FF_SIGNUP_DOMAINS": '{"trust": ["nhs.net"]}',
        "FF_SITE_URL": "https://x.example",
        "FF_NOTE": "it's $HOME; `no`",
        "POWERTOOLS_LOG_LEVEL": "INFO",
    }
    path = tmp_path / "stack.env"
    path.write_text(env_file_text(deployed, "eu-west-2", "feedforward-prod"))
    for key in [*deployed, "AWS_REGION"]:
        monkeypatch.setenv(key, "")  # so that what read_env_file sets is undone after the test
        monkeypatch.delenv(key)
    read_env_file(str(path))
    assert {k: os.environ.get(k) for k in deployed} == {
        **{k: v for k, v in deployed.items() if k.startswith("FF_")},
        "POWERTOOLS_LOG_LEVEL": None,
    }
    assert os.environ["AWS_REGION"] == "eu-west-2"


def test_deploy_refuses_the_example_parameters_and_takes_real_ones(tmp_path):
    from tools.package import PackageError, load_params

    with pytest.raises(PackageError) as refused:
        load_params(ROOT / "infra" / "params-prod.json")
    assert "PublicDomain" in str(refused.value) and "MailFromAddress" in str(refused.value)
    mine = tmp_path / "params.json"
    mine.write_text(
        json.dumps(
            [
                {"ParameterKey": "PublicDomain", "ParameterValue": "feedforward.nhs.uk"},
                {"ParameterKey": "LogRetentionDays", "ParameterValue": 365},
            ]
        )
    )
    assert load_params(mine) == {"PublicDomain": "feedforward.nhs.uk", "LogRetentionDays": "365"}
    with pytest.raises(PackageError):
        load_params(tmp_path / "missing.json")


def test_the_example_parameters_name_only_parameters_the_template_has(sam):
    for stage in ("dev", "prod"):
        entries = json.loads((ROOT / "infra" / f"params-{stage}.json").read_text())
        assert {e["ParameterKey"] for e in entries} <= set(sam["Parameters"]) - {"Stage"}
        required = {k for k, p in sam["Parameters"].items() if "Default" not in p} - {"Stage"}
        assert required <= {e["ParameterKey"] for e in entries}


# ---- Hardening (issue 18): who may touch PRIVATE# items ---------------------------------------------

# The functions that need the author's address or other PRIVATE#<story> items, and why.
NEED_PRIVATE = {
    "APIHandler": "writes the address with a new story; moderators read the audit; the author's link and address",
    "OnTableChange": "erasure deletes the partition; the audit and the original words are written there",
    "MailWorker": "sends to the address; a pass's note",
    "ChangeChecks": "lists the me-too readers to ask",
}


def _role_of(cfn: dict, function: dict) -> str:
    role = function["Properties"]["Role"]
    assert isinstance(role, dict) and "Fn::GetAtt" in role, role
    return role["Fn::GetAtt"][0]


def test_only_the_functions_that_need_contact_details_can_reach_private_items(cfn):
    """Issue 18: the API, stream and mail functions could read and write every item, PRIVATE# included, with no
    condition on the keys; so could every other function that reads the table. Now each function that has no
    need of them is denied every table action on a PRIVATE# partition key (dynamodb:LeadingKeys)."""
    table_actions: dict[str, set[str]] = {}
    denied: dict[str, set[str]] = {}
    roles = {name: r for name, r in of_type(cfn, "AWS::IAM::Role").items()}
    for role in roles:
        for _name, st in statements({"Resources": {role: roles[role]}}):
            acts = {a for a in as_list(st["Action"]) if a.startswith("dynamodb:") and "Stream" not in a}
            acts -= {
                "dynamodb:DescribeStream",
                "dynamodb:GetRecords",
                "dynamodb:GetShardIterator",
                "dynamodb:ListStreams",
            }
            if st["Effect"] == "Allow":
                table_actions.setdefault(role, set()).update(acts)
            elif st.get("Condition") == {"ForAnyValue:StringLike": {"dynamodb:LeadingKeys": ["PRIVATE#*"]}}:
                denied.setdefault(role, set()).update(acts)
    reaching = set()
    for fname, fn in functions(cfn).items():
        role = _role_of(cfn, fn)
        if not table_actions.get(role):
            continue  # no table at all
        uncovered = table_actions[role] - denied.get(role, set())
        if uncovered:
            reaching.add(fname)
    assert reaching == set(NEED_PRIVATE), reaching ^ set(NEED_PRIVATE)
    assert len(denied) >= 5  # render, mail events, digest, ladder, board reports
