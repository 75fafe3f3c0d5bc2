"""The batch service with fakes for its ports (no database, no broker): what it writes, queues, skips and refuses.

The same paths on the real parts: tests/e2e/test_birth_end_to_end.py, tests/entitlements/test_lifecycle_gate.py.
"""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest

from entitlements.batch import LifeEventProcessor, Record
from entitlements.households import Citizen, Household
from entitlements.lifecycle import EntitlementStatus
from entitlements.matching import OpenEntitlement
from events.cloudevents import CloudEvent
from events.privacy import Pseudonymizer
from tests.entitlements.test_life_events import CATALOG
from tests.support.fakes import FakeLoopClosing, FakeOutbox, FakeStore, units_of

S = EntitlementStatus
MOHW = "/agencies/mohw/bokjiro"


@pytest.fixture
def store() -> FakeStore:
    family = Household("hh-1", "41110", date(2020, 1, 1))
    for pid in ("m1", "f1"):
        family.members[pid] = Citizen(pid, "hh-1", "parent", date(1990, 1, 1))
    fakes = FakeStore()
    fakes.seed(family)
    return fakes


@pytest.fixture
def outbox() -> FakeOutbox:
    return FakeOutbox()


@pytest.fixture
def closing() -> FakeLoopClosing:
    return FakeLoopClosing()


@pytest.fixture
def processor(store: FakeStore, outbox: FakeOutbox, closing: FakeLoopClosing) -> LifeEventProcessor:
    return LifeEventProcessor(units_of(store), outbox, closing, CATALOG, Pseudonymizer(b"k" * 32))


def record(event_type: str, source: str, data: dict[str, Any], event_id: str, offset: int = 0) -> Record:
    event = CloudEvent(id=event_id, source=source, specversion="1.0", type=event_type, data=data)
    return Record("life-events", 0, offset, None, event.to_structured(), [])


def birth(event_id: str = "b-1", child: str = "c1", parents: tuple[str, str] = ("m1", "f1")) -> Record:
    return record("kr.go.mois.birth.registered", "/agencies/mois/registry/41110", {
        "child": {"id": child, "birth_date": "2024-03-01"},
        "parents": [{"id": parents[0], "role": "mother"}, {"id": parents[1], "role": "father"}],
        "birth_order": 2, "municipality_code": "41110", "registered_on": "2024-03-05"}, event_id)  # fmt: skip


def death(citizen: str, event_id: str = "d-1") -> Record:
    return record("kr.go.mois.death.registered", "/agencies/mois/registry/41110", {
        "deceased": {"id": citizen, "birth_date": "1990-01-01", "death_date": "2024-05-01"},
        "municipality_code": "41110", "registered_on": "2024-05-02"}, event_id)  # fmt: skip


def granted(event_id: str = "g-1", source: str = MOHW) -> Record:
    return record("kr.go.mohw.benefit.granted", source, {
        "benefit_id": "child_allowance", "citizen_id": "m1", "granted_on": "2024-03-20"}, event_id)  # fmt: skip


def test_a_birth_becomes_offers_and_one_notification_per_parent_in_one_commit(
    processor: LifeEventProcessor, store: FakeStore, outbox: FakeOutbox
) -> None:
    result = processor.process([birth()])

    assert (result.processed, result.dead_letters) == (1, [])
    assert result.offers == len(store.offers) > 0
    assert store.commits == 1
    assert "c1" in store.households["hh-1"].members  # the profile is saved with the child
    assert ("/agencies/mois/registry/41110", "b-1") in store.processed
    assert sorted(i.recipient_id for i in outbox.intents) == ["f1", "m1"]
    assert result.notifications == 2
    for intent in outbox.intents:  # every intent names offers written in the same unit of work
        assert set(intent.offer_ids) <= set(store.offers)
    assert set(outbox.offers_named) == {o.id for o in store.offers.values() if o.status is S.MATCHED}


def test_a_redelivered_event_is_a_duplicate_and_writes_nothing_more(
    processor: LifeEventProcessor, store: FakeStore, outbox: FakeOutbox
) -> None:
    processor.process([birth()])
    offers, intents = dict(store.offers), list(outbox.intents)

    again = processor.process([birth()])
    within = processor.process([birth("b-2", "c2"), birth("b-2", "c2")])  # twice in one batch: once

    assert (again.duplicates, again.processed, again.offers, again.notifications) == (1, 0, 0, 0)
    assert store.offers.keys() > offers.keys() and outbox.intents[: len(intents)] == intents
    assert (within.processed, within.duplicates) == (1, 1)


def test_a_death_of_someone_unknown_contradicts_the_profiles_and_is_dead_lettered_alone(
    processor: LifeEventProcessor, store: FakeStore, outbox: FakeOutbox
) -> None:
    result = processor.process([death("x9"), birth()])

    assert [d.reason for d in result.dead_letters] == [
        "death registered for citizen 'x9', unknown to the profile store"
    ]
    assert result.dead_letters[0].offset == 0
    assert result.processed == 1 and ("/agencies/mois/registry/41110", "d-1") not in store.processed
    assert outbox.cancelled_for == [] and len(outbox.intents) == 2  # the good event of the batch went through


def test_a_forbidden_status_change_is_dead_lettered_and_nothing_of_it_written(
    processor: LifeEventProcessor, store: FakeStore, outbox: FakeOutbox
) -> None:
    store.entitlements["o1"] = OpenEntitlement("o1", "child_allowance", "m1", "hh-1", S.RETRACTED, 100_000)

    result = processor.process([granted()])

    assert len(result.dead_letters) == 1
    assert result.dead_letters[0].reason.startswith("forbidden status change: kr.go.mohw.benefit.granted")
    assert store.entitlements["o1"].status is S.RETRACTED and result.processed == 0
    assert (MOHW, "g-1") not in store.processed


def test_a_grant_from_the_benefits_agency_closes_the_loop(processor: LifeEventProcessor, store: FakeStore) -> None:
    store.entitlements["o1"] = OpenEntitlement("o1", "child_allowance", "m1", "hh-1", S.PENDING_REVIEW, 100_000)

    result = processor.process([granted()])

    assert (result.processed, result.dead_letters) == (1, [])
    assert store.entitlements["o1"].status is S.GRANTED


def test_a_closing_from_a_foreign_agency_is_refused_by_the_loop_closing_policy(
    processor: LifeEventProcessor, store: FakeStore, closing: FakeLoopClosing
) -> None:
    store.entitlements["o1"] = OpenEntitlement("o1", "child_allowance", "m1", "hh-1", S.MATCHED, 100_000)
    closing.foreign_sources.add("/agencies/kepco/billing")

    result = processor.process([granted(source="/agencies/kepco/billing")])

    assert [d.reason for d in result.dead_letters] == ["'/agencies/kepco/billing' may not close the loop"]
    assert store.entitlements["o1"].status is S.MATCHED and result.processed == 0


def test_deaths_cancel_the_deceased_pushes_in_the_same_unit_of_work(
    processor: LifeEventProcessor, store: FakeStore, outbox: FakeOutbox
) -> None:
    store.entitlements["o1"] = OpenEntitlement("o1", "child_allowance", "f1", "hh-1", S.NOTIFIED, 100_000)

    result = processor.process([death("f1")])

    assert result.deceased == ["f1"] and outbox.cancelled_for == ["f1"]
    assert store.entitlements["o1"].status is S.RETRACTED
    assert store.households["hh-1"].members["f1"].deceased
    assert store.commits == 1


def test_nothing_is_queued_when_the_unit_of_work_fails(
    store: FakeStore, outbox: FakeOutbox, closing: FakeLoopClosing
) -> None:
    class Broken(RuntimeError):
        pass

    class FailingOutbox(FakeOutbox):
        def cancel_for(self, unit: Any, deceased: Any) -> int:
            raise Broken("the database went away")

    processor = LifeEventProcessor(units_of(store), FailingOutbox(), closing, CATALOG, Pseudonymizer(b"k" * 32))

    with pytest.raises(Broken):
        processor.process([birth(), death("f1", "d-2")])

    assert store.commits == 0 and store.offers == {} and store.processed == {}
    assert "c1" not in store.households["hh-1"].members


def test_a_record_that_is_no_event_is_dead_lettered_before_the_unit_of_work(
    processor: LifeEventProcessor, store: FakeStore
) -> None:
    result = processor.process([Record("life-events", 0, 7, None, b"{not json", [])])

    assert len(result.dead_letters) == 1 and result.dead_letters[0].offset == 7
    assert store.commits == 0
