"""Evaluating benefits against a situation on a date: eligibility, amount, deadline and a trace.

Each benefit is compiled once, on first use, into one Python function (source generated from its conditions
and amount, then `compile()`d): facts are read once, parameters not dated by a fact are looked up once per
evaluation date, the trace reuses prebuilt outcomes, and what is missing is only worked out when something
is. The semantics are those of the reference interpreter (`interpreter.py`), which the tests compare against.
"""

from __future__ import annotations

import bisect
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any

from rules_engine.catalog import Benefit, Catalog
from rules_engine.deadlines import ENDS_THE_OFFER, DatedDeadline
from rules_engine.eligibility import Eligibility
from rules_engine.expressions import UNKNOWN, UNKNOWN_NAME, Emitter, parse
from rules_engine.facts import FACTS, situation, to_ask_for


@dataclass(frozen=True)
class ConditionOutcome:
    expression: str
    holds: bool | None  # None: could not tell
    reason: dict[str, str]
    reference: str


@dataclass(frozen=True)
class Decision:
    benefit: Benefit
    on: date
    eligibility: Eligibility
    amount_krw: int | None
    deadline: date | None
    missing: tuple[str, ...]
    trace: tuple[ConditionOutcome, ...]
    # Every dated deadline the benefit declares whose date can be told, with its kind (rules_engine/deadlines.py);
    # `deadline` above is the one that ends the offer (application closes or the entitlement ends), if any.
    deadlines: tuple[DatedDeadline, ...] = ()


def evaluate(catalog: Catalog, event_type: str, base_facts: Mapping[str, Any], on: date) -> list[Decision]:
    """Every benefit the event type triggers and the law in force on `on` knows, decided for these facts."""
    facts = situation(base_facts, on)
    code = facts.get("household.municipality_code")
    return [decide(facts, on) for decide in _triggered(catalog, event_type, on, code)]


def evaluate_benefit(benefit: Benefit, facts: Mapping[str, Any], on: date) -> Decision:
    return _plan(benefit)(facts, on)


# --- compiling a benefit ---------------------------------------------------------------------------------

_Decide = Callable[[Mapping[str, Any], date], Decision]
_PLANS: dict[int, tuple[Benefit, _Decide]] = {}  # by id(): a Benefit holds dicts, so it is not hashable
_MAX_PLANS = 4096  # catalogs reloaded many times (tests, hot reload) must not grow this without bound
_MAX_INTERNED = 4096  # equal decisions kept per benefit
_new = object.__new__


_TRIGGERED: dict[tuple[int, str, date], tuple[Catalog, dict[str | None, tuple[_Decide, ...]]]] = {}
_MAX_CODES = 2048  # household codes remembered per catalog, event type and date (about 250 exist)


def _triggered(catalog: Catalog, event_type: str, on: date, code: Any) -> tuple[_Decide, ...]:
    """The compiled benefits an event type triggers for a household at this 시군구 code (`Catalog.triggered`)
    that are in force on `on` (kept per catalog, date and code)."""
    key = (id(catalog), event_type, on)
    entry = _TRIGGERED.get(key)
    if entry is None or entry[0] is not catalog:
        if len(_TRIGGERED) >= _MAX_PLANS:
            _TRIGGERED.clear()
        entry = _TRIGGERED[key] = (catalog, {})
    place = code if isinstance(code, str) else None
    plans = entry[1].get(place)
    if plans is None:
        plans = tuple(_plan(b) for b in catalog.triggered(event_type, place) if b.in_force(on))
        if len(entry[1]) < _MAX_CODES:
            entry[1][place] = plans
    return plans


def _plan(benefit: Benefit) -> _Decide:
    entry = _PLANS.get(id(benefit))
    if entry is not None and entry[0] is benefit:
        return entry[1]
    if len(_PLANS) >= _MAX_PLANS:
        _PLANS.clear()
    decide = _compile_benefit(benefit)
    _PLANS[id(benefit)] = (benefit, decide)
    return decide


class _ParamsByDate:
    """Values of the parameters not dated by a fact, per evaluation date (a handful of dates are ever asked).

    The generated code reads `cache` directly and calls `fill` on a miss: one dict lookup per evaluation."""

    def __init__(self, benefit: Benefit, names: tuple[str, ...]) -> None:
        self._parameters = [benefit.parameters[n] for n in names]
        self.cache: dict[date, tuple[Any, ...]] = {}

    def fill(self, on: date) -> tuple[Any, ...]:
        if len(self.cache) >= 1024:
            self.cache.clear()
        values = self.cache[on] = tuple(p.at(on) for p in self._parameters)
        return values


def _dated_value(starts: tuple[date, ...], values: tuple[Any, ...]) -> Callable[[Any], Any]:
    """A parameter dated by a fact: the value in force on the fact's date, UNKNOWN without the date."""

    def at(when: Any) -> Any:
        if not isinstance(when, date):
            return UNKNOWN
        index = bisect.bisect_right(starts, when) - 1
        return values[index] if index >= 0 else None

    return at


def _compile_benefit(benefit: Benefit) -> _Decide:
    namespace: dict[str, Any] = {
        UNKNOWN_NAME: UNKNOWN,
        "_benefit": benefit,
        "_new": _new,
        "_Decision": Decision,
        "_ELIGIBLE": Eligibility.ELIGIBLE,
        "_NOT_ELIGIBLE": Eligibility.NOT_ELIGIBLE,
        "_UNDETERMINED": Eligibility.UNDETERMINED,
        "_date": date,
    }
    fact_locals: dict[str, str] = {}

    def fact_ref(name: str) -> str:
        return fact_locals.setdefault(name, f"f{len(fact_locals)}")

    dated = {n: p for n, p in benefit.parameters.items() if p.dated_by is not None}
    by_date = tuple(n for n, p in benefit.parameters.items() if p.dated_by is None)
    # Locals by position: a parameter's YAML key need not be a Python identifier.
    param_locals = {name: f"p{i}" for i, name in enumerate(benefit.parameters)}
    in_force = frozenset(param_locals[n] for n in by_date)  # looked up by date: never UNKNOWN
    emitter = Emitter(FACTS, set(benefit.parameters), fact_ref, param_locals.__getitem__, namespace, "v", in_force)
    lines: list[str] = []
    # Parameters: those dated by a fact are computed per call; the others come from the per-date cache.
    if by_date:
        params = _ParamsByDate(benefit, by_date)
        namespace["_params_cache"], namespace["_params_fill"] = params.cache, params.fill
        lines += [
            "    values = _params_cache.get(on)",
            "    if values is None:",
            "        values = _params_fill(on)",
            f"    ({''.join(f'{param_locals[n]}, ' for n in by_date)}) = values",
        ]
    for name, parameter in dated.items():
        assert parameter.dated_by is not None
        local = param_locals[name]
        namespace[f"_dated_{local}"] = _dated_value(parameter.starts, parameter.values)
        lines.append(f"    {local} = _dated_{local}({fact_ref(parameter.dated_by)})")
    # Conditions: each sets its trace entry and the two flags the verdict depends on.
    lines += ["    failed = False", "    unknown = False", "    code = 0"]
    traces = []
    for index, condition in enumerate(benefit.conditions):
        emitter.lines = []
        value = emitter.emit(parse(condition.expression.evaluable), 1)
        lines += emitter.lines
        for holds in (True, False, None):
            namespace[f"_o{index}_{holds}"] = ConditionOutcome(
                condition.expression.source, holds, condition.reason, condition.reference
            )
        namespace[f"_facts{index}"] = _asked(condition.expression.facts, benefit)
        # `code` numbers the outcomes in base 3 (true 0, false 1, unknown 2) for the interning key below.
        lines += [
            f"    if {value} is {UNKNOWN_NAME}:",
            f"        t{index} = _o{index}_None",
            "        unknown = True",
            f"        code += {2 * 3**index}",
            f"    elif {value}:",
            f"        t{index} = _o{index}_True",
            "    else:",
            f"        t{index} = _o{index}_False",
            "        failed = True",
            f"        code += {3**index}",
        ]
        traces.append(f"t{index}, ")
    lines += [
        "    amount = None",
        "    missing = ()",
        "    if failed:",  # a failed condition decides; what is unknown no longer matters
        "        verdict = _NOT_ELIGIBLE",
        "    else:",
        "        absent = None",
        "        verdict = _ELIGIBLE",
        "        if unknown:",
        "            verdict = _UNDETERMINED",
        "            absent = set()",
    ]
    for index in range(len(benefit.conditions)):
        lines += [
            f"            if t{index} is _o{index}_None:",
            f"                absent.update([asked for f, asked in _facts{index} if f not in facts])",
        ]
    if benefit.amount is not None:
        emitter.lines = []
        amount = emitter.emit(parse(benefit.amount.evaluable), 2)
        namespace["_amount_facts"] = _asked(benefit.amount.facts, benefit)
        lines += emitter.lines
        lines += [
            f"        if {amount} is {UNKNOWN_NAME}:",
            "            absent = (absent or set()) | {asked for f, asked in _amount_facts if f not in facts}",
            "            verdict = _UNDETERMINED",
            "        else:",
            f"            amount = int({amount})",
        ]
    lines += ["        if absent:", "            missing = tuple(sorted(absent))"]
    # Deadlines: the last days of periods, unknown (left out) without the dates they count from. Their dates go
    # into the interning key; the DatedDeadline values are only built for a decision not seen before.
    ends = []
    lines.append("    deadline = None")
    for index, declared in enumerate(benefit.deadlines):
        emitter.lines = []
        end = emitter.emit(parse(declared.end.evaluable), 1)
        lines += emitter.lines
        lines.append(f"    e{index} = {end}")
        ends.append(f"e{index}, ")
        if declared.kind in ENDS_THE_OFFER:
            lines.append(f"    deadline = None if e{index} is {UNKNOWN_NAME} else e{index}")
    lines.append(f"    ends = ({''.join(ends)})")
    namespace["_declared"] = tuple((d.kind, d.period) for d in benefit.deadlines)
    namespace["_dated"] = DatedDeadline
    # Decisions are immutable values, and most evaluations on a day end in one of a few: equal ones are
    # interned (the key determines every field: the verdict follows from the outcomes and whether the amount
    # is known). A new one is filled in directly rather than through the frozen dataclass __init__, whose seven
    # object.__setattr__ calls cost more than the rule itself; it is the same object once returned.
    namespace["_interned"] = {}
    lines += [
        "    key = (on, code, amount, ends, missing)",
        "    decision = _interned.get(key)",
        "    if decision is None:",
        "        decision = _new(_Decision)",
        "        fields = decision.__dict__",
        "        fields['benefit'] = _benefit",
        "        fields['on'] = on",
        "        fields['eligibility'] = verdict",
        "        fields['amount_krw'] = amount",
        "        fields['deadline'] = deadline",
        "        fields['deadlines'] = tuple(",
        f"            _dated(k, p, e) for (k, p), e in zip(_declared, ends) if e is not {UNKNOWN_NAME}",
        "        )",
        "        fields['missing'] = missing",
        f"        fields['trace'] = ({''.join(traces)})",
        f"        if len(_interned) >= {_MAX_INTERNED}:",
        "            _interned.clear()",
        "        _interned[key] = decision",
        "    return decision",
    ]
    # Facts are read once, up front: reading a mapping has no effect, so laziness would buy nothing.
    # A declared assumption stands in for an unknown fact (a literal: int, str or bool, so repr is its source).
    assumed = {name: repr(a.value) for name, a in benefit.assumptions.items()}
    reads = [
        f"    {local} = facts.get({name!r}, {assumed.get(name, UNKNOWN_NAME)})" for name, local in fact_locals.items()
    ]
    code = "def _decide(facts, on):\n" + "\n".join([*reads, *lines]) + "\n"
    exec(compile(code, f"<benefit: {benefit.id}>", "exec"), namespace)  # only validated names and literals
    decide: _Decide = namespace["_decide"]
    return decide


def _asked(facts: frozenset[str], benefit: Benefit) -> tuple[tuple[str, str], ...]:
    """(fact read, fact to report when it is absent): a derived fact is missing because its source is; a fact
    with a declared assumption is never missing."""
    return tuple((f, to_ask_for(f)) for f in sorted(facts) if f not in benefit.assumptions)
