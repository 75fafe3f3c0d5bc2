"""The same rule expressions as SQL (SQLAlchemy Core), to sweep a whole population in one query.

SQL's NULL logic is Kleene logic: a fact the registries have not told us is NULL, NULL propagates through
arithmetic and comparisons, and `FALSE AND NULL` is FALSE while `TRUE AND NULL` is NULL. So a benefit's
conditions become one conjunction that IS TRUE for the eligible, IS FALSE for the not eligible and IS NULL for
the undetermined, exactly as the Python engine decides. Where SQL differs from the Python semantics, the
translation says so explicitly: a chained comparison is unknown as soon as one operand is (SQL's AND would
let a false first link decide), `a if c else b` is unknown when `c` is (SQL's CASE would take the ELSE
branch), `min`/`max` are unknown with one unknown argument (PostgreSQL's LEAST/GREATEST skip NULLs), and `//`
floors like Python (SQL truncates towards zero).

No I/O and no ORM here: the caller says where each fact lives, as a column expression over its own FROM
clause (see entitlements/persistence/sweep.py), and runs the query.
"""

from __future__ import annotations

import ast
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from functools import cache
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    Date,
    Integer,
    String,
    and_,
    case,
    cast,
    extract,
    func,
    literal,
    not_,
    null,
    or_,
)
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.elements import ColumnElement
from sqlalchemy.sql.functions import FunctionElement

from rules_engine.catalog import Benefit, Places
from rules_engine.eligibility import Eligibility
from rules_engine.expressions import (
    date_literal,
    dotted,
    int_literal,
    list_literal,
    parse,
    period_call,
    rounding_call,
)
from rules_engine.facts import FACTS
from rules_engine.parameters import Parameter
from rules_engine.periods import COUNTING_RULES
from rules_engine.public_holidays import calendar

FactColumns = Mapping[str, ColumnElement[Any]]
_INT32 = 2**31 - 1


class NotTranslatable(ValueError):
    """A benefit whose rules read a fact no column holds, or use a construct with no SQL equivalent here."""


# --- dates, dialect-aware ----------------------------------------------------------------------------------


class _DaysBetween(FunctionElement[int]):
    """Whole days from the first date to the second (`(end - start).days`)."""

    type = Integer()
    inherit_cache = True
    name = "days_between"


@compiles(_DaysBetween)
def _days_between_default(element: _DaysBetween, compiler: SQLCompiler, **kw: Any) -> str:
    start, end = (compiler.process(c, **kw) for c in element.clauses)
    return f"({end} - {start})"  # PostgreSQL: date - date is an integer number of days


@compiles(_DaysBetween, "sqlite")
def _days_between_sqlite(element: _DaysBetween, compiler: SQLCompiler, **kw: Any) -> str:
    start, end = (compiler.process(c, **kw) for c in element.clauses)
    return f"CAST(julianday({end}) - julianday({start}) AS INTEGER)"  # dates are 'YYYY-MM-DD' text


class _AddDays(FunctionElement[date]):
    """A date plus a whole number of days (`start + timedelta(days=n)`)."""

    type = Date()
    inherit_cache = True
    name = "add_days"


@compiles(_AddDays)
def _add_days_default(element: _AddDays, compiler: SQLCompiler, **kw: Any) -> str:
    start, days = (compiler.process(c, **kw) for c in element.clauses)
    return f"({start} + {days})"  # PostgreSQL: date + integer is a date


@compiles(_AddDays, "sqlite")
def _add_days_sqlite(element: _AddDays, compiler: SQLCompiler, **kw: Any) -> str:
    start, days = (compiler.process(c, **kw) for c in element.clauses)
    return f"date({start}, ({days}) || ' days')"


def add_days(start: ColumnElement[Any], days: int | ColumnElement[int]) -> ColumnElement[date]:
    return _AddDays(start, literal(days, Integer()) if isinstance(days, int) else days)


class _MonthStart(FunctionElement[date]):
    """The first day of the month a number of months after the month of a date (periods.month_start)."""

    type = Date()
    inherit_cache = True
    name = "month_start"


@compiles(_MonthStart)
def _month_start_default(element: _MonthStart, compiler: SQLCompiler, **kw: Any) -> str:
    day, shift = (compiler.process(c, **kw) for c in element.clauses)
    # A timestamp, not the time-zone-aware one date_trunc would pick for a date, so no zone can move the day.
    return f"CAST(date_trunc('month', CAST({day} AS TIMESTAMP)) + ({shift}) * INTERVAL '1 month' AS DATE)"


@compiles(_MonthStart, "sqlite")
def _month_start_sqlite(element: _MonthStart, compiler: SQLCompiler, **kw: Any) -> str:
    day, shift = (compiler.process(c, **kw) for c in element.clauses)
    return f"date({day}, 'start of month', ({shift}) || ' months')"  # from the 1st, months never overflow


def month_start(day: ColumnElement[Any], shift: int | ColumnElement[int] = 0) -> ColumnElement[date]:
    return _MonthStart(day, literal(shift, Integer()) if isinstance(shift, int) else shift)


def month_end(day: ColumnElement[Any], shift: int | ColumnElement[int] = 0) -> ColumnElement[date]:
    return add_days(month_start(day, shift + 1), -1)


def _after_months(first: ColumnElement[Any], months: int | ColumnElement[int]) -> ColumnElement[date]:
    """periods._after_months: the day before the corresponding day, or the end of a month without one."""
    last = month_end(first, months)
    day = _part("day", first)
    return case((day <= _part("day", last), add_days(month_start(first, months), day - 2)), else_=last)


def period_end(start: ColumnElement[Any], days: int, months: int, rule: str) -> ColumnElement[date]:
    """periods.period_end in SQL."""
    first = period_first(start, rule)
    return _after_months(first, months) if months else add_days(first, days - 1)


def period_first(start: ColumnElement[Any], rule: str) -> ColumnElement[date]:
    return start if COUNTING_RULES[rule].counts_first_day else add_days(start, 1)


def turns(birth: ColumnElement[Any], months: ColumnElement[int]) -> ColumnElement[date]:
    """periods.turns in SQL: the day one reaches an age given in months."""
    return add_days(_after_months(birth, months), 1)


class _NextWorkingDay(FunctionElement[date]):
    """periods.next_working_day (민법 제161조) in SQL: the calendar written out, `CASE day WHEN ... END`.

    Every day whose next working day the Saturday/Sunday rule alone would get wrong (the days off of a run that
    holds a listed holiday, about forty a year) is one WHEN with its answer; every other day follows the weekend
    rule by its day of the week. A simple CASE reads the day once, however many WHENs follow. The dates are
    written inline (our own calendar file, ISO text): a thousand bound parameters per deadline would be worse."""

    type = Date()
    inherit_cache = True
    name = "next_working_day"


def _weekend_shift(dow: str) -> str:
    """Days to add for the weekend rule, given SQL for the day of the week (0 Sunday .. 6 Saturday)."""
    return f"(CASE {dow} WHEN 6 THEN 2 WHEN 0 THEN 1 ELSE 0 END)"


@compiles(_NextWorkingDay)
def _next_working_day_default(element: _NextWorkingDay, compiler: SQLCompiler, **kw: Any) -> str:
    (day,) = (compiler.process(c, **kw) for c in element.clauses)
    whens = " ".join(f"WHEN DATE '{d.isoformat()}' THEN DATE '{m.isoformat()}'" for d, m in _calendar_moves())
    weekend = f"({day} + {_weekend_shift(f'CAST(EXTRACT(dow FROM {day}) AS INTEGER)')})"
    return f"(CASE {day} {whens} ELSE {weekend} END)"


@compiles(_NextWorkingDay, "sqlite")
def _next_working_day_sqlite(element: _NextWorkingDay, compiler: SQLCompiler, **kw: Any) -> str:
    (day,) = (compiler.process(c, **kw) for c in element.clauses)
    whens = " ".join(f"WHEN '{d.isoformat()}' THEN '{m.isoformat()}'" for d, m in _calendar_moves())
    dow = f"CAST(strftime('%w', {day}) AS INTEGER)"
    weekend = f"date({day}, {_weekend_shift(dow)} || ' days')"
    return f"(CASE {day} {whens} ELSE {weekend} END)"


@cache
def _calendar_moves() -> tuple[tuple[date, date], ...]:
    return tuple(sorted(calendar().moves_beyond_weekends().items()))


def next_working_day(day: ColumnElement[Any]) -> ColumnElement[date]:
    return _NextWorkingDay(day)


def date_value(on: date) -> ColumnElement[date]:
    # No CAST: SQLite would turn 'YYYY-MM-DD' into the number YYYY (DATE has numeric affinity there), and
    # psycopg sends a Python date typed as a date anyway.
    return literal(on, Date())


def days_between(start: ColumnElement[Any], on: date) -> ColumnElement[int]:
    return _DaysBetween(start, date_value(on))


def _part(field: str, column: ColumnElement[Any]) -> ColumnElement[int]:
    return cast(extract(field, column), Integer())  # PostgreSQL's EXTRACT is numeric; SQLite's strftime is text


def whole_months(start: ColumnElement[Any], on: date) -> ColumnElement[int]:
    """Completed months from `start` to `on`, as facts.whole_months_between (NULL when `start` is)."""
    started = _part("year", start) * 12 + _part("month", start)
    short = case((_part("day", start) > on.day, 1), else_=0)  # the day of the month not yet reached
    return (on.year * 12 + on.month) - started - short


def floor_div(a: ColumnElement[Any], b: ColumnElement[Any]) -> ColumnElement[int]:
    """Python's `a // b` on integers: SQL's integer division truncates towards zero, Python's floors."""
    truncated = a.op("/", precedence=8, return_type=BigInteger())(b)
    inexact_negative = and_((a % b) != 0, (a < 0) != (b < 0))
    return case((inexact_negative, truncated - 1), else_=truncated)


def round_amount(value: ColumnElement[Any], unit: int, method: str) -> ColumnElement[int]:
    """rounding.round_amount in SQL, with the same integer arithmetic (floored division, as Python's `//`)."""
    step = literal(unit)
    if method == "down":
        return floor_div(value, step) * step
    if method == "up":
        return -floor_div(-value, step) * step
    if method == "half_up":
        return floor_div(value * 2 + step, literal(2 * unit)) * step
    raise NotTranslatable(f"unknown rounding method {method!r}")


def with_derived_facts(columns: FactColumns, on: date) -> dict[str, ColumnElement[Any]]:
    """The given fact columns plus what facts.situation derives from them on `on`."""
    facts = dict(columns)
    facts["event.date"] = date_value(on)
    facts["event.month"] = literal(on.month)
    if "household.municipality_code" in columns:
        facts["household.province_code"] = func.substr(columns["household.municipality_code"], 1, 2)
    if "child.birth_date" in columns:
        facts["child.age_days"] = days_between(columns["child.birth_date"], on)
        facts["child.age_months"] = whole_months(columns["child.birth_date"], on)
    if "person.birth_date" in columns:
        months = whole_months(columns["person.birth_date"], on)
        facts["person.age_months"] = months
        facts["person.age_years"] = floor_div(months, literal(12))
    return facts


# --- expressions -------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Sql:
    expression: ColumnElement[Any]
    kind: type  # bool, int, str, date, or tuple for a list literal
    items: tuple[Any, ...] = ()  # a list literal's values


def _literal(value: Any) -> _Sql:
    if value is None:
        return _Sql(null(), type(None))
    if isinstance(value, bool):
        return _Sql(literal(value, Boolean()), bool)
    if isinstance(value, int):
        return _Sql(literal(value, BigInteger() if abs(value) > _INT32 else Integer()), int)
    if isinstance(value, str):
        return _Sql(literal(value, String()), str)
    if isinstance(value, date):
        return _Sql(date_value(value), date)
    if isinstance(value, list | tuple):
        return _Sql(null(), tuple, tuple(value))
    raise NotTranslatable(f"a value of type {type(value).__name__} has no SQL form here")


def _truth(value: _Sql) -> ColumnElement[Any]:
    """Python truthiness as a three-valued SQL boolean."""
    if value.kind is bool:
        return value.expression
    if value.kind is int:
        return value.expression != 0
    if value.kind is str:
        return value.expression != ""
    if value.kind is date:
        return case((value.expression.is_(None), null()), else_=literal(True, Boolean()))
    raise NotTranslatable("a list has no truth value in SQL here")


def _unknown_if_any(values: list[_Sql], known: ColumnElement[Any]) -> ColumnElement[Any]:
    nullable = [v.expression.is_(None) for v in values if v.kind is not tuple]
    return case((or_(*nullable), null()), else_=known) if nullable else known


class _Translator:
    def __init__(self, parameters: Mapping[str, Parameter], facts: FactColumns, on: date) -> None:
        self.parameters, self.facts, self.on = parameters, facts, on

    def params(self, name: str) -> _Sql:
        parameter = self.parameters[name]
        if parameter.dated_by is None:
            value = parameter.at(self.on)
            if value is None:
                raise NotTranslatable(f"parameter '{name}' has no value on {self.on}")
            return _literal(value)
        when = self.fact(parameter.dated_by).expression
        # The value in force on the fact's date: the latest start on or before it (NULL without the date).
        branches = [
            (when >= date_value(start), _literal(value).expression)
            for start, value in reversed(list(zip(parameter.starts, parameter.values, strict=True)))
        ]
        kinds = {type(v) for v in parameter.values}
        return _Sql(case(*branches, else_=null()), kinds.pop() if len(kinds) == 1 else object)

    def fact(self, name: str) -> _Sql:
        if name not in self.facts:
            raise NotTranslatable(f"no column holds the fact '{name}'")
        return _Sql(self.facts[name], FACTS[name])

    def value(self, node: ast.expr) -> _Sql:
        if isinstance(node, ast.Constant) and isinstance(node.value, (int, str, bool)):
            return _literal(node.value)
        if isinstance(node, (ast.Name, ast.Attribute)):
            name = dotted(node) or ""
            return self.params(name.removeprefix("params.")) if name.startswith("params.") else self.fact(name)
        if isinstance(node, ast.List | ast.Tuple):
            return _literal(list_literal(node))
        if isinstance(node, ast.BoolOp):
            parts = [_truth(self.value(v)) for v in node.values]
            return _Sql(and_(*parts) if isinstance(node.op, ast.And) else or_(*parts), bool)
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not):
            return _Sql(not_(_truth(self.value(node.operand))), bool)
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
            operand = self._number(self.value(node.operand))
            return _Sql(-operand.expression, int)
        if isinstance(node, ast.Compare):
            return self._compare(node)
        if isinstance(node, ast.BinOp):
            return self._arithmetic(node)
        if isinstance(node, ast.IfExp):
            test = _truth(self.value(node.test))
            body, orelse = self.value(node.body), self.value(node.orelse)
            kind = body.kind if body.kind is orelse.kind or orelse.kind is type(None) else orelse.kind
            chosen = case((test.is_(None), null()), (test, body.expression), else_=orelse.expression)
            return _Sql(chosen, kind)
        if isinstance(node, ast.Call):
            return self._call(node)
        raise NotTranslatable(f"'{ast.unparse(node)}' has no SQL translation")

    def _number(self, value: _Sql) -> _Sql:
        if value.kind is not int:
            raise NotTranslatable("arithmetic is only translated on integers")
        return value

    def _arithmetic(self, node: ast.BinOp) -> _Sql:
        left, right = self._number(self.value(node.left)), self._number(self.value(node.right))
        a, b = left.expression, right.expression
        if isinstance(node.op, ast.Add):
            return _Sql(a + b, int)
        if isinstance(node.op, ast.Sub):
            return _Sql(a - b, int)
        if isinstance(node.op, ast.Mult):
            return _Sql(a * b, int)
        if isinstance(node.op, ast.FloorDiv):
            return _Sql(floor_div(a, b), int)
        raise NotTranslatable(f"'{ast.unparse(node)}' has no SQL translation")

    def _compare(self, node: ast.Compare) -> _Sql:
        operands = [self.value(node.left)] + [self.value(c) for c in node.comparators]
        links = [self._link(op, operands[i], operands[i + 1]) for i, op in enumerate(node.ops)]
        if len(links) == 1:
            return _Sql(links[0], bool)
        # Python: one unknown operand makes the whole chain unknown, even after a false link.
        return _Sql(_unknown_if_any(operands, and_(*links)), bool)

    def _link(self, op: ast.cmpop, left: _Sql, right: _Sql) -> ColumnElement[Any]:
        a, b = left.expression, right.expression
        if isinstance(op, ast.In | ast.NotIn):
            if right.kind is not tuple:
                raise NotTranslatable("'in' is only translated with a list on the right")
            if not right.items:  # x in [] is False (x not in [] True), unknown with x
                return case((a.is_(None), null()), else_=literal(isinstance(op, ast.NotIn), Boolean()))
            return a.not_in(right.items) if isinstance(op, ast.NotIn) else a.in_(right.items)
        if tuple in (left.kind, right.kind):
            raise NotTranslatable("a list is only translated on the right of 'in'")
        if isinstance(op, ast.Eq):
            return a == b
        if isinstance(op, ast.NotEq):
            return a != b
        if isinstance(op, ast.Lt):
            return a < b
        if isinstance(op, ast.LtE):
            return a <= b
        if isinstance(op, ast.Gt):
            return a > b
        if isinstance(op, ast.GtE):
            return a >= b
        raise NotTranslatable(f"comparison {type(op).__name__} has no SQL translation")

    def _call(self, node: ast.Call) -> _Sql:
        literal_date = date_literal(node)
        if literal_date is not None:
            return _literal(literal_date)
        if isinstance(node.func, ast.Name) and node.func.id in ("min", "max") and node.args:
            args = [self._number(self.value(a)) for a in node.args]
            result = args[0].expression
            for arg in args[1:]:
                keep = result <= arg.expression if node.func.id == "min" else result >= arg.expression
                result = case((keep, result), else_=arg.expression)
            return _Sql(_unknown_if_any(args, result), int)
        name = period_call(node)
        if name is not None:
            return _Sql(self._period(name, node.args), date)
        declared = rounding_call(node)
        if declared is not None:
            value = self._number(self.value(node.args[0]))
            return _Sql(round_amount(value.expression, declared[1], declared[0]), int)
        raise NotTranslatable(f"'{ast.unparse(node)}' has no SQL translation")

    def _period(self, name: str, args: list[ast.expr]) -> ColumnElement[date]:
        # Literal arguments (shifts, lengths, counting rules) stay Python values; NULL dates propagate.
        day = self.value(args[0]).expression
        if name == "_turns":
            return turns(day, self._number(self.value(args[1])).expression)
        if name == "_period_first":
            return period_first(day, _text(args[1]))
        if name == "_period_end":
            return period_end(day, _whole(args[1]), _whole(args[2]), _text(args[3]))
        if name == "_month_start":
            return month_start(day, _whole(args[1]))
        if name == "_next_working_day":
            return next_working_day(day)
        return month_end(day, _whole(args[1]))


def _whole(node: ast.expr) -> int:
    value = int_literal(node)
    if value is None:
        raise NotTranslatable(f"'{ast.unparse(node)}' must be a whole number")
    return value


def _text(node: ast.expr) -> str:
    if not (isinstance(node, ast.Constant) and isinstance(node.value, str)):
        raise NotTranslatable(f"'{ast.unparse(node)}' must be a counting rule's name")
    return node.value


def expression_sql(
    source: str, facts: FactColumns, on: date, parameters: Mapping[str, Parameter] | None = None
) -> ColumnElement[Any]:
    """One expression as SQL over the fact columns (derived facts included): NULL where it is unknown."""
    value = _Translator(parameters or {}, with_derived_facts(facts, on), on).value(parse(source))
    return _truth(value) if value.kind is bool else value.expression


@dataclass(frozen=True)
class BenefitSql:
    """A benefit decided in SQL: select these over the caller's FROM clause, one row per subject."""

    benefit_id: str
    conditions: tuple[ColumnElement[Any], ...]  # each condition: TRUE, FALSE or NULL, for traces and reasons
    facts: Mapping[str, ColumnElement[Any]]  # the fact columns with the derived ones
    holds: ColumnElement[Any]  # the conjunction of the conditions: TRUE, FALSE or NULL (undetermined)
    eligibility: ColumnElement[str]  # 'eligible' | 'not_eligible' | 'undetermined', as Eligibility values
    amount: ColumnElement[Any]  # NULL when not eligible, unknown or for information offers
    deadline: ColumnElement[Any] | None = None  # the last day to apply (NULL when unknown); None without one
    # Whether the household's code selects the benefit at all (Catalog.triggered): a sweep leaves the others out,
    # as the engine never evaluates them. None for a benefit without places (every household).
    selected: ColumnElement[Any] | None = None


def facts_read(benefit: Benefit) -> frozenset[str]:
    """Every fact the benefit's conditions, amount and dated parameters read."""
    names: set[str] = set()
    for condition in benefit.conditions:
        names |= condition.expression.facts
    if benefit.amount is not None:
        names |= benefit.amount.facts
    names |= {p.dated_by for p in benefit.parameters.values() if p.dated_by is not None}
    return frozenset(names)


def selected_sql(places: Places | None, code: ColumnElement[Any] | None) -> ColumnElement[Any] | None:
    """Places.selects over the household's code column: a NULL code is unknown (selected only by `outside`)."""
    if places is None:
        return None
    if code is None:
        raise NotTranslatable("a benefit with places needs the household.municipality_code column")
    codes = sorted(places.codes)
    if places.outside:
        return or_(code.is_(None), code.not_in(codes)) if codes else literal(True, Boolean())
    return code.in_(codes) if codes else literal(False, Boolean())


def benefit_sql(benefit: Benefit, facts: FactColumns, on: date) -> BenefitSql:
    """The benefit's decision on `on` as SQL over the fact columns (derived facts are added here).

    Raises NotTranslatable when a fact it reads has no column, or a construct has no SQL form."""
    selected = selected_sql(benefit.places, facts.get("household.municipality_code"))
    columns = with_derived_facts(facts, on)
    for name, assumption in benefit.assumptions.items():  # declared stand-ins for unknown facts
        stand_in = _literal(assumption.value).expression
        columns[name] = func.coalesce(columns[name], stand_in) if name in columns else stand_in
    translator = _Translator(benefit.parameters, columns, on)
    conditions = [_truth(translator.value(parse(c.expression.evaluable))) for c in benefit.conditions]
    holds = and_(*conditions) if conditions else literal(True, Boolean())
    failed = not_(holds)
    if benefit.amount is None:
        amount: ColumnElement[Any] = cast(null(), BigInteger())  # typed: PostgreSQL will not insert a text NULL
        decided = holds
    else:
        amount = case((failed, null()), else_=translator.value(parse(benefit.amount.evaluable)).expression)
        decided = and_(holds, amount.is_not(None))
    eligibility = case(
        (failed, Eligibility.NOT_ELIGIBLE.value),
        (decided, Eligibility.ELIGIBLE.value),
        else_=Eligibility.UNDETERMINED.value,
    )
    deadline = None
    if benefit.deadline is not None:
        deadline = translator.value(parse(benefit.deadline.end.evaluable)).expression
    return BenefitSql(benefit.id, tuple(conditions), columns, holds, eligibility, amount, deadline, selected)


__all__ = [
    "BenefitSql",
    "FactColumns",
    "NotTranslatable",
    "add_days",
    "benefit_sql",
    "date_value",
    "days_between",
    "expression_sql",
    "facts_read",
    "floor_div",
    "month_end",
    "month_start",
    "next_working_day",
    "period_end",
    "period_first",
    "round_amount",
    "selected_sql",
    "turns",
    "whole_months",
    "with_derived_facts",
]
