"""The pure domain: life events update profiles and become offers, corrections and retractions."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest

from entitlements import CATALOG_DIR
from entitlements.households import Citizen, Household
from entitlements.lifecycle import EntitlementStatus
from entitlements.matching import OpenEntitlement, Outcome, ProfileBook, ProfileContradiction, handle
from events.cloudevents import CloudEvent
from events.contracts import validate
from rules_engine.loader import load_catalog

CATALOG = load_catalog(CATALOG_DIR)
S = EntitlementStatus


def event(event_type: str, source: str, data: dict[str, Any], event_id: str = "e1") -> Any:
    return validate(CloudEvent(id=event_id, source=source, specversion="1.0", type=event_type, data=data))


def birth(mother: str = "m1", father: str | None = "f1", order: int = 1, code: str = "41110", born: str = "2024-03-01"):
    parents = [{"id": mother, "role": "mother"}] + ([{"id": father, "role": "father"}] if father else [])
    return event("kr.go.mois.birth.registered", f"/agencies/mois/registry/{code}", {
        "child": {"id": "c1", "birth_date": born}, "parents": parents, "birth_order": order,
        "municipality_code": code, "registered_on": "2024-03-05"})  # fmt: skip


def suwon_family(since: date | None = date(2020, 1, 1)) -> Household:
    household = Household("hh-1", "41110", since)
    for pid in ("m1", "f1"):
        household.members[pid] = Citizen(pid, "hh-1", "parent", date(1990, 1, 1))
    return household


def book_of(household: Household, open_entitlements: list[OpenEntitlement] | None = None) -> ProfileBook:
    return ProfileBook({m: household for m in household.members}, open_entitlements or [])


def offers_by_benefit(outcome: Outcome) -> dict[str, Any]:
    return {o.benefit_id: o for o in outcome.offers}


def test_birth_offers_go_to_both_parents_in_one_notification_each() -> None:
    outcome = handle(birth(order=2), book_of(suwon_family()), CATALOG)
    offers = offers_by_benefit(outcome)
    assert offers["suwon_birth_grant"].amount_krw == 500_000
    assert offers["first_meeting_voucher"].recipients == ("m1", "f1")
    assert sorted(n.recipient_id for n in outcome.notifications) == ["f1", "m1"]
    assert all(set(n.offer_ids) == {o.id for o in outcome.offers} for n in outcome.notifications)


def test_unknown_residence_is_undetermined_and_waits_for_review_not_a_push() -> None:
    outcome = handle(birth(order=2), book_of(suwon_family(since=None)), CATALOG)
    grant = offers_by_benefit(outcome)["suwon_birth_grant"]
    assert grant.status is S.PENDING_REVIEW and grant.missing == ("household.months_resident",)
    assert grant.amount_krw == 500_000  # what it would be: the caseworker sees the stake
    assert all(grant.id not in n.offer_ids for n in outcome.notifications)


def test_conflicting_kepco_discounts_offer_only_one() -> None:
    offers = offers_by_benefit(handle(birth(order=3), book_of(suwon_family()), CATALOG))
    assert ("kepco_birth_household_discount" in offers) != ("kepco_multi_child_discount" in offers)


def test_death_of_unknown_citizen_contradicts_the_profile() -> None:
    death = event("kr.go.mois.death.registered", "/agencies/mois/registry/41110", {
        "deceased": {"id": "x9", "birth_date": "1950-01-01", "death_date": "2024-05-01"},
        "municipality_code": "41110", "registered_on": "2024-05-02"})  # fmt: skip
    with pytest.raises(ProfileContradiction, match="unknown"):
        handle(death, book_of(suwon_family()), CATALOG)


def test_death_retracts_the_deceased_offers_and_never_addresses_them() -> None:
    household = suwon_family()
    open_offer = OpenEntitlement("o1", "child_allowance", "f1", "hh-1", S.NOTIFIED, 100_000)
    death = event("kr.go.mois.death.registered", "/agencies/mois/registry/41110", {
        "deceased": {"id": "f1", "birth_date": "1990-01-01", "death_date": "2024-05-01"},
        "municipality_code": "41110", "registered_on": "2024-05-02"})  # fmt: skip
    outcome = handle(death, book_of(household, [open_offer]), CATALOG)
    assert [(c.entitlement_id, c.status) for c in outcome.status_changes] == [("o1", S.RETRACTED)]
    assert outcome.deceased == ["f1"]
    assert household.members["f1"].facts["deceased_on"] == date(2024, 5, 1)
    assert all(n.recipient_id != "f1" for n in outcome.notifications)
    assert all("f1" not in o.recipients for o in outcome.offers)


def test_moving_out_of_suwon_retracts_the_suwon_grant() -> None:
    household = suwon_family()
    book = book_of(household)
    first = handle(birth(order=2), book, CATALOG)
    grant = offers_by_benefit(first)["suwon_birth_grant"]
    book.open.update({o.id: OpenEntitlement(o.id, o.benefit_id, o.beneficiary_id, o.household_id, o.status,
                                            o.amount_krw) for o in first.offers})  # fmt: skip
    move = event("kr.go.mois.address.moved", "/agencies/mois/registry/11650", {
        "movers": ["m1", "f1", "c1"], "from_municipality_code": "41110", "to_municipality_code": "11650",
        "moved_on": "2024-06-01", "registered_on": "2024-06-03"}, event_id="e2")  # fmt: skip
    outcome = handle(move, book, CATALOG)
    retracted = {c.entitlement_id for c in outcome.status_changes if c.status is S.RETRACTED}
    assert grant.id in retracted
    voucher = offers_by_benefit(first)["first_meeting_voucher"]
    assert voucher.id not in retracted  # national benefits move with the family
    assert household.municipality_code == "11650" and household.facts["previous_municipality_code"] == "41110"


# The first-birthday correction of 부모급여 (1,000,000 → 500,000 KRW) is proven end to end, driven by the scheduler's
# own expiry and milestone jobs on a real database (tests/e2e/test_life_events_end_to_end.py), not by an offer whose
# status is set by hand; the pure re-check of a milestone is in tests/entitlements/test_milestone_household_offers.py.


def test_application_received_closes_the_loop() -> None:
    household = suwon_family()
    household.members["c1"] = Citizen("c1", "hh-1", "child", date(2024, 3, 1), 1)
    open_offer = OpenEntitlement("o1", "child_allowance", "c1", "hh-1", S.NOTIFIED, 100_000)
    received = event("kr.go.mohw.application.received", "/agencies/mohw/bokjiro", {
        "benefit_id": "child_allowance", "citizen_id": "m1", "received_on": "2024-03-10"})  # fmt: skip
    outcome = handle(received, book_of(household, [open_offer]), CATALOG)
    assert [(c.entitlement_id, c.status) for c in outcome.status_changes] == [("o1", S.APPLIED)]


def test_a_corrected_registration_changes_amounts_adds_and_retracts_offers() -> None:
    household = suwon_family()
    book = book_of(household)
    first = handle(birth(order=1), book, CATALOG)
    book.open.update({o.id: OpenEntitlement(o.id, o.benefit_id, o.beneficiary_id, o.household_id, o.status,
                                            o.amount_krw) for o in first.offers})  # fmt: skip
    original = offers_by_benefit(first)
    assert original["first_meeting_voucher"].amount_krw == 2_000_000 and "suwon_birth_grant" not in original

    corrected = handle(_birth_with_id(order=2, event_id="e1-corrected"), book, CATALOG)
    changed = offers_by_benefit(corrected)
    assert changed["first_meeting_voucher"].amount_krw == 3_000_000
    assert changed["first_meeting_voucher"].corrects_id == original["first_meeting_voucher"].id
    assert changed["suwon_birth_grant"].amount_krw == 500_000 and changed["suwon_birth_grant"].corrects_id is None
    assert "child_allowance" not in changed  # unchanged: nothing new to say
    retracted = {c.entitlement_id for c in corrected.status_changes if c.status is S.RETRACTED}
    assert original["first_meeting_voucher"].id in retracted and original["child_allowance"].id not in retracted


def _birth_with_id(order: int, event_id: str) -> Any:
    return event("kr.go.mois.birth.registered", "/agencies/mois/registry/41110", {
        "child": {"id": "c1", "birth_date": "2024-03-01"}, "parents": [{"id": "m1", "role": "mother"},
        {"id": "f1", "role": "father"}], "birth_order": order, "municipality_code": "41110",
        "registered_on": "2024-03-05"}, event_id=event_id)  # fmt: skip


@pytest.mark.parametrize("seen_as", [S.MATCHED, S.NOTIFIED, S.VIEWED])
def test_a_correction_judges_the_decision_not_how_far_dispatch_got(seen_as: EntitlementStatus) -> None:
    """Whether the first push had already gone out (notified, viewed) must not decide whether an unchanged offer is
    retracted and offered again: the same correction gives the same answer at any point of the lifecycle."""
    household = suwon_family()
    book = book_of(household)
    first = handle(birth(order=1), book, CATALOG)
    book.open.update({o.id: OpenEntitlement(o.id, o.benefit_id, o.beneficiary_id, o.household_id,
                                            seen_as if o.status is S.MATCHED else o.status, o.amount_krw)
                      for o in first.offers})  # fmt: skip
    original = offers_by_benefit(first)
    corrected = handle(_birth_with_id(order=2, event_id="e1-corrected"), book, CATALOG)
    changed = offers_by_benefit(corrected)
    retracted = {c.entitlement_id for c in corrected.status_changes if c.status is S.RETRACTED}
    assert "child_allowance" not in changed and original["child_allowance"].id not in retracted
    assert changed["first_meeting_voucher"].corrects_id == original["first_meeting_voucher"].id
