"""A small, safe expression language for rule conditions and amounts, with three-valued evaluation.

Expressions are Python syntax, parsed with `ast`; only the node kinds below are accepted, so a rule file can
never run arbitrary code. A fact the situation lacks evaluates to `UNKNOWN`, which propagates through
arithmetic and comparisons and follows Kleene logic in `and` / `or` / `not`.

Accepted expressions are translated once into straight-line Python source and compiled with `compile()`:
evaluating a rule is then one plain function call with no per-node dispatch (the evaluation engine inlines
whole benefits the same way, see `evaluation.py`). Only validated names and literals reach the generated
source: fact names come from the fact table, parameter names are Python identifiers (the parser made them
attributes), and every literal is either `repr`-ed (int, str, bool and tuples of them) or passed as a constant.
"""

from __future__ import annotations

import ast
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any

from rules_engine import periods, rounding


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
    source: str  # as the rule file wrote it (shown in traces)
    evaluate: Evaluator
    facts: frozenset[str]  # the facts it reads, for reporting what is missing
    params: frozenset[str]
    expanded: str = ""  # the source with the benefit's periods written out, when it names any

    @property
    def evaluable(self) -> str:
        """What the evaluators read: the source with `periods.<name>.start` / `.end` expanded."""
        return self.expanded or self.source


_COMPARE: dict[type[ast.cmpop], str] = {
    ast.Eq: "==",
    ast.NotEq: "!=",
    ast.Lt: "<",
    ast.LtE: "<=",
    ast.Gt: ">",
    ast.GtE: ">=",
    ast.In: "in",
    ast.NotIn: "not in",
}
_ARITH: dict[type[ast.operator], str] = {ast.Add: "+", ast.Sub: "-", ast.Mult: "*", ast.FloorDiv: "//"}
CALLS = frozenset({"min", "max"})
# Calendar periods (periods.py). Benefit files never call these by name: they declare `periods:` as data, and the
# catalog expands `periods.<name>.start` / `.end` into these calls (catalog.PeriodExpander), which all three
# evaluators (this compiler, interpreter.py and sql.py) then compute alike.
PERIOD_FUNCTIONS: dict[str, Callable[..., date]] = {
    "_period_first": periods.first_counted_day,  # (start, counting rule)
    "_period_end": periods.period_end,  # (start, days, months, counting rule)
    "_turns": periods.turns,  # (birth date, age in months)
    "_month_start": periods.month_start,  # (date, months shifted)
    "_month_end": periods.month_end,  # (date, months shifted)
    "_next_working_day": periods.next_working_day,  # (date): 민법 제161조, a period end on a day off moves
}
# Argument types; a `str` argument is a counting rule's name and the `int` ones marked constant must be literals.
PERIOD_SIGNATURES: dict[str, tuple[type, ...]] = {
    "_period_first": (date, str),
    "_period_end": (date, int, int, str),
    "_turns": (date, int),
    "_month_start": (date, int),
    "_month_end": (date, int),
    "_next_working_day": (date,),
}
PERIOD_CONSTANT_ARGUMENTS: dict[str, frozenset[int]] = {
    "_period_first": frozenset({1}),
    "_period_end": frozenset({1, 2, 3}),
    "_turns": frozenset(),
    "_month_start": frozenset({1}),
    "_month_end": frozenset({1}),
    "_next_working_day": frozenset(),
}
# The generated code refers to UNKNOWN by this global name.
UNKNOWN_NAME = "_U"


def parse(source: str) -> ast.expr:
    try:
        return ast.parse(source.strip(), mode="eval").body
    except SyntaxError as exc:
        raise ExpressionError(f"syntax error in '{source}': {exc.msg}") from exc


def dotted(node: ast.expr) -> str | None:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        head = dotted(node.value)
        return f"{head}.{node.attr}" if head else None
    return None


def date_literal(node: ast.Call) -> date | None:
    """The value of a `date("YYYY-MM-DD")` call, None if the node is another call."""
    if not (
        isinstance(node.func, ast.Name)
        and node.func.id == "date"
        and len(node.args) == 1
        and isinstance(node.args[0], ast.Constant)
        and isinstance(node.args[0].value, str)
    ):
        return None
    try:
        return date.fromisoformat(node.args[0].value)
    except ValueError as exc:
        raise ExpressionError(f"invalid date literal '{node.args[0].value}'") from exc


def list_literal(node: ast.List | ast.Tuple) -> tuple[Any, ...]:
    items: list[Any] = []
    for item in node.elts:
        if isinstance(item, ast.Constant) and isinstance(item.value, (int, str, bool)):
            items.append(item.value)
        elif isinstance(item, ast.UnaryOp) and isinstance(item.op, ast.USub) and isinstance(item.operand, ast.Constant):
            items.append(-item.operand.value)  # type: ignore[operator]
        else:
            raise ExpressionError(f"list items must be literals, not '{ast.unparse(item)}'")
    return tuple(items)


class Emitter:
    """Emits Python statements computing an expression with three-valued semantics.

    `emit` appends statements (at an indentation depth) and returns a *simple* Python expression (a local
    name or a literal) holding the value, so callers can use it several times at no cost. `and` / `or` /
    conditionals evaluate lazily, exactly like Kleene logic read left to right: `False and x` never
    evaluates `x`. Names are resolved by the two callbacks, so the same emitter serves a lone expression
    (reading a facts mapping) and a whole benefit (reading prefetched locals).
    """

    def __init__(
        self,
        known_facts: Mapping[str, type],
        known_params: set[str],
        fact_ref: Callable[[str], str],
        param_ref: Callable[[str], str],
        namespace: dict[str, Any],
        prefix: str = "v",
        never_unknown: frozenset[str] = frozenset(),
    ) -> None:
        self.known_facts, self.known_params = known_facts, known_params
        self.fact_ref, self.param_ref = fact_ref, param_ref
        self.namespace = namespace
        self.prefix = prefix
        self.never_unknown = never_unknown  # generated names that cannot hold UNKNOWN (parameters in force)
        self.lines: list[str] = []
        self.facts: set[str] = set()
        self.params: set[str] = set()
        self._count = 0

    def fresh(self) -> str:
        self._count += 1
        return f"{self.prefix}{self._count}"

    def constant(self, value: Any) -> str:
        name = f"_k{len(self.namespace)}"
        self.namespace[name] = value
        return name

    def line(self, depth: int, text: str) -> None:
        self.lines.append("    " * depth + text)

    def emit(self, node: ast.expr, depth: int) -> str:
        if isinstance(node, ast.Constant) and isinstance(node.value, (int, str, bool)):
            return repr(node.value)
        if isinstance(node, (ast.Name, ast.Attribute)):
            return self._name(node)
        if isinstance(node, ast.List | ast.Tuple):
            return repr(list_literal(node))
        if isinstance(node, ast.BoolOp):
            return self._boolop(node, depth)
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not | ast.USub):
            inner = self.emit(node.operand, depth)
            op = "not " if isinstance(node.op, ast.Not) else "-"
            return self._assign(depth, f"{UNKNOWN_NAME} if {self._unknown(inner)} else {op}{inner}")
        if isinstance(node, ast.Compare):
            return self._compare(node, depth)
        if isinstance(node, ast.BinOp) and type(node.op) in _ARITH:
            left, right = self.emit(node.left, depth), self.emit(node.right, depth)
            test = self._any_unknown(left, right)
            return self._assign(depth, f"{UNKNOWN_NAME} if {test} else {left} {_ARITH[type(node.op)]} {right}")
        if isinstance(node, ast.IfExp):
            return self._conditional(node, depth)
        if isinstance(node, ast.Call):
            return self._call(node, depth)
        raise ExpressionError(f"'{ast.unparse(node)}' is not allowed in a rule expression")

    def _unknown(self, code: str) -> str:
        """A test that `code` is UNKNOWN; "False" when it cannot be (`1 is _U` would be a SyntaxWarning)."""
        if _is_literal(code) or code in self.never_unknown:
            return "False"
        return f"{code} is {UNKNOWN_NAME}"

    def _any_unknown(self, *codes: str) -> str:
        return " or ".join(t for t in map(self._unknown, codes) if t != "False") or "False"

    def _assign(self, depth: int, expression: str) -> str:
        name = self.fresh()
        self.line(depth, f"{name} = {expression}")
        return name

    def _name(self, node: ast.expr) -> str:
        name = dotted(node)
        if name is None:
            raise ExpressionError(f"'{ast.unparse(node)}' is not a fact or parameter name")
        if name.startswith("params."):
            param = name.removeprefix("params.")
            if param not in self.known_params:
                raise ExpressionError(f"unknown parameter '{param}'")
            self.params.add(param)
            return self.param_ref(param)
        if name not in self.known_facts:
            raise ExpressionError(f"unknown fact '{name}'")
        self.facts.add(name)
        return self.fact_ref(name)

    def _boolop(self, node: ast.BoolOp, depth: int) -> str:
        # and: False decides, else UNKNOWN if any part was; or: True decides, else UNKNOWN if any part was.
        conjunction = isinstance(node.op, ast.And)
        decided, undecided = ("False", "True") if conjunction else ("True", "False")
        deciding = "not " if conjunction else ""
        result = self.fresh()
        self.line(depth, f"{result} = {undecided}")
        for index, part in enumerate(node.values):
            if index:  # the next part is only evaluated while nothing has decided
                self.line(depth, f"if {result} is not {decided}:")
                depth += 1
            value = self.emit(part, depth)
            self.line(depth, f"if {self._unknown(value)}:")
            self.line(depth + 1, f"{result} = {UNKNOWN_NAME}")
            self.line(depth, f"elif {deciding}{value}:")
            self.line(depth + 1, f"{result} = {decided}")
        return result

    def _compare(self, node: ast.Compare, depth: int) -> str:
        ops = []
        for op in node.ops:
            if type(op) not in _COMPARE:
                raise ExpressionError(f"comparison '{ast.unparse(node)}' is not allowed")
            ops.append(_COMPARE[type(op)])
        operands = [self.emit(node.left, depth)] + [self.emit(c, depth) for c in node.comparators]
        # Every operand is evaluated first: one unknown operand makes a chain unknown, as in the closures.
        unknown = self._any_unknown(*operands)
        chain = " and ".join(f"({operands[i]} {op} {operands[i + 1]})" for i, op in enumerate(ops))
        if len(ops) > 1:
            chain = f"bool({chain})"
        return self._assign(depth, f"{UNKNOWN_NAME} if {unknown} else {chain}")

    def _conditional(self, node: ast.IfExp, depth: int) -> str:
        result = self.fresh()
        test = self.emit(node.test, depth)
        self.line(depth, f"if {self._unknown(test)}:")
        self.line(depth + 1, f"{result} = {UNKNOWN_NAME}")
        self.line(depth, f"elif {test}:")
        self.line(depth + 1, f"{result} = {self.emit(node.body, depth + 1)}")
        self.line(depth, "else:")
        self.line(depth + 1, f"{result} = {self.emit(node.orelse, depth + 1)}")
        return result

    def _call(self, node: ast.Call, depth: int) -> str:
        literal = date_literal(node)
        if literal is not None:
            return self.constant(literal)
        if isinstance(node.func, ast.Name) and node.func.id in CALLS and not node.keywords and node.args:
            args = [self.emit(a, depth) for a in node.args]
            call = f"{node.func.id}({', '.join(args)})"
            return self._assign(depth, f"{UNKNOWN_NAME} if {self._any_unknown(*args)} else {call}")
        name = period_call(node)
        if name is not None:
            args = [self.emit(a, depth) for a in node.args]
            function = self.constant(PERIOD_FUNCTIONS[name])
            call = f"{function}({', '.join(args)})"
            return self._assign(depth, f"{UNKNOWN_NAME} if {self._any_unknown(*args)} else {call}")
        declared = rounding_call(node)
        if declared is not None:
            method, unit = declared
            value = self.emit(node.args[0], depth)
            call = f"{self.constant(rounding.round_amount)}({value}, {unit!r}, {method!r})"
            return self._assign(depth, f"{UNKNOWN_NAME} if {self._unknown(value)} else {call}")
        raise ExpressionError(
            f"call '{ast.unparse(node)}' is not allowed (only date(\"...\"), min, max, round_down, round_up, "
            "round_half_up)"
        )


def period_call(node: ast.Call) -> str | None:
    """The name of a period function this call makes, checked for arity and literal arguments; None otherwise."""
    if not (isinstance(node.func, ast.Name) and node.func.id in PERIOD_FUNCTIONS):
        return None
    name = node.func.id
    if node.keywords or len(node.args) != len(PERIOD_SIGNATURES[name]):
        raise ExpressionError(f"'{ast.unparse(node)}': {name} takes {len(PERIOD_SIGNATURES[name])} arguments")
    for index in PERIOD_CONSTANT_ARGUMENTS[name]:
        argument = node.args[index]
        if PERIOD_SIGNATURES[name][index] is str:
            rule = argument.value if isinstance(argument, ast.Constant) else None
            if not isinstance(rule, str) or rule not in periods.COUNTING_RULES:
                raise ExpressionError(f"'{ast.unparse(node)}': unknown counting rule {ast.unparse(argument)}")
        elif int_literal(argument) is None:
            raise ExpressionError(f"'{ast.unparse(node)}': {ast.unparse(argument)} must be a whole number")
    return name


def rounding_call(node: ast.Call) -> tuple[str, int] | None:
    """(method, unit) of a `round_down(x, N)` / `round_up(x, N)` / `round_half_up(x, N)` call, checked; None for
    another call. The unit is a literal: how the law rounds is part of the rule, never a fact."""
    if not (isinstance(node.func, ast.Name) and node.func.id in rounding.CALLS):
        return None
    if node.keywords or len(node.args) != 2:
        raise ExpressionError(f"'{ast.unparse(node)}': {node.func.id} takes a value and a unit, e.g. (x, 10)")
    unit = int_literal(node.args[1])
    if unit is None or unit < 1:
        raise ExpressionError(f"'{ast.unparse(node)}': the unit must be a whole number of KRW, at least 1")
    return rounding.CALLS[node.func.id], unit


def int_literal(node: ast.expr) -> int | None:
    """The value of an integer literal (`3`, `-1`), None for anything else."""
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
        inner = int_literal(node.operand)
        return None if inner is None else -inner
    if isinstance(node, ast.Constant) and isinstance(node.value, int) and not isinstance(node.value, bool):
        return node.value
    return None


def _is_literal(code: str) -> bool:
    """A repr-ed literal can never be UNKNOWN (names start with a letter or underscore)."""
    return not (code[0].isalpha() or code[0] == "_") or code in ("True", "False")


def compile_expression(source: str, known_facts: Mapping[str, type], known_params: set[str]) -> CompiledExpression:
    tree = parse(source)
    namespace: dict[str, Any] = {UNKNOWN_NAME: UNKNOWN}
    fact_locals: dict[str, str] = {}

    def fact_ref(name: str) -> str:
        return fact_locals.setdefault(name, f"f{len(fact_locals)}")

    emitter = Emitter(known_facts, known_params, fact_ref, lambda name: f"params[{name!r}]", namespace)
    result = emitter.emit(tree, 1)
    # Facts are read once, up front: reading a mapping has no effect, so laziness would buy nothing.
    reads = [f"    {local} = facts.get({name!r}, {UNKNOWN_NAME})" for name, local in fact_locals.items()]
    body = "\n".join([*reads, *emitter.lines, f"    return {result}"])
    code = f"def _evaluate(facts, params):\n{body}\n"
    exec(compile(code, f"<rule: {source.strip()}>", "exec"), namespace)  # only validated names and literals
    return CompiledExpression(source, namespace["_evaluate"], frozenset(emitter.facts), frozenset(emitter.params))
