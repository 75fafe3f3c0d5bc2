"""Loading the benefit catalog from YAML, all or nothing, with errors that name the file and line."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import yaml

from rules_engine.conflicts import Conflict, load_conflicts
from rules_engine.expressions import UNKNOWN, CompiledExpression, ExpressionError, compile_expression
from rules_engine.facts import FACTS
from rules_engine.parameters import Parameter
from rules_engine.types import TypeMismatch, infer, value_type

RECIPIENTS = frozenset({"parents", "household", "subject", "next_of_kin"})
PAYMENTS = frozenset({"once", "monthly", "information"})
CATEGORIES = frozenset({"childbirth_childcare", "elderly", "disability", "employment", "housing", "bereavement"})


class CatalogError(ValueError):
    """The catalog cannot be loaded; the message names the file, the line and what is wrong."""


@dataclass(frozen=True)
class Agency:
    id: str
    name: dict[str, str]
    url: str


@dataclass(frozen=True)
class LegalReference:
    ko: str
    en: str
    url: str | None


@dataclass(frozen=True)
class Condition:
    expression: CompiledExpression
    reason: dict[str, str]
    reference: str


@dataclass(frozen=True)
class Deadline:
    from_fact: str
    days: int


@dataclass(frozen=True)
class Benefit:
    id: str
    name: dict[str, str]
    summary: dict[str, str]
    agency: Agency
    category: str
    triggers: tuple[str, ...]
    recipients: str
    payment: str
    effective_from: date
    effective_until: date | None
    legal_basis: tuple[LegalReference, ...]
    source: str
    unconfirmed: tuple[str, ...]
    apply_url: str
    apply_how: dict[str, str]
    deadline: Deadline | None
    parameters: Mapping[str, Parameter]
    conditions: tuple[Condition, ...]
    amount: CompiledExpression | None
    file: str
    # Agencies whose application.received / benefit.granted for this benefit are believed: its own agency first,
    # then those the file lists under `closed_by` (e.g. the service that receives its applications).
    closers: tuple[str, ...] = ()

    def in_force(self, on: date) -> bool:
        return self.effective_from <= on and (self.effective_until is None or on <= self.effective_until)

    def params_at(self, on: date, facts: Mapping[str, Any]) -> dict[str, Any]:
        """Parameter values in force on `on`, or on the date of the fact a parameter is dated by."""
        values = {}
        for name, p in self.parameters.items():
            if p.dated_by is None:
                values[name] = p.at(on)
            else:
                when = facts.get(p.dated_by)
                values[name] = p.at(when) if isinstance(when, date) else UNKNOWN
        return values


@dataclass(frozen=True)
class Catalog:
    benefits: Mapping[str, Benefit]
    agencies: Mapping[str, Agency]
    by_trigger: Mapping[str, tuple[Benefit, ...]] = field(default_factory=dict)
    conflicts: tuple[Conflict, ...] = ()

    @classmethod
    def of(
        cls, benefits: Iterable[Benefit], agencies: Mapping[str, Agency], conflicts: tuple[Conflict, ...] = ()
    ) -> Catalog:
        ordered = sorted(benefits, key=lambda b: b.id)
        index: dict[str, list[Benefit]] = {}
        for benefit in ordered:
            for trigger in benefit.triggers:
                index.setdefault(trigger, []).append(benefit)
        return cls({b.id: b for b in ordered}, agencies, {t: tuple(bs) for t, bs in index.items()}, conflicts)


class _LineLoader(yaml.SafeLoader):
    """A safe loader that remembers the line of every mapping key, for precise error messages."""


def _construct_mapping(loader: _LineLoader, node: yaml.MappingNode) -> dict[str, Any]:
    # YAML lets a later key silently replace an earlier one: two values for one date would be two laws in force.
    seen: dict[object, int] = {}
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=True)
        if key in seen:
            raise yaml.constructor.ConstructorError(
                None,
                None,
                f"duplicate key {key!r} (first on line {seen[key]}): overlapping dates or settings",
                key_node.start_mark,
            )
        seen[key] = key_node.start_mark.line + 1
    mapping = _Lines(loader.construct_mapping(node, deep=True))  # type: ignore[arg-type]
    mapping.lines = {k.value: k.start_mark.line + 1 for k, _ in node.value if isinstance(k, yaml.ScalarNode)}
    mapping.line = node.start_mark.line + 1
    return mapping


class _Lines(dict[str, Any]):
    lines: dict[str, int]
    line: int


_LineLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


def _line(mapping: Any, key: str | None = None) -> int:
    if isinstance(mapping, _Lines):
        return mapping.lines.get(key, mapping.line) if key else mapping.line
    return 0


def read_yaml(path: Path) -> Any:
    try:
        return yaml.load(path.read_text(encoding="utf-8"), Loader=_LineLoader)
    except yaml.YAMLError as exc:
        raise CatalogError(f"{path}: invalid YAML: {exc}") from exc


class _BenefitReader:
    def __init__(self, path: Path, raw: Any, agencies: Mapping[str, Agency]) -> None:
        self.path, self.raw, self.agencies = path, raw, agencies

    def fail(self, key: str | None, message: str, within: Any = None) -> CatalogError:
        line = _line(within if within is not None else self.raw, key)
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
        return {"ko": value["ko"], "en": value["en"]}

    def read(self) -> Benefit:
        raw = self.raw
        if not isinstance(raw, dict):
            raise CatalogError(f"{self.path}: a benefit file must be a mapping")
        benefit_id = self.require("id", str)
        agency_id = self.require("agency", str)
        if agency_id not in self.agencies:
            raise self.fail("agency", f"unknown agency '{agency_id}' (declare it in agencies.yaml)")
        category = self.require("category", str)
        if category not in CATEGORIES:
            raise self.fail("category", f"unknown category '{category}'; one of {sorted(CATEGORIES)}")
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
        conditions = tuple(self.condition(c, set(parameters)) for c in self.require("conditions", list))
        amount = None
        if payment != "information":
            amount = self.expression(self.require("amount", (str, int)), set(parameters), "amount", expect=int)
        elif "amount" in raw:
            raise self.fail("amount", "an information offer has no amount")
        apply = self.require("apply", dict)
        deadline = None
        if apply.get("deadline") is not None:
            d = self.require("deadline", dict, apply)
            from_fact = self.require("from", str, d)
            if FACTS.get(from_fact) is not date:
                raise self.fail("deadline", f"deadline 'from' must be a date fact, not '{from_fact}'", apply)
            deadline = Deadline(from_fact, self.require("days", int, d))
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
            deadline=deadline,
            parameters=parameters,
            conditions=conditions,
            amount=amount,
            file=str(self.path),
            closers=tuple(dict.fromkeys([agency_id, *closed_by])),
        )

    def parameters(self, effective_from: date) -> dict[str, Parameter]:
        result = {}
        for name, spec in (self.raw.get("parameters") or {}).items():
            values = self.require("values", dict, spec)
            if not values or not all(isinstance(k, date) for k in values):
                raise self.fail("values", f"parameter '{name}': values must be keyed by dates (YYYY-MM-DD)", spec)
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
                tuple(values[s] for s in starts),
                dated_by,
            )
        return result

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
            compiled = compile_expression(str(source), FACTS, params)
            kind = infer(str(source), FACTS, self.param_types)
        except ExpressionError as exc:
            raise self.fail(key, str(exc), within) from exc
        if kind is not expect:
            wanted = "true or false" if expect is bool else "a whole number of KRW"
            shown = kind.__name__ if isinstance(kind, type) else str(kind)
            raise self.fail(key, f"type mismatch: '{source}' must be {wanted}, not {shown}", within)
        return compiled


def load_agencies(path: Path) -> dict[str, Agency]:
    raw = read_yaml(path)
    if not isinstance(raw, dict):
        raise CatalogError(f"{path}: must map agency ids to names")
    agencies = {}
    for agency_id, spec in raw.items():
        if not isinstance(spec, dict) or not {"ko", "en", "url"} <= set(spec):
            raise CatalogError(f"{path}:{_line(raw, agency_id)}: agency '{agency_id}' needs ko, en and url")
        agencies[agency_id] = Agency(agency_id, {"ko": spec["ko"], "en": spec["en"]}, spec["url"])
    return agencies


def load_catalog(directory: Path) -> Catalog:
    """Load every benefit under `directory`; any error aborts the whole load (never half a catalog)."""
    agencies = load_agencies(directory / "agencies.yaml")
    benefits: dict[str, Benefit] = {}
    for path in sorted(directory.rglob("*.yaml")):
        if path.name in ("agencies.yaml", "conflicts.yaml"):
            continue
        benefit = _BenefitReader(path, read_yaml(path), agencies).read()
        if benefit.id in benefits:
            raise CatalogError(f"{path}: duplicate benefit id '{benefit.id}' (also in {benefits[benefit.id].file})")
        benefits[benefit.id] = benefit
    if not benefits:
        raise CatalogError(f"{directory}: no benefit files found")
    return Catalog.of(benefits.values(), agencies, load_conflicts(directory / "conflicts.yaml", benefits))
