"""The batch's household lookups are indexed by household (they scanned the whole batch per event: quadratic in the
batch's size) and decide exactly what the scanning version decided, on varied batches: new households, twins,
repeated and corrected registrations, households already holding a household benefit, moves, deaths and closings."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import pytest

from entitlements import matching
from entitlements.households import Household
from entitlements.lifecycle import UNDECIDED, EntitlementStatus
from entitlements.matching import OpenEntitlement, Outcome, ProfileBook, ProfileContradiction, handle
from tests.entitlements.test_life_events import CATALOG, event, suwon_family

S = EntitlementStatus
KEPCO = "kepco_birth_household_discount"


class ScanningBook(ProfileBook):
    """The book as it was before the index: a plain dict of entitlements scanned whole for each lookup, and the
    household benefits of the batch as one set of (household, benefit) pairs scanned whole for each birth."""

    def __init__(self, households: dict[str, Household], open_entitlements: Iterable[OpenEntitlement]) -> None:
        super().__init__(households, ())
        self.open = {e.id: e for e in open_entitlements}  # type: ignore[assignment]
        self.pairs: set[tuple[str, str]] = set()

    def open_for(self, household: Household, *beneficiaries: str) -> list[OpenEntitlement]:
        return [
            e
            for e in self.open.values()
            if e.household_id == household.id
            and e.status in UNDECIDED
            and (not beneficiaries or e.beneficiary_id in beneficiaries)
        ]

    def of_benefit(self, household: Household, benefit_id: str) -> list[OpenEntitlement]:
        return [e for e in self.open.values() if e.household_id == household.id and e.benefit_id == benefit_id]


def scanning_one_per_household(fresh: list[Any], household: Household, book: Any) -> list[Any]:
    """`_one_per_household` before the index, verbatim but for the pairs' attribute name."""
    held = {e.benefit_id for e in book.open_for(household, household.id)}
    held |= {benefit for hh, benefit in book.pairs if hh == household.id}
    kept = [o for o in fresh if o.beneficiary_id != household.id or o.benefit_id not in held]
    book.pairs |= {(household.id, o.benefit_id) for o in kept if o.beneficiary_id == household.id}
    return kept


def birth(n: int, child: str, parents: tuple[str, ...], order: int = 1, event_id: str | None = None) -> Any:
    code = ("41110", "11650", "26440")[n % 3]
    return event("kr.go.mois.birth.registered", f"/agencies/mois/registry/{code}", {
        "child": {"id": child, "birth_date": "2024-03-01"},
        "parents": [{"id": p, "role": role} for p, role in zip(parents, ("mother", "father"), strict=False)],
        "birth_order": order, "municipality_code": code, "registered_on": "2024-03-05"},
        event_id=event_id or f"birth-{child}")  # fmt: skip


def move(movers: list[str], event_id: str) -> Any:
    return event("kr.go.mois.address.moved", "/agencies/mois/registry/11650", {
        "movers": movers, "from_municipality_code": "41110", "to_municipality_code": "11650",
        "moved_on": "2024-06-01", "registered_on": "2024-06-03"}, event_id=event_id)  # fmt: skip


def death(citizen: str, event_id: str) -> Any:
    return event("kr.go.mois.death.registered", "/agencies/mois/registry/41110", {
        "deceased": {"id": citizen, "birth_date": "1990-01-01", "death_date": "2024-05-01"},
        "municipality_code": "41110", "registered_on": "2024-05-02"}, event_id=event_id)  # fmt: skip


def received(citizen: str, benefit: str, event_id: str) -> Any:
    return event("kr.go.mohw.application.received", "/agencies/mohw/bokjiro", {
        "benefit_id": benefit, "citizen_id": citizen, "received_on": "2024-03-10"}, event_id=event_id)  # fmt: skip


def first_batch() -> list[Any]:
    """Births into new households, twins, the same registration twice, a correction, a known household."""
    events = [birth(n, f"c{n}", (f"m{n}", f"f{n}"), order=1 + n % 3) for n in range(12)]
    events += [birth(n, f"{c}{n}", (f"m{n}", f"f{n}"), order=2) for c, n in (("t", 2), ("t", 5), ("u", 5))]  # twins
    events += [birth(4, "c4", ("m4", "f4"), order=1)]  # the same registration again
    events += [birth(7, "c7", ("m7", "f7"), order=3, event_id="birth-c7-corrected")]
    events += [birth(0, "k1", ("m1", "f1"), order=2), birth(0, "k2", ("m1", "f1"), order=3)]  # the Suwon family
    events += [birth(n, f"s{n}", (f"m{n}",), order=1) for n in range(20, 26)]  # single mothers
    return events


def second_batch() -> list[Any]:
    """What follows, against the first batch's offers: moves, deaths, closings, more births, a contradiction."""
    return [
        move(["m3", "f3", "c3"], "move-3"),
        received("m2", "child_allowance", "received-2"),
        birth(2, "c2b", ("m2", "f2"), order=3),  # in a household with an applied entitlement
        death("f6", "death-6"),
        birth(6, "c6b", ("m6", "f6"), order=2),
        received("m5", "first_meeting_voucher", "received-5"),
        death("c5", "death-c5"),  # its applied voucher is not retracted
        death("f6", "death-6-again"),  # already deceased: a contradiction
        move(["m9", "c9"], "move-9"),
        birth(1, "k3", ("m1", "f1"), order=4),
        death("c8", "death-c8"),  # a child holding offers
        move(["m6", "c6", "c6b"], "move-6"),  # out of Suwon, with the Suwon grant just offered
    ]


def known_households() -> dict[str, Household]:
    household = suwon_family()  # m1, f1 in hh-1, holding the KEPCO newborn discount
    return {m: household for m in household.members}


HELD = [OpenEntitlement("k-held", KEPCO, "hh-1", "hh-1", S.NOTIFIED, 16_000)]


def run(book: ProfileBook, events: list[Any]) -> list[tuple[Any, ...]]:
    results: list[tuple[Any, ...]] = []
    for one in events:
        try:
            outcome: Outcome = handle(one, book, CATALOG)
        except ProfileContradiction as contradiction:
            results.append(("contradiction", str(contradiction)))
            continue
        results.append((outcome.offers, outcome.status_changes, outcome.notifications, outcome.deceased))
    return results


def stored(results: list[tuple[Any, ...]]) -> list[OpenEntitlement]:
    """The batch's offers as the next batch loads them from the store (within a batch they are not in `open`)."""
    return [
        OpenEntitlement(o.id, o.benefit_id, o.beneficiary_id, o.household_id, o.status, o.amount_krw)
        for result in results
        if result[0] != "contradiction"
        for o in result[0]
    ]


def both(
    monkeypatch: pytest.MonkeyPatch, events: list[Any], book_of: Callable[[type[ProfileBook]], ProfileBook]
) -> tuple[list[Any], list[Any]]:
    indexed = run(book_of(ProfileBook), events)
    with monkeypatch.context() as patch:
        patch.setattr(matching, "_one_per_household", scanning_one_per_household)
        scanned = run(book_of(ScanningBook), events)
    return indexed, scanned


def test_a_varied_batch_decides_what_the_scanning_version_decided(monkeypatch: pytest.MonkeyPatch) -> None:
    indexed, scanned = both(monkeypatch, first_batch(), lambda kind: kind(known_households(), HELD))
    assert indexed == scanned
    offers = [o for result in indexed if result[0] != "contradiction" for o in result[0]]
    assert len(offers) > 100  # the batch did offer things: the comparison is not between two empty lists
    discounts: dict[str, set[str]] = {}
    for offer in offers:
        if offer.benefit_id == KEPCO:
            discounts.setdefault(offer.household_id, set()).add(offer.id)
    # One household discount per household (twins and triplets too), none to the household holding one. (hh-m7's
    # registration is corrected in the batch that registered it, and a correction sees only stored offers.)
    assert "hh-1" not in discounts and "hh-m5" in discounts
    assert all(len(ids) == 1 for household, ids in discounts.items() if household != "hh-m7")


def test_a_following_batch_against_the_stored_offers_decides_the_same(monkeypatch: pytest.MonkeyPatch) -> None:
    def after_the_first_batch(kind: type[ProfileBook]) -> ProfileBook:
        households = known_households()
        first = run(kind(households, HELD), first_batch())  # the books share the households they change
        return kind(households, HELD + stored(first))

    indexed, scanned = both(monkeypatch, second_batch(), after_the_first_batch)
    assert indexed == scanned
    assert indexed[7][0] == "contradiction"
    changes = [c for result in indexed if result[0] != "contradiction" for c in result[1]]
    assert {S.RETRACTED, S.APPLIED} <= {c.status for c in changes}  # moves, deaths and closings did act


def test_the_index_follows_status_changes_and_a_change_of_household() -> None:
    book = ProfileBook({}, [OpenEntitlement("o1", "b", "p1", "hh-1", S.NOTIFIED, 1)])
    book.open["o1"] = OpenEntitlement("o1", "b", "p1", "hh-2", S.VIEWED, 1)
    book.open.update({"o2": OpenEntitlement("o2", "b", "p2", "hh-1", S.MATCHED, 2)})
    assert [e.id for e in book.open.of_household("hh-1")] == ["o2"]
    assert [(e.id, e.status) for e in book.open.of_household("hh-2")] == [("o1", S.VIEWED)]
    del book.open["o2"]
    assert list(book.open.of_household("hh-1")) == [] and list(book.open) == ["o1"]
