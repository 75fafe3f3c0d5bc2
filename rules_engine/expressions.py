"""A small, safe expression language for rule conditions and amounts, with three-valued evaluation.

Expressions are Python syntax, parsed with `ast` and compiled once into closures; only the node kinds below
are accepted, so a rule file can never run arbitrary code. A fact the situation lacks evaluates to `UNKNOWN`,
which propagates through arithmetic and comparisons and follows Kleene logic in `and` / `or` / `not`.
"""

from __future__ import annotations

import ast
import operator
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any


class _Unknown:
    __slots__ = ()

    def __repr__(self) -> str:
        return "UNKNOWN"

    def __bool__(self) -> bool:  # a guard against treating "can't tell" as False by accident
        raise TypeError("UNKNOWN has no truth value; use three-valued operators")


UNKNOWN: Any = _Unknown()

Facts = Mapping[str, Any]
Params = Mapping[str, Any]
Evaluator = Callable[[Facts, Params], Any]


class ExpressionError(ValueError):
    """An expression that cannot be compiled: syntax, a forbidden construct, an unknown name."""


@dataclass(frozen=True)
class CompiledExpression:
    source: str
    evaluate: Evaluator
    facts: frozenset[str]  # the facts it reads, for reporting what is missing
    params: frozenset[str]


_COMPARE: dict[type[ast.cmpop], Callable[[Any, Any], bool]] = {
    ast.Eq: operator.eq,
    ast.NotEq: operator.ne,
    ast.Lt: operator.lt,
    ast.LtE: operator.le,
    ast.Gt: operator.gt,
    ast.GtE: operator.ge,
    ast.In: lambda a, b: a in b,
    ast.NotIn: lambda a, b: a not in b,
}
_ARITH: dict[type[ast.operator], Callable[[Any, Any], Any]] = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.FloorDiv: operator.floordiv,
}
_CALLS: dict[str, Callable[..., Any]] = {"min": min, "max": max}


def compile_expression(source: str, known_facts: Mapping[str, type], known_params: set[str]) -> CompiledExpression:
    try:
        tree = ast.parse(source.strip(), mode="eval")
    except SyntaxError as exc:
        raise ExpressionError(f"syntax error in '{source}': {exc.msg}") from exc
    compiler = _Compiler(known_facts, known_params)
    evaluate = compiler.compile(tree.body)
    return CompiledExpression(source, evaluate, frozenset(compiler.facts), frozenset(compiler.params))


def _dotted(node: ast.expr) -> str | None:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        head = _dotted(node.value)
        return f"{head}.{node.attr}" if head else None
    return None


class _Compiler:
    def __init__(self, known_facts: Mapping[str, type], known_params: set[str]) -> None:
        self.known_facts = known_facts
        self.known_params = known_params
        self.facts: set[str] = set()
        self.params: set[str] = set()

    def compile(self, node: ast.expr) -> Evaluator:
        if isinstance(node, ast.Constant) and isinstance(node.value, (int, str, bool)) and node.value is not None:
            value = node.value
            return lambda facts, params: value
        if isinstance(node, (ast.Name, ast.Attribute)):
            return self._name(node)
        if isinstance(node, ast.List | ast.Tuple):
            items = [self._literal(e) for e in node.elts]
            frozen = tuple(items)
            return lambda facts, params: frozen
        if isinstance(node, ast.BoolOp):
            return self._boolop(node)
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not):
            inner = self.compile(node.operand)
            return lambda facts, params: _not(inner(facts, params))
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
            inner = self.compile(node.operand)
            return lambda facts, params: _lift1(operator.neg, inner(facts, params))
        if isinstance(node, ast.Compare):
            return self._compare(node)
        if isinstance(node, ast.BinOp) and type(node.op) in _ARITH:
            op = _ARITH[type(node.op)]
            left, right = self.compile(node.left), self.compile(node.right)
            return lambda facts, params: _lift2(op, left(facts, params), right(facts, params))
        if isinstance(node, ast.IfExp):
            test, body, orelse = self.compile(node.test), self.compile(node.body), self.compile(node.orelse)

            def conditional(facts: Facts, params: Params) -> Any:
                chosen = test(facts, params)
                if chosen is UNKNOWN:
                    return UNKNOWN
                return body(facts, params) if chosen else orelse(facts, params)

            return conditional
        if isinstance(node, ast.Call):
            return self._call(node)
        raise ExpressionError(f"'{ast.unparse(node)}' is not allowed in a rule expression")

    def _literal(self, node: ast.expr) -> Any:
        if isinstance(node, ast.Constant) and isinstance(node.value, (int, str, bool)):
            return node.value
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub) and isinstance(node.operand, ast.Constant):
            return -node.operand.value  # type: ignore[operator]
        raise ExpressionError(f"list items must be literals, not '{ast.unparse(node)}'")

    def _name(self, node: ast.expr) -> Evaluator:
        name = _dotted(node)
        if name is None:
            raise ExpressionError(f"'{ast.unparse(node)}' is not a fact or parameter name")
        if name.startswith("params."):
            param = name.removeprefix("params.")
            if param not in self.known_params:
                raise ExpressionError(f"unknown parameter '{param}'")
            self.params.add(param)
            return lambda facts, params: params[param]
        if name not in self.known_facts:
            raise ExpressionError(f"unknown fact '{name}'")
        self.facts.add(name)
        return lambda facts, params: facts.get(name, UNKNOWN)

    def _boolop(self, node: ast.BoolOp) -> Evaluator:
        parts = [self.compile(v) for v in node.values]
        if isinstance(node.op, ast.And):

            def conjunction(facts: Facts, params: Params) -> Any:
                result: Any = True
                for part in parts:
                    value = part(facts, params)
                    if value is UNKNOWN:
                        result = UNKNOWN
                    elif not value:
                        return False
                return result

            return conjunction

        def disjunction(facts: Facts, params: Params) -> Any:
            result: Any = False
            for part in parts:
                value = part(facts, params)
                if value is UNKNOWN:
                    result = UNKNOWN
                elif value:
                    return True
            return result

        return disjunction

    def _compare(self, node: ast.Compare) -> Evaluator:
        operands = [self.compile(node.left)] + [self.compile(c) for c in node.comparators]
        ops = []
        for op in node.ops:
            if type(op) not in _COMPARE:
                raise ExpressionError(f"comparison '{ast.unparse(node)}' is not allowed")
            ops.append(_COMPARE[type(op)])
        if len(ops) == 1:
            op0, left, right = ops[0], operands[0], operands[1]

            def single(facts: Facts, params: Params) -> Any:
                a, b = left(facts, params), right(facts, params)
                if a is UNKNOWN or b is UNKNOWN:
                    return UNKNOWN
                return op0(a, b)

            return single

        def chained(facts: Facts, params: Params) -> Any:
            values = [o(facts, params) for o in operands]
            if any(v is UNKNOWN for v in values):
                return UNKNOWN
            return all(op(values[i], values[i + 1]) for i, op in enumerate(ops))

        return chained

    def _call(self, node: ast.Call) -> Evaluator:
        if (
            isinstance(node.func, ast.Name)
            and node.func.id == "date"
            and len(node.args) == 1
            and isinstance(node.args[0], ast.Constant)
            and isinstance(node.args[0].value, str)
        ):
            try:
                value = date.fromisoformat(node.args[0].value)
            except ValueError as exc:
                raise ExpressionError(f"invalid date literal '{node.args[0].value}'") from exc
            return lambda facts, params: value
        if isinstance(node.func, ast.Name) and node.func.id in _CALLS and not node.keywords and node.args:
            function = _CALLS[node.func.id]
            args = [self.compile(a) for a in node.args]

            def call(facts: Facts, params: Params) -> Any:
                values = [a(facts, params) for a in args]
                if any(v is UNKNOWN for v in values):
                    return UNKNOWN
                return function(*values)

            return call
        raise ExpressionError(f"call '{ast.unparse(node)}' is not allowed (only date(\"...\"), min, max)")


def _not(value: Any) -> Any:
    return UNKNOWN if value is UNKNOWN else not value


def _lift1(op: Callable[[Any], Any], value: Any) -> Any:
    return UNKNOWN if value is UNKNOWN else op(value)


def _lift2(op: Callable[[Any, Any], Any], a: Any, b: Any) -> Any:
    return UNKNOWN if a is UNKNOWN or b is UNKNOWN else op(a, b)
