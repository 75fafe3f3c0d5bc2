"""The household profile the rules read: who lives together, where, since when, and what registries told us."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Any

from rules_engine.facts import whole_months_between

# Registry facts kept per person / per household (columns of the profile store). None = not told.
PERSON_FACTS = (
    "deceased_on",
    "disability_severity",
    "insured_days",
    "separation_reason",
    "separated_on",
    "average_daily_wage",
    "recognized_income_krw",
    "nps_contribution_months",
    "married_on",
    "is_homeowner",
    "monthly_rent_krw",
    "is_couple",
)
HOUSEHOLD_FACTS = ("previous_municipality_code", "median_income_ratio", "livelihood_recipient", "income_percentile")
ADULT_ROLES = ("parent", "guardian", "head", "spouse", "adult")


@dataclass
class Citizen:
    id: str  # pseudonymous; never a resident registration number
    household_id: str
    role: str  # parent | guardian | child | head | spouse | adult
    birth_date: date | None = None
    birth_order: int | None = None
    facts: dict[str, Any] = field(default_factory=dict)

    @property
    def deceased(self) -> bool:
        return self.facts.get("deceased_on") is not None

    def age_years(self, on: date) -> int | None:
        return None if self.birth_date is None else whole_months_between(self.birth_date, on) // 12


@dataclass
class Household:
    id: str
    municipality_code: str | None = None
    resident_since: date | None = None  # registered at municipality_code since; None when the registry did not say
    members: dict[str, Citizen] = field(default_factory=dict)
    facts: dict[str, Any] = field(default_factory=dict)

    def registered_at(self, municipality_code: str, since: date | None = None) -> None:
        """The registry places the household at a municipality; a change we were not told the date of voids it."""
        if self.municipality_code != municipality_code:
            if self.municipality_code is not None:
                self.facts["previous_municipality_code"] = self.municipality_code
            self.municipality_code = municipality_code
            self.resident_since = since
        elif since is not None and self.resident_since is None:
            self.resident_since = since

    def months_resident(self, on: date) -> int | None:
        if self.resident_since is None or self.resident_since > on:
            return None
        return whole_months_between(self.resident_since, on)

    def living(self) -> list[Citizen]:
        return [c for c in self.members.values() if c.facts.get("deceased_on") is None]

    def adults(self) -> list[Citizen]:
        return [c for c in self.living() if c.role in ADULT_ROLES]
