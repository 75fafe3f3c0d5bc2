"""Calendar periods against an independent reference, on every date from 2020-01-01 to 2032-12-31 (leap days and
month ends included): the reference is dateutil's relativedelta with the Civil Act's articles written out here,
and the engine's three evaluators (compiled, interpreted, SQL on SQLite and PostgreSQL) must agree with it."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
from dateutil.relativedelta import relativedelta
from sqlalchemy import Table, select

from entitlements import CATALOG_DIR
from rules_engine import periods
from rules_engine.catalog import CatalogError
from rules_engine.evaluation import evaluate_benefit
from rules_engine.expressions import UNKNOWN, ExpressionError, compile_expression, parse
from rules_engine.facts import FACTS, situation, whole_months_between
from rules_engine.interpreter import interpret, interpret_benefit
from rules_engine.loader import load_catalog
from rules_engine.sql import expression_sql
from tests.rules_engine.dates_table import every_day

DAYS = [date(2020, 1, 1) + timedelta(days=n) for n in range((date(2032, 12, 31) - date(2020, 1, 1)).days + 1)]
ONE_DAY = timedelta(days=1)


# --- the reference: 민법 제157조-제160조 written out over relativedelta -------------------------------------


def reference_end(start: date, days: int, months: int, counts_first_day: bool) -> date:
    # 제157조: the first day is not counted, unless the period starts at 0 h (or a statute counts it).
    first = start if counts_first_day else start + ONE_DAY
    if days:
        return first + timedelta(days=days - 1)  # 제159조: ends at the end of its last day
    same_day = first + relativedelta(months=months)  # relativedelta keeps the day, or clips to the month's end
    if same_day.day != first.day:
        return same_day  # 제160조제3항: no corresponding day, so the last day of that month
    return same_day - ONE_DAY  # 제160조제2항: the day before the corresponding day


def reference_turns(birth: date, months: int) -> date:
    # 제158조: an age counts the day of birth; so the age is reached the day after that period's last day.
    return reference_end(birth, 0, months, counts_first_day=True) + ONE_DAY


LENGTHS = [(1, 0), (60, 0), (365, 0), (0, 1), (0, 6), (0, 12), (0, 24), (0, 60)]


def test_period_ends_match_the_reference_on_every_date() -> None:
    for rule in periods.COUNTING_RULES.values():
        for start in DAYS:
            for days, months in LENGTHS:
                expected = reference_end(start, days, months, rule.counts_first_day)
                assert periods.period_end(start, days, months, rule.name) == expected, (start, days, months, rule)


def test_ages_and_months_match_the_reference_on_every_date() -> None:
    for birth in DAYS:
        for months in (1, 12, 24, 86, 108):
            reached = periods.turns(birth, months)
            assert reached == reference_turns(birth, months), (birth, months)
            # The derived fact child.age_months agrees: one day before, still a month short.
            assert whole_months_between(birth, reached) == months
            assert whole_months_between(birth, reached - ONE_DAY) == months - 1
        assert periods.month_start(birth) == birth + relativedelta(day=1)
        assert periods.month_end(birth) == birth + relativedelta(day=31)
        assert periods.month_end(birth, -1) == birth + relativedelta(day=1) - ONE_DAY
        assert periods.month_start(birth, 1) == birth + relativedelta(day=1, months=1)


def test_the_law_s_own_examples() -> None:
    # 민법 제160조제3항: one month from 30 January counts from the 31st; February has none, so it ends on its last day.
    assert periods.period_end(date(2024, 1, 30), 0, 1, "civil_code") == date(2024, 2, 29)
    assert periods.period_end(date(2025, 1, 30), 0, 1, "civil_code") == date(2025, 2, 28)
    assert periods.period_end(date(2025, 1, 31), 0, 1, "from_midnight") == date(2025, 2, 28)
    # "출생한 날부터 2년이 되는 날까지": the second birthday, two days later than birth + 729 across 29 February 2028.
    assert periods.period_end(date(2026, 6, 1), 0, 24, "civil_code") == date(2028, 6, 1)
    assert date(2026, 6, 1) + timedelta(days=729) == date(2028, 5, 30)
    # "출생일을 포함한 60일": the 60th day counting the birth day.
    assert periods.period_end(date(2024, 3, 1), 60, 0, "first_day_included") == date(2024, 4, 29)
    # 29 February births reach an age on 1 March in common years, on 29 February in leap years.
    assert periods.turns(date(2024, 2, 29), 12) == date(2025, 3, 1)
    assert periods.turns(date(2024, 2, 29), 48) == date(2028, 2, 29)


# --- the three evaluators -----------------------------------------------------------------------------------

EXPRESSIONS = [
    "_period_end(child.birth_date, 0, 24, 'civil_code')",
    "_period_end(child.birth_date, 60, 0, 'first_day_included')",
    "_period_end(child.birth_date, 0, 12, 'from_midnight')",
    "_period_first(child.birth_date, 'civil_code')",
    "_turns(child.birth_date, 9 * 12)",
    "_month_end(_turns(child.birth_date, 24), -1)",
    "_month_start(child.birth_date, 1)",
    "_month_end(child.birth_date, 0)",
]


def _reference(source: str, birth: date) -> date:
    return {
        EXPRESSIONS[0]: reference_end(birth, 0, 24, False),
        EXPRESSIONS[1]: reference_end(birth, 60, 0, True),
        EXPRESSIONS[2]: reference_end(birth, 0, 12, True),
        EXPRESSIONS[3]: birth + ONE_DAY,
        EXPRESSIONS[4]: reference_turns(birth, 108),
        EXPRESSIONS[5]: reference_turns(birth, 24) + relativedelta(day=1) - ONE_DAY,
        EXPRESSIONS[6]: birth + relativedelta(day=1, months=1),
        EXPRESSIONS[7]: birth + relativedelta(day=31),
    }[source]


def test_compiled_and_interpreted_periods_match_the_reference() -> None:
    compiled = [compile_expression(s, FACTS, set()) for s in EXPRESSIONS]
    for birth in DAYS:
        facts = {"child.birth_date": birth}
        for source, expression in zip(EXPRESSIONS, compiled, strict=True):
            expected = _reference(source, birth)
            assert expression.evaluate(facts, {}) == expected, (source, birth)
            assert interpret(parse(source), facts, {}) == expected, (source, birth)
    for source, expression in zip(EXPRESSIONS, compiled, strict=True):  # a missing date: can't tell, never a date
        assert expression.evaluate({}, {}) is UNKNOWN
        assert interpret(parse(source), {}, {}) is UNKNOWN


@pytest.fixture
def dates_table(database_url: str) -> Iterator[tuple[Any, Table]]:
    with every_day(database_url, "period_test_dates", DAYS) as engine_and_table:
        yield engine_and_table


@pytest.mark.integration
def test_sql_periods_match_the_reference_in_sqlite_and_postgresql(dates_table: tuple[Any, Table]) -> None:
    engine, table = dates_table
    on = date(2026, 1, 1)
    columns = [
        expression_sql(s, {"child.birth_date": table.c.day}, on).label(f"e{i}") for i, s in enumerate(EXPRESSIONS)
    ]
    with engine.connect() as connection:
        result = connection.execute(select(table.c.row, table.c.day, *columns).order_by(table.c.row)).all()
    assert len(result) == len(DAYS) + 1
    for row in result:
        birth = row[1]
        for source, got in zip(EXPRESSIONS, row[2:], strict=True):
            if isinstance(got, str):
                got = date.fromisoformat(got)  # SQLite's date() answers text
            assert got == (None if birth is None else _reference(source, birth)), (source, birth)


# --- the catalog format -------------------------------------------------------------------------------------


def test_catalog_periods_evaluate_alike_in_the_engine_and_the_interpreter() -> None:
    """Every benefit with periods, on every day of a leap year and its neighbours, for children born on each."""
    catalog = load_catalog(CATALOG_DIR)
    with_periods = [b for b in catalog.benefits.values() if b.periods]
    assert {"child_allowance", "parental_benefit", "first_meeting_voucher"} <= {b.id for b in with_periods}
    births = [date(2022, 1, 31), date(2023, 2, 28), date(2024, 2, 29), date(2024, 3, 1), date(2024, 12, 31)]
    for benefit in with_periods:
        for birth in births:
            base = {
                "child.birth_date": birth,
                "person.birth_date": birth,
                "child.birth_order": 2,
                "person.separated_on": birth,
                "person.married_on": birth,
                "person.deceased_on": birth,
            }
            for on in [d for d in DAYS[1400:2200:7] if benefit.in_force(d)]:
                facts = situation(base, on)
                compiled = evaluate_benefit(benefit, facts, on)
                interpreted = interpret_benefit(benefit, facts, on)
                where = (benefit.id, birth, on)
                assert compiled.eligibility == interpreted.eligibility, where
                assert compiled.amount_krw == interpreted.amount_krw, where
                assert compiled.deadline == interpreted.deadline, where


BENEFIT = """
id: test_benefit
name: {ko: 시험, en: Test}
summary: {ko: 시험, en: Test}
agency: mohw
category: childbirth_childcare
triggers: [kr.go.mois.birth.registered]
recipients: parents
payment: information
effective: {from: 2020-01-01}
legal_basis: [{ko: 법, en: Act}]
source: https://www.law.go.kr
apply:
  url: https://www.gov.kr
  how: {ko: 신청, en: Apply}
  deadline: DEADLINE
periods:
  window:
    description: {ko: 기간, en: Period}
    reference: 민법 제157조
PERIOD
conditions:
  - when: CONDITION
    reason: {ko: 이유, en: Reason}
    reference: 법
"""


def _load(tmp_path: Path, deadline: str, period: str, condition: str) -> str:
    """Writes a one-benefit catalog and loads it; returns the benefit file's text."""
    catalog = tmp_path / "catalog"
    catalog.mkdir(exist_ok=True)
    (catalog / "agencies.yaml").write_text((CATALOG_DIR / "agencies.yaml").read_text(encoding="utf-8"))
    (catalog / "conflicts.yaml").write_text("[]\n")
    text = BENEFIT.replace("DEADLINE", deadline).replace("PERIOD", period).replace("CONDITION", condition)
    (catalog / "test.yaml").write_text(text, encoding="utf-8")
    load_catalog(catalog)
    return text


DAY_PERIOD = "    from: child.birth_date\n    length: {days: 60}\n    counting: civil_code"
MONTH_PERIOD = "    from: child.birth_date\n    until: {month_of: child.birth_date}"
FINE = "event.date >= child.birth_date"
MISTAKES = [
    # (deadline, period, condition, the error, the line it names: the first line starting with this)
    (
        "{from: child.birth_date, days: 59}",
        DAY_PERIOD,
        FINE,
        "a deadline names one of the benefit's periods",
        "  deadline:",
    ),
    (
        "{period: window, kind: application_closes}",
        "    from: child.birth_date\n    length: {days: 60}",
        FINE,
        "missing required key 'counting'",
        "    description:",
    ),
    (
        "{period: window, kind: application_closes}",
        DAY_PERIOD.replace("civil_code", "roughly"),
        FINE,
        "unknown counting rule 'roughly'",
        "    description:",
    ),
    (
        "{period: window, kind: application_closes}",
        "    from: {month_of: child.birth_date}\n    length: {months: 1}\n    counting: civil_code",
        FINE,
        "a period with a length starts on a day",
        "    description:",
    ),
    (
        "{period: window, kind: application_closes}",
        "    from: child.birth_date\n    until: {month_before: periods.window.end}",
        FINE,
        "defined in terms of itself",
        "  window:",
    ),
    (
        "{period: window, kind: application_closes}",
        "    from: child.birth_date\n    until: {month_of: child.birth_order}",
        FINE,
        "must be a date, not int",
        "    description:",
    ),
    ("{period: other, kind: application_closes}", MONTH_PERIOD, FINE, "unknown period 'other'", "  deadline:"),
    # A deadline's kind is the law's: never implied, one of four (rules_engine/deadlines.py).
    ("{period: window}", MONTH_PERIOD, FINE, "deadline 'window' needs a kind", "  deadline:"),
    ("{period: window, kind: sometime}", MONTH_PERIOD, FINE, "unknown deadline kind 'sometime'", "  deadline:"),
    (
        "{period: window, kind: application_closes}",
        MONTH_PERIOD,
        "_month_end(event.date, 0) > event.date",
        "declare calendar periods under 'periods:'",
        "  - when:",
    ),
    (
        "{period: window, kind: application_closes}",
        MONTH_PERIOD,
        "periods.window.end > 3",
        "date compared with int",
        "  - when:",
    ),
]


@pytest.mark.parametrize(("deadline", "period", "condition", "message", "at"), MISTAKES)
def test_period_mistakes_are_loading_errors_naming_file_and_line(
    tmp_path: Path, deadline: str, period: str, condition: str, message: str, at: str
) -> None:
    text = BENEFIT.replace("DEADLINE", deadline).replace("PERIOD", period).replace("CONDITION", condition)
    line = next(i for i, row in enumerate(text.split("\n"), start=1) if row.startswith(at))
    with pytest.raises(CatalogError) as raised:
        _load(tmp_path, deadline, period, condition)
    assert f"test.yaml:{line}: " in str(raised.value) and message in str(raised.value), str(raised.value)


def test_a_well_formed_period_loads(tmp_path: Path) -> None:
    _load(tmp_path, "{period: window, kind: application_closes}", DAY_PERIOD, "event.date <= periods.window.end")


def test_several_dated_deadlines_each_with_a_kind_load_and_are_decided(tmp_path: Path) -> None:
    deadlines = "\n    - {period: window, kind: retroactive_window}\n    - {period: window, kind: use_by}"
    text = BENEFIT.replace("  deadline: DEADLINE", f"  deadlines:{deadlines}")
    catalog = tmp_path / "catalog"
    catalog.mkdir()
    (catalog / "agencies.yaml").write_text((CATALOG_DIR / "agencies.yaml").read_text(encoding="utf-8"))
    (catalog / "conflicts.yaml").write_text("[]\n")
    (catalog / "test.yaml").write_text(text.replace("PERIOD", DAY_PERIOD).replace("CONDITION", FINE))
    benefit = load_catalog(catalog).benefits["test_benefit"]
    assert [(d.period, d.kind.value) for d in benefit.deadlines] == [
        ("window", "retroactive_window"),
        ("window", "use_by"),
    ]
    assert benefit.deadline is None  # neither ends the offer


@pytest.mark.parametrize(
    ("deadlines", "message"),
    [
        ("\n    - {period: window, kind: use_by}\n    - {period: window, kind: use_by}", "a second 'use_by' deadline"),
        (
            "\n    - {period: window, kind: application_closes}\n    - {period: window, kind: entitlement_ends}",
            "both end the offer",
        ),
    ],
)
def test_deadline_kind_mistakes_name_the_line(tmp_path: Path, deadlines: str, message: str) -> None:
    text = BENEFIT.replace("  deadline: DEADLINE", f"  deadlines:{deadlines}")
    line = len(text.split("  deadlines:")[0].split("\n")) + 2  # the second entry
    catalog = tmp_path / "catalog"
    catalog.mkdir()
    (catalog / "agencies.yaml").write_text((CATALOG_DIR / "agencies.yaml").read_text(encoding="utf-8"))
    (catalog / "conflicts.yaml").write_text("[]\n")
    (catalog / "test.yaml").write_text(text.replace("PERIOD", DAY_PERIOD).replace("CONDITION", FINE))
    with pytest.raises(CatalogError) as raised:
        load_catalog(catalog)
    assert f"test.yaml:{line}: " in str(raised.value) and message in str(raised.value), str(raised.value)


def test_a_period_call_with_a_computed_length_is_refused() -> None:
    with pytest.raises(ExpressionError, match="must be a whole number"):
        compile_expression("_period_end(child.birth_date, 0, child.birth_order, 'civil_code')", FACTS, set())
