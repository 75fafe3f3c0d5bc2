"""Status writes, through the lifecycle's gate (entitlements/lifecycle.py), for every writer of the entitlements table.

Three shapes of write, one rule: no row ends up in a status the transition table does not allow from its own.
- `move`: one row a caller holds (a caseworker's decision, a citizen opening an offer): refused with
  `IllegalTransition`, nothing written.
- `move_where`: many rows by a condition (the daily expiry, the dispatcher's "notified"): the UPDATE itself is
  restricted to the statuses the new one may be reached from, so a row in any other status is left as it is.
- `apply_changes`: the batch's changes by id (already checked against the statuses the batch read): the UPDATE is
  guarded the same way, and a row that moved meanwhile to a status the change is not allowed from is refused and
  logged, never written.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, select, update
from sqlalchemy.orm import Session

from entitlements.lifecycle import EntitlementStatus, IllegalTransition, sources, transition
from entitlements.matching import StatusChange
from entitlements.persistence.tables import EntitlementRow

log = logging.getLogger(__name__)
_CHUNK = 500


def move(row: EntitlementRow, new: EntitlementStatus, now: datetime) -> None:
    """One row to `new`, or IllegalTransition (nothing written)."""
    transition(EntitlementStatus(row.status), new)
    row.status, row.updated_at = new.value, now


def move_where(
    session: Session,
    new: EntitlementStatus,
    *criteria: ColumnElement[bool],
    now: datetime,
    only_from: Iterable[EntitlementStatus] | None = None,
) -> int:
    """Every row matching `criteria` and in a status `new` may follow (narrowed by `only_from`) moves to `new`.
    Returns how many rows moved."""
    allowed = sources(new) if only_from is None else sources(new) & frozenset(only_from)
    if not allowed:
        raise IllegalTransition(f"no status may go to {new} from {sorted(only_from or ())}")
    result = session.execute(
        update(EntitlementRow)
        .where(*criteria, EntitlementRow.status.in_(sorted(s.value for s in allowed)))
        .values(status=new.value, updated_at=now)
        .execution_options(synchronize_session=False)
    )
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


def apply_changes(session: Session, changes: Sequence[StatusChange], now: datetime) -> list[StatusChange]:
    """The batch's status changes (the last change of an entitlement wins), each only where the row's status allows
    it. Returns the changes refused (logged): a row that moved meanwhile to a status the change may not follow."""
    latest = {c.entitlement_id: c for c in changes}
    by_status: dict[EntitlementStatus, list[str]] = {}
    for entitlement_id, change in latest.items():
        by_status.setdefault(change.status, []).append(entitlement_id)
    refused: list[StatusChange] = []
    for new, ids in by_status.items():
        allowed = sorted(s.value for s in sources(new))
        for start in range(0, len(ids), _CHUNK):
            chunk = ids[start : start + _CHUNK]
            moved = move_where(session, new, EntitlementRow.id.in_(chunk), now=now)
            if moved == len(chunk):
                continue
            left: Any = session.execute(
                select(EntitlementRow.id, EntitlementRow.status).where(
                    EntitlementRow.id.in_(chunk), EntitlementRow.status != new.value
                )
            )
            for row in left:
                if row.status not in allowed:
                    refused.append(latest[row.id])
                    log.warning(
                        "refused status change of entitlement %s: %s → %s is not in the transition table (%s)",
                        row.id,
                        row.status,
                        new.value,
                        latest[row.id].why,
                    )
    return refused
