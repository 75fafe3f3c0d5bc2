"""OpenFisca-style YAML test cases for the catalog: situation, date, expected outcome (used by pytest and the CLI)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import yaml

from rules_engine.catalog import Catalog
from rules_engine.evaluation import evaluate_benefit
from rules_engine.facts import check_types, situation


@dataclass(frozen=True)
class Case:
    file: str
    name: str
    benefit: str
    period: date
    input: dict[str, Any]
    output: dict[str, Any]


@dataclass(frozen=True)
class CaseResult:
    case: Case
    failures: tuple[str, ...]

    @property
    def passed(self) -> bool:
        return not self.failures


def read_cases(directory: Path) -> Iterator[Case]:
    for path in sorted(directory.glob("*.yaml")):
        for raw in yaml.safe_load(path.read_text(encoding="utf-8")) or []:
            yield Case(path.name, raw["name"], raw["benefit"], raw["period"], raw.get("input") or {}, raw["output"])


def run_case(catalog: Catalog, case: Case) -> CaseResult:
    benefit = catalog.benefits.get(case.benefit)
    if benefit is None:
        return CaseResult(case, (f"unknown benefit '{case.benefit}'",))
    problems = check_types(case.input)
    if problems:
        return CaseResult(case, tuple(problems))
    decision = evaluate_benefit(benefit, situation(case.input, case.period), case.period)
    expected = case.output
    got = {
        "eligibility": decision.eligibility.value,
        "amount_krw": decision.amount_krw,
        "deadline": decision.deadline,
        "missing": list(decision.missing),
    }
    failures = []
    for key in ("eligibility", "amount_krw", "deadline", "missing"):
        if key not in expected:
            continue
        want = sorted(expected[key]) if key == "missing" else expected[key]
        if got[key] != want:
            failures.append(f"{key}: expected {want!r}, got {got[key]!r}")
    # `deadlines: {<kind>: <last day> | null}`: each kind named is checked (null: no such deadline is told).
    by_kind = {d.kind.value: d.last_day for d in decision.deadlines}
    for kind, want in (expected.get("deadlines") or {}).items():
        if by_kind.get(kind) != want:
            failures.append(f"deadlines.{kind}: expected {want!r}, got {by_kind.get(kind)!r}")
    return CaseResult(case, tuple(failures))
