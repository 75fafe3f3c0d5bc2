"""The audit log of caseworker access: append-only, each entry hash-chained to the one before, the head anchored.

A changed, inserted or removed entry breaks the chain at that point, which `verify` reports. Appends are
serialised (a process lock, and a transaction-scoped advisory lock on PostgreSQL across processes) so two
writers never chain onto the same predecessor. After each commit that crosses a multiple of AUDIT_ANCHOR_EVERY
the head is signed and stored outside the database (beforeservice.console.audit_anchors): against those anchors
`verify` also finds a removed tail and a chain recomputed after an edit, which the chain alone cannot show.
"""

from __future__ import annotations

import hashlib
import json
import logging
import threading
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from beforeservice.console.audit_anchors import Anchor, Anchoring, AnchorVerifier, StoredLine, anchoring
from beforeservice.console.tables import AuditRow
from beforeservice.settings import get_settings

GENESIS = "0" * 64
_ADVISORY_LOCK_KEY = 0x0B5E_A0D1  # any constant shared by every API process
_append_lock = threading.Lock()
log = logging.getLogger(__name__)


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
    head = session.execute(select(AuditRow.id, AuditRow.hash).order_by(AuditRow.id.desc()).limit(1)).first()
    prev_id, prev = (head[0], head[1]) if head else (0, GENESIS)
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
    session.info.setdefault(_APPENDED, []).append((prev_id, row.id, row.hash))
    return row


_APPENDED = "audit_appended"  # session.info: (previous id, id, hash) of each entry appended in this transaction


@lru_cache
def default_anchoring() -> Anchoring:
    return anchoring(get_settings())


class AuditTransaction:
    """`with AuditTransaction(session):` a transaction holding the process-wide append lock (not re-entrant:
    never open a second one inside the first). Once committed, its last entry is anchored when due."""

    def __init__(self, session: Session, anchors: Anchoring | None = None) -> None:
        self.session = session
        self.anchors = anchors

    def __enter__(self) -> Session:
        anchors = self.anchors or default_anchoring()  # a bad anchor setting refuses the access, before it happens
        self.anchors = anchors
        _append_lock.acquire()
        self.session.info.pop(_APPENDED, None)
        self.session.begin()
        return self.session

    def __exit__(self, exc_type: object, exc: object, tb: object) -> None:
        try:
            if exc_type is None:
                self.session.commit()
                self._anchor(self.session.info.pop(_APPENDED, []))
            else:
                self.session.rollback()
        finally:
            self.session.info.pop(_APPENDED, None)
            self.session.close()
            _append_lock.release()

    def _anchor(self, appended: list[tuple[int, int, str]]) -> None:
        # Only committed entries are anchored: an anchor on a rolled-back entry would later read as a removal.
        assert self.anchors is not None
        if appended and any(self.anchors.due(prev_id, new_id) for prev_id, new_id, _ in appended):
            _, head_id, head_hash = appended[-1]
            try:
                self.anchors.anchor(head_id, head_hash)
            except OSError:
                # The access is recorded; the next anchor covers this entry too (it chains to it).
                log.exception("could not write the audit anchor of entry %s", head_id)


@dataclass(frozen=True)
class Break:
    entry_id: int
    problem: str


def verify(session: Session, anchors: Iterable[Anchor] = ()) -> tuple[int, list[Break]]:
    """Walk the chain from the start; every entry must hash to its stored hash and point at its predecessor, and
    every anchored entry (anchors whose signatures were checked) must be there with the anchored hash."""
    breaks: list[Break] = []
    pending = sorted({(a.seq, a.hash): a for a in anchors}.values(), key=lambda a: (a.seq, a.at))
    prev = GENESIS
    count = 0
    last_id = 0
    matched = 0  # the last entry found as anchored: everything up to it is as it was when anchored
    for row in _rows(session):
        count += 1
        while pending and pending[0].seq < row.id:
            missing = pending.pop(0)
            breaks.append(Break(missing.seq, f"was anchored at {missing.at} but is missing (removed)"))
        while pending and pending[0].seq == row.id:
            anchor = pending.pop(0)
            if anchor.hash == row.hash:
                matched = row.id
            else:
                breaks.append(
                    Break(
                        row.id,
                        f"its hash differs from the one anchored at {anchor.at}: the chain was rewritten "
                        f"after entry {matched}" + (" (the last one found as anchored)" if matched else ""),
                    )
                )
        entry = AuditEntry(
            row.account, row.role, row.ip, row.action, row.kind, row.data_subject, row.object_id, row.detail
        )
        if row.prev_hash != prev:
            breaks.append(Break(row.id, "does not follow the previous entry (one was removed or inserted)"))
        if _digest(row.prev_hash, row.at, entry) != row.hash:
            breaks.append(Break(row.id, "its content does not match its hash (it was changed)"))
        prev = row.hash
        last_id = row.id
    for anchor in pending:
        breaks.append(
            Break(
                anchor.seq,
                f"was anchored at {anchor.at} but is missing: the log ends at entry {last_id} (its tail was removed)",
            )
        )
    return count, breaks


@dataclass(frozen=True)
class AnchoredVerification:
    checked: int
    breaks: list[Break]
    anchor_problems: list[str]  # anchors that cannot be trusted, or none where there should be some
    latest: Anchor | None  # the highest trusted anchor
    unanchored: int  # entries after it, which only the chain protects

    @property
    def intact(self) -> bool:
        return not self.breaks and not self.anchor_problems


def verify_anchored(session: Session, stored: list[StoredLine], verifier: AnchorVerifier) -> AnchoredVerification:
    """`verify` against the anchors of a store, each one's signature checked first (a forged one is reported,
    never used)."""
    trusted: list[Anchor] = []
    problems: list[str] = []
    for line in stored:
        why = line.problem if line.anchor is None else verifier.problem(line.anchor)
        if why is None and line.anchor is not None:
            trusted.append(line.anchor)
        else:
            problems.append(f"anchor line {line.number}: {why}")
    checked, breaks = verify(session, trusted)
    latest = max(trusted, key=lambda a: a.seq, default=None)
    unanchored = session.scalar(
        select(func.count()).select_from(AuditRow).where(AuditRow.id > (latest.seq if latest else 0))
    )
    if checked and latest is None:
        problems.append(
            f"no trusted anchor although the log holds {checked} entries (the anchor store is missing or emptied)"
        )
    return AnchoredVerification(checked, breaks, problems, latest, unanchored or 0)


def _rows(session: Session) -> Iterator[AuditRow]:
    yield from session.scalars(select(AuditRow).order_by(AuditRow.id).execution_options(yield_per=1000))
