"""The published OpenAPI document and its pages.

Schemathesis against the document, as each kind of caller, with the conformance checks on: no generated request
meets a server error, and every answer is one the document declares (status, content type, schema, headers). A
small, seeded run per caller, on SQLite and PostgreSQL. The document declares every refusal as a problem, and
/docs and /redoc load nothing from outside (in Chromium, every request is watched)."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
from playwright.sync_api import Request, sync_playwright

from tests.beforeservice.api.stack import SUWON, Stack
from tests.conftest import citizen_headers
from tests.support.browser import CHROMIUM, CHROMIUM_ARGS

pytestmark = pytest.mark.integration
SCHEMATHESIS = Path(shutil.which("schemathesis") or Path(sys.executable).parent / "schemathesis")
CHECKS = [
    "not_a_server_error",
    "status_code_conformance",
    "content_type_conformance",
    "response_schema_conformance",
    "response_headers_conformance",
]
CITIZEN = "m-fuzz"


@dataclass(frozen=True)
class Caller:
    operations: str  # regex of the paths this caller is meant to call
    headers: Callable[[Stack], dict[str, str]]
    parameters: Callable[[Stack], dict[str, str]] = lambda stack: {}
    min_cases: int = 50


CALLERS = {
    "agency": Caller("^/v1/(events|schemas|asyncapi)", lambda stack: {"X-API-Key": stack.mois_key}),
    "citizen": Caller(
        "^/v1/(citizens/|evaluations)",
        lambda stack: {"Authorization": citizen_headers(CITIZEN)["authorization"]},
        lambda stack: {"path.citizen_id": CITIZEN},
    ),
    "caseworker": Caller(
        "^/v1/((review|caseworkers)/|evaluations)",
        lambda stack: {"Authorization": stack.bearer("kim.suwon")["authorization"]},
        lambda stack: {"path.entitlement_id": stack.pending_case(SUWON)[0]},
    ),
    "auditor": Caller(
        "^/v1/audit", lambda stack: {"Authorization": stack.bearer("jung.audit")["authorization"]}, min_cases=30
    ),
    # No credentials at all, on every operation: each refusal is a documented 401 problem.
    "outsider": Caller(".*", lambda stack: {}, min_cases=100),
}


def config_file(directory: Path, parameters: dict[str, str]) -> Path:
    lines = ["[parameters]"] + [f"{json.dumps(name)} = {json.dumps(value)}" for name, value in parameters.items()]
    path = directory / "schemathesis.toml"
    path.write_text("\n".join(lines) + "\n")
    return path


@pytest.mark.parametrize("caller", list(CALLERS))
def test_generated_requests_get_documented_answers(stack: Stack, caller: str, tmp_path: Path) -> None:
    who = CALLERS[caller]
    headers = [arg for name, value in who.headers(stack).items() for arg in ("-H", f"{name}: {value}")]
    result = subprocess.run(
        [
            str(SCHEMATHESIS),
            "--config-file",
            str(config_file(tmp_path, who.parameters(stack))),
            "run",
            f"{stack.base_url}/openapi.json",
            "--checks",
            ",".join(CHECKS),
            "--include-path-regex",
            who.operations,
            "--max-examples",
            "6",
            "--phases",
            "examples,coverage,fuzzing",
            "--workers",
            "1",
            "--seed",
            "7",
            "--request-timeout",
            "20",
            *headers,
        ],
        capture_output=True,
        text=True,
        timeout=540,
        cwd=tmp_path,
    )
    report = result.stdout[-8000:] + result.stderr[-2000:]
    assert result.returncode == 0, report
    counts = re.search(r"(\d+) generated, (\d+) passed", result.stdout)
    assert counts and int(counts[1]) >= who.min_cases and counts[1] == counts[2], report


def test_every_refusal_is_a_declared_problem(stack: Stack) -> None:
    document = stack.client.get("/openapi.json").json()
    problem = {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}}
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            responses = operation["responses"]
            where = f"{method.upper()} {path}"
            for status, response in responses.items():
                if int(status) >= 400:
                    assert response["content"] == problem, where
            if operation.get("security"):
                assert {"401", "403"} <= set(responses), where
            if "{" in path:
                assert "404" in responses, where
            if operation.get("requestBody"):
                assert {"400", "413", "415", "422"} <= set(responses), where
    assert "HTTPValidationError" not in document["components"]["schemas"]

    cloudevent = {"$ref": "#/components/schemas/CloudEvent"}
    single = document["paths"]["/v1/events"]["post"]["requestBody"]["content"]
    assert single["application/cloudevents+json"]["schema"] == cloudevent
    batch = document["paths"]["/v1/events:batch"]["post"]["requestBody"]["content"]
    assert batch["application/cloudevents-batch+json"]["schema"]["items"] == cloudevent
    envelope = document["components"]["schemas"]["CloudEvent"]
    assert envelope["required"] == ["id", "source", "specversion", "type"]
    assert envelope["properties"]["specversion"]["const"] == "1.0"


@pytest.mark.parametrize("page_path", ["/docs", "/redoc"])
def test_api_docs_load_nothing_from_outside(stack: Stack, page_path: str) -> None:
    html = stack.client.get(page_path).text
    assert not re.search(r"(https?:)?//", html), html  # every reference is a same-origin path
    for asset in re.findall(r'(?:src|href)="([^"]+)"', html):
        assert stack.client.get(asset).status_code == 200, asset

    requested: list[str] = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        try:
            page = browser.new_page()

            def record(request: Request) -> None:
                requested.append(request.url)

            page.on("request", record)
            page.goto(stack.base_url + page_path)
            # The UI rendered the document from the vendored scripts: an operation of ours is on the page.
            page.get_by_text("/v1/events:batch").first.wait_for(timeout=30_000)
        finally:
            browser.close()
    local = (stack.base_url + "/", "blob:" + stack.base_url + "/", "data:")  # ReDoc's search worker is a blob
    outside = [url for url in requested if not url.startswith(local)]
    assert requested and outside == [], outside
