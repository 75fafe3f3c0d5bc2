"""The audit log of caseworker access: append-only, each entry hash-chained to the one before.

A changed, inserted or removed entry breaks the chain at that point, which `verify` reports. Appends are
serialised (a process lock, and a transaction-scoped advisory lock on PostgreSQL across processes) so two
writers never chain onto the same predecessor.
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select, text
from sqlalchemy.orm import Session

from beforeservice.console.tables import AuditRow

GENESIS = "0" * 64
_ADVISORY_LOCK_KEY = 0x0B5E_A0D1  # any constant shared by every API process
_append_lock = threading.Lock()


@dataclass(frozen=True)
class AuditEntry:
    account: str
    role: str
    ip: str | None
    action: str  # e.g. entitlement.read, entitlement.approve, takeup.export
    kind: str  # read | write | export
    data_subject: str | None = None
    object_id: str | None = None
    detail: dict[str, Any] = field(default_factory=dict)


def _digest(prev_hash: str, at: datetime, entry: AuditEntry) -> str:
    payload = {
        "prev": prev_hash,
        "at": _timestamp(at),
        "account": entry.account,
        "role": entry.role,
        "ip": entry.ip,
        "action": entry.action,
        "kind": entry.kind,
        "data_subject": entry.data_subject,
        "object_id": entry.object_id,
        "detail": entry.detail,
    }
    return hashlib.sha256(json.dumps(payload, sort_keys=True, ensure_ascii=False).encode()).hexdigest()


def _timestamp(at: datetime) -> str:
    # SQLite returns naive datetimes; the chain must hash the same text whatever the database gives back.
    return (at if at.tzinfo else at.replace(tzinfo=UTC)).astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def append(session: Session, entry: AuditEntry) -> AuditRow:
    """Append within the caller's transaction: the access and its record commit (or fail) together."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _ADVISORY_LOCK_KEY})
    prev = session.scalar(select(AuditRow.hash).order_by(AuditRow.id.desc()).limit(1)) or GENESIS
    at = datetime.now(UTC)
    row = AuditRow(
        at=at,
        account=entry.account,
        role=entry.role,
        ip=entry.ip,
        action=entry.action,
        kind=entry.kind,
        data_subject=entry.data_subject,
        object_id=entry.object_id,
        detail=entry.detail,
        prev_hash=prev,
        hash=_digest(prev, at, entry),
    )
    session.add(row)
    session.flush()
    return row


class AuditTransaction:
    """`with AuditTransaction(session):` a transaction holding the process-wide append lock (not re-entrant:
    never open a second one inside the first)."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def __enter__(self) -> Session:
        _append_lock.acquire()
        self.session.begin()
        return self.session

    def __exit__(self, exc_type: object, exc: object, tb: object) -> None:
        try:
            if exc_type is None:
                self.session.commit()
            else:
                self.session.rollback()
        finally:
            self.session.close()
            _append_lock.release()


@dataclass(frozen=True)
class Break:
    entry_id: int
    problem: str


def verify(session: Session) -> tuple[int, list[Break]]:
    """Walk the chain from the start; every entry must hash to its stored hash and point at its predecessor."""
    breaks: list[Break] = []
    prev = GENESIS
    count = 0
    for row in _rows(session):
        count += 1
        entry = AuditEntry(
            row.account, row.role, row.ip, row.action, row.kind, row.data_subject, row.object_id, row.detail
        )
        if row.prev_hash != prev:
            breaks.append(Break(row.id, "does not follow the previous entry (one was removed or inserted)"))
        if _digest(row.prev_hash, row.at, entry) != row.hash:
            breaks.append(Break(row.id, "its content does not match its hash (it was changed)"))
        prev = row.hash
    return count, breaks


def _rows(session: Session) -> Iterator[AuditRow]:
    yield from session.scalars(select(AuditRow).order_by(AuditRow.id).execution_options(yield_per=1000))
