"""`beforeservice rebuild`: the database's event-derived state rebuilt from the life events Kafka retains.

Every record of `life-events` from offset 0 to the end it had when the rebuild began goes through the worker's
own pipeline (decode, de-duplicate, match, persist; LifeEventProcessor) in that partition's order, so the same
stable ids, statuses and amounts come back. Read with its own consumer and no group: the workers' committed
offsets are untouched, and a worker started afterwards skips what the rebuild wrote (processed_events).

Nothing is pushed again: the notifications the rebuild writes are marked `rebuilt` in the transaction that
writes them, which the dispatcher never claims, and the offers they carried become `notified`, as the dispatcher
made them the first time. What the log does not hold stays as it is and must come from a backup: agency keys
(without them an agency's application or grant is refused as foreign), caseworkers and their decisions,
devices, consents, preferences, the audit log, push deliveries.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

import typer
from kafka import KafkaConsumer
from sqlalchemy import ColumnElement, and_, func, not_, select, update
from sqlalchemy import event as orm_event
from sqlalchemy.orm import Session, sessionmaker

from beforeservice.bootstrap import Process
from beforeservice.console.tables import AgencyKeyRow
from beforeservice.settings import Settings, get_settings
from entitlements.batch import BatchResult, LifeEventProcessor, Record, decode_records
from entitlements.lifecycle import EntitlementStatus
from entitlements.persistence.tables import CitizenRow, EntitlementRow, HouseholdRow, ProcessedEventRow
from entitlements.persistence.transitions import move_where
from events.contracts import LifeEvent, people_of
from events.history import read_to_end
from events.topics import LIFE_EVENTS
from notifiers.dispatch_status import DispatchStatus
from notifiers.tables import NotificationRow
from rules_engine.categories import ConsentCategory

REBUILT = DispatchStatus.REBUILT  # delivered in the original run: never pushed again
DERIVED_TABLES = (ProcessedEventRow, HouseholdRow, CitizenRow, EntitlementRow, NotificationRow)


@dataclass
class RebuildReport:
    records: int = 0
    processed: int = 0
    duplicates: int = 0
    refused: int = 0  # dead-lettered again (they already are on the dead-letter topic: not sent twice)
    offers: int = 0
    notifications: int = 0
    seconds: float = 0.0
    refusals: list[str] = field(default_factory=list)  # the first reasons, for the operator

    @property
    def per_second(self) -> float:
        return self.records / self.seconds if self.seconds else 0.0


@dataclass(frozen=True)
class Batch:
    records: list[Record]
    produced_from: datetime  # the earliest record's Kafka timestamp: about when the original run wrote its rows


def read_records(bootstrap_servers: str, topic: str = LIFE_EVENTS, batch_size: int = 500) -> Iterator[Batch]:
    """The topic's records from offset 0 until it is caught up, in batches; each partition's order is kept
    (a household's events share a partition, so they come in the order they were produced).

    Caught up as events/history.py says (past tansu's short end offsets). A record produced meanwhile is
    rebuilt too; the workers skip it later (processed_events).
    """
    consumer = KafkaConsumer(
        bootstrap_servers=bootstrap_servers,
        group_id=None,
        enable_auto_commit=False,
        max_poll_records=batch_size,
        client_id="beforeservice-rebuild",
    )
    try:
        pending: list[Record] = []
        earliest: int | None = None
        for records in read_to_end(consumer, topic):
            for r in records:
                pending.append(Record(r.topic, r.partition, r.offset, r.key, r.value, list(r.headers or [])))
                earliest = r.timestamp if earliest is None else min(earliest, r.timestamp)
            if len(pending) >= batch_size:
                yield Batch(pending, datetime.fromtimestamp((earliest or 0) / 1000, UTC))
                pending, earliest = [], None
        if pending:
            yield Batch(pending, datetime.fromtimestamp((earliest or 0) / 1000, UTC))
    finally:
        consumer.close()


def derived_rows(session: Session) -> dict[str, int]:
    """Rows in the tables a rebuild writes (it starts only where they are all empty)."""
    counts = {t.__tablename__: session.scalar(select(func.count()).select_from(t)) or 0 for t in DERIVED_TABLES}
    return {name: count for name, count in counts.items() if count}


def mark_rebuilt(session: Session, produced_from: datetime, cooling_off: timedelta) -> None:
    """In the batch's own transaction: what the original run pushed is never pushed again (`rebuilt`), and the
    offers it carried are `notified`, as the dispatcher made them. A bereavement notice whose cooling-off had not
    ended yet was still held, unsent: it stays pending, dated as the original, and goes out once it ends."""
    session.flush()
    now = datetime.now(UTC)
    unsent: ColumnElement[bool] = NotificationRow.dispatch_status.in_(("pending", "held"))
    delivered = unsent
    if produced_from + cooling_off > now:
        still_held = NotificationRow.category == ConsentCategory.BEREAVEMENT
        session.execute(
            update(NotificationRow)
            .where(unsent, still_held)
            .values(created_at=produced_from)
            .execution_options(synchronize_session=False)
        )
        delivered = and_(unsent, not_(still_held))
    mark_delivered(session, delivered, now)


def mark_delivered(session: Session, delivered: ColumnElement[bool], now: datetime) -> int:
    """The notifications `delivered` selects count as pushed once already: marked `rebuilt` (never pushed again),
    their offers `notified` through the lifecycle's gate, as the dispatcher would. How many were marked."""
    bundles = session.scalars(select(NotificationRow.offer_ids).where(delivered)).all()
    offer_ids = [o for offers in bundles for o in offers]
    session.execute(
        update(NotificationRow)
        .where(delivered)
        .values(dispatch_status=REBUILT, not_before=None, hold_reason=None, escalate_at=None)
        .execution_options(synchronize_session=False)
    )
    for start in range(0, len(offer_ids), 500):
        move_where(
            session,
            EntitlementStatus.NOTIFIED,
            EntitlementRow.id.in_(offer_ids[start : start + 500]),
            now=now,
            only_from=(EntitlementStatus.MATCHED,),
        )
    return len(bundles)


def one_event_per_person(
    events: Sequence[tuple[Record, LifeEvent]],
) -> Iterator[list[tuple[Record, LifeEvent]]]:
    """Consecutive runs of the events in which nobody appears twice.

    The worker met a person's events in separate batches when they came days apart (a birth, then the move, then
    the application), and a batch decides each event against the rows of the batches before it. A replay reads
    them back to back: cut where a person shows up again, so each event sees what the one before wrote."""
    run: list[tuple[Record, LifeEvent]] = []
    people: set[str] = set()
    for record, event in events:
        involved = set(people_of(event))
        if involved & people:
            yield run
            run, people = [], set()
        run.append((record, event))
        people |= involved
    if run:
        yield run


def rebuild(
    processor: LifeEventProcessor,
    sessions: sessionmaker[Session],
    batches: Iterator[Batch],
    cooling_off: timedelta,
) -> RebuildReport:
    report = RebuildReport()
    produced_from = datetime.now(UTC)

    def before_commit(session: Session) -> None:
        mark_rebuilt(session, produced_from, cooling_off)

    orm_event.listen(sessions, "before_commit", before_commit)
    started = time.perf_counter()
    try:
        for batch in batches:
            produced_from = batch.produced_from
            events, dead = decode_records(batch.records, processor.pseudonymizer, processor.max_event_bytes)
            result = BatchResult(consumed=len(batch.records), dead_letters=dead)
            for run in one_event_per_person(events):
                processor.apply(run, result)  # one transaction each
            report.records += result.consumed
            report.processed += result.processed
            report.duplicates += result.duplicates
            report.offers += result.offers + result.undetermined
            report.notifications += result.notifications
            report.refused += len(result.dead_letters)
            report.refusals.extend(d.reason for d in result.dead_letters[: max(0, 5 - len(report.refusals))])
    finally:
        orm_event.remove(sessions, "before_commit", before_commit)
    report.seconds = time.perf_counter() - started
    return report


def run(settings: Settings, batch_size: int) -> RebuildReport:
    process = Process(settings).migrated()  # an empty database gets its schema
    engine_processor, sessions = process.processor, process.sessions
    with sessions() as session:
        filled = derived_rows(session)
        if filled:
            raise RebuildRefused(
                "the database already holds event-derived rows ("
                + ", ".join(f"{name}: {count}" for name, count in sorted(filled.items()))
                + "); rebuild only into an empty one"
            )
        agencies: Any = session.scalar(select(func.count()).select_from(AgencyKeyRow))
    if not agencies:
        typer.echo(
            "warning: no agency keys: applications and grants agencies sent will be refused as foreign "
            "(restore agency_keys from the backup first)",
            err=True,
        )
    batches = read_records(settings.bootstrap_servers, batch_size=batch_size)
    return rebuild(engine_processor, sessions, batches, timedelta(hours=settings.bereavement_cooling_off_hours))


class RebuildRefused(RuntimeError):
    pass


def rebuild_command(
    batch_size: Annotated[int, typer.Option(help="records read per round (the worker takes 500)")] = 500,
) -> None:
    """Replay every retained life event into an EMPTY database through the worker's pipeline (stop the workers
    and dispatchers first); nothing is pushed again. Prints the throughput."""
    from beforeservice.startup import DATA_KEYS, start

    settings = start(get_settings(), [DATA_KEYS], umask=False)  # rebuilt rows are sealed with DATA_KEYS
    try:
        report = run(settings, batch_size)
    except RebuildRefused as refused:
        typer.echo(f"error: {refused}", err=True)
        raise typer.Exit(1) from refused
    typer.echo(
        f"rebuilt from {LIFE_EVENTS} on {settings.bootstrap_servers}: {report.records} records, "
        f"{report.processed} events processed, {report.duplicates} duplicates skipped, {report.refused} refused "
        f"(already on the dead-letter topic), {report.offers} offers, {report.notifications} notifications "
        f"(marked {REBUILT}: not pushed again)"
    )
    for reason in report.refusals:
        typer.echo(f"  refused: {reason}")
    typer.echo(f"throughput: {report.per_second:,.0f} events/s ({report.records} in {report.seconds:.2f} s)")
