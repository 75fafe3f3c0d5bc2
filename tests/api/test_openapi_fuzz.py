"""Schemathesis against the published OpenAPI document: generated requests never meet a server error."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.api.stack import Stack
from tests.conftest import citizen_headers

pytestmark = pytest.mark.integration
SCHEMATHESIS = Path(shutil.which("schemathesis") or Path(__file__).parents[2] / ".venv/bin/schemathesis")


@pytest.mark.parametrize("caller", ["caseworker", "citizen"])
def test_no_server_errors_for_generated_requests(stack: Stack, caller: str, tmp_path: Path) -> None:
    authorization = (
        stack.bearer("kim.suwon")["authorization"]
        if caller == "caseworker"
        else citizen_headers("m-fuzz")["authorization"]
    )
    result = subprocess.run(
        [
            str(SCHEMATHESIS),
            "run",
            f"{stack.base_url}/openapi.json",
            "--checks",
            "not_a_server_error",
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
            "-H",
            f"Authorization: {authorization}",
            "-H",
            f"X-API-Key: {stack.mois_key}",
        ],
        capture_output=True,
        text=True,
        timeout=540,
        cwd=tmp_path,
    )
    report = result.stdout[-6000:] + result.stderr[-2000:]
    assert result.returncode == 0, report
    counts = re.search(r"(\d+) generated, (\d+) passed", result.stdout)
    assert counts and int(counts[1]) > 100 and counts[1] == counts[2], report  # every generated case answered < 500
