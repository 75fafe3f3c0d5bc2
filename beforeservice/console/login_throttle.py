"""Login throttling that holds across API processes: attempts are counted in the database, per account and per
client address, in a fixed window.

An attempt is counted before the password is checked (so parallel guesses cannot all slip in before the first
failure is recorded); a successful login gives the attempt back. Once a key has used up its attempts, every
further attempt — the right password included — is refused until its window has passed.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from beforeservice.console.tables import LoginThrottleRow
from beforeservice.settings import Settings


@dataclass(frozen=True)
class Admission:
    """The outcome of counting one attempt."""

    retry_after: int | None  # seconds to wait: the attempt is refused
    last_for: tuple[str, ...] = ()  # "account" / "address": this attempt was its last; failing it locks it


@dataclass(frozen=True)
class LoginThrottle:
    per_account: int
    per_address: int
    window: timedelta

    @classmethod
    def of(cls, settings: Settings) -> LoginThrottle:
        return cls(
            settings.login_max_failures,
            settings.login_max_failures_per_ip,
            timedelta(seconds=settings.login_window_seconds),
        )

    def admit(self, session: Session, username: str, address: str | None, now: datetime) -> Admission:
        """Count an attempt on `username` from `address`, unless either is locked (then nothing is counted)."""
        limits = {"account": (_key("account", username), self.per_account)}
        if address:
            limits["address"] = (_key("ip", address), self.per_address)
        rows = {what: self._row(session, key, now) for what, (key, _) in limits.items()}
        waits = [
            self._until_window_ends(rows[what], now)
            for what, (_, limit) in limits.items()
            if rows[what].attempts >= limit
        ]
        if waits:
            return Admission(max(waits))
        last = []
        for what, (_, limit) in limits.items():
            rows[what].attempts += 1
            if rows[what].attempts >= limit:
                last.append(what)
        session.flush()
        return Admission(None, tuple(last))

    def succeeded(self, session: Session, username: str, address: str | None) -> None:
        """A right password: the account starts afresh; the address gets this attempt back (not its failures)."""
        account = session.get(LoginThrottleRow, _key("account", username), with_for_update=True)
        if account is not None:
            session.delete(account)
        if address:
            row = session.get(LoginThrottleRow, _key("ip", address), with_for_update=True)
            if row is not None and row.attempts > 0:
                row.attempts -= 1
        session.flush()

    def _row(self, session: Session, key: str, now: datetime) -> LoginThrottleRow:
        # Insert-if-missing first: it takes the write lock (SQLite) or the row (PostgreSQL) before anything is read.
        dialect = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
        session.execute(
            dialect.insert(LoginThrottleRow)
            .values(key=key, attempts=0, window_started_at=now)
            .on_conflict_do_nothing(index_elements=["key"])
        )
        row = session.scalars(
            select(LoginThrottleRow)
            .where(LoginThrottleRow.key == key)
            .with_for_update()
            .execution_options(populate_existing=True)
        ).one()
        if _aware(row.window_started_at) + self.window <= now:
            row.attempts, row.window_started_at = 0, now
        return row

    def _until_window_ends(self, row: LoginThrottleRow, now: datetime) -> int:
        return max(1, math.ceil((_aware(row.window_started_at) + self.window - now).total_seconds()))


def _key(kind: str, value: str) -> str:
    # Hashed: a typed username may hold anything (NUL bytes, markup, 10 kB) and is never stored as such.
    return hashlib.sha256(f"{kind}:{value}".encode(errors="surrogatepass")).hexdigest()


def _aware(at: datetime) -> datetime:
    return at if at.tzinfo else at.replace(tzinfo=UTC)  # SQLite hands back naive datetimes
