"""The SQLAlchemy unit of work: one session, one transaction (entitlements.ports.UnitOfWork).

Adapters that must write in the same transaction (the outbox, the agencies' registrations) reach its session
through `session_of`: that is what makes the outbox transactional, so it is explicit.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from types import TracebackType
from typing import Self

from sqlalchemy.orm import Session, sessionmaker

from entitlements.households import Household
from entitlements.matching import Offer, OpenEntitlement, StatusChange
from entitlements.persistence import store
from entitlements.ports import EventKey, ProcessedEvent, UnitOfWork


class SqlUnitOfWork:
    """`with SqlUnitOfWork(sessions) as unit: ...; unit.commit()`; leaving without commit rolls back.

    It remembers the profile rows as loaded, so that `save` writes only what the batch changed."""

    def __init__(self, sessions: sessionmaker[Session]) -> None:
        self._sessions = sessions
        self._session: Session | None = None
        self._loaded: store.ProfileSnapshot | None = None

    @property
    def session(self) -> Session:
        if self._session is None:
            raise RuntimeError("the unit of work is not open: use it in a `with` block")
        return self._session

    def __enter__(self) -> Self:
        self._session, self._loaded = self._sessions(), None
        self._session.begin()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        session, self._session = self.session, None
        try:
            if session.in_transaction():
                session.rollback()
        finally:
            session.close()

    def commit(self) -> None:
        self.session.commit()

    def rollback(self) -> None:
        self.session.rollback()

    def already_processed(self, keys: Sequence[EventKey]) -> set[EventKey]:
        return store.already_processed(self.session, keys)

    def households_of(self, citizen_ids: Iterable[str]) -> dict[str, Household]:
        households = store.households_of(self.session, citizen_ids)
        taken = store.snapshot({h.id: h for h in households.values()}.values())
        self._loaded = taken if self._loaded is None else {**taken, **self._loaded}
        return households

    def households_by_id(self, household_ids: Iterable[str]) -> dict[str, Household]:
        return store.households_by_id(self.session, household_ids)

    def open_entitlements(self, household_ids: Iterable[str], closing: Iterable[str] = ()) -> list[OpenEntitlement]:
        return store.open_entitlements(self.session, household_ids, closing)

    def open_offers_of_benefit(
        self, benefit_id: str, after: str, limit: int, created_before: datetime
    ) -> list[OpenEntitlement]:
        return store.open_offers_of_benefit(self.session, benefit_id, after, limit, created_before)

    def save(
        self,
        households: Sequence[Household],
        processed: Sequence[ProcessedEvent],
        offers: Sequence[Offer],
        status_changes: Sequence[StatusChange] = (),
    ) -> None:
        store.save_batch(self.session, households, processed, offers, status_changes, self._loaded)


def session_of(unit: UnitOfWork) -> Session:
    """The session of a SQL unit of work, for an adapter that writes in its transaction."""
    if not isinstance(unit, SqlUnitOfWork):
        raise TypeError(f"a SQL adapter needs a SqlUnitOfWork, not {type(unit).__name__}")
    return unit.session
