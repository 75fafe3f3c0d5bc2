"""The household profile the rules read: who lives together, where, since when."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

from rules_engine.facts import whole_months_between


@dataclass
class Citizen:
    id: str  # pseudonymous; never a resident registration number
    household_id: str
    role: str  # parent | child | guardian
    birth_date: date | None = None
    birth_order: int | None = None


@dataclass
class Household:
    id: str
    municipality_code: str | None = None
    resident_since: date | None = None  # registered at municipality_code since; None when the registry did not say
    income_percentile: int | None = None
    members: dict[str, Citizen] = field(default_factory=dict)

    def registered_at(self, municipality_code: str) -> None:
        """The registry places the household at a municipality; a change we were not told of voids the date."""
        if self.municipality_code != municipality_code:
            self.municipality_code = municipality_code
            self.resident_since = None

    def months_resident(self, on: date) -> int | None:
        if self.resident_since is None or self.resident_since > on:
            return None
        return whole_months_between(self.resident_since, on)

    def adults(self) -> list[Citizen]:
        return [c for c in self.members.values() if c.role in ("parent", "guardian")]
