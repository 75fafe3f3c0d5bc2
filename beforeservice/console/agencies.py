"""Agency credentials: API keys (stored as digests) scoped to event types and `source` prefixes; rate limits."""

from __future__ import annotations

import fnmatch
import hashlib
import hmac
import math
import secrets
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from beforeservice.console.tables import AgencyKeyRow

KEY_PREFIX = "bsa"


@dataclass(frozen=True)
class AgencyCaller:
    key_id: str
    agency: str
    event_types: tuple[str, ...]
    source_prefixes: tuple[str, ...]
    rate_per_minute: int

    def may_emit_type(self, event_type: str) -> bool:
        return any(fnmatch.fnmatchcase(event_type, pattern) for pattern in self.event_types)

    def may_use_source(self, source: str) -> bool:
        return any(source.startswith(prefix) for prefix in self.source_prefixes)


def _digest(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def add_agency_key(
    session: Session, agency: str, event_types: list[str], source_prefixes: list[str], rate_per_minute: int = 600
) -> tuple[AgencyKeyRow, str]:
    """A new key for `agency`; the key itself is returned once and never stored."""
    if not event_types or not source_prefixes:
        raise ValueError("an agency key needs at least one event type and one source prefix")
    if any(not p.startswith("/") for p in source_prefixes):
        raise ValueError("source prefixes are URI references starting with '/', e.g. /agencies/mois/registry/")
    key_id = secrets.token_hex(8)
    key = f"{KEY_PREFIX}_{key_id}_{secrets.token_urlsafe(32)}"
    row = AgencyKeyRow(
        key_id=key_id,
        agency=agency,
        key_hash=_digest(key),
        event_types=event_types,
        source_prefixes=source_prefixes,
        rate_per_minute=rate_per_minute,
        created_at=datetime.now(UTC),
        revoked_at=None,
    )
    session.add(row)
    return row, key


def list_agency_keys(session: Session) -> list[AgencyKeyRow]:
    return list(session.scalars(select(AgencyKeyRow).order_by(AgencyKeyRow.agency, AgencyKeyRow.created_at)))


def revoke_agency_key(session: Session, key_id: str) -> bool:
    row = session.get(AgencyKeyRow, key_id)
    if row is None or row.revoked_at is not None:
        return False
    row.revoked_at = datetime.now(UTC)
    return True


def authenticate_key(session: Session, key: str) -> AgencyCaller | None:
    parts = key.split("_", 2)
    if len(parts) != 3 or parts[0] != KEY_PREFIX:
        return None
    row = session.get(AgencyKeyRow, parts[1])
    if row is None or row.revoked_at is not None or not hmac.compare_digest(row.key_hash, _digest(key)):
        return None
    return AgencyCaller(row.key_id, row.agency, tuple(row.event_types), tuple(row.source_prefixes), row.rate_per_minute)


class RateLimiter:
    """A token bucket per key: `rate_per_minute` events a minute, bursting up to a minute's worth.

    In process memory: each API process limits on its own (with N processes an agency gets up to N times the rate;
    size the limit per process).
    """

    def __init__(self) -> None:
        self._buckets: dict[str, tuple[float, float]] = {}  # key_id -> (tokens, last refill, monotonic)
        self._lock = threading.Lock()

    def take(self, caller: AgencyCaller, cost: int = 1) -> float:
        """Take `cost` tokens; returns 0 when allowed, else the seconds to wait before retrying."""
        capacity = float(caller.rate_per_minute)
        per_second = capacity / 60.0
        cost_f = min(float(cost), capacity)  # a batch larger than the burst may still pass on a full bucket
        now = time.monotonic()
        with self._lock:
            tokens, last = self._buckets.get(caller.key_id, (capacity, now))
            tokens = min(capacity, tokens + (now - last) * per_second)
            if tokens >= cost_f:
                self._buckets[caller.key_id] = (tokens - cost_f, now)
                return 0.0
            self._buckets[caller.key_id] = (tokens, now)
            return max(1.0, math.ceil((cost_f - tokens) / per_second)) if per_second > 0 else 60.0
