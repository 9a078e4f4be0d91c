"""The OpenAPI document: served, kept in docs/, and covering every route."""

from __future__ import annotations

import json
import re
from pathlib import Path

from app import app

DOCS = Path(__file__).resolve().parents[2] / "docs" / "openapi.json"


def test_the_served_document_matches_docs(client):
    resp = client.http.get("/api/openapi.json")
    assert resp.status_code == 200
    served = json.loads(resp.body)
    assert served == json.loads(DOCS.read_text()), (
        "docs/openapi.json is stale: python -m chalicelib.edge.openapi > docs/openapi.json"
    )
    assert served["openapi"].startswith("3.")


def test_every_route_and_method_is_documented():
    documented = json.loads(DOCS.read_text())["paths"]
    for path, methods in app.routes.items():
        assert path in documented, f"{path} is not in the OpenAPI document"
        for method in methods:
            if method == "OPTIONS":
                continue
            assert method.lower() in documented[path], f"{method} {path} is not documented"
    for path in documented:
        assert path in app.routes, f"{path} is documented but is not a route"


def test_the_document_validates():
    from openapi_spec_validator import validate

    validate(json.loads(DOCS.read_text()))


def test_no_private_field_is_documented_as_an_answer():
    text = json.dumps(json.loads(DOCS.read_text())["paths"])
    assert not re.search(r'"(email|postcode|phone)"\s*:', text)
