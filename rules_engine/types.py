"""Static type checking of rule expressions at load: a date compared with a number, arithmetic on text or a
condition that is not true/false is a loading error naming the expression, never a surprise at run time."""

from __future__ import annotations

import ast
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date

from rules_engine.expressions import (
    CALLS,
    PERIOD_SIGNATURES,
    ExpressionError,
    date_literal,
    dotted,
    list_literal,
    parse,
    period_call,
    rounding_call,
)


@dataclass(frozen=True)
class ListOf:
    item: type | None  # None: an empty list, compatible with anything

    def __str__(self) -> str:
        return f"list of {_name(self.item)}" if self.item else "empty list"


Type = type | ListOf
_NUMBER = (int,)
_ORDERED = (int, str, date)


def _name(t: Type | None) -> str:
    return t.__name__ if isinstance(t, type) else str(t)


class TypeMismatch(ExpressionError):
    pass


def infer(
    source: str, facts: Mapping[str, type], params: Mapping[str, Type], named_dates: frozenset[str] = frozenset()
) -> Type:
    """The type of an expression; `named_dates` are further names of dates (a benefit's `periods.<name>.end`)."""
    return _Checker(source, facts, params, named_dates).infer(parse(source))


class _Checker:
    def __init__(
        self, source: str, facts: Mapping[str, type], params: Mapping[str, Type], named_dates: frozenset[str]
    ) -> None:
        self.source, self.facts, self.params, self.named_dates = source, facts, params, named_dates

    def fail(self, node: ast.AST, message: str) -> TypeMismatch:
        return TypeMismatch(f"type mismatch in '{ast.unparse(node)}': {message}")

    def infer(self, node: ast.expr) -> Type:
        if isinstance(node, ast.Constant):
            return bool if isinstance(node.value, bool) else type(node.value)
        if isinstance(node, ast.Name | ast.Attribute):
            name = dotted(node) or ""
            if name.startswith("params."):
                return self.params.get(name.removeprefix("params."), int)
            if name in self.named_dates:
                return date
            return self.facts[name]
        if isinstance(node, ast.List | ast.Tuple):
            kinds = {bool if isinstance(v, bool) else type(v) for v in list_literal(node)}
            if len(kinds) > 1:
                raise self.fail(node, "a list mixes " + " and ".join(sorted(k.__name__ for k in kinds)))
            return ListOf(next(iter(kinds), None))
        if isinstance(node, ast.BoolOp):
            for value in node.values:
                self.expect_bool(value)
            return bool
        if isinstance(node, ast.UnaryOp):
            operand = self.infer(node.operand)
            if isinstance(node.op, ast.Not):
                self.expect_bool(node.operand)
                return bool
            if operand not in _NUMBER:
                raise self.fail(node, f"cannot negate {_name(operand)}")
            return operand
        if isinstance(node, ast.Compare):
            return self.compare(node)
        if isinstance(node, ast.BinOp):
            left, right = self.infer(node.left), self.infer(node.right)
            if left not in _NUMBER or right not in _NUMBER:
                raise self.fail(node, f"arithmetic needs numbers, not {_name(left)} and {_name(right)}")
            return int
        if isinstance(node, ast.IfExp):
            self.expect_bool(node.test)
            body, orelse = self.infer(node.body), self.infer(node.orelse)
            if body != orelse:
                raise self.fail(node, f"the two branches are {_name(body)} and {_name(orelse)}")
            return body
        if isinstance(node, ast.Call):
            if date_literal(node) is not None:
                return date
            function = period_call(node)
            if function is not None:
                for argument, wanted in zip(node.args, PERIOD_SIGNATURES[function], strict=True):
                    got = self.infer(argument)
                    if got is not wanted:
                        raise self.fail(node, f"{_name(wanted)} expected, not {_name(got)} ('{ast.unparse(argument)}')")
                return date
            if rounding_call(node) is not None:
                kind = self.infer(node.args[0])
                if kind not in _NUMBER:
                    raise self.fail(node, f"only amounts are rounded, not {_name(kind)}")
                return int
            if isinstance(node.func, ast.Name) and node.func.id in CALLS:
                arguments: set[Type] = {self.infer(a) for a in node.args}
                if len(arguments) != 1 or next(iter(arguments)) not in _ORDERED:
                    raise self.fail(node, f"{node.func.id} needs values of one ordered type")
                return next(iter(arguments))
        return bool  # anything else was already refused by the compiler

    def expect_bool(self, node: ast.expr) -> None:
        kind = self.infer(node)
        if kind is not bool:
            raise self.fail(node, f"a condition must be true or false, not {_name(kind)}")

    def compare(self, node: ast.Compare) -> Type:
        left = self.infer(node.left)
        for op, comparator in zip(node.ops, node.comparators, strict=True):
            right = self.infer(comparator)
            if isinstance(op, ast.In | ast.NotIn):
                if not isinstance(right, ListOf):
                    raise self.fail(node, f"'in' needs a list on the right, not {_name(right)}")
                if right.item is not None and right.item != left:
                    raise self.fail(node, f"{_name(left)} looked up in a {right}")
            elif left != right:
                raise self.fail(node, f"{_name(left)} compared with {_name(right)}")
            elif not isinstance(op, ast.Eq | ast.NotEq) and left not in _ORDERED:
                raise self.fail(node, f"{_name(left)} values have no order")
            left = right
        return bool


def value_type(values: tuple[object, ...], name: str) -> Type:
    """The type of a parameter's values: one scalar type, or lists of one scalar type (e.g. 시군구 codes)."""
    kinds = {bool if isinstance(v, bool) else type(v) for v in values}
    if len(kinds) != 1:
        raise TypeMismatch(f"parameter '{name}' mixes " + " and ".join(sorted(k.__name__ for k in kinds)))
    kind = next(iter(kinds))
    if kind is not tuple:  # the catalog keeps a list parameter's values as tuples
        return kind
    items = {bool if isinstance(i, bool) else type(i) for v in values for i in v}  # type: ignore[attr-defined]
    if len(items) > 1 or not items <= {int, str}:
        raise TypeMismatch(f"parameter '{name}': a list holds whole numbers or texts of one kind, not a mix")
    return ListOf(next(iter(items), None))
