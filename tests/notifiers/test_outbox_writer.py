"""The outbox writer on the real database: notifications commit with their offers in one transaction, or neither."""

from __future__ import annotations

from collections.abc import Sequence
from functools import partial

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from beforeservice.bootstrap import life_event_processor
from beforeservice.console.closing import AgencyLoopClosing
from entitlements import CATALOG_DIR
from entitlements.batch import LifeEventProcessor, Record
from entitlements.persistence.tables import EntitlementRow, ProcessedEventRow
from entitlements.persistence.uow import SqlUnitOfWork, session_of
from entitlements.ports import UnitOfWork
from events.cloudevents import CloudEvent
from events.privacy import Pseudonymizer
from notifiers.outbox_writer import NotificationOutbox
from notifiers.rendering import NotificationTemplates
from notifiers.tables import NotificationRow
from rules_engine.loader import load_catalog
from tests.support.births import birth_event, seed_household

pytestmark = pytest.mark.integration


def count(sessions: sessionmaker[Session], table: type) -> int:
    with sessions() as session:
        return int(session.scalar(select(func.count()).select_from(table)) or 0)


def births() -> list[Record]:
    event = birth_event(mother="m-1", child="c-1", birth_order=1, born="2026-03-01", registered="2026-03-03")
    return [Record("life-events", 0, 0, None, event.to_structured(), [])]


def test_notifications_are_written_with_their_offers(sessions: sessionmaker[Session]) -> None:
    seed_household(sessions, "hh-1", ["m-1"], "41110", None)
    processor = life_event_processor(
        sessions, load_catalog(CATALOG_DIR), NotificationTemplates(), Pseudonymizer(b"k" * 32)
    )

    result = processor.process(births())

    assert result.notifications == count(sessions, NotificationRow) == 1
    with sessions() as session:
        row = session.scalars(select(NotificationRow)).one()
        offers = set(session.scalars(select(EntitlementRow.id)))
    assert row.recipient_id == "m-1" and row.dispatch_status == "pending" and set(row.offer_ids) <= offers


def test_when_the_transaction_fails_after_the_outbox_wrote_nothing_is_left(sessions: sessionmaker[Session]) -> None:
    class Lost(RuntimeError):
        pass

    class FailingAfterwards(NotificationOutbox):
        def cancel_for(self, unit: UnitOfWork, deceased: Sequence[str]) -> int:
            written = session_of(unit).scalar(select(func.count()).select_from(NotificationRow))
            assert written == 1, "the birth's notification is in this transaction, with its offers"
            raise Lost("the connection went away after the outbox rows were written")

    seed_household(sessions, "hh-1", ["m-1"], "41110", None)
    processor = LifeEventProcessor(
        partial(SqlUnitOfWork, sessions),
        FailingAfterwards(NotificationTemplates()),
        AgencyLoopClosing(),
        load_catalog(CATALOG_DIR),
        Pseudonymizer(b"k" * 32),
    )
    death = CloudEvent(
        id="d-1",
        source="/agencies/mois/registry/41110",
        specversion="1.0",
        type="kr.go.mois.death.registered",
        data={
            "deceased": {"id": "m-1", "birth_date": "1990-01-01", "death_date": "2026-03-04"},
            "municipality_code": "41110",
            "registered_on": "2026-03-05",
        },
    )

    with pytest.raises(Lost):  # the birth's offers and notification were written, then the death's step failed
        processor.process([*births(), Record("life-events", 0, 1, None, death.to_structured(), [])])

    assert (
        count(sessions, NotificationRow) == count(sessions, EntitlementRow) == count(sessions, ProcessedEventRow) == 0
    )
