"""Time-based work (APScheduler 3, jobs persisted in the database, stable ids so restarts never duplicate)."""

from __future__ import annotations

import logging
from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
from apscheduler.schedulers.blocking import BlockingScheduler
from sqlalchemy import update
from sqlalchemy.orm import Session, sessionmaker

from beforeservice.settings import Settings
from beforeservice.wiring import sessions as make_sessions
from entitlements.lifecycle import OPEN, EntitlementStatus
from entitlements.tables import EntitlementRow

log = logging.getLogger(__name__)


def expire_offers(sessions: sessionmaker[Session], today: date) -> int:
    """Offers still open after their application deadline become expired."""
    with sessions.begin() as session:
        result = session.execute(
            update(EntitlementRow)
            .where(EntitlementRow.deadline < today, EntitlementRow.status.in_([s.value for s in OPEN]))
            .values(status=EntitlementStatus.EXPIRED.value, updated_at=datetime.now(UTC))
        )
    count = int(result.rowcount or 0)  # type: ignore[attr-defined]
    log.info("expired %d offers past their deadline", count)
    return count


def _expire_job(database_url: str, timezone: str) -> None:
    from beforeservice.settings import Settings as _Settings

    sessions = make_sessions(_Settings(database_url=database_url))
    expire_offers(sessions, datetime.now(ZoneInfo(timezone)).date())


def emit_milestones(sessions: sessionmaker[Session], bootstrap_servers: str, today: date) -> int:
    """Produce the milestone events due today (and in the catch-up window) to `life-events`."""
    from beforeservice.milestones import due_on, milestone_event
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


def _milestones_job(database_url: str, bootstrap_servers: str, timezone: str) -> None:
    from beforeservice.settings import Settings as _Settings

    sessions = make_sessions(_Settings(database_url=database_url))
    emit_milestones(sessions, bootstrap_servers, datetime.now(ZoneInfo(timezone)).date())


def build_scheduler(settings: Settings) -> BlockingScheduler:
    scheduler = BlockingScheduler(
        jobstores={"default": SQLAlchemyJobStore(url=settings.database_url, tablename="scheduled_jobs")},
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
    return scheduler
