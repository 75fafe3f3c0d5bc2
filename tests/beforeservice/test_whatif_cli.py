"""`beforeservice rules evaluate` on the documented example, as a policy officer runs it (a real subprocess)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "docs" / "examples" / "birth-in-suwon.yaml"


def evaluate(*arguments: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "beforeservice", "rules", "evaluate", *arguments],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_the_example_prints_a_table_with_the_reasons() -> None:
    done = evaluate(str(EXAMPLE))
    assert done.returncode == 0, done.stderr
    table = done.stdout.split("\n\n")[1]  # the table, before the reasons
    rows = {line.split()[0]: line for line in table.splitlines()}
    assert "eligible" in rows["child_allowance"] and "100,000 KRW/month" in rows["child_allowance"]
    assert (
        "retroactive_window 2027-01-04, entitlement_ends 2028-10-31"  # day 60, 2027-01-01 (신정), moves (민법 제161조)
        in rows["parental_benefit"]
        and "1,000,000 KRW/month" in rows["parental_benefit"]
    )
    assert "아동수당법 제4조제1항" in done.stdout and "Child Allowance Act, Article 4(1)" in done.stdout


def test_json_output_is_the_evaluation_the_api_answers() -> None:
    done = evaluate(str(EXAMPLE), "--json")
    assert done.returncode == 0, done.stderr
    body = json.loads(done.stdout)
    assert body["version"] == "2026-11" and body["date"] == "2026-11-20"
    decisions = {d["benefit_id"]: d for d in body["decisions"]}
    assert decisions["parental_benefit"]["payment_starts"] == "2026-11"
    assert decisions["first_meeting_voucher"]["amount_krw"] == 3_000_000  # a second child born in 2026


def test_a_broken_file_names_the_field(tmp_path: Path) -> None:
    broken = tmp_path / "broken.yaml"
    broken.write_text(EXAMPLE.read_text().replace('version: "2026-11"', 'version: "2030-01"'))
    done = evaluate(str(broken))
    assert done.returncode == 2
    assert "version" in done.stderr
    aliases = tmp_path / "aliases.yaml"
    aliases.write_text("a: &a [1, 1, 1]\nb: [*a, *a, *a]\n")
    done = evaluate(str(aliases))
    assert done.returncode == 2 and "aliases" in done.stderr
