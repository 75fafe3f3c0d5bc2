"""Probes and metrics of the processes that serve no HTTP of their own: worker, dispatcher, scheduler.

One small HTTP server per process (the port of WORKER_METRICS_PORT, DISPATCHER_METRICS_PORT or
SCHEDULER_METRICS_PORT) answers:
- `/livez`: 200 while the process's loop beats and no unit of work has run longer than `stuck_after` seconds;
  503 otherwise, so that Kubernetes restarts a stuck process. Waiting on purpose (a retry while the database is
  down, an idle outbox, a standby scheduler) still beats: restarting would not help there.
- `/readyz`: 200 when every condition the process reports holds (a worker: it holds partitions and reached the
  database on its last check); 503 with the failing ones named.
- anything else: the Prometheus metrics.
The answers are read from memory, never computed on the probe: a probe cannot pile load on a struggling database.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from sqlalchemy import text
from sqlalchemy.orm import Session, sessionmaker

log = logging.getLogger(__name__)

STUCK_AFTER_SECONDS = 300.0  # a batch or a dispatch round normally takes well under a second


class Probes:
    """What a process's probes report: a heartbeat, the work in progress, and named readiness conditions."""

    def __init__(self, conditions: Iterable[str], stuck_after: float = STUCK_AFTER_SECONDS) -> None:
        self._lock = threading.Lock()
        self._stuck_after = stuck_after
        self._beat = time.monotonic()
        self._working: dict[int, float] = {}
        self._next_work = 0
        self._conditions = dict.fromkeys(conditions, False)

    def beat(self) -> None:
        """The process's loop went round (call it from the loop itself, never from a helper thread)."""
        with self._lock:
            self._beat = time.monotonic()

    @contextmanager
    def working(self) -> Iterator[None]:
        """Around one unit of work (a batch, a round): live() fails if it runs longer than `stuck_after`."""
        with self._lock:
            ticket, self._next_work = self._next_work, self._next_work + 1
            self._working[ticket] = time.monotonic()
        try:
            yield
        finally:
            with self._lock:
                del self._working[ticket]

    def report(self, condition: str, holds: bool) -> None:
        with self._lock:
            self._conditions[condition] = holds

    def live(self) -> tuple[bool, dict[str, float]]:
        now = time.monotonic()
        with self._lock:
            since_beat = now - self._beat
            longest = max((now - started for started in self._working.values()), default=0.0)
        detail = {"seconds_since_beat": round(since_beat, 1), "longest_work_seconds": round(longest, 1)}
        return since_beat < self._stuck_after and longest < self._stuck_after, detail

    def ready(self) -> tuple[bool, dict[str, bool]]:
        with self._lock:
            conditions = dict(self._conditions)
        return all(conditions.values()) and self.live()[0], conditions


def database_reachable(sessions: sessionmaker[Session]) -> bool:
    """One `SELECT 1`; False (logged) on any failure."""
    try:
        with sessions() as session:
            session.execute(text("SELECT 1"))
        return True
    except Exception as error:  # any failure means "not reachable now"; the next check tries again
        log.warning("database check failed: %s", type(error).__name__)
        return False


def serve(probes: Probes, host: str, port: int) -> ThreadingHTTPServer | None:
    """Serve the probes and the metrics on a daemon thread; None when `port` is 0 (disabled)."""
    if not port:
        return None

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            path = self.path.split("?", 1)[0]
            if path in ("/livez", "/readyz"):
                ok, detail = probes.live() if path == "/livez" else probes.ready()
                body = json.dumps({"status": "ok" if ok else "failing", **detail}).encode()
                self._answer(200 if ok else 503, "application/json", body)
            else:
                self._answer(200, CONTENT_TYPE_LATEST, generate_latest())

        def _answer(self, status: int, content_type: str, body: bytes) -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            pass  # probes every few seconds would flood the log

    server = ThreadingHTTPServer((host, port), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, name="probes", daemon=True).start()
    return server
