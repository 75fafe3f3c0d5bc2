"""Who a request acts as: roles and the principal (subject, role, scopes) every route checks."""

from __future__ import annotations

from dataclasses import dataclass, field

ROLES = frozenset({"citizen", "agency", "caseworker", "supervisor", "auditor"})
STAFF_ROLES = frozenset({"caseworker", "supervisor"})  # who may read and decide entitlements
CONSOLE_ROLES = frozenset({"caseworker", "supervisor", "auditor"})  # who holds an account (beforeservice.console)


@dataclass(frozen=True)
class Principal:
    subject: str
    role: str
    scopes: dict[str, list[str]] = field(default_factory=dict)  # e.g. {"municipalities": ["41110"]}

    @property
    def sees_personal_data(self) -> bool:
        """Supervisors decide escalations and outreach by name; caseworkers work on masked data."""
        return self.role == "supervisor"

    def covers(self, agency: str, municipality: str | None) -> bool:
        """Whether an entitlement of `agency`'s benefit for a household in `municipality` is within scope."""
        agencies = self.scopes.get("agencies", [])
        municipalities = self.scopes.get("municipalities", [])
        agency_ok = "*" in agencies or agency in agencies
        place_ok = "*" in municipalities or (
            municipality is not None and any(municipality.startswith(p) for p in municipalities)
        )
        return agency_ok and place_ok
