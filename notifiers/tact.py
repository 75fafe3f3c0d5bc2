"""Tact around a death: nothing is ever pushed to the deceased's devices."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import delete, update
from sqlalchemy.orm import Session

from notifiers.dispatch_status import UNSENT, DispatchStatus
from notifiers.tables import DeviceRow, NotificationRow, OutreachTaskRow


def on_death(session: Session, deceased_id: str) -> int:
    return on_deaths(session, [deceased_id])


def on_deaths(session: Session, deceased_ids: Sequence[str]) -> int:
    """Remove the deceased's devices and cancel their notifications not yet sent, in the caller's transaction
    (the one that records the death). Returns the number of notifications cancelled. Idempotent.

    Sent notifications stay (the inbox is the record) but stop escalating, and open outreach tasks about the
    deceased are closed, so no caseworker calls a bereaved family about the dead person's offers."""
    session.execute(delete(DeviceRow).where(DeviceRow.citizen_id.in_(deceased_ids)))
    cancelled = session.execute(
        update(NotificationRow)
        .where(NotificationRow.recipient_id.in_(deceased_ids), NotificationRow.dispatch_status.in_(sorted(UNSENT)))
        .values(dispatch_status=DispatchStatus.CANCELLED, hold_reason="deceased", not_before=None, escalate_at=None)
    )
    session.execute(
        update(NotificationRow)
        .where(NotificationRow.recipient_id.in_(deceased_ids), NotificationRow.escalate_at.is_not(None))
        .values(escalate_at=None)
    )
    session.execute(
        update(OutreachTaskRow)
        .where(OutreachTaskRow.citizen_id.in_(deceased_ids), OutreachTaskRow.status == "open")
        .values(status="done", assigned_to=None)
    )
    return int(cancelled.rowcount or 0)  # type: ignore[attr-defined]
