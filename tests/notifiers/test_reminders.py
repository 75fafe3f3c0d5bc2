"""Deadline reminders on a real APScheduler with the SQLAlchemy job store (the engine's own database)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, time, timedelta

import pytest
from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
from apscheduler.schedulers.background import BackgroundScheduler
from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from beforeservice.scheduler import _reminder_job, expire_offers
from entitlements import CATALOG_DIR
from entitlements.persistence.tables import EntitlementRow
from notifiers.reminders import REMINDER_SOURCE, cancel_reminders, job_id, plan_reminders, send_reminder
from notifiers.rendering import REMINDER, shared_templates
from notifiers.tables import NotificationRow
from notifiers.timing import SEOUL
from rules_engine.deadlines import DeadlineKind
from rules_engine.loader import load_catalog
from tests.conftest import wait_for
from tests.support.notification_seeds import T0, notification, offer, seed_citizen

pytestmark = pytest.mark.integration
DEADLINE = date(2026, 3, 20)  # a municipal grant's application closes (kind application_closes)


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
    parental = offer(sessions, "mom", benefit="suwon_birth_grant", amount=500_000, deadline=deadline)
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
        status: offer(sessions, "mom", benefit="suwon_birth_grant", deadline=DEADLINE, status=status)
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
    parental = offer(sessions, "mom", benefit="suwon_birth_grant", deadline=today + timedelta(days=14))
    notification(sessions, "mom", [parental], event_id=f"ev-{parental}")
    assert plan(scheduler, sessions, database_url, datetime.now(UTC) - timedelta(days=1))[0] >= 1

    scheduler.modify_job(job_id(parental, 14), next_run_time=datetime.now(UTC))  # as if the day had come
    scheduler.resume()

    def queued() -> bool:
        with sessions() as session:
            return session.scalar(select(NotificationRow.id).where(NotificationRow.event_type == REMINDER)) is not None

    wait_for(queued, timeout=30, what="the D-14 reminder queued by the scheduled job")
    assert cancel_reminders(scheduler, parental) == 1  # D-3 was still there; D-14 ran and is gone


def test_a_retroactive_window_is_reminded_with_what_is_lost_and_never_closes_the_offer(
    scheduler: BackgroundScheduler, sessions: sessionmaker[Session], database_url: str
) -> None:
    """부모급여: apply within 60 days counting the birth day to be paid from the birth month (아동수당법 제10조제2항);
    the reminder says the earlier months are lost after it, and on day 61 the offer is still open."""
    seed_citizen(sessions, "mom")
    now = datetime.now(UTC)
    today = now.astimezone(SEOUL).date()
    window = today + timedelta(days=15)
    parental = offer(
        sessions, "mom", benefit="parental_benefit", amount=1_000_000, payment="monthly", retroactive_until=window,
        status="notified",
    )  # fmt: skip
    notification(sessions, "mom", [parental], event_id=f"ev-{parental}")
    retro = DeadlineKind.RETROACTIVE_WINDOW

    assert plan(scheduler, sessions, database_url, now) == (2, 0)
    assert {j.id for j in scheduler.get_jobs()} == {job_id(parental, 14, retro), job_id(parental, 3, retro)}
    assert scheduler.get_job(job_id(parental, 3, retro)).kwargs["kind"] == "retroactive_window"

    catalog, templates = load_catalog(CATALOG_DIR), shared_templates()
    three_days_before = datetime.combine(window - timedelta(days=3), time(10), tzinfo=SEOUL)
    assert send_reminder(sessions, catalog, templates, parental, 3, three_days_before, SEOUL, retro) == 1
    assert send_reminder(sessions, catalog, templates, parental, 3, three_days_before, SEOUL, retro) == 0  # once
    with sessions() as session:
        [reminder] = session.scalars(select(NotificationRow).where(NotificationRow.event_type == REMINDER)).all()
    assert reminder.lock_screen_title == "지금 신청하면 더 받을 수 있어요"
    assert "소급 신청 기한이 3일 남았어요" in reminder.message_ko
    assert "그동안의 지원금은 받지 못하고 신청한 달부터 받아요" in reminder.message_ko
    assert f"소급 기한: {window.isoformat()}까지 신청하면" in reminder.message_ko
    assert "the months before your application are lost" in reminder.message_en

    day_after = window + timedelta(days=1)
    assert expire_offers(sessions, day_after) == 0  # the right stands: nothing expires
    later = datetime.combine(day_after, time(10), tzinfo=SEOUL)
    assert send_reminder(sessions, catalog, templates, parental, 14, later, SEOUL, retro) == 0  # passed: no reminder
    with sessions() as session:
        assert session.get(EntitlementRow, parental).status == "notified"  # type: ignore[union-attr]


def test_a_voucher_is_reminded_before_it_lapses_even_once_granted(
    scheduler: BackgroundScheduler, sessions: sessionmaker[Session], database_url: str
) -> None:
    seed_citizen(sessions, "mom")
    now = datetime.now(UTC)
    use_by = now.astimezone(SEOUL).date() + timedelta(days=10)
    voucher = offer(
        sessions, "mom", amount=2_000_000, use_by=use_by, deadline=use_by, deadline_kind="entitlement_ends",
        status="granted",
    )  # fmt: skip
    notification(sessions, "mom", [voucher], event_id=f"ev-{voucher}")
    use = DeadlineKind.USE_BY

    assert plan(scheduler, sessions, database_url, now) == (1, 0)  # D-14 is already past; entitlement_ends: none
    assert {j.id for j in scheduler.get_jobs()} == {job_id(voucher, 3, use)}
    catalog, templates = load_catalog(CATALOG_DIR), shared_templates()
    at = datetime.combine(use_by - timedelta(days=3), time(10), tzinfo=SEOUL)
    assert send_reminder(sessions, catalog, templates, voucher, 3, at, SEOUL, use) == 1
    with sessions() as session:
        [reminder] = session.scalars(select(NotificationRow).where(NotificationRow.event_type == REMINDER)).all()
    assert reminder.lock_screen_title == "사용 기한이 다가와요"
    assert "기한이 지나면 남은 금액은 쓸 수 없어요" in reminder.message_ko
    assert f"사용 기한: {use_by.isoformat()}까지 사용할 수 있어요" in reminder.message_ko
    # An application deadline reminder is never sent for it: its end is the entitlement's, not an application's.
    assert send_reminder(sessions, catalog, templates, voucher, 3, at, SEOUL, DeadlineKind.APPLICATION_CLOSES) == 0
