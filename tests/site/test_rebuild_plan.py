"""The full rebuild fanned out (issue 17, chalicelib/site/rebuild.py): its steps run as render jobs
through the queue, and the workers upload only what changed, reading no object's body."""

from __future__ import annotations

import pytest

from chalicelib import wiring
from chalicelib.core import aws as chalice_aws
from chalicelib.core.jobs import RenderJob
from chalicelib.site import pages
from tests.support.stories import publish, submit


@pytest.fixture
def site(aws, client, pump, directory):
    """Two published stories (two tags), every page rendered and brought up to date."""
    for tags, services in ((["nursing"], None), (["food"], ["hillside-district-nursing"])):
        story_id = submit(client, **({"services": services} if services else {}))
        pump.drain()
        publish(story_id, tags=tags)
        pump.drain()
    wiring.site().rebuild_all()
    return ["food", "nursing"]


@pytest.fixture
def s3_calls(aws):
    """(operation, key) of every call chalicelib's own S3 client makes."""
    calls: list[tuple[str, str]] = []

    def record(params, model, **_):
        calls.append((model.name, params.get("Key", "")))

    chalice_aws.client("s3").meta.events.register("provide-client-params.s3.*", record)
    return calls


def test_a_rebuild_with_nothing_changed_uploads_nothing_and_reads_no_body(site, pump, s3_calls):
    wiring.queues().send([RenderJob(page="rebuild")])  # as the console or the CLI starts it: one message
    pump.drain()
    ops = [op for op, _ in s3_calls]
    assert ops.count("HeadObject") > 10  # every page the rebuild visits was asked about ...
    assert "PutObject" not in ops and "GetObject" not in ops and "DeleteObject" not in ops, set(ops)  # ... and left


def test_a_rebuild_after_one_template_change_uploads_exactly_its_pages(site, pump, s3_calls, monkeypatch):
    from jinja2 import ChoiceLoader, DictLoader

    from tools.ff import plan_rebuild

    env = pages.environment()
    source = env.loader.get_source(env, "pages/tag.html")[0]
    changed = source.replace("{% block title %}{{", "{% block title %}All: {{")
    assert changed != source
    monkeypatch.setattr(env, "loader", ChoiceLoader([DictLoader({"pages/tag.html": changed}), env.loader]))
    env.cache.clear()
    try:
        counts = plan_rebuild(show_progress=False)
        pump.drain()
    finally:
        env.cache.clear()
    assert counts["jobs"] > 10 and counts["deleted"] == 0
    uploaded = {key for op, key in s3_calls if op == "PutObject"}
    assert uploaded == {f"{lang}tags/{t}/index.html" for t in site for lang in ("", "cy/")}  # and in Welsh (issue 19)


def test_an_orphaned_archive_page_is_deleted(site, pump, aws, s3_calls):
    bucket = aws.resources.bucket
    aws.client("s3").put_object(Bucket=bucket, Key="archive/2001-01/index.html", Body=b"old")
    aws.client("s3").put_object(Bucket=bucket, Key="archive/2001-01/3/index.html", Body=b"old")
    wiring.queues().send([RenderJob(page="rebuild")])
    pump.drain()
    assert {key for op, key in s3_calls if op == "DeleteObject"} == {
        "archive/2001-01/index.html",
        "archive/2001-01/3/index.html",
    }
