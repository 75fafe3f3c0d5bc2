"""The outbox's depth and the age of its oldest due notification, read from the database by whoever dispatches.

Several dispatchers report the same figures (the outbox is shared): dashboards and alerts take their max().
"""

from __future__ import annotations

import time
from datetime import UTC, datetime

from sqlalchemy import and_, func, or_, select
from sqlalchemy.orm import Session, sessionmaker

from beforeservice import metrics
from notifiers.outbox import RETRY
from notifiers.tables import NotificationRow

REFRESH_SECONDS = 5.0


def aware(moment: datetime | None) -> datetime | None:
    """SQLite returns naive datetimes (stored in UTC)."""
    return moment.replace(tzinfo=UTC) if moment is not None and moment.tzinfo is None else moment


def refresh_outbox_gauges(session: Session, now: datetime) -> None:
    """Set the outbox gauges from the database: due rows (pending, held past not_before, or held only because FCM
    could not take them), rows held on purpose (quiet hours, cooling-off, weekly budget), and how long the oldest
    due row has waited (since it was written, or since its hold on purpose ended).

    A push FCM refused as unavailable is held until its next try, but it is owed now: counting it as held would
    empty the gauges, and silence the outbox alert, for as long as FCM is down."""
    n = NotificationRow
    fcm_retry = and_(n.dispatch_status == "held", n.hold_reason == RETRY)
    owed, oldest_owed = session.execute(
        select(func.count(), func.min(n.created_at)).where(or_(n.dispatch_status == "pending", fcm_retry))
    ).one()
    on_purpose = and_(n.dispatch_status == "held", or_(n.hold_reason.is_(None), n.hold_reason != RETRY))
    held_due, oldest_release = session.execute(
        select(func.count(), func.min(n.not_before)).where(on_purpose, n.not_before <= now)
    ).one()
    held = session.scalar(select(func.count()).where(on_purpose, n.not_before > now))
    metrics.OUTBOX_DEPTH.labels(state="due").set(owed + held_due)
    metrics.OUTBOX_DEPTH.labels(state="held").set(held or 0)
    waiting_since = [m for m in (aware(oldest_owed), aware(oldest_release)) if m is not None]
    metrics.OUTBOX_OLDEST_AGE.set(max(0.0, (now - min(waiting_since)).total_seconds()) if waiting_since else 0.0)


class OutboxGauges:
    """Refreshes the gauges at most every `every` seconds, however often the dispatch loop calls it."""

    def __init__(self, sessions: sessionmaker[Session], every: float = REFRESH_SECONDS) -> None:
        self._sessions = sessions
        self._every = every
        self._last = float("-inf")

    def refresh(self) -> bool | None:
        """Refresh if due: True when the database answered, False when it did not, None when not due yet."""
        if time.monotonic() - self._last < self._every:
            return None
        self._last = time.monotonic()
        try:
            with self._sessions() as session:
                refresh_outbox_gauges(session, datetime.now(UTC))
        except Exception:  # the gauges keep their last values; the caller reports the database unreachable
            return False
        return True
