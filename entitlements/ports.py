"""What the batch and re-evaluation need from the outside, as small Protocols (adapters are wired by the caller).

- `UnitOfWork`: one transaction over the profile store and the entitlements; nothing is written unless `commit`.
- `Outbox`: where the notifications of offers go, written in the same unit of work as the offers (the
  transactional outbox: both commit or neither does); implemented by notifiers.
- `LoopClosing`: which events close the loop on an offer (an agency's application or grant) and which of those
  the sending agency may not send; implemented where agencies are known.

The SQL adapters: entitlements/persistence/uow.py, notifiers/outbox_writer.py, beforeservice/console/closing.py;
the fakes: tests/support/fakes.py.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from types import TracebackType
from typing import Protocol, Self

from entitlements.households import Household
from entitlements.matching import NotificationIntent, Offer, OpenEntitlement, StatusChange
from events.contracts import LifeEvent
from events.errors import InvalidEvent
from rules_engine.catalog import Catalog

EventKey = tuple[str, str]  # (source, id): a CloudEvent's identity


@dataclass(frozen=True)
class ProcessedEvent:
    """An event the store has taken in (so that a redelivery is a duplicate), and the household it concerned."""

    source: str
    event_id: str
    type: str
    household_id: str | None


class UnitOfWork(Protocol):
    """One transaction: what the batch reads, and everything it writes, committed together or not at all.

    Leaving the `with` block without `commit` rolls back."""

    def __enter__(self) -> Self: ...

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None: ...

    def commit(self) -> None: ...

    def rollback(self) -> None: ...

    def already_processed(self, keys: Sequence[EventKey]) -> set[EventKey]: ...

    def households_of(self, citizen_ids: Iterable[str]) -> dict[str, Household]:
        """The households (with all members) of these citizens, by citizen id; as loaded, for `save`."""
        ...

    def households_by_id(self, household_ids: Iterable[str]) -> dict[str, Household]: ...

    def open_entitlements(self, household_ids: Iterable[str], closing: Iterable[str] = ()) -> list[OpenEntitlement]:
        """The undecided entitlements of these households; of those in `closing`, every one an agency may close."""
        ...

    def open_offers_of_benefit(
        self, benefit_id: str, after: str, limit: int, created_before: datetime
    ) -> list[OpenEntitlement]:
        """One page (by id, after `after`) of a benefit's undecided offers created before `created_before`."""
        ...

    def save(
        self,
        households: Sequence[Household],
        processed: Sequence[ProcessedEvent],
        offers: Sequence[Offer],
        status_changes: Sequence[StatusChange] = (),
    ) -> None:
        """Profiles (only what changed since they were loaded), processed events, new offers and status changes
        (through the lifecycle's gate)."""
        ...


Units = Callable[[], UnitOfWork]  # a new unit of work per transaction


class Outbox(Protocol):
    """Notifications of offers, written in the caller's unit of work and sent after it commits."""

    def add(
        self,
        unit: UnitOfWork,
        intents: Sequence[NotificationIntent],
        offers: Sequence[Offer],
        catalog: Catalog,
        trace_contexts: Mapping[EventKey, str] | None = None,
    ) -> int:
        """Queues one notification per intent (its texts from the offers it names, under `catalog`); the count.

        `trace_contexts`: the W3C `traceparent` of each event that has one (by event key), kept with its
        notifications so that the push continues the event's trace (docs/observability.md)."""
        ...

    def cancel_for(self, unit: UnitOfWork, deceased: Sequence[str]) -> int:
        """Tact: nothing more is pushed to these people's devices; the count of notifications cancelled."""
        ...


class LoopClosing(Protocol):
    """Who may close the loop on an offer: only agencies the catalog names for the benefit."""

    def closes_the_loop(self, event: LifeEvent) -> bool:
        """Whether the event turns offers applied or granted (so every entitlement it may concern is loaded)."""
        ...

    def refusals(
        self, unit: UnitOfWork, catalog: Catalog, events: Sequence[LifeEvent]
    ) -> Mapping[EventKey, InvalidEvent]:
        """The refusal of each loop event its sending agency may not send, by event key."""
        ...
