"""First invocations (issue 17): what each handler costs on its first call in a fresh Python 3.13
process, against `import boto3, chalice` plus the clients it needs, in a fresh process too.

Four handlers, each called as Lambda calls it (the handler function with an event and a context):
an API request (POST /api/stories), a stream batch (the new story's INSERT record), a render job
(the published story's page) and a mail job (the author's confirmation). AWS is moto in server
mode in this process; the handler's process only talks HTTP to it. Its CPU time (user + system)
is what the budget is on: moto's own work is in another process, botocore's client side (loading
the service models, serialising) is counted. Wall time is shown beside it.

The code is the repository's, on the Python 3.13 of `make package` (.venv-package: the same
distributions as the zip, built for this machine; the zip itself holds aarch64 builds). boto3 and
s3transfer, which Lambda's runtime provides, come from the dev virtualenv (pure Python, the same
versions as the botocore there).
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import statistics
import subprocess
import tempfile
import uuid
from pathlib import Path
from typing import Any

from .budgets import FIRST_CALL_RATIO
from .env import ROOT, bar, load_directory, story_body
from .report import Section, fmt, table

PY313 = ROOT / ".venv-package" / "bin" / "python"
SITE, API = "https://site.test", "https://api.test"
CLIENTS = {
    "api": ["dynamodb"],
    "stream": ["dynamodb", "sqs"],
    "render": ["dynamodb", "s3"],
    "mail": ["dynamodb", "ses", "sqs"],
}
LABELS = {
    "api": "an API request (POST /api/stories)",
    "stream": "a stream batch (a new story's record)",
    "render": "a render job (a story page)",
    "mail": "a mail job (the author's confirmation)",
}
TIMED = """
import json, time
w0, c0 = time.perf_counter(), time.process_time()
{body}
print("FIRST_CALL " + json.dumps({{"wall": time.perf_counter() - w0, "cpu": time.process_time() - c0}}))
"""
BASELINE = "import boto3, chalice\nclients = [boto3.client(n) for n in {names!r}]"
HANDLER = """
import app
class Context:
    aws_request_id, function_name, memory_limit_in_mb = "r", "f", 1024
    invoked_function_arn = "arn:aws:lambda:eu-west-2:123456789012:function:f"
    log_group_name = log_stream_name = "x"
    def get_remaining_time_in_millis(self):
        return 60000
event = json.loads({event!r})
out = {call}(event, Context())
assert {check}, out
"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _sqs(body: str) -> dict[str, Any]:
    return {
        "Records": [
            {
                "messageId": uuid.uuid4().hex,
                "receiptHandle": uuid.uuid4().hex,
                "body": body,
                "attributes": {"ApproximateReceiveCount": "1"},
                "messageAttributes": {},
                "md5OfBody": "",
                "eventSource": "aws:sqs",
                "eventSourceARN": "arn:aws:sqs:eu-west-2:123456789012:q",
                "awsRegion": "eu-west-2",
            }
        ]
    }


def _api(body: dict[str, Any]) -> dict[str, Any]:
    context = {"resourcePath": "/api/stories", "httpMethod": "POST", "path": "/api/stories", "stage": "api"}
    context |= {"identity": {"sourceIp": "203.0.113.7"}, "requestId": uuid.uuid4().hex, "apiId": "a"}
    return {
        "resource": "/api/stories",
        "path": "/api/stories",
        "httpMethod": "POST",
        "headers": {"Content-Type": "application/json", "Host": "api.test"},
        "multiValueHeaders": {},
        "queryStringParameters": None,
        "multiValueQueryStringParameters": None,
        "pathParameters": None,
        "stageVariables": None,
        "requestContext": context,
        "body": json.dumps(body),
        "isBase64Encoded": False,
    }


class Stack:
    """moto in server mode with the app's resources, the demo directory, and stories made to order."""

    def __init__(self) -> None:
        import boto3
        from moto.server import ThreadedMotoServer

        from local.resources import create_all

        port = _free_port()
        self._server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
        self._server.start()
        endpoint = f"http://127.0.0.1:{port}"
        self.env = {
            "AWS_ACCESS_KEY_ID": "bench",
            "AWS_SECRET_ACCESS_KEY": "bench",
            "AWS_DEFAULT_REGION": "eu-west-2",
            "AWS_ENDPOINT_URL": endpoint,
            "AWS_ACCOUNT_ID_ENDPOINT_MODE": "disabled",
        }
        os.environ.update(self.env)
        self.res = create_all(boto3.Session(region_name="eu-west-2"))
        self.env |= self.res.environment(SITE, API, endpoint)
        os.environ.update(self.env)
        from chalicelib import wiring

        wiring.reset()
        load_directory()
        self._streams = boto3.client("dynamodbstreams", region_name="eu-west-2")
        self._after: dict[str, str] = {}

    def stop(self) -> None:
        self._server.stop()

    def events(self) -> dict[str, dict[str, Any]]:
        """One fresh event per handler: a new story told, its stream record, published, its jobs."""
        from chalicelib import wiring
        from chalicelib.core.jobs import MailJob, RenderJob
        from chalicelib.moderation import Moderator

        story_id = wiring.stories().submit(story_body())["id"]
        record = self._insert_record(story_id)
        version = wiring.store().get_story(story_id, consistent=True)["version"]
        wiring.moderation().decide(
            story_id, {"action": "publish", "version": version, "criticality": 1}, Moderator("b", "Bench")
        )
        return {
            "api": _api(story_body()),
            "stream": {"Records": [record]},
            "render": _sqs(RenderJob(page="story", ref=story_id).model_dump_json()),
            "mail": _sqs(MailJob(kind="author_confirmation", story_id=story_id).model_dump_json()),
        }

    def _insert_record(self, story_id: str) -> dict[str, Any]:
        arn = self.res.stream_arn
        for shard in self._streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"]:
            sid = shard["ShardId"]
            while True:  # a fresh iterator after the last record read (moto: see local/pump.py)
                last = self._after.get(sid)
                where = {"ShardIteratorType": "AFTER_SEQUENCE_NUMBER", "SequenceNumber": last} if last else {}
                where = where or {"ShardIteratorType": "TRIM_HORIZON"}
                it = self._streams.get_shard_iterator(StreamArn=arn, ShardId=sid, **where)["ShardIterator"]
                records = self._streams.get_records(ShardIterator=it, Limit=1000).get("Records", [])
                if not records:
                    break
                self._after[sid] = records[-1]["dynamodb"]["SequenceNumber"]
                for r in records:
                    keys = r["dynamodb"].get("Keys", {})
                    if r["eventName"] == "INSERT" and keys.get("PK", {}).get("S") == f"STORY#{story_id}":
                        return self._event_record(r, arn)
        raise RuntimeError(f"no INSERT record for story {story_id}")

    @staticmethod
    def _event_record(r: dict[str, Any], arn: str) -> dict[str, Any]:
        out = dict(r, eventSourceARN=arn, eventSource="aws:dynamodb")
        ddb = dict(r["dynamodb"])
        created = ddb.get("ApproximateCreationDateTime")
        if hasattr(created, "timestamp"):
            ddb["ApproximateCreationDateTime"] = created.timestamp()
        out["dynamodb"] = ddb
        return dict(json.loads(json.dumps(out, default=str)))


def _shim() -> Path:
    """boto3 and s3transfer for the 3.13 process (Lambda's runtime provides them)."""
    import boto3
    import s3transfer

    shim = Path(tempfile.mkdtemp(prefix="ff-boto3-"))
    for mod in (boto3, s3transfer):
        src = Path(mod.__file__).parent
        (shim / src.name).symlink_to(src)
    return shim


def _compile_templates(directory: Path, env: dict[str, str]) -> None:
    code = f"from pathlib import Path\nfrom tools.package import compile_templates\ncompile_templates(Path({str(directory)!r}))"
    proc = subprocess.run([str(PY313), "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    if proc.returncode:
        raise RuntimeError(f"compiling the templates on 3.13 failed: {proc.stderr[-1500:]}")


def _run(code: str, env: dict[str, str]) -> dict[str, float]:
    proc = subprocess.run([str(PY313), "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    line = next((x for x in proc.stdout.splitlines() if x.startswith("FIRST_CALL ")), None)
    if proc.returncode or line is None:
        raise RuntimeError(f"the 3.13 process failed: {proc.stderr[-1500:]}")
    return json.loads(line.removeprefix("FIRST_CALL "))


def _handler_code(kind: str, event: dict[str, Any]) -> str:
    call, check = {
        "api": ("app.app", 'out["statusCode"] == 201'),
        "stream": ("app.on_table_change", 'not (out or {}).get("batchItemFailures")'),
        "render": ("app.render_worker", 'not (out or {}).get("batchItemFailures")'),
        "mail": ("app.mail_worker", 'not (out or {}).get("batchItemFailures")'),
    }[kind]
    return TIMED.format(body=HANDLER.format(event=json.dumps(event), call=call, check=check))


def run(quick: bool = False) -> Section:
    section = Section("first_call", "First invocations on Python 3.13")
    if not PY313.exists():
        section.error = "no .venv-package (make package builds it, with python3.13)"
        return section
    runs = 2 if quick else 5
    stack = Stack()
    shim = _shim()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("FF_", "AWS_", "PYTHON"))}
    # Bytecode goes to a cache of its own, never into the repository (the package test reads its __pycache__).
    cache = tempfile.mkdtemp(prefix="ff-pyc-313-")
    env |= stack.env | {"PYTHONPATH": f"{ROOT}:{shim}", "PYTHONDONTWRITEBYTECODE": "1", "PYTHONPYCACHEPREFIX": cache}
    env |= {"POWERTOOLS_SERVICE_NAME": "feedforward-core", "POWERTOOLS_METRICS_NAMESPACE": "FeedForward"}
    times: dict[str, dict[str, list[float]]] = {
        k: {"handler_cpu": [], "base_cpu": [], "handler_wall": [], "base_wall": []} for k in CLIENTS
    }
    # The templates compiled by the runtime's Python, as `make package` puts them in the zip
    # (chalicelib/core/templating.py); removed afterwards, unless they were there before.
    compiled = ROOT / "chalicelib" / "templates" / ".compiled"
    made = not compiled.exists()
    try:
        _compile_templates(compiled, env)
        # Once each first, so the .pyc of the repository and of site-packages are written as on a built package.
        warm = {**env, "PYTHONDONTWRITEBYTECODE": ""}
        for kind, event in stack.events().items():
            _run(_handler_code(kind, event), warm)
        with bar("first calls", total=runs * len(CLIENTS), unit=" runs") as b:
            for _ in range(runs):
                for kind, event in stack.events().items():  # interleaved, each in a fresh process
                    h = _run(_handler_code(kind, event), env)
                    base = _run(TIMED.format(body=BASELINE.format(names=CLIENTS[kind])), env)
                    times[kind]["handler_cpu"].append(h["cpu"])
                    times[kind]["handler_wall"].append(h["wall"])
                    times[kind]["base_cpu"].append(base["cpu"])
                    times[kind]["base_wall"].append(base["wall"])
                    b.update()
    finally:
        stack.stop()
        if made:
            shutil.rmtree(compiled, ignore_errors=True)
    rows = []
    for kind, t in times.items():
        med = {k: statistics.median(v) * 1000 for k, v in t.items()}
        ratio = med["handler_cpu"] / med["base_cpu"]
        section.add(
            f"first_call.{kind}.ratio",
            f"first invocation ÷ baseline, CPU time: {LABELS[kind]}",
            round(ratio, 2),
            "×",
            FIRST_CALL_RATIO,
        )
        section.add(
            f"first_call.{kind}.cpu_ms", f"first invocation, CPU ms: {LABELS[kind]}", round(med["handler_cpu"], 1), "ms"
        )
        rows.append(
            [
                LABELS[kind],
                ", ".join(CLIENTS[kind]),
                fmt(round(med["handler_cpu"], 1), "ms"),
                fmt(round(med["base_cpu"], 1), "ms"),
                f"{ratio:.2f}×",
                fmt(round(med["handler_wall"], 1), "ms"),
                fmt(round(med["base_wall"], 1), "ms"),
            ]
        )
    section.data = {k: {n: [round(x * 1000, 1) for x in v] for n, v in t.items()} for k, t in times.items()}
    section.details = "\n".join(
        [
            __doc__.split("\n\n", 1)[1].strip().replace("\n", " "),
            "",
            f"Medians of {runs} runs, each handler's interleaved with its baseline, every process fresh (bytecode "
            "written once beforehand, and the templates compiled by Python 3.13, as `make package` puts both in the "
            "zip).",
            "",
            table(["handler", "baseline's clients", "CPU", "baseline CPU", "ratio", "wall", "baseline wall"], rows),
        ]
    )
    return section
