"""In-memory stand-ins for the ports of entitlements/ports.py: the batch and re-evaluation without a database.

`FakeStore` is the "database" the units of work share; a `FakeUnitOfWork` reads copies of it and applies what it
was given only on `commit`, and the `FakeOutbox` queues into the unit it is handed, so that an uncommitted unit
leaves no notification behind either (the transactional outbox, as the SQL adapters keep it).
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from types import TracebackType
from typing import Self

from entitlements.households import Household
from entitlements.lifecycle import CLOSABLE, UNDECIDED, transition
from entitlements.matching import NotificationIntent, Offer, OpenEntitlement, StatusChange
from entitlements.ports import EventKey, ProcessedEvent, UnitOfWork
from events.applications import ApplicationReceived, BenefitGranted
from events.contracts import LifeEvent
from events.errors import FieldError, InvalidEvent
from rules_engine.catalog import Catalog


@dataclass
class FakeStore:
    households: dict[str, Household] = field(default_factory=dict)  # by household id
    entitlements: dict[str, OpenEntitlement] = field(default_factory=dict)  # by id
    offers: dict[str, Offer] = field(default_factory=dict)  # the offers written, by id
    created_at: dict[str, datetime] = field(default_factory=dict)  # when each entitlement was first written
    processed: dict[EventKey, ProcessedEvent] = field(default_factory=dict)
    commits: int = 0

    def seed(self, *households: Household) -> None:
        for household in households:
            self.households[household.id] = copy.deepcopy(household)

    def household_of(self, citizen_id: str) -> Household | None:
        return next((h for h in self.households.values() if citizen_id in h.members), None)


class FakeUnitOfWork:
    def __init__(self, store: FakeStore) -> None:
        self.store = store
        self._staged: list[Callable[[], None]] = []
        self.committed = False

    def __enter__(self) -> Self:
        self._staged, self.committed = [], False
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self._staged = []  # uncommitted work is lost

    def on_commit(self, action: Callable[[], None]) -> None:
        self._staged.append(action)

    def commit(self) -> None:
        for action in self._staged:
            action()
        self._staged, self.committed = [], True
        self.store.commits += 1

    def rollback(self) -> None:
        self._staged = []

    def already_processed(self, keys: Sequence[EventKey]) -> set[EventKey]:
        return {key for key in keys if key in self.store.processed}

    def households_of(self, citizen_ids: Iterable[str]) -> dict[str, Household]:
        found: dict[str, Household] = {}  # one copy per household, as the SQL adapter loads it
        by_citizen = {}
        for citizen in set(citizen_ids):
            household = self.store.household_of(citizen)
            if household is not None:
                by_citizen[citizen] = found.setdefault(household.id, copy.deepcopy(household))
        return by_citizen

    def households_by_id(self, household_ids: Iterable[str]) -> dict[str, Household]:
        return {h: copy.deepcopy(self.store.households[h]) for h in household_ids if h in self.store.households}

    def open_entitlements(self, household_ids: Iterable[str], closing: Iterable[str] = ()) -> list[OpenEntitlement]:
        closing = set(closing)
        wanted = set(household_ids)
        return [
            e
            for e in self.store.entitlements.values()
            if e.household_id in wanted and e.status in (CLOSABLE if e.household_id in closing else UNDECIDED)
        ]

    def open_offers_of_benefit(
        self, benefit_id: str, after: str, limit: int, created_before: datetime
    ) -> list[OpenEntitlement]:
        page = sorted(
            (
                e
                for e in self.store.entitlements.values()
                if e.benefit_id == benefit_id
                and e.status in UNDECIDED
                and self.store.created_at.get(e.id, datetime.min.replace(tzinfo=UTC)) < created_before
            ),
            key=lambda e: e.id,
        )
        return [e for e in page if e.id > after][:limit]

    def save(
        self,
        households: Sequence[Household],
        processed: Sequence[ProcessedEvent],
        offers: Sequence[Offer],
        status_changes: Sequence[StatusChange] = (),
    ) -> None:
        households, offers = copy.deepcopy(list(households)), list(offers)
        status_changes = list(status_changes)

        def write() -> None:
            store = self.store
            store.households.update((h.id, h) for h in households)
            store.processed.update(((p.source, p.event_id), p) for p in processed)
            now = datetime.now(UTC)
            for o in offers:
                store.offers[o.id] = o
                store.created_at.setdefault(o.id, now)
                store.entitlements[o.id] = OpenEntitlement(
                    o.id, o.benefit_id, o.beneficiary_id, o.household_id, o.status, o.amount_krw
                )
            for change in status_changes:  # through the lifecycle's gate, as the SQL adapter does
                current = store.entitlements[change.entitlement_id]
                new = transition(current.status, change.status)
                store.entitlements[current.id] = replace(current, status=new)

        self.on_commit(write)


def units_of(store: FakeStore) -> Callable[[], UnitOfWork]:
    return lambda: FakeUnitOfWork(store)


@dataclass
class FakeOutbox:
    """What was queued (once its unit of work committed): the intents, and the deceased whose pushes stop."""

    intents: list[NotificationIntent] = field(default_factory=list)
    offers_named: dict[str, Offer] = field(default_factory=dict)
    cancelled_for: list[str] = field(default_factory=list)
    trace_contexts: dict[tuple[str, str], str] = field(default_factory=dict)

    def add(
        self,
        unit: UnitOfWork,
        intents: Sequence[NotificationIntent],
        offers: Sequence[Offer],
        catalog: Catalog,
        trace_contexts: Mapping[tuple[str, str], str] | None = None,
    ) -> int:
        by_id = {o.id: o for o in offers}
        named = {i: by_id[i] for intent in intents for i in intent.offer_ids}  # KeyError: an intent names no offer
        intents = list(intents)

        def queue() -> None:
            self.intents.extend(intents)
            self.offers_named.update(named)
            self.trace_contexts.update(trace_contexts or {})

        _fake(unit).on_commit(queue)
        return len(intents)

    def cancel_for(self, unit: UnitOfWork, deceased: Sequence[str]) -> int:
        deceased = list(deceased)
        _fake(unit).on_commit(lambda: self.cancelled_for.extend(deceased))
        return 0


def _fake(unit: UnitOfWork) -> FakeUnitOfWork:
    assert isinstance(unit, FakeUnitOfWork), "the fake outbox writes in a fake unit of work"
    return unit


@dataclass
class FakeLoopClosing:
    """Applications and grants close the loop; those from a source in `foreign_sources` are refused."""

    foreign_sources: set[str] = field(default_factory=set)

    def closes_the_loop(self, event: LifeEvent) -> bool:
        return isinstance(event.data, ApplicationReceived | BenefitGranted)

    def refusals(
        self, unit: UnitOfWork, catalog: Catalog, events: Sequence[LifeEvent]
    ) -> Mapping[EventKey, InvalidEvent]:
        return {
            e.envelope.key: InvalidEvent(
                f"'{e.envelope.source}' may not close the loop", [FieldError("source", "not the benefit's agency")]
            )
            for e in events
            if self.closes_the_loop(e) and e.envelope.source in self.foreign_sources
        }
