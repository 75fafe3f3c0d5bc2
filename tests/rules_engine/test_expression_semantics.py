"""Random expressions, three ways: the compiled engine and the SQL translation against the reference interpreter
(three-valued: an absent fact is UNKNOWN / NULL, never 0 or False)."""

from __future__ import annotations

import random
from datetime import date
from typing import Any

import pytest
from sqlalchemy import Boolean, Column, Date, Integer, MetaData, String, Table, create_engine, select
from sqlalchemy.types import TypeEngine

from rules_engine.expressions import UNKNOWN, ExpressionError, compile_expression, parse
from rules_engine.facts import DERIVED, FACTS, situation
from rules_engine.interpreter import interpret
from rules_engine.sql import expression_sql

ON = date(2025, 6, 30)
INT_FACTS = ["child.birth_order", "household.months_resident", "household.members_count", "person.insured_days"]
SQL_TYPES: dict[type, TypeEngine[Any]] = {int: Integer(), str: String(), bool: Boolean(), date: Date()}


class _Grammar:
    def __init__(self, rng: random.Random) -> None:
        self.rng = rng

    def integer(self, depth: int) -> str:
        r = self.rng.random()
        if depth <= 0 or r < 0.3:
            return self.rng.choice([*INT_FACTS, "child.age_months", "person.age_years", str(self.rng.randint(-3, 15))])
        if r < 0.55:
            op = self.rng.choice(["+", "-", "*"])
            return f"({self.integer(depth - 1)} {op} {self.integer(depth - 1)})"
        if r < 0.65:
            return f"({self.integer(depth - 1)} // {self.rng.choice([2, 3, -2, 12, -7])})"
        if r < 0.7:  # declared rounding (끝수 처리), on negative values too
            fn = self.rng.choice(["round_down", "round_up", "round_half_up"])
            return f"{fn}({self.integer(depth - 1)}, {self.rng.choice([1, 2, 3, 10, 20000])})"
        if r < 0.75:
            fn = self.rng.choice(["min", "max"])
            return f"{fn}({self.integer(depth - 1)}, {self.integer(depth - 1)})"
        if r < 0.9:
            return f"({self.integer(depth - 1)} if {self.boolean(depth - 1)} else {self.integer(depth - 1)})"
        return f"-{self.integer(depth - 1)}"

    def boolean(self, depth: int) -> str:
        r = self.rng.random()
        if depth <= 0 or r < 0.3:
            return self.rng.choice(
                [
                    f"{self.integer(0)} {self.rng.choice(['<', '<=', '==', '!=', '>', '>='])} {self.integer(0)}",
                    'household.municipality_code == "41110"',
                    'household.municipality_code in ["41110", "41117"]',
                    'household.province_code not in ["11", "28", "41"]',
                    "event.month in [7, 8]",
                    "household.municipality_code not in []",
                    "child.birth_order in []",
                    "household.livelihood_recipient",
                    "household.livelihood_recipient == True",
                    'child.birth_date >= date("2022-01-01")',
                    "child.age_days < 365",
                    # calendar periods, as the catalog's `periods:` expand to
                    "event.date <= _month_end(_turns(child.birth_date, 24), -1)",
                    "_period_end(child.birth_date, 0, 24, 'civil_code') >= event.date",
                    "_period_end(child.birth_date, 60, 0, 'first_day_included') < event.date",
                    "_month_start(person.birth_date, 1) <= _period_first(person.birth_date, 'civil_code')",
                ]
            )
        if r < 0.45:
            return f"{self.integer(depth - 1)} < {self.integer(depth - 1)} <= {self.integer(depth - 1)}"
        if r < 0.8:
            op = self.rng.choice([" and ", " or "])
            parts = [self.boolean(depth - 1) for _ in range(self.rng.randint(2, 3))]
            if self.rng.random() < 0.2:
                parts.append(self.integer(depth - 1))  # truthiness of an integer
            return "(" + op.join(parts) + ")"
        return f"not ({self.boolean(depth - 1)})"


def _situation(rng: random.Random) -> dict[str, Any]:
    base: dict[str, Any] = {}
    for name in INT_FACTS:
        if rng.random() < 0.7:
            base[name] = rng.randint(-2, 14)
    if rng.random() < 0.7:
        base["household.municipality_code"] = rng.choice(["41110", "41117", "11680", "47920", "26170"])
    if rng.random() < 0.7:
        base["household.livelihood_recipient"] = rng.random() < 0.5
    if rng.random() < 0.7:
        base["child.birth_date"] = date(2021, 12, 1) + (ON - date(2021, 12, 1)) * rng.random()
    if rng.random() < 0.7:
        base["person.birth_date"] = date(1940, 1, 1) + (ON - date(1940, 1, 1)) * rng.random()
    return situation(base, ON)


def _expressions(seed: int, count: int) -> list[str]:
    grammar = _Grammar(random.Random(seed))
    return [grammar.boolean(3) if i % 2 else grammar.integer(3) for i in range(count)]


def _normal(value: Any) -> Any:
    return None if value is UNKNOWN else value


def test_compiled_expressions_agree_with_the_interpreter() -> None:
    rng = random.Random(5)
    sources = _expressions(1, 400)
    compiled = [compile_expression(s, FACTS, set()) for s in sources]
    for _ in range(200):
        facts = _situation(rng)
        for source, expression in zip(sources, compiled, strict=True):
            expected = interpret(parse(source), facts, {})
            got = expression.evaluate(facts, {})
            assert (got is UNKNOWN) == (expected is UNKNOWN) and _normal(got) == _normal(expected), (source, facts)


def test_kleene_corner_cases() -> None:
    def run(source: str, facts: dict[str, Any]) -> Any:
        return compile_expression(source, FACTS, set()).evaluate(situation(facts, ON), {})

    assert run("household.livelihood_recipient == True or household.members_count > 1", {"household.members_count": 2})
    assert (
        run("household.members_count > 5 and household.livelihood_recipient", {"household.members_count": 2}) is False
    )
    assert run("child.birth_order < 1 < household.members_count", {"child.birth_order": 3}) is UNKNOWN
    assert run("1 if household.livelihood_recipient else 2", {}) is UNKNOWN
    assert run("min(child.birth_order, 3)", {}) is UNKNOWN
    assert run("child.birth_order // 2", {"child.birth_order": -3}) == -2


@pytest.mark.parametrize("seed", [2, 3])
def test_sql_expressions_agree_with_the_interpreter_in_sqlite(seed: int) -> None:
    """Facts in a one-table store (a column per base fact, NULL when absent), every expression one column."""
    rng = random.Random(seed)
    sources = _expressions(seed, 150)
    base_facts = [n for n in FACTS if n not in DERIVED and n != "event.date"]
    table = Table(
        "facts",
        MetaData(),
        Column("row", Integer, primary_key=True),
        *[Column(name.replace(".", "__"), SQL_TYPES[FACTS[name]]) for name in base_facts],
    )
    situations = [_situation(rng) for _ in range(60)]
    engine = create_engine("sqlite://")
    with engine.begin() as connection:
        table.create(connection)
        connection.execute(
            table.insert(),
            [{"row": i, **{n.replace(".", "__"): f.get(n) for n in base_facts}} for i, f in enumerate(situations)],
        )
        columns = {name: table.c[name.replace(".", "__")] for name in base_facts}
        query = select(table.c.row, *[expression_sql(s, columns, ON).label(f"e{i}") for i, s in enumerate(sources)])
        for row in connection.execute(query.order_by(table.c.row)):
            facts = situations[row[0]]
            for source, got in zip(sources, row[1:], strict=True):
                expected = _normal(interpret(parse(source), facts, {}))
                if isinstance(expected, bool) and got is not None:
                    got = bool(got)  # SQLite answers 0 / 1
                assert got == expected, (source, facts)


def test_rounding_follows_the_declared_method() -> None:
    """기초연금법 제24조 (10원 미만 절사), 장애인연금법 시행령 제5조제2항 (2만원 단위 절상), 반올림."""

    def run(source: str) -> Any:
        return compile_expression(source, FACTS, set()).evaluate(situation({}, ON), {})

    assert run("round_down(279767, 10)") == 279760
    assert run("round_down(279760, 10)") == 279760
    assert run("round_up(20001, 20000)") == 40000
    assert run("round_up(40000, 20000)") == 40000
    assert run("round_half_up(125, 10)") == 130
    assert run("round_half_up(124, 10)") == 120
    assert run("round_down(household.members_count, 10)") is UNKNOWN
    for source in ("round_down(1, 0)", "round_down(1)", "round_up(1, household.members_count)"):
        with pytest.raises(ExpressionError):
            compile_expression(source, FACTS, set())
