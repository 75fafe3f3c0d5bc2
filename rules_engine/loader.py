"""Loading the benefit catalog from YAML, all or nothing, with errors that name the file and line."""

from __future__ import annotations

import ast
import copy
from collections.abc import Mapping
from dataclasses import replace
from datetime import date
from pathlib import Path
from typing import Any

from rules_engine import grant_tables
from rules_engine.catalog import (
    PAYMENTS,
    RECIPIENTS,
    Agency,
    Assumption,
    Benefit,
    Catalog,
    Condition,
    Deadline,
    LegalReference,
    Period,
    load_agencies,
)
from rules_engine.categories import ConsentCategory, is_category
from rules_engine.conflicts import load_conflicts
from rules_engine.deadlines import ENDS_THE_OFFER, MOVES_ON_HOLIDAY, DeadlineKind
from rules_engine.expressions import (
    PERIOD_FUNCTIONS,
    CompiledExpression,
    ExpressionError,
    compile_expression,
    dotted,
    parse,
)
from rules_engine.facts import DERIVED, FACTS
from rules_engine.parameters import Parameter
from rules_engine.periods import COUNTING_RULES, END_ON_HOLIDAY
from rules_engine.rounding import CALLS as ROUNDING_CALLS
from rules_engine.rounding import METHODS as ROUNDING_METHODS
from rules_engine.rounding import Rounding
from rules_engine.types import TypeMismatch, infer, value_type
from rules_engine.yaml_source import CatalogError, line_of, read_yaml


class _BenefitReader:
    def __init__(self, path: Path, raw: Any, agencies: Mapping[str, Agency]) -> None:
        self.path, self.raw, self.agencies = path, raw, agencies

    def fail(self, key: str | None, message: str, within: Any = None) -> CatalogError:
        line = line_of(within if within is not None else self.raw, key)
        return CatalogError(f"{self.path}:{line}: {message}")

    def require(self, key: str, kind: type | tuple[type, ...], within: Any = None) -> Any:
        mapping = self.raw if within is None else within
        if key not in mapping:
            return self._missing(key, mapping)
        value = mapping[key]
        if not isinstance(value, kind):
            names = kind.__name__ if isinstance(kind, type) else " or ".join(k.__name__ for k in kind)
            raise self.fail(key, f"'{key}' must be {names}", mapping)
        return value

    def _missing(self, key: str, mapping: Any) -> Any:
        raise self.fail(None, f"missing required key '{key}'", mapping)

    def text(self, key: str, within: Any = None) -> dict[str, str]:
        value = self.require(key, dict, within)
        for lang in ("ko", "en"):
            if not isinstance(value.get(lang), str) or not value[lang].strip():
                raise self.fail(key, f"'{key}' needs non-empty 'ko' and 'en' texts", within)
        texts = {"ko": value["ko"], "en": value["en"]}
        # Vietnamese is optional: a reader falls back to English for a text without it (see catalog.localized).
        if "vi" in value:
            if not isinstance(value["vi"], str) or not value["vi"].strip():
                raise self.fail(key, f"'{key}': 'vi', when given, must be a non-empty text", within)
            texts["vi"] = value["vi"]
        return texts

    def read(self) -> Benefit:
        raw = self.raw
        if not isinstance(raw, dict):
            raise CatalogError(f"{self.path}: a benefit file must be a mapping")
        benefit_id = self.require("id", str)
        agency_id = self.require("agency", str)
        if agency_id not in self.agencies:
            raise self.fail("agency", f"unknown agency '{agency_id}' (declare it in agencies.yaml)")
        written_category = self.require("category", str)
        if not is_category(written_category):
            known = sorted(c.value for c in ConsentCategory)
            raise self.fail("category", f"unknown category '{written_category}'; one of {known}")
        category = ConsentCategory(written_category)
        recipients = self.require("recipients", str)
        if recipients not in RECIPIENTS:
            raise self.fail("recipients", f"recipients must be one of {sorted(RECIPIENTS)}")
        payment = self.require("payment", str)
        if payment not in PAYMENTS:
            raise self.fail("payment", f"payment must be one of {sorted(PAYMENTS)}")
        effective = self.require("effective", dict)
        effective_from = self.require("from", date, effective)
        effective_until = effective.get("until")
        if effective_until is not None and (not isinstance(effective_until, date) or effective_until < effective_from):
            raise self.fail("effective", "effective 'until' must be a date on or after 'from'")
        parameters = self.parameters(effective_from)
        try:
            self.param_types = {n: value_type(p.values, n) for n, p in parameters.items()}
        except TypeMismatch as exc:
            raise self.fail("parameters", str(exc)) from exc
        self.expander = _PeriodExpander()
        self.named_dates: frozenset[str] = frozenset()
        periods = self.periods(set(parameters))
        conditions = tuple(self.condition(c, set(parameters)) for c in self.require("conditions", list))
        amount = None
        rounding = self.rounding() if "rounding" in raw else None
        if payment != "information":
            written = self.require("amount", (str, int))
            if rounding is None:
                amount = self.expression(written, set(parameters), "amount", expect=int)
            else:  # the declared rounding, applied once, here: the amount as written, then rounded
                call = next(name for name, method in ROUNDING_CALLS.items() if method == rounding.method)
                rounded = f"{call}(({written}), {rounding.unit})"
                wrapped = self.expression(rounded, set(parameters), "amount", expect=int)
                amount = replace(wrapped, source=str(written), expanded=wrapped.evaluable)
        elif "amount" in raw or rounding is not None:
            raise self.fail("amount", "an information offer has no amount (and no rounding)")
        assumptions = self.assumptions()
        apply = self.require("apply", dict)
        deadlines = self.deadlines(apply, periods)
        closed_by = raw.get("closed_by") or []
        if not isinstance(closed_by, list) or not all(isinstance(a, str) for a in closed_by):
            raise self.fail("closed_by", "'closed_by' must be a list of agency ids")
        for other in closed_by:
            if other not in self.agencies:
                raise self.fail("closed_by", f"unknown agency '{other}' (declare it in agencies.yaml)")
        legal = self.require("legal_basis", list)
        if not legal:
            raise self.fail("legal_basis", "at least one legal basis is required")
        return Benefit(
            id=benefit_id,
            name=self.text("name"),
            summary=self.text("summary"),
            agency=self.agencies[agency_id],
            category=category,
            triggers=tuple(self.require("triggers", list)),
            recipients=recipients,
            payment=payment,
            effective_from=effective_from,
            effective_until=effective_until,
            legal_basis=tuple(
                LegalReference(self.require("ko", str, ref), self.require("en", str, ref), ref.get("url"))
                for ref in legal
            ),
            source=self.require("source", str),
            unconfirmed=tuple(raw.get("unconfirmed") or ()),
            apply_url=self.require("url", str, apply),
            apply_how=self.text("how", apply),
            deadlines=deadlines,
            periods=periods,
            parameters=parameters,
            conditions=conditions,
            amount=amount,
            file=str(self.path),
            closers=tuple(dict.fromkeys([agency_id, *closed_by])),
            rounding=rounding,
            assumptions=assumptions,
        )

    def rounding(self) -> Rounding:
        spec = self.require("rounding", dict)
        unit, method = self.require("unit", int, spec), self.require("method", str, spec)
        if isinstance(unit, bool) or unit < 1:
            raise self.fail("unit", "rounding: the unit is a whole number of KRW, at least 1", spec)
        if method not in ROUNDING_METHODS:
            raise self.fail("method", f"rounding: unknown method '{method}'; one of {list(ROUNDING_METHODS)}", spec)
        return Rounding(unit, method, self.require("reference", str, spec))

    def assumptions(self) -> dict[str, Assumption]:
        raw = self.raw.get("assume_when_unknown") or {}
        if not isinstance(raw, dict):
            raise self.fail("assume_when_unknown", "'assume_when_unknown' maps facts to {value, reason}")
        result = {}
        for name, spec in raw.items():
            kind = FACTS.get(name)
            if kind is None or name in DERIVED or name == "event.date":
                raise self.fail(name, f"assume_when_unknown: '{name}' is not a given fact", raw)
            if not isinstance(spec, dict) or "value" not in spec:
                raise self.fail(name, f"assume_when_unknown: '{name}' needs a value and a reason", raw)
            value = spec["value"]
            if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
                raise self.fail(name, f"assume_when_unknown: '{name}' is {kind.__name__}", raw)
            result[name] = Assumption(name, value, self.text("reason", spec))
        return result

    def deadlines(self, apply: Any, periods: Mapping[str, Period]) -> tuple[Deadline, ...]:
        """`apply.deadlines: [{period, kind, reference?}, ...]` (or one as `apply.deadline: {period, kind}`)."""
        if "deadline" in apply and "deadlines" in apply:
            raise self.fail("deadlines", "give either 'deadline' (one) or 'deadlines' (a list), not both", apply)
        if apply.get("deadline") is not None:
            entries, key = [apply["deadline"]], "deadline"
        else:
            entries, key = apply.get("deadlines") or [], "deadlines"
        if not isinstance(entries, list):
            raise self.fail(key, "'deadlines' is a list of {period: <name>, kind: <kind>}", apply)
        kinds = sorted(k.value for k in DeadlineKind)
        result: list[Deadline] = []
        for entry in entries:
            if not isinstance(entry, dict) or "period" not in entry:
                raise self.fail(
                    key,
                    "a deadline names one of the benefit's periods ({period: <name>, kind: <kind>}), whose counting "
                    "rule is declared under 'periods:' (days added to a date are no longer accepted)",
                    apply,
                )
            name = self.require("period", str, entry)
            if name not in periods:
                raise self.fail("period", f"unknown period '{name}' (declare it under 'periods:')", entry)
            if "kind" not in entry:
                raise self.fail(
                    "period",
                    f"deadline '{name}' needs a kind, one of {kinds}: what its passing means is the law's, "
                    "never implied (docs/rules-format.md, 'Deadlines and their kinds')",
                    entry,
                )
            raw_kind = self.require("kind", str, entry)
            if raw_kind not in kinds:
                raise self.fail("kind", f"unknown deadline kind '{raw_kind}'; one of {kinds}", entry)
            kind = DeadlineKind(raw_kind)
            if any(d.kind is kind for d in result):
                raise self.fail("kind", f"a second '{kind}' deadline: declare one date per kind", entry)
            if kind in ENDS_THE_OFFER and any(d.kind in ENDS_THE_OFFER for d in result):
                raise self.fail(
                    "kind",
                    "'application_closes' and 'entitlement_ends' both end the offer: declare the one that ends it",
                    entry,
                )
            unknown = set(entry) - {"period", "kind", "reference"}
            if unknown:
                raise self.fail(key, f"unknown deadline keys {sorted(unknown)} (period, kind, reference)", apply)
            reference = entry.get("reference", periods[name].reference)
            if not isinstance(reference, str) or not reference.strip():
                raise self.fail("reference", "a deadline's 'reference' is the provision, as text", entry)
            result.append(Deadline(name, periods[name].end, kind, reference))
        return tuple(result)

    def parameters(self, effective_from: date) -> dict[str, Parameter]:
        result = {}
        for name, spec in (self.raw.get("parameters") or {}).items():
            values = self.require("values", dict, spec)
            if not values or not all(isinstance(k, date) for k in values):
                raise self.fail("values", f"parameter '{name}': values must be keyed by dates (YYYY-MM-DD)", spec)
            for start, value in values.items():
                if isinstance(value, list) and not all(isinstance(i, (int, str)) for i in value):
                    raise self.fail("values", f"parameter '{name}' on {start}: a list holds codes or numbers", spec)
                if isinstance(value, list) and len(set(value)) != len(value):
                    raise self.fail("values", f"parameter '{name}' on {start}: a code is listed twice", spec)
            starts = tuple(sorted(values))
            if starts[0] > effective_from:
                raise self.fail(
                    "values",
                    f"parameter '{name}' has no value on {effective_from}, when the benefit takes effect",
                    spec,
                )
            dated_by = spec.get("dated_by")
            if dated_by is not None and FACTS.get(dated_by) is not date:
                raise self.fail("dated_by", f"parameter '{name}': dated_by must be a date fact", spec)
            result[name] = Parameter(
                name,
                self.text("description", spec),
                self.require("reference", str, spec),
                starts,
                tuple(tuple(values[s]) if isinstance(values[s], list) else values[s] for s in starts),
                dated_by,
            )
        return result

    def periods(self, params: set[str]) -> dict[str, Period]:
        raw = self.raw.get("periods") or {}
        if not isinstance(raw, dict):
            raise self.fail("periods", "'periods' maps period names to their definitions")
        self.named_dates = frozenset(f"periods.{n}.{bound}" for n in raw for bound in ("start", "end"))
        on_holiday: dict[str, str] = {}
        for name, spec in raw.items():
            if not (isinstance(name, str) and name.isidentifier() and name.isascii()):
                raise self.fail("periods", f"period name {name!r} must be a snake_case identifier", raw)
            if not isinstance(spec, dict):
                raise self.fail(name, f"period '{name}' must be a mapping", raw)
            on_holiday[name] = self.end_on_holiday(name, spec)
            try:
                first_day, last_day = self.bounds(name, spec)
            except ExpressionError as exc:
                raise self.fail(None, f"period '{name}': {exc}", spec) from exc
            if END_ON_HOLIDAY[on_holiday[name]].moves:  # 민법 제161조: the last day, moved off a day off
                last_day = _call("_next_working_day", last_day)
            self.expander.declare(name, first_day, last_day)
        result = {}
        for name, spec in raw.items():
            start, end = (
                self.expression(f"periods.{name}.{bound}", params, name, raw, expect=date) for bound in ("start", "end")
            )
            description, reference = self.text("description", spec), self.require("reference", str, spec)
            result[name] = Period(name, description, reference, spec.get("counting"), start, end, on_holiday[name])
        return result

    def end_on_holiday(self, name: str, spec: Any) -> str:
        """The period's `end_on_holiday` (민법 제161조), declared or, when not, the default for the kinds of the
        deadlines that name it: a deadline one acts by moves off a Saturday or 공휴일 (deadlines.MOVES_ON_HOLIDAY)."""
        rules = sorted(END_ON_HOLIDAY)
        if "end_on_holiday" in spec:
            declared = spec["end_on_holiday"]
            if not isinstance(declared, str) or declared not in END_ON_HOLIDAY:
                raise self.fail(
                    "end_on_holiday",
                    f"period '{name}': unknown end_on_holiday {declared!r}; one of {rules} (민법 제161조)",
                    spec,
                )
            return str(declared)
        acted_by = self.deadline_kinds(name) & {kind.value for kind in MOVES_ON_HOLIDAY}
        return "next_working_day" if acted_by else "unchanged"

    def deadline_kinds(self, period: str) -> set[str]:
        """The kinds of the deadlines naming this period, as written (checked later, by `deadlines`)."""
        apply = self.raw.get("apply")
        if not isinstance(apply, dict):
            return set()
        entries = [apply["deadline"]] if apply.get("deadline") is not None else apply.get("deadlines") or []
        if not isinstance(entries, list):
            return set()
        return {str(e.get("kind")) for e in entries if isinstance(e, dict) and e.get("period") == period}

    def bounds(self, name: str, spec: Any) -> tuple[ast.expr, ast.expr]:
        """The first and last day of a period as expression trees (which may name other periods)."""
        start = self.date_tree(self.require("from", (str, dict, date), spec), spec, "from")
        if ("length" in spec) == ("until" in spec):
            raise ExpressionError("give either a 'length' (with its 'counting' rule) or an 'until'")
        if "until" not in spec:
            counting = self.require("counting", str, spec)
            if counting not in COUNTING_RULES:
                raise ExpressionError(f"unknown counting rule '{counting}'; one of {sorted(COUNTING_RULES)}")
            if isinstance(spec["from"], dict) and "turns" not in spec["from"]:
                raise ExpressionError("a period with a length starts on a day: 'from' is a date, not a month")
            days, months = self.length(self.require("length", dict, spec))
            rule = ast.Constant(counting)
            first = _call("_period_first", start, rule)
            return first, _call("_period_end", start, ast.Constant(days), ast.Constant(months), rule)
        if "counting" in spec:
            raise ExpressionError("'counting' belongs to a period with a 'length'; 'until' names the last day")
        return start, self.date_tree(self.require("until", (str, dict, date), spec), spec, "until")

    def length(self, raw: Any) -> tuple[int, int]:
        if len(raw) != 1 or next(iter(raw)) not in ("days", "months", "years"):
            raise ExpressionError("'length' is one of {days: N}, {months: N} or {years: N}")
        unit, count = next(iter(raw.items()))
        if isinstance(count, bool) or not isinstance(count, int) or count < 1:
            raise ExpressionError(f"length: {unit} must be a whole number of at least 1")
        return (count, 0) if unit == "days" else (0, count * (12 if unit == "years" else 1))

    def date_tree(self, raw: Any, within: Any, role: str) -> ast.expr:
        """A day given as data: an expression, a date, "the month of/before/after" a day, or the day one turns N.

        As the first day of a period a month is its first day; as the last day, its last day."""
        if isinstance(raw, date):
            return ast.Call(ast.Name("date"), [ast.Constant(raw.isoformat())], [])
        if isinstance(raw, str):
            self.check_type(raw, date)
            return parse(raw)
        if not isinstance(raw, dict):
            raise ExpressionError(f"'{role}' must be a date, an expression or a mapping")
        if set(raw) == {"turns", "of"}:
            age = raw["turns"]
            if not (isinstance(age, dict) and len(age) == 1 and next(iter(age)) in ("years", "months")):
                raise ExpressionError("'turns' is {years: N} or {months: N} (N a number or an expression)")
            unit, count = next(iter(age.items()))
            if isinstance(count, bool) or not isinstance(count, (int, str)):
                raise ExpressionError(f"turns: {unit} must be a whole number or an expression")
            self.check_type(str(count), int)
            months = parse(str(count))
            if unit == "years":
                months = ast.BinOp(months, ast.Mult(), ast.Constant(12))
            return _call("_turns", self.date_tree(raw["of"], within, role), months)
        shifts = {"month_of": 0, "month_before": -1, "month_after": 1}
        if len(raw) != 1 or next(iter(raw)) not in shifts:
            raise ExpressionError(
                f"'{role}' mapping is one of {{month_of: ...}}, {{month_before: ...}}, {{month_after: ...}} "
                "or {turns: {years: N}, of: ...}"
            )
        key, inner = next(iter(raw.items()))
        shift = ast.Constant(shifts[key]) if shifts[key] >= 0 else ast.UnaryOp(ast.USub(), ast.Constant(1))
        function = "_month_start" if role == "from" else "_month_end"
        return _call(function, self.date_tree(inner, within, role), shift)

    def check_type(self, source: str, expect: type) -> None:
        """A part of a period written as an expression has the type it needs (names checked on expansion)."""
        try:
            kind = infer(source, FACTS, self.param_types, self.named_dates)
        except KeyError as exc:
            raise ExpressionError(f"unknown fact {exc} in '{source}'") from exc
        if kind is not expect:
            shown = kind.__name__ if isinstance(kind, type) else str(kind)
            raise ExpressionError(f"'{source}' must be a {expect.__name__}, not {shown}")

    def condition(self, raw: Any, params: set[str]) -> Condition:
        if not isinstance(raw, dict):
            raise self.fail("conditions", "each condition is a mapping with when, reason and reference")
        return Condition(
            self.expression(self.require("when", str, raw), params, "when", raw, expect=bool),
            self.text("reason", raw),
            self.require("reference", str, raw),
        )

    def expression(
        self, source: str | int, params: set[str], key: str, within: Any = None, expect: type = bool
    ) -> CompiledExpression:
        try:
            tree = parse(str(source))
            if any(isinstance(n, ast.Name) and n.id in PERIOD_FUNCTIONS for n in ast.walk(tree)):
                raise ExpressionError(f"'{source}': declare calendar periods under 'periods:' and name them")
            # Names checked as written first, so an error shows the rule's own text; then with periods expanded.
            compile_expression(str(source), {**FACTS, **dict.fromkeys(self.named_dates, date)}, params)
            kind = infer(str(source), FACTS, self.param_types, self.named_dates)
            uses_periods = any(
                (dotted(n) or "").startswith("periods.") for n in ast.walk(tree) if isinstance(n, ast.Attribute)
            )
            expanded = self.expander.expand(tree) if uses_periods else str(source)
            compiled = compile_expression(expanded, FACTS, params)
        except ExpressionError as exc:
            raise self.fail(key, str(exc), within) from exc
        compiled = replace(compiled, source=str(source), expanded="" if expanded == str(source) else expanded)
        if kind is not expect:
            wanted = {bool: "true or false", int: "a whole number of KRW"}.get(expect, expect.__name__)
            shown = kind.__name__ if isinstance(kind, type) else str(kind)
            raise self.fail(key, f"type mismatch: '{source}' must be {wanted}, not {shown}", within)
        return compiled


def _call(function: str, *args: ast.expr) -> ast.Call:
    return ast.Call(ast.Name(function), list(args), [])


class _PeriodExpander:
    """Writes `periods.<name>.start` / `.end` out as the period functions' calls, periods within periods too."""

    def __init__(self) -> None:
        self._bounds: dict[str, dict[str, ast.expr]] = {}

    def declare(self, name: str, start: ast.expr, end: ast.expr) -> None:
        self._bounds[name] = {"start": start, "end": end}

    def expand(self, tree: ast.expr) -> str:
        source = ast.unparse(self._expand(copy.deepcopy(tree), ()))
        return source

    def _expand(self, tree: ast.expr, within: tuple[str, ...]) -> ast.expr:
        expander = self

        class Replace(ast.NodeTransformer):
            def visit_Attribute(self, node: ast.Attribute) -> ast.AST:
                name = dotted(node) or ""
                if not name.startswith("periods."):
                    return node
                period, _, bound = name.removeprefix("periods.").partition(".")
                if period not in expander._bounds or bound not in ("start", "end"):
                    raise ExpressionError(f"unknown period '{name}' (periods.<name>.start or .end)")
                if period in within:
                    raise ExpressionError(f"period '{period}' is defined in terms of itself")
                return expander._expand(copy.deepcopy(expander._bounds[period][bound]), (*within, period))

        return ast.fix_missing_locations(Replace().visit(tree))


def load_catalog(directory: Path) -> Catalog:
    """Load every benefit under `directory`; any error aborts the whole load (never half a catalog)."""
    agencies = load_agencies(directory / "agencies.yaml")
    benefits: dict[str, Benefit] = {}

    def add(benefit: Benefit, path: Path) -> None:
        if benefit.id in benefits:
            raise CatalogError(f"{path}: duplicate benefit id '{benefit.id}' (also in {benefits[benefit.id].file})")
        benefits[benefit.id] = benefit

    for path in sorted(directory.rglob("*.yaml")):
        if path.name in ("agencies.yaml", "conflicts.yaml", grant_tables.MUNICIPALITIES_FILE):
            continue
        if grant_tables.TABLES_DIR in path.relative_to(directory).parts[:1]:
            continue  # rows of a table, read through its declaration
        raw = read_yaml(path)
        if not grant_tables.is_declaration(raw):
            add(_BenefitReader(path, raw, agencies).read(), path)
            continue
        table = grant_tables.expand(path, raw, directory, agencies)
        agencies = {**agencies, **table.agencies}
        for spec_path, spec in table.specs:
            benefit = _BenefitReader(spec_path, spec.raw, agencies).read()
            add(replace(benefit, table=table.name, places=spec.places, coverage_gap=spec.coverage_gap), spec_path)
    if not benefits:
        raise CatalogError(f"{directory}: no benefit files found")
    return Catalog.of(benefits.values(), agencies, load_conflicts(directory / "conflicts.yaml", benefits))
