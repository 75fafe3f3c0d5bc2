"""The reference evaluation: a plain walk over each rule's syntax tree, every time, with three-valued semantics.

Deliberately straightforward (no compilation, no caching of anything but the parsed trees) so that it is easy
to check against docs/rules-format.md; the compiled engine (`evaluation.py`) and the SQL translation
(`sql.py`) are tested against it, and the rules benchmark reports both.
"""

from __future__ import annotations

import ast
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from functools import lru_cache
from typing import Any

from rules_engine.catalog import Benefit, Catalog
from rules_engine.eligibility import Eligibility
from rules_engine.expressions import (
    PERIOD_FUNCTIONS,
    UNKNOWN,
    ExpressionError,
    date_literal,
    dotted,
    list_literal,
    parse,
    period_call,
    rounding_call,
)
from rules_engine.facts import situation, to_ask_for
from rules_engine.rounding import round_amount

_COMPARE: dict[type[ast.cmpop], Any] = {
    ast.Eq: lambda a, b: a == b,
    ast.NotEq: lambda a, b: a != b,
    ast.Lt: lambda a, b: a < b,
    ast.LtE: lambda a, b: a <= b,
    ast.Gt: lambda a, b: a > b,
    ast.GtE: lambda a, b: a >= b,
    ast.In: lambda a, b: a in b,
    ast.NotIn: lambda a, b: a not in b,
}
_ARITH: dict[type[ast.operator], Any] = {
    ast.Add: lambda a, b: a + b,
    ast.Sub: lambda a, b: a - b,
    ast.Mult: lambda a, b: a * b,
    ast.FloorDiv: lambda a, b: a // b,
}


@dataclass(frozen=True)
class Verdict:
    eligibility: Eligibility
    amount_krw: int | None
    missing: tuple[str, ...]
    holds: tuple[bool | None, ...]  # per condition
    deadline: date | None = None  # the last day of the deadline's period, None when it cannot be told


@lru_cache(maxsize=4096)
def _tree(source: str) -> ast.expr:
    return parse(source)


def interpret(node: ast.expr, facts: Mapping[str, Any], params: Mapping[str, Any]) -> Any:
    """The value of an expression: UNKNOWN when it depends on a fact the situation lacks."""
    if isinstance(node, ast.Constant) and isinstance(node.value, (int, str, bool)):
        return node.value
    if isinstance(node, (ast.Name, ast.Attribute)):
        name = dotted(node)
        if name is None:
            raise ExpressionError(f"'{ast.unparse(node)}' is not a fact or parameter name")
        if name.startswith("params."):
            return params[name.removeprefix("params.")]
        return facts.get(name, UNKNOWN)
    if isinstance(node, ast.List | ast.Tuple):
        return list_literal(node)
    if isinstance(node, ast.BoolOp):
        # Kleene: for `and`, one False decides; otherwise one UNKNOWN makes it UNKNOWN (dually for `or`).
        deciding = not isinstance(node.op, ast.And)
        result: Any = not deciding
        for part in node.values:
            value = interpret(part, facts, params)
            if value is UNKNOWN:
                result = UNKNOWN
            elif bool(value) is deciding:
                return deciding
        return result
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not):
        value = interpret(node.operand, facts, params)
        return UNKNOWN if value is UNKNOWN else not value
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
        value = interpret(node.operand, facts, params)
        return UNKNOWN if value is UNKNOWN else -value
    if isinstance(node, ast.Compare):
        values = [interpret(node.left, facts, params)] + [interpret(c, facts, params) for c in node.comparators]
        if any(v is UNKNOWN for v in values):
            return UNKNOWN
        return all(_COMPARE[type(op)](values[i], values[i + 1]) for i, op in enumerate(node.ops))
    if isinstance(node, ast.BinOp) and type(node.op) in _ARITH:
        left, right = interpret(node.left, facts, params), interpret(node.right, facts, params)
        return UNKNOWN if left is UNKNOWN or right is UNKNOWN else _ARITH[type(node.op)](left, right)
    if isinstance(node, ast.IfExp):
        test = interpret(node.test, facts, params)
        if test is UNKNOWN:
            return UNKNOWN
        return interpret(node.body if test else node.orelse, facts, params)
    if isinstance(node, ast.Call):
        literal = date_literal(node)
        if literal is not None:
            return literal
        if isinstance(node.func, ast.Name) and node.func.id in ("min", "max"):
            args = [interpret(a, facts, params) for a in node.args]
            if any(a is UNKNOWN for a in args):
                return UNKNOWN
            return min(*args) if node.func.id == "min" else max(*args)
        name = period_call(node)
        if name is not None:
            args = [interpret(a, facts, params) for a in node.args]
            return UNKNOWN if any(a is UNKNOWN for a in args) else PERIOD_FUNCTIONS[name](*args)
        declared = rounding_call(node)
        if declared is not None:
            value = interpret(node.args[0], facts, params)
            return UNKNOWN if value is UNKNOWN else round_amount(value, declared[1], declared[0])
    raise ExpressionError(f"'{ast.unparse(node)}' is not allowed in a rule expression")


def interpret_benefit(benefit: Benefit, facts: Mapping[str, Any], on: date) -> Verdict:
    """Eligibility, amount and missing facts, as docs/rules-format.md defines them."""
    facts = benefit.with_assumptions(facts)
    params = benefit.params_at(on, facts)
    holds: list[bool | None] = []
    missing: set[str] = set()
    for condition in benefit.conditions:
        value = interpret(_tree(condition.expression.evaluable), facts, params)
        if value is UNKNOWN:
            holds.append(None)
            missing.update(to_ask_for(f) for f in condition.expression.facts if f not in facts)
        else:
            holds.append(bool(value))
    deadline = None
    if benefit.deadline is not None:
        end = interpret(_tree(benefit.deadline.end.evaluable), facts, params)
        deadline = None if end is UNKNOWN else end
    if False in holds:
        return Verdict(Eligibility.NOT_ELIGIBLE, None, (), tuple(holds), deadline)
    eligibility = Eligibility.UNDETERMINED if None in holds else Eligibility.ELIGIBLE
    amount = None
    if benefit.amount is not None:
        value = interpret(_tree(benefit.amount.evaluable), facts, params)
        if value is UNKNOWN:
            missing.update(to_ask_for(f) for f in benefit.amount.facts if f not in facts)
            eligibility = Eligibility.UNDETERMINED
        else:
            amount = int(value)
    return Verdict(eligibility, amount, tuple(sorted(missing)), tuple(holds), deadline)


def interpret_event(catalog: Catalog, event_type: str, base_facts: Mapping[str, Any], on: date) -> list[Verdict]:
    """The same workload as `evaluation.evaluate`, interpreted."""
    facts = situation(base_facts, on)
    selected = catalog.triggered(event_type, facts.get("household.municipality_code"))
    return [interpret_benefit(b, facts, on) for b in selected if b.in_force(on)]
