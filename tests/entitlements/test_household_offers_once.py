"""A household benefit is offered once per household: twins registered together get one KEPCO newborn discount."""

from __future__ import annotations

from typing import Any

from entitlements.lifecycle import EntitlementStatus
from entitlements.matching import OpenEntitlement, handle
from tests.entitlements.test_life_events import CATALOG, book_of, event, suwon_family

KEPCO = "kepco_birth_household_discount"


def twin(child: str, order: int) -> Any:
    return event(
        "kr.go.mois.birth.registered",
        "/agencies/mois/registry/41110",
        {
            "child": {"id": child, "birth_date": "2024-03-01"},
            "parents": [{"id": "m1", "role": "mother"}, {"id": "f1", "role": "father"}],
            "birth_order": order,
            "municipality_code": "41110",
            "registered_on": "2024-03-05",
        },
        event_id=f"birth-{child}",
    )


def kepco_offers(outcome: Any) -> list[Any]:
    return [o for o in outcome.offers if o.benefit_id == KEPCO]


def test_twins_in_one_batch_get_one_household_discount() -> None:
    book = book_of(suwon_family())
    first, second = handle(twin("c1", 1), book, CATALOG), handle(twin("c2", 2), book, CATALOG)
    [discount] = kepco_offers(first)
    assert discount.beneficiary_id == "hh-1"
    assert kepco_offers(second) == []
    # Each child's own offers stay: one first-meeting voucher per child.
    assert [o.beneficiary_id for o in second.offers if o.benefit_id == "first_meeting_voucher"] == ["c2"]


def test_a_household_holding_the_discount_is_not_offered_it_again() -> None:
    held = OpenEntitlement("k1", KEPCO, "hh-1", "hh-1", EntitlementStatus.NOTIFIED, 16_000)
    outcome = handle(twin("c2", 2), book_of(suwon_family(), [held]), CATALOG)
    assert kepco_offers(outcome) == []
