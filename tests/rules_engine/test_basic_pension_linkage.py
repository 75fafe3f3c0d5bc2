"""기초연금 국민연금 연계감액 (기초연금법 제5조~제7조 and its Decree) against the formula written out here with exact
fractions, over a grid of National Pension amounts and A급여 amounts around every boundary: the compiled engine and
the reference interpreter must both give the reference, rounded once (10원 미만 절사, 법 제24조)."""

from __future__ import annotations

from datetime import date
from fractions import Fraction

import pytest

from entitlements import CATALOG_DIR
from rules_engine.eligibility import Eligibility
from rules_engine.evaluation import evaluate_benefit
from rules_engine.facts import situation
from rules_engine.interpreter import interpret_benefit
from rules_engine.loader import load_catalog

STANDARD = {date(2025, 3, 2): 342_510, date(2026, 3, 2): 349_700}  # 기준연금액 in force on each day
THRESHOLD_SINGLE = {date(2025, 3, 2): 2_280_000, date(2026, 3, 2): 2_470_000}


def reference_linked(standard: int, pension: int, redistribution: int) -> Fraction:
    """기초연금액 before the reductions of 법 제8조, as a real number."""
    b = Fraction(standard)
    if pension <= b * Fraction(150, 100):  # 제6조제1항: the full standard amount
        return b
    by_a = max(b - Fraction(2, 3) * redistribution, Fraction(0)) + b / 2  # 제5조: A급여's 2/3 off, plus 부가연금액
    by_total = b * Fraction(250, 100) - pension  # 시행령 (제6조제2항): at least 250% of B minus the pension
    return min(b, max(by_a, by_total))  # 제7조: never above the standard amount


def reference_amount(on: date, pension: int, redistribution: int, income: int) -> int:
    standard = STANDARD[on]
    linked = reference_linked(standard, pension, redistribution)
    near_threshold = max(Fraction(THRESHOLD_SINGLE[on] - income), standard * Fraction(10, 100))  # 시행령 제11조제1항
    paid: Fraction = min(linked, near_threshold)
    return int(paid // 10 * 10)  # 법 제24조: below 10 KRW dropped, once


def _grid(standard: int) -> list[int]:
    around = [0, standard * 3 // 2, standard * 2, standard * 5 // 2, standard * 3]
    return sorted({max(0, p + d) for p in around for d in (-7, -1, 0, 1, 2, 5)} | {500_000, 700_000, 1_234_567})


@pytest.mark.parametrize("on", sorted(STANDARD))
def test_linked_amount_matches_the_formula_written_out(on: date) -> None:
    benefit = load_catalog(CATALOG_DIR).benefits["basic_pension"]
    standard = STANDARD[on]
    redistributions = sorted({0, 1, 2, 3, 100_000, 299_999, 300_000, standard * 3 // 4, standard * 3 // 4 + 1, 900_000})
    checked = 0
    for pension in _grid(standard):
        for redistribution in (r for r in redistributions if r <= pension):
            for income in (0, THRESHOLD_SINGLE[on] - 300_000, THRESHOLD_SINGLE[on]):
                base = {
                    "person.birth_date": date(1955, 4, 4),
                    "person.recognized_income_krw": income,
                    "household.is_couple": False,
                    "person.nps_pension_krw": pension,
                    "person.nps_redistribution_krw": redistribution,
                }
                facts = situation(base, on)
                expected = reference_amount(on, pension, redistribution, income)
                compiled = evaluate_benefit(benefit, facts, on)
                interpreted = interpret_benefit(benefit, facts, on)
                where = (on, pension, redistribution, income)
                assert compiled.eligibility is Eligibility.ELIGIBLE, where
                assert compiled.amount_krw == interpreted.amount_krw == expected, where
                checked += 1
    assert checked > 500


def test_the_linked_amount_is_continuous_at_150_percent_and_never_below_the_additional_amount() -> None:
    standard = STANDARD[date(2026, 3, 2)]
    at_limit = standard * 3 // 2
    assert reference_linked(standard, at_limit, at_limit) == standard
    assert reference_linked(standard, at_limit + 1, at_limit) == standard - 1  # the 250% rule: no cliff
    for pension in range(at_limit + 1, standard * 4, 9_973):
        for redistribution in (0, pension // 3, pension):
            assert standard / 2 <= reference_linked(standard, pension, redistribution) <= standard


def test_unknown_national_pension_is_assumed_none_and_a_known_large_one_needs_the_a_benefit() -> None:
    benefit = load_catalog(CATALOG_DIR).benefits["basic_pension"]
    on = date(2026, 3, 2)
    base = {"person.birth_date": date(1955, 4, 4), "person.recognized_income_krw": 0, "household.is_couple": False}
    assumed = evaluate_benefit(benefit, situation(base, on), on)
    assert (assumed.eligibility, assumed.amount_krw) == (Eligibility.ELIGIBLE, 349_700)
    assert "person.nps_pension_krw" in benefit.assumptions
    needs = evaluate_benefit(benefit, situation({**base, "person.nps_pension_krw": 524_551}, on), on)
    assert needs.eligibility is Eligibility.UNDETERMINED and "person.nps_redistribution_krw" in needs.missing
    interpreted = interpret_benefit(benefit, situation({**base, "person.nps_pension_krw": 524_551}, on), on)
    assert interpreted.eligibility is Eligibility.UNDETERMINED
