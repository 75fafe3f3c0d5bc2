"""`beforeservice bench app` measures what it says: the JavaScript budget from the files, and a first paint of the
signed-in inbox (not the sign-in page) and of the reference, both in Chromium under the throttled profile. The
figures are printed by the command; here only that they exist and that the inbox really showed offers."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from beforeservice.bench.app import Figures, report
from beforeservice.cli import app

pytestmark = pytest.mark.integration


def test_the_report_compares_the_inbox_with_the_reference_of_the_same_run() -> None:
    lines = report(Figures(16_000, [900.0, 950.0, 1100.0], [400.0, 420.0, 500.0], 6_000))
    assert "16,000 B (within the 153,600 B budget)" in lines[0]
    assert any("first inbox paint (FCP):" in line and " 950 ms" in line for line in lines)
    assert any("cost of the app's CSS and JS:" in line and "+530 ms" in line for line in lines)


def test_bench_app_prints_sizes_and_paints_from_chromium() -> None:
    result = CliRunner().invoke(app, ["bench", "app", "--runs", "1"])
    assert result.exit_code == 0, result.output
    assert "JavaScript the app can load, gzip -9:" in result.output
    paint = next(line for line in result.output.splitlines() if line.startswith("first inbox paint"))
    assert float(paint.split(":")[1].split("ms")[0]) > 0
    assert "reference, same HTML without CSS/JS:" in result.output
