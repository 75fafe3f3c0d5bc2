"""Evaluating benefits against a situation on a date: eligibility, amount, deadline and a trace."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from rules_engine.catalog import Benefit, Catalog
from rules_engine.eligibility import Eligibility
from rules_engine.expressions import UNKNOWN
from rules_engine.facts import situation


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


def evaluate(catalog: Catalog, event_type: str, base_facts: Mapping[str, Any], on: date) -> list[Decision]:
    """Every benefit the event type triggers and the law in force on `on` knows, decided for these facts."""
    facts = situation(base_facts, on)
    return [evaluate_benefit(b, facts, on) for b in catalog.by_trigger.get(event_type, ()) if b.in_force(on)]


def evaluate_benefit(benefit: Benefit, facts: Mapping[str, Any], on: date) -> Decision:
    params = benefit.params_at(on, facts)
    trace = []
    missing: set[str] = set()
    verdict = Eligibility.ELIGIBLE
    for condition in benefit.conditions:
        value = condition.expression.evaluate(facts, params)
        if value is UNKNOWN:
            missing.update(f for f in condition.expression.facts if f not in facts)
            trace.append(ConditionOutcome(condition.expression.source, None, condition.reason, condition.reference))
            if verdict is Eligibility.ELIGIBLE:
                verdict = Eligibility.UNDETERMINED
        else:
            holds = bool(value)
            trace.append(ConditionOutcome(condition.expression.source, holds, condition.reason, condition.reference))
            if not holds:
                verdict = Eligibility.NOT_ELIGIBLE
    if verdict is Eligibility.NOT_ELIGIBLE:
        missing.clear()  # a failed condition decides; what is unknown no longer matters
    amount = None
    if benefit.amount is not None and verdict is not Eligibility.NOT_ELIGIBLE:
        value = benefit.amount.evaluate(facts, params)
        if value is UNKNOWN:
            missing.update(f for f in benefit.amount.facts if f not in facts)
            verdict = Eligibility.UNDETERMINED
        else:
            amount = int(value)
    return Decision(benefit, on, verdict, amount, _deadline(benefit, facts), tuple(sorted(missing)), tuple(trace))


def _deadline(benefit: Benefit, facts: Mapping[str, Any]) -> date | None:
    if benefit.deadline is None:
        return None
    start = facts.get(benefit.deadline.from_fact)
    return start + timedelta(days=benefit.deadline.days) if isinstance(start, date) else None
