"""Runs every OpenFisca-style YAML case in tests/rules/ against the real catalog."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

import pytest
import yaml

from entitlements import CATALOG_DIR
from rules_engine.catalog import load_catalog
from rules_engine.evaluation import evaluate_benefit
from rules_engine.facts import check_types, situation

CASES_DIR = Path(__file__).parent / "rules"
CATALOG = load_catalog(CATALOG_DIR)


def _cases() -> list[Any]:
    cases = []
    for path in sorted(CASES_DIR.glob("*.yaml")):
        for case in yaml.safe_load(path.read_text()):
            cases.append(pytest.param(case, id=f"{path.stem}: {case['name']}"))
    return cases


@pytest.mark.parametrize("case", _cases())
def test_rule_case(case: dict[str, Any]) -> None:
    benefit = CATALOG.benefits[case["benefit"]]
    assert check_types(case["input"]) == []
    on: date = case["period"]
    decision = evaluate_benefit(benefit, situation(case["input"], on), on)
    expected = case["output"]
    assert decision.eligibility.value == expected["eligibility"]
    if "amount_krw" in expected:
        assert decision.amount_krw == expected["amount_krw"]
    if "deadline" in expected:
        assert decision.deadline == expected["deadline"]
    if "missing" in expected:
        assert list(decision.missing) == sorted(expected["missing"])


def test_every_benefit_has_at_least_three_cases() -> None:
    counts: dict[str, int] = {b: 0 for b in CATALOG.benefits}
    for param in _cases():
        counts[param.values[0]["benefit"]] += 1
    assert {b: n for b, n in counts.items() if n < 3} == {}
