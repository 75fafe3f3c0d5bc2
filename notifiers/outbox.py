"""The outbox dispatcher: sends pending notifications through push where consented, marks what happened.

Notifications are committed with their entitlements (transactional outbox); this sends them afterwards. The
in-app inbox needs no sending: the row *is* the inbox entry. Rows are claimed with SKIP LOCKED on PostgreSQL
so several dispatchers never send the same row; a crash after FCM accepted but before the commit re-sends
with the same collapse key, which replaces the earlier push on the device instead of duplicating it.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import delete, insert, select, update
from sqlalchemy.orm import Session, sessionmaker

from entitlements.lifecycle import EntitlementStatus
from entitlements.tables import EntitlementRow
from notifiers.push import PushMessage, PushSender
from notifiers.tables import ConsentRow, DeliveryRow, DeviceRow, NotificationRow

PUSH = "push"


@dataclass
class DispatchResult:
    notifications: int = 0
    pushed: int = 0
    push_failed: int = 0
    inbox_only: int = 0
    tokens_removed: int = 0


def dispatch_pending(sessions: sessionmaker[Session], sender: PushSender | None, limit: int = 500) -> DispatchResult:
    result = DispatchResult()
    with sessions.begin() as session:
        query = (
            select(NotificationRow)
            .where(NotificationRow.dispatch_status == "pending")
            .order_by(NotificationRow.created_at)
            .limit(limit)
        )
        if session.get_bind().dialect.name == "postgresql":
            query = query.with_for_update(skip_locked=True)
        rows = list(session.scalars(query))
        if not rows:
            return result
        result.notifications = len(rows)
        devices = _consented_devices(session, rows) if sender is not None else {}
        messages: list[tuple[NotificationRow, PushMessage]] = [
            (row, _message(row, token)) for row in rows for token in devices.get((row.recipient_id, row.category), [])
        ]
        outcome: dict[str, bool] = {}
        if messages and sender is not None:
            now = datetime.now(UTC)
            results = sender.send([m for _, m in messages])
            invalid = [r.token for r in results if r.token_invalid]
            for (row, _), r in zip(messages, results, strict=True):
                outcome[row.id] = outcome.get(row.id, False) or r.accepted
            session.execute(
                insert(DeliveryRow),
                [
                    {
                        "notification_id": row.id,
                        "token_hash": hashlib.sha256(r.token.encode()).hexdigest(),
                        "accepted": r.accepted,
                        "message_id": r.message_id,
                        "error_code": r.error_code,
                        "at": now,
                    }
                    for (row, _), r in zip(messages, results, strict=True)
                ],
            )
            if invalid:  # UNREGISTERED: the app was uninstalled or the token rotated
                session.execute(delete(DeviceRow).where(DeviceRow.token.in_(invalid)))
                result.tokens_removed = len(invalid)
        now = datetime.now(UTC)
        for row in rows:
            if row.id not in outcome:
                row.dispatch_status = "inbox_only"
                result.inbox_only += 1
            elif outcome[row.id]:
                row.dispatch_status = "sent"
                result.pushed += 1
            else:
                row.dispatch_status = "failed"  # still in the inbox; the fallback path picks it up
                result.push_failed += 1
            row.dispatch_attempts += 1
            row.dispatched_at = now
        offer_ids = [o for row in rows for o in row.offer_ids]
        session.execute(
            update(EntitlementRow)
            .where(EntitlementRow.id.in_(offer_ids), EntitlementRow.status == EntitlementStatus.MATCHED.value)
            .values(status=EntitlementStatus.NOTIFIED.value, updated_at=now)
        )
    return result


def _consented_devices(session: Session, rows: list[NotificationRow]) -> dict[tuple[str, str], list[str]]:
    """Tokens of recipients who consented to push for the notification's category (no consent, no push)."""
    recipients = {row.recipient_id for row in rows}
    consented = {
        (c.citizen_id, c.category)
        for c in session.execute(
            select(ConsentRow.citizen_id, ConsentRow.category).where(
                ConsentRow.citizen_id.in_(recipients), ConsentRow.channel == PUSH, ConsentRow.withdrawn_at.is_(None)
            )
        )
    }
    tokens: dict[str, list[str]] = {}
    for d in session.execute(select(DeviceRow.citizen_id, DeviceRow.token).where(DeviceRow.citizen_id.in_(recipients))):
        tokens.setdefault(d.citizen_id, []).append(d.token)
    return {key: tokens.get(key[0], []) for key in consented}


def _message(row: NotificationRow, token: str) -> PushMessage:
    return PushMessage(
        token=token,
        title=row.lock_screen_title,
        body=row.lock_screen_body,
        collapse_key=f"n-{row.id}"[:64],
        data={"notification_id": row.id, "kind": "offers"},
    )
