"""`beforeservice catch-up`: a database restored from a backup brought up to date from the life events Kafka retains.

The workers cannot do it themselves: their consumer group kept committing offsets after the dump was taken, so a
worker restarted on the restored database resumes past every event the backup misses and never reads them again.
The database is the only record of what was processed (processed_events), so the catch-up asks it, not the group:
every retained record of `life-events` goes through the worker's pipeline again, as `beforeservice rebuild` replays
it (beforeservice/rebuild.py, same reader, same batches, same marking); what the backup holds is skipped as a
duplicate (processed_events), the rest is applied in each partition's order on top of the restored rows. The
group's offsets need no reset: the catch-up reads to the log's end, and whatever a restarted worker reads again
between its committed offset and that end it skips the same way.

Nothing is pushed twice. The notifications the catch-up writes were pushed in the original run (marked `rebuilt`,
as the rebuild does), and so were the ones the backup holds as still unsent (pending or held when the dump was
taken: the dispatcher went on after it). Both are marked `rebuilt` and their offers `notified`; the citizen's inbox
shows them. The one exception, as in the rebuild: a bereavement notice whose cooling-off has not ended yet stays
held and goes out once, when it ends. The cost of this choice: a push that was still unsent when the database was
lost is not sent (the inbox has it); a push sent twice is what it avoids.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated

import typer
from sqlalchemy import ColumnElement, and_
from sqlalchemy.orm import Session

from beforeservice.bootstrap import Process
from beforeservice.rebuild import REBUILT, RebuildReport, mark_delivered, read_records, rebuild
from beforeservice.settings import Settings, get_settings
from events.topics import LIFE_EVENTS
from notifiers.dispatch_status import UNSENT
from notifiers.tables import NotificationRow
from rules_engine.categories import ConsentCategory


def settle_restored_outbox(session: Session, cooling_off: timedelta, now: datetime) -> int:
    """The notifications the backup holds as unsent were pushed after the dump (or will be as bereavement notices
    still cooling off): marked `rebuilt`, their offers `notified`. How many were marked."""
    unsent: ColumnElement[bool] = NotificationRow.dispatch_status.in_(list(UNSENT))
    still_cooling_off = and_(
        NotificationRow.category == ConsentCategory.BEREAVEMENT, NotificationRow.created_at > now - cooling_off
    )
    return mark_delivered(session, and_(unsent, ~still_cooling_off), now)


def catch_up(settings: Settings, batch_size: int) -> tuple[int, RebuildReport]:
    """The restored outbox settled, then the retained log replayed on top of the restored rows."""
    process = Process(settings).migrated()  # a backup of an older release gets the current schema
    cooling_off = timedelta(hours=settings.bereavement_cooling_off_hours)
    try:
        with process.sessions.begin() as session:
            settled = settle_restored_outbox(session, cooling_off, datetime.now(UTC))
        batches = read_records(settings.bootstrap_servers, batch_size=batch_size)
        return settled, rebuild(process.processor, process.sessions, batches, cooling_off)
    finally:
        process.close()


def catch_up_command(
    batch_size: Annotated[int, typer.Option(help="records read per round (the worker takes 500)")] = 500,
) -> None:
    """After restoring the database from a backup (stop the workers and dispatchers first): replay the retained
    life events on top of it, skipping what it holds; nothing is pushed again. Then start the workers."""
    from beforeservice.startup import DATA_KEYS, start

    settings = start(get_settings(), [DATA_KEYS], umask=False)  # replayed rows are sealed with DATA_KEYS
    settled, report = catch_up(settings, batch_size)
    typer.echo(
        f"caught up from {LIFE_EVENTS} on {settings.bootstrap_servers}: {report.records} records, "
        f"{report.duplicates} already in the backup, {report.processed} events applied, {report.refused} refused "
        f"(already on the dead-letter topic), {report.notifications} notifications and {settled} unsent in the "
        f"backup marked {REBUILT} (not pushed again)"
    )
    for reason in report.refusals:
        typer.echo(f"  refused: {reason}")
