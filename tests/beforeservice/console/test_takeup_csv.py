"""The take-up export opens safely in a spreadsheet: text that would run as a formula is kept as text."""

from __future__ import annotations

import csv
import io

from beforeservice.console.takeup import FunnelRow, to_csv, totals


def test_text_cells_that_a_spreadsheet_would_run_stay_text() -> None:
    hostile = FunnelRow('=HYPERLINK("http://x")', "+cmd|' /C calc'!A0", "@SUM(1+1)", "-2+3")
    hostile.counts["matched"] = 4
    plain = FunnelRow("child_allowance", "아동수당", "41117", "push")
    rows = list(csv.reader(io.StringIO(to_csv([hostile, plain]))))
    assert rows[1][:4] == ['\'=HYPERLINK("http://x")', "'+cmd|' /C calc'!A0", "'@SUM(1+1)", "'-2+3"]
    assert rows[1][4] == "4"  # counts stay numbers
    assert rows[2][:4] == ["child_allowance", "아동수당", "41117", "push"]


def test_declines_by_the_citizen_are_summed_and_exported_apart_from_take_up() -> None:
    rows = [FunnelRow("child_allowance", "아동수당", m, "push", declined=1) for m in ("41117", "41111")]
    rows[0].counts["applied"] = 2
    (total,) = totals(rows, "benefit")
    assert (total.declined, total.counts["applied"]) == (2, 2)
    exported = list(csv.DictReader(io.StringIO(to_csv([total]))))
    assert (exported[0]["declined_by_citizen"], exported[0]["applied"]) == ("2", "2")
