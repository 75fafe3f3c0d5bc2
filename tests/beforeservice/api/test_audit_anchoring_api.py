"""The API process anchors the audit chain as it records access: the head it wrote is in DATA_DIR's anchor file."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import text

from tests.beforeservice.api.stack import Stack

pytestmark = pytest.mark.integration


def test_each_recorded_access_is_anchored(stack: Stack) -> None:
    for _ in range(3):
        assert stack.client.get("/v1/audit", headers=stack.bearer("jung.audit")).status_code == 200
    with stack.sessions() as session:
        head = session.execute(text("SELECT id, hash FROM audit_log ORDER BY id DESC LIMIT 1")).one()
    anchors = [json.loads(line) for line in (Path(stack.env["DATA_DIR"]) / "audit-anchors.jsonl").read_text().split()]
    assert (anchors[-1]["seq"], anchors[-1]["hash"]) == (head.id, head.hash)
    assert len(anchors) >= 3  # AUDIT_ANCHOR_EVERY defaults to 1: every access

    verified = subprocess.run(
        [sys.executable, "-m", "beforeservice", "audit", "verify"],
        env=stack.env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert verified.returncode == 0, verified.stderr
    assert f"anchored up to entry {head.id}" in verified.stdout
