"""The published OpenAPI document cannot drift unnoticed: it must equal the committed docs/schemas/openapi.json.

A deliberate change of the API regenerates it (`beforeservice schemas export docs/schemas`) in the same commit, so
the review shows what clients will see. A module move that renames a schema fails here.
"""

from __future__ import annotations

import json
from pathlib import Path

from beforeservice.api.published import published_document

COMMITTED = Path(__file__).resolve().parents[3] / "docs" / "schemas" / "openapi.json"


def test_the_openapi_document_is_the_committed_one() -> None:
    committed = json.loads(COMMITTED.read_text(encoding="utf-8"))
    document = published_document()
    assert document == committed, (
        "the OpenAPI document changed: if it is meant to, run `beforeservice schemas export docs/schemas` "
        "and commit docs/schemas/openapi.json"
    )
    assert list(document["paths"]) == list(committed["paths"])  # the order clients and the docs page list them in
