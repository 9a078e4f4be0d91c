"""The CloudFront function that gives the site clean URLs never redirects to another host (issue 18,
finding 5): run in node, `//evil.example/x` gave `Location: //evil.example/x/`, and `/\\evil.example/x`
gave `/\\evil.example/x/`, both another host to a browser. The function's own JavaScript, taken from
infra/template.yaml, runs here against a corpus of hostile URIs."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest

TEMPLATE = Path(__file__).resolve().parents[2] / "infra" / "template.yaml"
CORPUS = [
    "//evil.example/x",
    "///evil.example/x",
    "/\\evil.example/x",
    "/\\/evil.example/x",
    "/%2F%2Fevil.example/x",
    "/%2f/evil.example",
    "/%5Cevil.example/x",
    "/\t/evil.example/x",
    "/\n/evil.example",
    "/%09/evil.example",
    "/%0d%0a/evil.example",
    "/ //evil.example",
    "/.//evil.example",
    "////",
    "/services/ward-7",
    "/services/ward-7/",
    "/stories/abc/index.html",
    "/",
    "/i/abcdefghjkmn",
    "/i/abcdefghjkmn/",
    "/i/..%2f..%2fevil",
    "//i/abcdefghjkmn",
]

# Issue 18, for `make prove`: every way we know to start another host, before each of a few hosts and paths.
STARTS = [
    "//",
    "///",
    "/\\",
    "/\\/",
    "//\\",
    "/%2F",
    "/%2f%2f",
    "/%5C",
    "/%5c%5c",
    "/%09/",
    "/\t/",
    "/\r\n/",
    "/ /",
    "/./",
    "/%2e/",
    "/%2E%2E/",
    "/.%2F/",
    "/%252F/",
    "/\u3002/",
    "/\\\\",
]
CORPUS += [
    start + rest for start in STARTS for rest in ("evil.example", "evil.example/x", "evil.example/x/", "evil.example?x")
]

HARNESS = """
{code}
var corpus = JSON.parse(require('fs').readFileSync(0, 'utf8'));
var out = corpus.map(function (uri) {{
  var r = handler({{ request: {{ uri: uri, headers: {{}} }} }});
  return {{ uri: uri, status: r.statusCode || 200, location: r.headers && r.headers.location ? r.headers.location.value : null, to: r.uri || null }};
}});
process.stdout.write(JSON.stringify(out));
"""


def function_code() -> str:
    text = TEMPLATE.read_text(encoding="utf-8")
    text = text[text.index("  SiteUrlsFunction:\n") :]  # the site's function, not the API's (ApiViewerFunction)
    block = re.search(r"FunctionCode: \|\n((?: {8}.*\n|\n)+)", text)
    assert block, "the site URLs function is in the template"
    return "\n".join(line[8:] for line in block.group(1).splitlines())


def browser_host(location: str) -> bool:
    """Whether a browser would take this Location to another host: it drops tabs and line breaks,
    reads a backslash as a slash, and "//x" starts another host."""
    cleaned = re.sub(r"[\t\n\r]", "", location).replace("\\", "/")
    return cleaned.startswith("//") or not cleaned.startswith("/") or "://" in cleaned.split("/", 2)[1]


@pytest.mark.skipif(shutil.which("node") is None, reason="node is not installed (make test installs it)")
def test_no_uri_is_redirected_to_another_host():
    run = subprocess.run(
        ["node", "-e", HARNESS.format(code=function_code())],
        input=json.dumps(CORPUS),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert run.returncode == 0, run.stderr
    results = json.loads(run.stdout)
    assert len(results) == len(CORPUS)
    for r in results:
        if r["status"] == 302:  # an invitation's short link (issue 19), to the API on the same host
            assert re.fullmatch(r"/api/i/[A-Za-z0-9]{1,40}", r["location"]), r
        elif r["status"] == 301:
            assert not browser_host(r["location"]), r
            assert r["location"].startswith("/") and not r["location"].startswith("//"), r
        else:
            assert r["status"] in (200, 400), r
            if r["status"] == 200:
                assert r["to"].startswith("/") and not r["to"].startswith("//"), r
    from tests.support.prove import record

    record(
        "redirects",
        {
            "uris": len(results),
            "redirected": sum(r["status"] == 301 for r in results),
            "refused_400": sum(r["status"] == 400 for r in results),
            "served": sum(r["status"] == 200 for r in results),
            "off_host": sum(r["status"] == 301 and browser_host(r["location"]) for r in results),
        },
    )
    by_uri = {r["uri"]: r for r in results}
    # Clean URLs still work.
    assert by_uri["/services/ward-7"]["location"] == "/services/ward-7/"
    assert by_uri["/services/ward-7/"]["to"] == "/services/ward-7/index.html"
    assert by_uri["/stories/abc/index.html"]["to"] == "/stories/abc/index.html"
    assert by_uri["//evil.example/x"]["location"] == "/evil.example/x/"
    assert by_uri["/\\evil.example/x"]["status"] == 400
    # An invitation's short link goes to the API's form (issue 19).
    assert by_uri["/i/abcdefghjkmn"]["location"] == "/api/i/abcdefghjkmn"
    assert by_uri["/i/abcdefghjkmn/"]["location"] == "/api/i/abcdefghjkmn"
    assert by_uri["//i/abcdefghjkmn"]["location"] == "/api/i/abcdefghjkmn"
