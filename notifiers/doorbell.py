"""The outbox doorbell: a transaction that queues notifications rings it; dispatchers waiting on it wake at once.

On PostgreSQL this is LISTEN/NOTIFY: `ring` issues NOTIFY inside the writer's transaction, which PostgreSQL
delivers only when (and if) that transaction commits, so a dispatcher never wakes for rows it cannot see yet.
Without it a dispatcher finds new rows only at its next poll (DISPATCH_INTERVAL_SECONDS, 0.5 s by default),
which is most of a notification's latency when the outbox is quiet. Elsewhere (SQLite) there is no bell and
dispatchers poll. The bell only shortens the wait: a missed ring (dispatcher restarting, connection lost) costs
one interval, never a notification, because every wait ends with a poll anyway.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from typing import Any

from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

log = logging.getLogger(__name__)
CHANNEL = "before_service_outbox"
_RING = text(f"NOTIFY {CHANNEL}")
_SLICE = 1.0


def ring(session: Session) -> None:
    """Wake the dispatchers when the caller's transaction commits (PostgreSQL; a no-op elsewhere)."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(_RING)


class Doorbell:
    """What a dispatcher waits on between rounds: a ring, `stop`, or the end of the interval, whichever first."""

    def __init__(self, database_url: str, stop: threading.Event) -> None:
        url = make_url(database_url)
        # libpq's own URL (options such as search_path carry over); None: no bell, poll only.
        self._conninfo = (
            url.set(drivername="postgresql").render_as_string(hide_password=False)
            if url.get_backend_name() == "postgresql"
            else None
        )
        self._stop = stop
        self._connection: Any = None

    def listen(self) -> bool:
        """Start listening now (otherwise the first wait does); False where there is no bell."""
        return self._listening() is not None

    def wait(self, seconds: float) -> None:
        listening = self._listening()
        if listening is None:
            self._stop.wait(seconds)
            return
        try:
            deadline = time.monotonic() + seconds
            # In slices of at most a second, so that `stop` (SIGTERM) is seen promptly.
            while not self._stop.is_set() and (left := deadline - time.monotonic()) > 0:
                if any(True for _ in listening.notifies(timeout=min(left, _SLICE), stop_after=1)):
                    break
            for _ in listening.notifies(timeout=0):  # rings that came meanwhile are answered by this one round
                pass
        except Exception:  # connection lost (database restarting): poll until it can listen again
            log.warning("outbox doorbell lost its connection; polling every %.1fs until it is back", seconds)
            self.close()
            self._stop.wait(seconds)

    def _listening(self) -> Any:
        if self._conninfo is None or self._connection is not None:
            return self._connection
        import psycopg

        try:
            self._connection = psycopg.connect(self._conninfo, autocommit=True)
            self._connection.execute(f"LISTEN {CHANNEL}")
        except psycopg.Error as error:
            log.warning("outbox doorbell cannot listen (%s); polling", error)
            self.close()
        return self._connection

    def close(self) -> None:
        if self._connection is not None:
            with contextlib.suppress(Exception):  # already broken: nothing to release
                self._connection.close()
            self._connection = None
