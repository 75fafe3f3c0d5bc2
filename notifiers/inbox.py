"""What a citizen's in-app inbox shows: their notifications, newest first, with tact around a death."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from notifiers.tables import NotificationRow
from rules_engine.categories import ConsentCategory

INBOX_LIMIT = 100


def visible_notifications(
    session: Session, citizen_id: str, now: datetime, cooling_off: timedelta
) -> list[NotificationRow]:
    """Next of kin see a bereavement notice only once the cooling-off is over, as with the push."""
    return list(
        session.scalars(
            select(NotificationRow)
            .where(
                NotificationRow.recipient_id == citizen_id,
                or_(
                    NotificationRow.category != ConsentCategory.BEREAVEMENT,
                    NotificationRow.created_at <= now - cooling_off,
                ),
            )
            .order_by(NotificationRow.created_at.desc())
            .limit(INBOX_LIMIT)
        )
    )
