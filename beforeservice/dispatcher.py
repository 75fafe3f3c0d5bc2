"""The outbox dispatcher on its own (`beforeservice dispatcher`), so that sending never competes with matching.

The embedded default lets the worker dispatch too (one process to run); at scale, workers set
WORKER_DISPATCHES_OUTBOX=false and one or more dispatchers share the outbox (rows are claimed with SKIP LOCKED).
"""

from __future__ import annotations

import logging
import signal
import threading
from types import FrameType

from sqlalchemy.orm import Session, sessionmaker

from beforeservice import metrics
from beforeservice.bootstrap import Process
from beforeservice.outbox_gauges import OutboxGauges
from beforeservice.probes import Probes, serve
from beforeservice.push_outcomes import counted
from beforeservice.settings import Settings
from notifiers.doorbell import Doorbell
from notifiers.outbox import DispatchResult, dispatch_pending
from notifiers.policy import DispatchPolicy
from notifiers.push import PushSender
from notifiers.rendering import NotificationTemplates

log = logging.getLogger(__name__)


def run_dispatcher(settings: Settings, stop: threading.Event | None = None) -> None:
    """Send from the outbox until `stop` is set (or SIGTERM/SIGINT when run as the main thread)."""
    stop = stop or _stop_on_signals()
    process = Process(settings).with_schema()
    outbox, push = process.sessions, counted(process.push_sender)
    policy, templates = DispatchPolicy.of(settings), process.templates
    doorbell = Doorbell(settings.database_url, stop)
    # Ready when the database answered the last gauge refresh; live while this loop goes round (probes.py).
    probes, gauges = Probes(["database"]), OutboxGauges(outbox)
    server = serve(probes, settings.worker_metrics_host, settings.dispatcher_metrics_port)
    log.info(
        "dispatching the outbox every %.1fs or when rung (push: %s)", settings.dispatch_interval_seconds, bool(push)
    )
    try:
        while not stop.is_set():
            probes.beat()
            reached = gauges.refresh()
            if reached is not None:
                probes.report("database", reached)
            try:
                with probes.working():
                    taken = dispatch_round(outbox, push, policy, templates)
            except Exception:  # the rows stay pending; the next round tries again
                log.exception("outbox dispatch failed")
                taken = 0
            if taken == 0:  # drained (or failed): wait for a ring or the next tick; otherwise go straight on
                doorbell.wait(settings.dispatch_interval_seconds)
    finally:
        doorbell.close()
        if server is not None:
            server.shutdown()
            server.server_close()
        process.close()


def dispatch_round(
    outbox: sessionmaker[Session],
    push: PushSender | None,
    policy: DispatchPolicy,
    templates: NotificationTemplates,
) -> int:
    """One batch from the outbox, counted in the metrics; how many notifications it took (0: drained).

    The worker's timer (embedded default) and the dispatcher process both send through this."""
    sent = dispatch_pending(outbox, push, policy=policy, templates=templates)
    metrics.NOTIFICATIONS_PUSHED.inc(sent.pushed)
    metrics.NOTIFICATIONS_INBOX_ONLY.inc(sent.inbox_only)
    if sent.notifications:
        log.info(
            "outbox round",
            extra={"notifications": sent.notifications, "pushed": sent.pushed, "outcome": _outcomes(sent)},
        )
    return sent.notifications


def _outcomes(sent: DispatchResult) -> str:
    counts = {"failed": sent.push_failed, "inbox_only": sent.inbox_only, "held": sent.held, "merged": sent.merged}
    return ",".join(f"{name}={count}" for name, count in counts.items() if count)


def _stop_on_signals() -> threading.Event:
    stop = threading.Event()

    def on_signal(signum: int, _: FrameType | None) -> None:
        log.info("signal %d: finishing the current batch", signum)
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    return stop
