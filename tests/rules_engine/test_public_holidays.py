"""민법 제161조 against an independent reference, on every date from 2020-01-01 to 2032-12-31: the `holidays`
library's KR calendar (관공서의 공휴일에 관한 규정) with the article written out here, compared with the checked-in
calendar, the compiled engine, the interpreter and SQL on SQLite and PostgreSQL; and the catalog's `end_on_holiday`.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, timedelta
from functools import cache
from pathlib import Path
from typing import Any

import holidays
import pytest
from sqlalchemy import Table, select

from entitlements import CATALOG_DIR
from rules_engine import periods
from rules_engine.catalog import CatalogError
from rules_engine.evaluation import evaluate_benefit
from rules_engine.expressions import UNKNOWN, compile_expression, parse
from rules_engine.facts import FACTS, situation
from rules_engine.interpreter import interpret, interpret_benefit
from rules_engine.loader import load_catalog
from rules_engine.public_holidays import calendar, read_calendar
from rules_engine.sql import expression_sql
from tests.rules_engine.dates_table import every_day

FIRST, LAST = date(2020, 1, 1), date(2032, 12, 31)
DAYS = [FIRST + timedelta(days=n) for n in range((LAST - FIRST).days + 1)]
ONE_DAY = timedelta(days=1)


# --- the reference: the library's calendar and 민법 제161조 written out ------------------------------------------


@cache
def public_holidays() -> frozenset[date]:
    """관공서의 공휴일 (Sundays aside) for the years the engine's calendar covers, straight from the library."""
    kr = holidays.country_holidays("KR", years=range(FIRST.year, LAST.year + 1), categories=("public",))
    return frozenset(kr)


def reference_next_working_day(day: date) -> date:
    # 민법 제161조: "기간의 말일이 토요일 또는 공휴일에 해당한 때에는 기간은 그 익일로 만료한다" — and when
    # that next day is itself a Saturday or 공휴일, the article applies to it again. Sundays are 공휴일
    # (관공서의 공휴일에 관한 규정 제2조제1호).
    saturday, sunday = 5, 6
    if day.weekday() in (saturday, sunday) or day in public_holidays():
        return reference_next_working_day(day + ONE_DAY)
    return day


def test_the_checked_in_calendar_is_the_library_s_calendar() -> None:
    checked_in = calendar()
    assert (checked_in.first, checked_in.last) == (FIRST, LAST)
    assert frozenset(checked_in.days) == public_holidays()


def test_next_working_day_matches_the_reference_on_every_date() -> None:
    moved = 0
    for day in DAYS:
        expected = reference_next_working_day(day)
        assert periods.next_working_day(day) == expected, day
        moved += expected != day
    assert moved > 110 * 13  # every Saturday and Sunday and about fifteen weekday holidays a year


@pytest.mark.parametrize(
    ("last_day", "expires"),
    [
        (date(2025, 10, 4), date(2025, 10, 10)),  # Saturday in 개천절·추석·대체공휴일·한글날 (10-03..10-09)
        (date(2025, 10, 3), date(2025, 10, 10)),  # 개천절, a Friday, the first day of that run
        (date(2025, 10, 10), date(2025, 10, 10)),  # a working Friday stays
        (date(2024, 2, 17), date(2024, 2, 19)),  # a Saturday: the Monday
        (date(2024, 2, 9), date(2024, 2, 13)),  # 설날 전날, then 설날 (Sat), 다음날 (Sun), 대체공휴일 (Mon)
        (date(2026, 9, 26), date(2026, 9, 28)),  # 추석 다음날 on a Saturday: no substitute for a Saturday
        (date(2026, 3, 1), date(2026, 3, 3)),  # 삼일절 on a Sunday, 대체공휴일 on Monday
        (date(2025, 6, 3), date(2025, 6, 4)),  # an election day (대통령 선거일)
        (date(2025, 1, 27), date(2025, 1, 31)),  # a temporary holiday (임시공휴일) before 설날
        (date(2028, 3, 1), date(2028, 3, 2)),  # 삼일절 after 29 February
        (date(2033, 1, 1), date(2033, 1, 3)),  # beyond the calendar: Saturdays and Sundays only
    ],
)
def test_known_period_ends_on_a_day_off(last_day: date, expires: date) -> None:
    assert periods.next_working_day(last_day) == expires


# A 60-day period including the first day (아동수당법 제10조제2항) and a one-year one (민법 제157조·제160조), each with
# its end moved as 민법 제161조 says, and the move alone.
EXPRESSIONS = [
    "_next_working_day(_period_end(child.birth_date, 60, 0, 'first_day_included'))",
    "_next_working_day(_period_end(child.birth_date, 0, 12, 'civil_code'))",
    "_next_working_day(child.birth_date)",
]


def _reference(source: str, start: date) -> date:
    return {
        EXPRESSIONS[0]: reference_next_working_day(start + timedelta(days=59)),
        EXPRESSIONS[1]: reference_next_working_day(periods.period_end(start, 0, 12, "civil_code")),
        EXPRESSIONS[2]: reference_next_working_day(start),
    }[source]


def test_compiled_and_interpreted_moves_match_the_reference() -> None:
    compiled = [compile_expression(s, FACTS, set()) for s in EXPRESSIONS]
    for day in DAYS:
        facts = {"child.birth_date": day}
        for source, expression in zip(EXPRESSIONS, compiled, strict=True):
            expected = _reference(source, day)
            assert expression.evaluate(facts, {}) == expected, (source, day)
            assert interpret(parse(source), facts, {}) == expected, (source, day)
    for source, expression in zip(EXPRESSIONS, compiled, strict=True):
        assert expression.evaluate({}, {}) is UNKNOWN
        assert interpret(parse(source), {}, {}) is UNKNOWN


@pytest.fixture
def dates_table(database_url: str) -> Iterator[tuple[Any, Table]]:
    with every_day(database_url, "holiday_test_dates", DAYS) as engine_and_table:
        yield engine_and_table


@pytest.mark.integration
def test_sql_moves_match_the_reference_in_sqlite_and_postgresql(dates_table: tuple[Any, Table]) -> None:
    engine, table = dates_table
    columns = [
        expression_sql(s, {"child.birth_date": table.c.day}, date(2026, 1, 1)).label(f"e{i}")
        for i, s in enumerate(EXPRESSIONS)
    ]
    with engine.connect() as connection:
        result = connection.execute(select(table.c.day, *columns).order_by(table.c.row)).all()
    assert len(result) == len(DAYS) + 1
    for row in result:
        start = row[0]
        for source, got in zip(EXPRESSIONS, row[1:], strict=True):
            if isinstance(got, str):
                got = date.fromisoformat(got)  # SQLite answers text
            assert got == (None if start is None else _reference(source, start)), (source, start)


# --- the catalog: declared per period --------------------------------------------------------------------------

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
  deadline: {period: window, kind: KIND}
periods:
  window:
    description: {ko: 기간, en: Period}
    reference: 민법 제157조
    from: child.birth_date
    length: {days: 60}
    counting: first_day_included
ON_HOLIDAY
conditions:
  - when: event.date >= child.birth_date
    reason: {ko: 이유, en: Reason}
    reference: 법
"""


def _catalog(tmp_path: Path, kind: str, on_holiday: str = "") -> Path:
    catalog = tmp_path / "catalog"
    catalog.mkdir(exist_ok=True)
    (catalog / "agencies.yaml").write_text((CATALOG_DIR / "agencies.yaml").read_text(encoding="utf-8"))
    (catalog / "conflicts.yaml").write_text("[]\n")
    text = BENEFIT.replace("KIND", kind).replace("ON_HOLIDAY", on_holiday)
    (catalog / "test.yaml").write_text(text, encoding="utf-8")
    return catalog


# Born 2023-12-20: the 60th day counting the birth day is Saturday 2024-02-17.
BIRTH, SIXTIETH_DAY, MONDAY = date(2023, 12, 20), date(2024, 2, 17), date(2024, 2, 19)


@pytest.mark.parametrize(
    ("kind", "on_holiday", "rule", "last_day"),
    [
        ("application_closes", "", "next_working_day", MONDAY),  # the default for a deadline one acts by
        ("retroactive_window", "", "next_working_day", MONDAY),
        ("entitlement_ends", "", "unchanged", SIXTIETH_DAY),  # the end of a right is not a period's 말일
        ("use_by", "", "unchanged", SIXTIETH_DAY),
        ("application_closes", "    end_on_holiday: unchanged", "unchanged", SIXTIETH_DAY),  # a statute's exception
        ("entitlement_ends", "    end_on_holiday: next_working_day", "next_working_day", MONDAY),
    ],
)
def test_end_on_holiday_is_declared_per_period_with_a_default_by_deadline_kind(
    tmp_path: Path, kind: str, on_holiday: str, rule: str, last_day: date
) -> None:
    benefit = load_catalog(_catalog(tmp_path, kind, on_holiday)).benefits["test_benefit"]
    assert benefit.periods["window"].end_on_holiday == rule
    on = date(2024, 1, 2)
    facts = situation({"child.birth_date": BIRTH}, on)
    (deadline,) = evaluate_benefit(benefit, facts, on).deadlines
    assert deadline.last_day == last_day
    if benefit.deadline is not None:
        assert interpret_benefit(benefit, facts, on).deadline == last_day


@pytest.mark.parametrize("value", ["next_business_day", "[next_working_day]", "true"])
def test_an_unknown_end_on_holiday_is_a_loading_error_naming_file_and_line(tmp_path: Path, value: str) -> None:
    catalog = _catalog(tmp_path, "application_closes", f"    end_on_holiday: {value}")
    text = (catalog / "test.yaml").read_text(encoding="utf-8")
    line = next(i for i, row in enumerate(text.split("\n"), start=1) if row.startswith("    end_on_holiday:"))
    with pytest.raises(CatalogError) as raised:
        load_catalog(catalog)
    assert f"test.yaml:{line}: " in str(raised.value) and "unknown end_on_holiday" in str(raised.value)


def test_the_catalog_declares_which_periods_move() -> None:
    catalog = load_catalog(CATALOG_DIR)
    rules = {(b.id, name): p.end_on_holiday for b in catalog.benefits.values() for name, p in b.periods.items()}
    assert rules[("child_allowance", "retroactive_window")] == "next_working_day"
    assert rules[("parental_benefit", "retroactive_window")] == "next_working_day"
    assert rules[("nps_death_lump_sum", "prescription")] == "next_working_day"
    assert rules[("first_meeting_voucher", "voucher_use")] == "unchanged"  # use-by and entitlement end
    assert rules[("job_seeking_allowance", "benefit_period")] == "unchanged"  # 수급기간: the right's own end


@pytest.mark.parametrize(
    ("text", "message", "line"),
    [
        ("source: x\ncovers: {from: 2020-01-01}\ndays: {2020-01-01: 신정}\n", "'covers' is", 2),
        ("source: x\ncovers: {from: 2020-01-01, until: 2020-12-31}\ndays:\n  2021-01-01: 신정\n", "within", 4),
        ("source: x\ncovers: {from: 2020-01-01, until: 2020-12-31}\ndays:\n  2020-01-01: ''\n", "name", 4),
    ],
)
def test_a_malformed_calendar_file_names_the_line(tmp_path: Path, text: str, message: str, line: int) -> None:
    path = tmp_path / "holidays.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(CatalogError) as raised:
        read_calendar(path)
    assert f"holidays.yaml:{line}: " in str(raised.value) and message in str(raised.value), str(raised.value)
