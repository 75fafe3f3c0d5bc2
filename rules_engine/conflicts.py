"""Mutually exclusive benefits, declared in the catalog, resolved by a declared policy.

`better`: only the more valuable offer is made (a year of a monthly benefit against a one-off amount).
`choice`: every offer is made, each saying the citizen must choose one of them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from rules_engine.eligibility import Eligibility
from rules_engine.worth import yearly_worth

if TYPE_CHECKING:  # evaluation imports the catalog, which imports this module
    from rules_engine.evaluation import Decision

POLICIES = frozenset({"better", "choice"})


@dataclass(frozen=True)
class Conflict:
    benefits: tuple[str, ...]
    policy: str
    reason: dict[str, str]
    reference: str


def yearly_value(decision: Decision) -> int:
    return yearly_worth(decision.amount_krw, decision.benefit.payment)


def resolve_conflicts(
    conflicts: Sequence[Conflict], decisions: Sequence[Decision]
) -> tuple[list[Decision], dict[str, dict[str, str]]]:
    """The decisions to offer, and for `choice` conflicts a note per benefit to add to its reason."""
    eligible = {d.benefit.id: d for d in decisions if d.eligibility is Eligibility.ELIGIBLE}
    dropped: set[str] = set()
    notes: dict[str, dict[str, str]] = {}
    for conflict in conflicts:
        present = [eligible[b] for b in conflict.benefits if b in eligible and b not in dropped]
        if len(present) < 2:
            continue
        if conflict.policy == "better":
            best = max(present, key=lambda d: (yearly_value(d), -conflict.benefits.index(d.benefit.id)))
            dropped.update(d.benefit.id for d in present if d is not best)
        else:
            others = {d.benefit.id: [o.benefit.name for o in present if o is not d] for d in present}
            for benefit_id, names in others.items():
                ko_names = ", ".join(n["ko"] for n in names)
                en_names = ", ".join(n["en"] for n in names)
                notes[benefit_id] = {
                    "ko": f"({ko_names}와(과) 함께 받을 수 없어 하나를 선택해야 해요: {conflict.reason['ko']})",
                    "en": f"(cannot be combined with {en_names}; choose one: {conflict.reason['en']})",
                }
    return [d for d in decisions if d.benefit.id not in dropped], notes


def load_conflicts(path: Path, benefit_ids: Mapping[str, object]) -> tuple[Conflict, ...]:
    from rules_engine.yaml_source import CatalogError, read_yaml

    if not path.exists():
        return ()
    raw = read_yaml(path) or []
    if not isinstance(raw, list):
        raise CatalogError(f"{path}: a list of conflicts is expected")
    conflicts = []
    for index, item in enumerate(raw):
        where = f"{path}: conflict #{index + 1}"
        if not isinstance(item, dict) or not {"benefits", "policy", "reason", "reference"} <= set(item):
            raise CatalogError(f"{where}: needs benefits, policy, reason and reference")
        unknown = [b for b in item["benefits"] if b not in benefit_ids]
        if unknown or len(item["benefits"]) < 2:
            raise CatalogError(f"{where}: unknown benefits {unknown} (or fewer than two)")
        if item["policy"] not in POLICIES:
            raise CatalogError(f"{where}: policy must be one of {sorted(POLICIES)}")
        conflicts.append(Conflict(tuple(item["benefits"]), item["policy"], dict(item["reason"]), item["reference"]))
    return tuple(conflicts)
