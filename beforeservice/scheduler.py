"""Time-based work (APScheduler 3, jobs persisted in the database, stable ids so restarts never duplicate).

A job's stored arguments name its database (the job store outlives any one process); every run of every job in
this process uses the one `Process` built for that database (its engine, keyring and catalog watch), and
`run_scheduler` disposes of it when the scheduler stops.
"""

from __future__ import annotations

import logging
import threading
import time
from datetime import UTC, date, datetime
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
from apscheduler.schedulers.blocking import BlockingScheduler
from sqlalchemy import or_
from sqlalchemy.orm import Session, sessionmaker

from beforeservice import metrics
from beforeservice.bootstrap import Process
from beforeservice.settings import Settings, get_settings
from entitlements.lifecycle import OPEN, UNDECIDED, EntitlementStatus
from entitlements.persistence.tables import EntitlementRow
from entitlements.persistence.transitions import move_where
from rules_engine.deadlines import DeadlineKind

if TYPE_CHECKING:
    from beforeservice.probes import Probes
    from beforeservice.scheduler_lease import SchedulerLease

APPLICATION_CLOSES = DeadlineKind.APPLICATION_CLOSES.value
ENTITLEMENT_ENDS = DeadlineKind.ENTITLEMENT_ENDS.value

log = logging.getLogger(__name__)


def expire_offers(sessions: sessionmaker[Session], today: date) -> int:
    """The day after an offer's end, by the kind of that end (rules_engine/deadlines.py): an application that
    closed makes it expired, an entitlement that ended makes it ended. A retroactive window or a voucher's use-by
    date never closes an offer (the right stands: only its text and reminders change). Every change goes through
    the lifecycle's gate (entitlements/persistence/transitions.py). Returns how many offers closed."""
    now = datetime.now(UTC)
    with sessions.begin() as session:
        expired = move_where(
            session,
            EntitlementStatus.EXPIRED,
            EntitlementRow.deadline < today,
            # a row dated before kinds existed (or swept without one) was an application deadline
            or_(EntitlementRow.deadline_kind == APPLICATION_CLOSES, EntitlementRow.deadline_kind.is_(None)),
            now=now,
            only_from=OPEN,
        )
        ended = move_where(
            session,
            EntitlementStatus.ENDED,
            EntitlementRow.deadline < today,
            EntitlementRow.deadline_kind == ENTITLEMENT_ENDS,
            now=now,
            only_from=UNDECIDED,
        )
    log.info(
        "offers past their end on %s: %d expired (application closed), %d ended (entitlement)", today, expired, ended
    )
    return expired + ended


_PROCESSES: dict[str, Process] = {}  # by database URL: one per database this process's jobs work on
_PROCESSES_LOCK = threading.Lock()


def process_for(database_url: str) -> Process:
    """The process's parts for a job on `database_url`, built on the first run and reused by every later one."""
    with _PROCESSES_LOCK:
        if database_url not in _PROCESSES:
            _PROCESSES[database_url] = Process(get_settings().model_copy(update={"database_url": database_url}))
        return _PROCESSES[database_url]


def close_processes() -> None:
    """Dispose of every engine the jobs used (the scheduler stops)."""
    with _PROCESSES_LOCK:
        for process in _PROCESSES.values():
            process.close()
        _PROCESSES.clear()


def _today(timezone: str, today: str | None) -> date:
    """The scheduler's day: the local date, or the one a test or an operator's catch-up run gives (ISO)."""
    return date.fromisoformat(today) if today else datetime.now(ZoneInfo(timezone)).date()


def _expire_job(database_url: str, timezone: str, today: str | None = None) -> None:
    expire_offers(process_for(database_url).sessions, _today(timezone, today))


def emit_milestones(sessions: sessionmaker[Session], bootstrap_servers: str, today: date) -> int:
    """Produce the milestone events due today (and in the catch-up window) to `life-events`."""
    from entitlements.milestones import milestone_event
    from entitlements.persistence.birthdays import due_on
    from events.producer import AgencyProducer

    with sessions() as session:
        due = list(due_on(session, today))
    if not due:
        return 0
    producer = AgencyProducer(bootstrap_servers)
    try:
        for item in due:
            producer.send(milestone_event(item))
        producer.flush()
    finally:
        producer.close()
    log.info("emitted %d milestone events", len(due))
    return len(due)


def _milestones_job(database_url: str, bootstrap_servers: str, timezone: str, today: str | None = None) -> None:
    emit_milestones(process_for(database_url).sessions, bootstrap_servers, _today(timezone, today))


def _reminder_job(
    database_url: str, timezone: str, entitlement_id: str, days_before: int, kind: str = "application_closes"
) -> None:
    from notifiers.reminders import send_reminder

    process = process_for(database_url)
    queued = send_reminder(
        process.sessions,
        process.catalog(),
        process.templates,
        entitlement_id,
        days_before,
        datetime.now(UTC),
        ZoneInfo(timezone),
        DeadlineKind(kind),
    )
    log.info("deadline reminder (%s) D-%d for %s: %d queued", kind, days_before, entitlement_id, queued)


def _plan_reminders_job(database_url: str, timezone: str, reminder_days: str) -> None:
    from notifiers.reminders import plan_reminders
    from notifiers.reminders import reminder_days as parse_days

    if _RUNNING is None:
        return
    added, removed = plan_reminders(
        _RUNNING,
        process_for(database_url).sessions,
        _reminder_job,
        {"database_url": database_url, "timezone": timezone},
        datetime.now(UTC),
        parse_days(reminder_days),
        ZoneInfo(timezone),
    )
    log.info("deadline reminders: %d scheduled, %d removed", added, removed)


def _prune_devices_job(database_url: str, stale_days: int) -> None:
    from notifiers.devices import prune_stale

    pruned = prune_stale(process_for(database_url).sessions, datetime.now(UTC), stale_days)
    log.info("pruned %d device tokens not refreshed for %d days", pruned, stale_days)


def _fallback_job(database_url: str) -> None:
    from notifiers.fallback import escalate_unopened
    from notifiers.gateway import HttpMessageGateway
    from notifiers.policy import DispatchPolicy

    process = process_for(database_url)
    settings = process.settings
    gateway = (
        HttpMessageGateway(settings.message_gateway_url, settings.message_gateway_key)
        if settings.message_gateway_url
        else None
    )
    try:
        result = escalate_unopened(
            process.sessions, gateway, process.templates, DispatchPolicy.of(settings), datetime.now(UTC)
        )
        metrics.FALLBACK_TEXTS.inc(result.texted)
        metrics.OUTREACH_TASKS.inc(result.outreach)
    finally:
        if gateway is not None:
            gateway.close()


_RUNNING: BlockingScheduler | None = None  # the planning job adds reminder jobs to the scheduler that runs it


def build_scheduler(settings: Settings) -> BlockingScheduler:
    """The scheduler and its jobs; the job store and every job run share this process's one engine."""
    with _PROCESSES_LOCK:
        process = _PROCESSES.setdefault(settings.database_url, Process(settings))
    scheduler = BlockingScheduler(
        jobstores={"default": SQLAlchemyJobStore(engine=process.engine, tablename="scheduled_jobs")},
        timezone=settings.scheduler_timezone,
        job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": 3600},
    )
    scheduler.add_job(
        _expire_job,
        "cron",
        hour=0,
        minute=5,
        id="expire_offers",
        replace_existing=True,
        kwargs={"database_url": settings.database_url, "timezone": settings.scheduler_timezone},
    )
    scheduler.add_job(
        _milestones_job,
        "cron",
        hour=0,
        minute=10,
        id="emit_milestones",
        replace_existing=True,
        kwargs={
            "database_url": settings.database_url,
            "bootstrap_servers": settings.bootstrap_servers,
            "timezone": settings.scheduler_timezone,
        },
    )
    scheduler.add_job(
        _plan_reminders_job,
        "cron",
        minute=20,
        id="plan_reminders",
        replace_existing=True,
        kwargs={
            "database_url": settings.database_url,
            "timezone": settings.scheduler_timezone,
            "reminder_days": settings.reminder_days,
        },
    )
    scheduler.add_job(
        _prune_devices_job,
        "cron",
        hour=3,
        minute=0,
        id="prune_devices",
        replace_existing=True,
        kwargs={"database_url": settings.database_url, "stale_days": settings.device_stale_days},
    )
    scheduler.add_job(
        _fallback_job,
        "interval",
        minutes=5,
        id="notification_fallback",
        replace_existing=True,
        kwargs={"database_url": settings.database_url},
    )
    global _RUNNING
    _RUNNING = scheduler
    return scheduler


def run_scheduler(settings: Settings, poll_seconds: float = 5.0) -> int:
    """Run the jobs while this process holds the scheduler lease; a second scheduler stands by.

    Returns 0 after a normal stop, 1 when the lease was lost (the orchestrator restarts us as a standby)."""
    from beforeservice.probes import Probes, serve
    from beforeservice.scheduler_lease import SchedulerLease
    from beforeservice.scheduler_metrics import count_job_results

    # Live while standing by or checking the lease; ready when the database answered the last look (probes.py).
    probes = Probes(["database"])
    server = serve(probes, settings.worker_metrics_host, settings.scheduler_metrics_port)
    metrics.SCHEDULER_LEASE_HELD.set(0)
    lease = SchedulerLease(settings.database_url)
    _stand_by(lease, probes, poll_seconds)
    metrics.SCHEDULER_LEASE_HELD.set(1)
    log.info("scheduler lease taken; running the jobs")
    scheduler = build_scheduler(settings)
    count_job_results(scheduler)
    lost = False

    def check_lease() -> None:
        nonlocal lost
        probes.beat()
        alive = lease.alive()
        probes.report("database", alive)
        if not alive:
            metrics.SCHEDULER_LEASE_HELD.set(0)
            lost = True
            log.error("scheduler lease lost; stopping so that only one scheduler runs the jobs")
            scheduler.shutdown(wait=False)

    # Kept in memory, not in the shared job store: the check belongs to this process, not to the cluster.
    scheduler.add_jobstore("memory", alias="lease")
    scheduler.add_job(
        check_lease, "interval", seconds=30, id="scheduler_lease", jobstore="lease", replace_existing=True
    )
    try:
        scheduler.start()
    finally:
        lease.release()
        metrics.SCHEDULER_LEASE_HELD.set(0)
        if server is not None:
            server.shutdown()
            server.server_close()
        close_processes()
    return 1 if lost else 0


def _stand_by(lease: SchedulerLease, probes: Probes, poll_seconds: float) -> None:
    """Wait until this process holds the lease (as SchedulerLease.acquire), beating the liveness probe meanwhile:
    a standby is healthy, not stuck."""
    announced = False
    while not lease.try_acquire():
        probes.beat()
        probes.report("database", True)  # the database answered: another scheduler holds the lease
        if not announced:
            log.warning("another scheduler is active; standing by until it stops")
            announced = True
        time.sleep(poll_seconds)
    probes.beat()
    probes.report("database", True)
