"""When processing a batch raises: the infrastructure's fault (retry the same events) or an event's (isolate it).

Only the database or the network being unavailable is worth waiting for: the same events will go through once
it is back. Anything else raised while an event is matched, rendered or stored (an OverflowError in a rule, a
value the database refuses) will raise again on every retry, so retrying halts the pipeline for every household
behind it. Such an event is found by halving its batch, and dead-lettered with the reason.

Errors the database raises because of its state rather than of one event (a missing table after a bad deploy,
a lost connection, a serialisation conflict) count as the infrastructure's: dead-lettering every event of the
stream for them would only move the outage into the dead-letter topic.
"""

from __future__ import annotations

import traceback
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import exc as sql

from entitlements.batch import BatchResult, Record
from events.errors import FieldError, InvalidEvent
from events.privacy import mask

_INFRASTRUCTURE: tuple[type[BaseException], ...] = (
    sql.OperationalError,  # connection lost or refused, server shutting down, deadlock, serialisation failure
    sql.InterfaceError,
    sql.InternalError,
    sql.ProgrammingError,  # the schema is not what the code expects: a deploy problem, not an event's
    sql.NotSupportedError,
    sql.DisconnectionError,
    sql.TimeoutError,  # no connection free in the pool
    sql.PendingRollbackError,
    OSError,  # ConnectionError, TimeoutError, a file the engine needs
)
_OUR_CODE = tuple(
    f"/{package}/" for package in ("beforeservice", "entitlements", "events", "notifiers", "rules_engine")
)
_REASON_CHARACTERS = 200


def infrastructure_failure(error: BaseException) -> bool:
    if isinstance(error, sql.DBAPIError) and error.connection_invalidated:
        return True
    return isinstance(error, _INFRASTRUCTURE)


def processing_failure(error: BaseException) -> InvalidEvent:
    """Why an event could not be processed: the exception's type, message and place, without personal data."""
    kind = type(error).__name__
    if isinstance(error, sql.StatementError):
        # Its text holds the statement's parameters (profiles of the household): only the driver's error class
        # and SQLSTATE say what went wrong without them.
        original = error.orig
        state = getattr(original, "sqlstate", None) or getattr(original, "pgcode", None)
        detail = type(original).__name__ + (f" (SQLSTATE {state})" if state else "")
    else:
        # Rules and rendering raise with messages like "date value out of range"; any RRN in one is masked.
        detail = mask(str(error).encode()).decode("ascii", "backslashreplace")[:_REASON_CHARACTERS]
    where = _place(error)
    reason = f"processing raised {kind}: {detail}" + (f" (at {where})" if where else "")
    return InvalidEvent(reason, [FieldError("event", f"processing raised {kind}")], status=500)


def _place(error: BaseException) -> str | None:
    """The innermost frame of the engine's own code where `error` was raised, e.g. rules_engine/x.py:12 in f."""
    ours = [f for f in traceback.extract_tb(error.__traceback__) if any(p in f.filename for p in _OUR_CODE)]
    if not ours:
        return None
    frame = ours[-1]
    parts = Path(frame.filename).parts
    package = max(i for i, part in enumerate(parts) if f"/{part}/" in _OUR_CODE)
    return f"{'/'.join(parts[package:])}:{frame.lineno} in {frame.name}"


@dataclass(frozen=True)
class FailedRecord:
    """An event whose processing raises on its own: it goes to the dead-letter topic, the stream goes on."""

    record: Record
    reason: InvalidEvent

    @property
    def where(self) -> str:
        return f"{self.record.topic}/{self.record.partition}/{self.record.offset}"

    def result(self) -> BatchResult:
        return BatchResult(consumed=1, dead_letters=[self.record.dead_letter(self.reason)])


def merge(total: BatchResult, part: BatchResult) -> None:
    """Add what one part of a batch did to what the whole batch did."""
    total.consumed += part.consumed
    total.processed += part.processed
    total.duplicates += part.duplicates
    total.offers += part.offers
    total.undetermined += part.undetermined
    total.notifications += part.notifications
    total.dead_letters.extend(part.dead_letters)
    total.deceased.extend(part.deceased)
