"""The facts the rules read about one subject in one household, on a date (pure)."""

from __future__ import annotations

from datetime import date
from typing import Any

from entitlements.households import HOUSEHOLD_FACTS, PERSON_FACTS, Citizen, Household

_CHILD_AGE_LIMIT = 19  # a "child" for household counts: under 19 (아동복지법 제3조)


def profile_facts(household: Household, subject: Citizen, on: date) -> dict[str, Any]:
    """Base facts (derived ones such as ages are added by the engine). Unknown facts are simply absent."""
    living = household.living()
    facts: dict[str, Any] = {
        "household.municipality_code": household.municipality_code,
        "household.months_resident": household.months_resident(on),
        "household.members_count": len(living),
        "person.birth_date": subject.birth_date,
    }
    for name in HOUSEHOLD_FACTS:
        facts[f"household.{name}"] = household.facts.get(name)
    for name in PERSON_FACTS:
        if name != "is_couple":
            facts[f"person.{name}"] = subject.facts.get(name)
    # The registry records "lives with a spouse" on the person; the rules read it as a household fact.
    facts["household.is_couple"] = subject.facts.get("is_couple")
    ages = [c.age_years(on) for c in living if c.role == "child"]
    if all(a is not None for a in ages):  # one unknown birth date makes the count unknown, not smaller
        facts["household.children_count"] = sum(1 for a in ages if a is not None and a < _CHILD_AGE_LIMIT)
    if subject.role == "child":
        facts["child.birth_date"] = subject.birth_date
        facts["child.birth_order"] = subject.birth_order
    return {name: value for name, value in facts.items() if value is not None}
