"""The rules engine's pure logic: three-valued expressions, dated parameters, catalog errors."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from entitlements import CATALOG_DIR
from rules_engine.catalog import CatalogError
from rules_engine.expressions import UNKNOWN, ExpressionError, compile_expression
from rules_engine.facts import FACTS, situation
from rules_engine.loader import load_catalog

PARAMS = {"limit"}


def run(source: str, facts: dict[str, object], params: dict[str, object] | None = None) -> object:
    return compile_expression(source, FACTS, PARAMS).evaluate(facts, params or {"limit": 10})


def test_missing_fact_is_unknown_never_false_or_zero() -> None:
    assert run("child.birth_order >= 1", {}) is UNKNOWN
    assert run("child.birth_order + 1", {}) is UNKNOWN
    assert run("not (child.birth_order == 1)", {}) is UNKNOWN


def test_kleene_logic() -> None:
    assert run("child.birth_order == 1 and household.months_resident > 6", {"child.birth_order": 2}) is False
    assert run("child.birth_order == 1 or household.months_resident > 6", {"child.birth_order": 1}) is True
    assert run("child.birth_order == 1 and household.months_resident > 6", {"child.birth_order": 1}) is UNKNOWN


def test_parameters_literals_and_calls() -> None:
    assert run("min(params.limit, 3) == 3", {}) is True
    assert run('household.municipality_code in ["41110", "41117"]', {"household.municipality_code": "41117"})
    assert run('child.birth_date >= date("2024-01-01")', {"child.birth_date": date(2024, 1, 1)}) is True


@pytest.mark.parametrize(
    "source, message",
    [
        ("__import__('os').system('x')", "not allowed"),
        ("child.name == 'x'", "unknown fact 'child.name'"),
        ("params.nope > 1", "unknown parameter 'nope'"),
        ("child.birth_order ==", "syntax error"),
        ("[x for x in y]", "not allowed"),
    ],
)
def test_unsafe_or_wrong_expressions_fail_at_load(source: str, message: str) -> None:
    with pytest.raises(ExpressionError, match=message):
        compile_expression(source, FACTS, PARAMS)


def test_derived_ages_use_completed_months_and_years() -> None:
    facts = situation(
        {"child.birth_date": date(2024, 1, 31), "person.birth_date": date(1960, 6, 15)}, date(2025, 6, 14)
    )
    assert facts["child.age_months"] == 16
    assert facts["person.age_years"] == 64  # 만 나이: the 65th birthday is the next day


def test_parameter_history_picks_the_value_in_force() -> None:
    voucher = load_catalog(CATALOG_DIR).benefits["first_meeting_voucher"]
    second = voucher.parameters["amount_second_or_later_child"]
    assert second.at(date(2023, 12, 31)) == 2_000_000
    assert second.at(date(2024, 1, 1)) == 3_000_000


def _catalog_with(tmp_path: Path, benefit_yaml: str) -> Path:
    directory = tmp_path / "catalog"
    (directory / "birth").mkdir(parents=True)
    (directory / "agencies.yaml").write_text((CATALOG_DIR / "agencies.yaml").read_text(encoding="utf-8"))
    source = (CATALOG_DIR / "birth" / "child_allowance.yaml").read_text(encoding="utf-8")
    (directory / "birth" / "ok.yaml").write_text(source)
    (directory / "birth" / "broken.yaml").write_text(benefit_yaml)
    return directory


def test_catalog_error_names_file_line_and_fact(tmp_path: Path) -> None:
    source = (CATALOG_DIR / "birth" / "first_meeting_voucher.yaml").read_text(encoding="utf-8")
    broken = source.replace("child.birth_order >= 1", "child.shoe_size >= 1")
    line = next(i for i, text in enumerate(broken.splitlines(), 1) if "child.shoe_size" in text)
    with pytest.raises(CatalogError) as error:
        load_catalog(_catalog_with(tmp_path, broken))
    assert f"broken.yaml:{line}" in str(error.value) and "unknown fact 'child.shoe_size'" in str(error.value)


def test_catalog_rejects_a_parameter_without_value_when_the_benefit_starts(tmp_path: Path) -> None:
    source = (CATALOG_DIR / "birth" / "first_meeting_voucher.yaml").read_text(encoding="utf-8")
    broken = source.replace("effective: {from: 2022-01-01}", "effective: {from: 2021-01-01}")
    with pytest.raises(CatalogError, match="has no value on 2021-01-01"):
        load_catalog(_catalog_with(tmp_path, broken))


@pytest.mark.parametrize(
    "replacement, message",
    [
        ("child.birth_date >= 2022", "type mismatch in 'child.birth_date >= 2022': date compared with int"),
        ('child.birth_order == "1"', "int compared with str"),
        ("child.birth_order + 1", "must be true or false, not int"),
        ("household.municipality_code in [41110, 41111]", "str looked up in a list of int"),
    ],
)
def test_type_mismatches_fail_at_load(tmp_path: Path, replacement: str, message: str) -> None:
    source = (CATALOG_DIR / "birth" / "first_meeting_voucher.yaml").read_text(encoding="utf-8")
    broken = source.replace('child.birth_date >= date("2022-01-01")', replacement)
    with pytest.raises(CatalogError, match=message.replace("[", r"\[").replace("(", r"\(").replace("+", r"\+")):
        load_catalog(_catalog_with(tmp_path, broken))


def test_overlapping_parameter_dates_fail_at_load(tmp_path: Path) -> None:
    source = (CATALOG_DIR / "birth" / "first_meeting_voucher.yaml").read_text(encoding="utf-8")
    broken = source.replace("      2024-01-01: 3000000", "      2024-01-01: 3000000\n      2024-01-01: 3100000")
    with pytest.raises(CatalogError, match="duplicate key"):
        load_catalog(_catalog_with(tmp_path, broken))
