"""Deadline reminders on a real APScheduler with the SQLAlchemy job store (the engine's own database)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, time, timedelta

import pytest
from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
from apscheduler.schedulers.background import BackgroundScheduler
from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from beforeservice.scheduler import _reminder_job
from entitlements import CATALOG_DIR
from entitlements.tables import EntitlementRow
from notifiers.reminders import REMINDER_SOURCE, cancel_reminders, job_id, plan_reminders, send_reminder
from notifiers.rendering import REMINDER, shared_templates
from notifiers.tables import NotificationRow
from notifiers.timing import SEOUL
from rules_engine.catalog import load_catalog
from tests.conftest import wait_for
from tests.support.notification_seeds import T0, notification, offer, seed_citizen

pytestmark = pytest.mark.integration
DEADLINE = date(2026, 3, 20)  # 60 days after a birth: 부모급여 is paid retroactively only if applied by then


@pytest.fixture
def scheduler(database_url: str) -> Iterator[BackgroundScheduler]:
    running = BackgroundScheduler(
        jobstores={"default": SQLAlchemyJobStore(url=database_url, tablename="scheduled_jobs")}, timezone="Asia/Seoul"
    )
    running.start(paused=True)
    yield running
    running.shutdown(wait=False)


def plan(
    scheduler: BackgroundScheduler, sessions: sessionmaker[Session], database_url: str, now: datetime
) -> tuple[int, int]:
    kwargs = {"database_url": database_url, "timezone": "Asia/Seoul"}
    return plan_reminders(scheduler, sessions, _reminder_job, kwargs, now, (14, 3), SEOUL)


def test_reminders_at_d14_and_d3_with_stable_ids_and_removed_once_applied(
    scheduler: BackgroundScheduler, sessions: sessionmaker[Session], database_url: str
) -> None:
    seed_citizen(sessions, "mom")
    now = datetime.now(UTC)  # the job store's scheduler runs on the real clock
    deadline = now.astimezone(SEOUL).date() + timedelta(days=15)
    parental = offer(
        sessions, "mom", benefit="parental_benefit", amount=1_000_000, payment="monthly", deadline=deadline
    )
    far = offer(sessions, "mom", deadline=deadline + timedelta(days=60))  # beyond the horizon: planned later

    assert plan(scheduler, sessions, database_url, now) == (2, 0)
    assert plan(scheduler, sessions, database_url, now) == (0, 0)  # idempotent: stable ids
    jobs = {j.id: j for j in scheduler.get_jobs()}
    assert set(jobs) == {job_id(parental, 14), job_id(parental, 3)}
    d14 = datetime.combine(deadline - timedelta(days=14), time(10), tzinfo=SEOUL)
    assert jobs[job_id(parental, 14)].trigger.run_date == d14
    assert jobs[job_id(parental, 3)].trigger.run_date == d14 + timedelta(days=11)
    assert far not in "".join(jobs)

    with sessions.begin() as session:  # the agency's application.received event, as the other handler records it
        session.execute(update(EntitlementRow).where(EntitlementRow.id == parental).values(status="applied"))
    assert plan(scheduler, sessions, database_url, now) == (0, 2)
    assert scheduler.get_jobs() == []


def test_a_firing_reminder_checks_the_offer_first(sessions: sessionmaker[Session]) -> None:
    seed_citizen(sessions, "mom")
    catalog, templates = load_catalog(CATALOG_DIR), shared_templates()
    offers = {
        status: offer(sessions, "mom", benefit="parental_benefit", deadline=DEADLINE, status=status)
        for status in ("notified", "applied", "granted", "expired", "retracted")
    }
    for status, offer_id in offers.items():
        notification(sessions, "mom", [offer_id], event_id=f"ev-{offer_id}")
        queued = send_reminder(sessions, catalog, templates, offer_id, 3, T0 + timedelta(days=7), SEOUL)
        assert queued == (1 if status == "notified" else 0), status

    again = send_reminder(sessions, catalog, templates, offers["notified"], 3, T0 + timedelta(days=7), SEOUL)
    assert again == 0  # one reminder per recipient, offer and day
    with sessions() as session:
        [reminder] = session.scalars(select(NotificationRow).where(NotificationRow.event_type == REMINDER)).all()
    assert reminder.event_source == REMINDER_SOURCE and reminder.collapse_key == f"r-{offers['notified']}"
    assert reminder.lock_screen_title == "신청 기한이 다가와요"
    assert "3일 남았어요" in reminder.message_ko and "2026-03-20" in reminder.message_ko
    assert "https://" in reminder.message_ko and reminder.dispatch_status == "pending"


def test_a_job_from_the_job_store_fires_and_queues_the_reminder(
    scheduler: BackgroundScheduler, sessions: sessionmaker[Session], database_url: str
) -> None:
    seed_citizen(sessions, "mom")
    today = datetime.now(UTC).astimezone(SEOUL).date()
    parental = offer(sessions, "mom", benefit="parental_benefit", deadline=today + timedelta(days=14))
    notification(sessions, "mom", [parental], event_id=f"ev-{parental}")
    assert plan(scheduler, sessions, database_url, datetime.now(UTC) - timedelta(days=1))[0] >= 1

    scheduler.modify_job(job_id(parental, 14), next_run_time=datetime.now(UTC))  # as if the day had come
    scheduler.resume()

    def queued() -> bool:
        with sessions() as session:
            return session.scalar(select(NotificationRow.id).where(NotificationRow.event_type == REMINDER)) is not None

    wait_for(queued, timeout=30, what="the D-14 reminder queued by the scheduled job")
    assert cancel_reminders(scheduler, parental) == 1  # D-3 was still there; D-14 ran and is gone
