"""One active scheduler: a lease that a second scheduler process waits for instead of running the jobs twice.

Reminders, milestones and expiries must fire once. On PostgreSQL the lease is a session advisory lock held on
its own connection (released by the server if the process dies); on SQLite, an exclusive lock on a file beside
the database (released by the kernel if the process dies). A standby polls until the lease is free.
"""

from __future__ import annotations

import fcntl
import logging
import time
from pathlib import Path
from typing import IO

from sqlalchemy import Connection, create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.pool import NullPool

log = logging.getLogger(__name__)

# pg_advisory_lock takes a bigint: a fixed number for "the Before Service scheduler" (ASCII "BSsched").
_ADVISORY_KEY = 0x42_53_73_63_68_65_64


class SchedulerLease:
    def __init__(self, database_url: str) -> None:
        self.database_url = database_url
        self._connection: Connection | None = None
        self._file: IO[bytes] | None = None
        url = make_url(database_url)
        self._postgres = url.get_backend_name() == "postgresql"
        self._lock_path = None if self._postgres else Path(f"{url.database or 'memory'}.scheduler.lock")
        # One engine for every attempt (a standby polls), without a pool: closing a connection ends its session,
        # so a lock can never outlive its holder inside an idle pooled connection.
        self._engine = create_engine(database_url, poolclass=NullPool) if self._postgres else None

    def try_acquire(self) -> bool:
        """Take the lease if it is free; True when this process holds it."""
        if self.held:
            return True
        if self._engine is not None:
            connection = self._engine.connect()
            if connection.scalar(text("SELECT pg_try_advisory_lock(:key)"), {"key": _ADVISORY_KEY}):
                connection.commit()  # the lock belongs to the session, not to a transaction
                self._connection = connection
                return True
            connection.close()
            return False
        assert self._lock_path is not None
        self._lock_path.parent.mkdir(parents=True, exist_ok=True)
        handle = self._lock_path.open("ab")
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.close()
            return False
        self._file = handle
        return True

    def acquire(self, poll_seconds: float = 5.0) -> None:
        """Wait (as a standby) until this process holds the lease."""
        announced = False
        while not self.try_acquire():
            if not announced:
                log.warning("another scheduler is active; standing by until it stops")
                announced = True
            time.sleep(poll_seconds)

    @property
    def held(self) -> bool:
        return self._connection is not None or self._file is not None

    def alive(self) -> bool:
        """Whether the lease still holds: a PostgreSQL session that was cut has lost its lock."""
        if self._connection is None:
            return self._file is not None
        try:
            self._connection.execute(text("SELECT 1"))
            self._connection.commit()
        except Exception:  # any failure means the session, and so the lock, may be gone
            return False
        return True

    def release(self) -> None:
        if self._connection is not None:
            try:
                self._connection.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": _ADVISORY_KEY})
                self._connection.commit()
            finally:
                self._connection.close()
                self._connection = None
        if self._file is not None:
            fcntl.flock(self._file, fcntl.LOCK_UN)
            self._file.close()
            self._file = None
