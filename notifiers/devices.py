"""A citizen's devices (FCM registration tokens): registered and refreshed by the app, pruned when stale."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import delete, select
from sqlalchemy.orm import Session, sessionmaker

from notifiers.tables import DeviceRow

PLATFORMS = ("android", "ios", "web")


def register(session: Session, citizen_id: str, token: str, platform: str, now: datetime) -> DeviceRow:
    """Add the token, or refresh it. A token already held by another citizen moves: the phone changed hands or
    accounts, and pushing the old owner's offers to it would disclose them."""
    if platform not in PLATFORMS:
        raise ValueError(f"unknown platform {platform!r}; one of {list(PLATFORMS)}")
    row = session.get(DeviceRow, token)
    if row is None:
        row = DeviceRow(token=token, citizen_id=citizen_id, platform=platform, last_refreshed_at=now)
        session.add(row)
    else:
        row.citizen_id, row.platform, row.last_refreshed_at = citizen_id, platform, now
    return row


def devices_of(session: Session, citizen_id: str) -> list[DeviceRow]:
    return list(
        session.scalars(
            select(DeviceRow).where(DeviceRow.citizen_id == citizen_id).order_by(DeviceRow.last_refreshed_at.desc())
        )
    )


def remove(session: Session, citizen_id: str, token: str) -> bool:
    result = session.execute(delete(DeviceRow).where(DeviceRow.token == token, DeviceRow.citizen_id == citizen_id))
    return bool(result.rowcount)  # type: ignore[attr-defined]


def prune_stale(sessions: sessionmaker[Session], now: datetime, stale_after_days: int = 270) -> int:
    """Delete tokens not refreshed for `stale_after_days` (FCM treats such tokens as expired)."""
    with sessions.begin() as session:
        result = session.execute(
            delete(DeviceRow).where(DeviceRow.last_refreshed_at < now - timedelta(days=stale_after_days))
        )
    return int(result.rowcount or 0)  # type: ignore[attr-defined]
