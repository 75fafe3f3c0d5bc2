"""The scheduler's milestones re-check household-level offers: a newborn discount ends at the third birthday."""

from __future__ import annotations

from datetime import date
from typing import Any

from entitlements.households import Citizen, Household
from entitlements.lifecycle import EntitlementStatus
from entitlements.matching import OpenEntitlement, handle
from tests.entitlements.test_life_events import CATALOG, book_of, event, suwon_family

S = EntitlementStatus
KEPCO = "kepco_birth_household_discount"


def third_birthday(child: str, born: str, on: str) -> Any:
    return event(
        "kr.go.beforeservice.milestone.reached",
        "/beforeservice/scheduler",
        {"person": {"id": child, "birth_date": born}, "milestone": "child_turns_3", "on": on},
        event_id=f"{child}:child_turns_3",
    )


def family(*children: tuple[str, date]) -> Household:
    household = suwon_family()
    for order, (child, born) in enumerate(children, start=1):
        household.members[child] = Citizen(child, "hh-1", "child", born, order)
    return household


def discount(status: S = S.NOTIFIED) -> OpenEntitlement:
    return OpenEntitlement("k1", KEPCO, "hh-1", "hh-1", status, 16_000)  # beneficiary: the household


def test_the_household_discount_ends_on_the_third_birthday() -> None:
    household = family(("c1", date(2023, 3, 5)))
    outcome = handle(third_birthday("c1", "2023-03-05", "2026-03-05"), book_of(household, [discount()]), CATALOG)
    [change] = [c for c in outcome.status_changes if c.entitlement_id == "k1"]
    assert change.status is S.ENDED  # the right ran its course: not a retraction
    assert "2026-03-04" in change.why


def test_a_younger_child_keeps_the_household_discount() -> None:
    household = family(("c1", date(2023, 3, 5)), ("c2", date(2025, 1, 10)))
    outcome = handle(third_birthday("c1", "2023-03-05", "2026-03-05"), book_of(household, [discount()]), CATALOG)
    assert [c for c in outcome.status_changes if c.entitlement_id == "k1"] == []


def test_the_childs_own_offers_are_re_checked_beside_the_households() -> None:
    """The first-birthday amount of 부모급여 is corrected; the household discount, still due, is left alone."""
    household = family(("c1", date(2024, 3, 1)))
    parental = OpenEntitlement("p1", "parental_benefit", "c1", "hh-1", S.NOTIFIED, 1_000_000)
    milestone = event(
        "kr.go.beforeservice.milestone.reached",
        "/beforeservice/scheduler",
        {"person": {"id": "c1", "birth_date": "2024-03-01"}, "milestone": "child_turns_1", "on": "2025-03-01"},
        event_id="c1:child_turns_1",
    )
    outcome = handle(milestone, book_of(household, [parental, discount()]), CATALOG)
    [corrected] = [o for o in outcome.offers if o.benefit_id == "parental_benefit"]
    assert corrected.amount_krw == 500_000 and corrected.corrects_id == "p1"
    assert [c.entitlement_id for c in outcome.status_changes] == ["p1"]  # the discount still stands at one
