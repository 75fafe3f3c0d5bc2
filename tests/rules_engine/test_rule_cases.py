"""Runs every OpenFisca-style YAML case in tests/rules/ against the real catalog."""

from __future__ import annotations

from pathlib import Path

import pytest

from entitlements import CATALOG_DIR
from rules_engine.casebook import Case, read_cases, run_case
from rules_engine.loader import load_catalog

CASES_DIR = Path(__file__).resolve().parents[1] / "rules"
CATALOG = load_catalog(CATALOG_DIR)
CASES = list(read_cases(CASES_DIR))


@pytest.mark.parametrize("case", [pytest.param(c, id=f"{c.file}: {c.name}") for c in CASES])
def test_rule_case(case: Case) -> None:
    result = run_case(CATALOG, case)
    assert result.passed, "; ".join(result.failures)


def test_every_benefit_has_at_least_three_cases() -> None:
    """Hand-written benefits: three cases each. A municipal table's rows share one declared shape, tested at its
    boundaries in tests/rules/local_birth_grant.yaml; `beforeservice rules coverage` counts the rows tested."""
    counts = {b: 0 for b, benefit in CATALOG.benefits.items() if benefit.table is None}
    for case in CASES:
        if case.benefit in counts:
            counts[case.benefit] += 1
    assert {b: n for b, n in counts.items() if n < 3} == {}


def test_every_table_shape_is_tested() -> None:
    """Each kind of table benefit has cases: a 시군구 grant, a 시도 grant, an information offer, the catch-all."""
    tested = {c.benefit for c in CASES}
    assert {"local_birth_grant_26350", "local_birth_grant_26", "local_birth_grant_information_unlisted"} <= tested
    assert any(b.startswith("local_birth_grant_information_") and b[-1].isdigit() for b in tested)


def test_a_boundary_case_breaks_when_the_rule_does() -> None:
    """The cases are not vacuous: flip an expected eligibility and the runner reports it."""
    case = next(c for c in CASES if c.output["eligibility"] == "eligible")
    flipped = Case(case.file, case.name, case.benefit, case.period, case.input, {"eligibility": "not_eligible"})
    assert not run_case(CATALOG, flipped).passed
