"""Deadline reminders (e.g. 부모급여 and 아동수당 are paid retroactively only if applied for within 60 days of
birth): one APScheduler date job per open offer and reminder day, with a stable id, in the SQLAlchemy job store.

When a job fires it re-reads the offer: applied, granted, expired, retracted or rejected means no reminder
(the agency's event got there first). Planning also removes the jobs of offers that closed, so they do not
linger. A reminder is an outbox notification like any other (consent, quiet hours, budget apply), unique per
(recipient, offer, reminder day), and carries a collapse key per offer: D-3 replaces D-14 on the device.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from apscheduler.schedulers.base import BaseScheduler
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from entitlements.lifecycle import OPEN
from entitlements.tables import CitizenRow, EntitlementRow
from notifiers.doorbell import ring
from notifiers.offer_lines import offer_line
from notifiers.preferences import template_languages
from notifiers.rendering import REMINDER, NotificationTemplates
from notifiers.tables import NotificationRow
from notifiers.timing import SEOUL
from rules_engine.catalog import Catalog

JOB_PREFIX = "reminder:"
REMINDER_SOURCE = "/beforeservice/reminders"
REMIND_AT = time(10)  # local time: mid-morning, well outside quiet hours
_OPEN_STATES = [s.value for s in OPEN]
_NAMESPACE = uuid.UUID("6f1c1f4e-5b1e-4a8e-9a57-3d1c2b7e0a11")


def job_id(entitlement_id: str, days_before: int) -> str:
    return f"{JOB_PREFIX}{entitlement_id}:d{days_before}"


def _entitlement_of(job: str) -> str:
    return job[len(JOB_PREFIX) :].rsplit(":d", 1)[0]


def plan_reminders(
    scheduler: BaseScheduler,
    sessions: sessionmaker[Session],
    fire: Callable[..., Any],
    fire_kwargs: dict[str, Any],
    now: datetime,
    days_before: Sequence[int] = (14, 3),
    zone: ZoneInfo = SEOUL,
) -> tuple[int, int]:
    """Add the reminder jobs due within the horizon and remove those of offers no longer open.
    Returns (added, removed). Idempotent: stable ids, existing jobs are left as they are."""
    today = now.astimezone(zone).date()
    horizon = today + timedelta(days=max(days_before) + 1)  # run hourly: jobs exist well before they fire
    existing = {job.id for job in scheduler.get_jobs() if job.id.startswith(JOB_PREFIX)}
    with sessions() as session:
        offers = list(
            session.execute(
                select(EntitlementRow.id, EntitlementRow.deadline).where(
                    EntitlementRow.status.in_(_OPEN_STATES),
                    EntitlementRow.deadline >= today,
                    EntitlementRow.deadline <= horizon,
                )
            )
        )
        still_open = set(
            session.scalars(
                select(EntitlementRow.id).where(
                    EntitlementRow.id.in_(list({_entitlement_of(j) for j in existing})),
                    EntitlementRow.status.in_(_OPEN_STATES),
                )
            )
        )
    removed = 0
    for job in existing:
        if _entitlement_of(job) not in still_open:
            scheduler.remove_job(job)
            removed += 1
    added = 0
    for offer in offers:
        for days in days_before:
            run_at = datetime.combine(offer.deadline - timedelta(days=days), REMIND_AT, tzinfo=zone)
            ident = job_id(offer.id, days)
            if run_at <= now or ident in existing:
                continue
            scheduler.add_job(
                fire,
                "date",
                run_date=run_at,
                id=ident,
                replace_existing=True,
                kwargs={**fire_kwargs, "entitlement_id": offer.id, "days_before": days},
            )
            added += 1
    return added, removed


def cancel_reminders(scheduler: BaseScheduler, entitlement_id: str, days_before: Sequence[int] = (14, 3)) -> int:
    """Remove an offer's reminder jobs now (the job itself would also skip when it fires)."""
    removed = 0
    for days in days_before:
        if scheduler.get_job(job_id(entitlement_id, days)) is not None:
            scheduler.remove_job(job_id(entitlement_id, days))
            removed += 1
    return removed


def send_reminder(
    sessions: sessionmaker[Session],
    catalog: Catalog,
    templates: NotificationTemplates,
    entitlement_id: str,
    days_before: int,
    now: datetime,
    zone: ZoneInfo = SEOUL,
) -> int:
    """Queue the reminder for everyone the offer was announced to. Returns how many were queued (0 when the
    offer was applied for, granted, expired or retracted meanwhile, or the reminder exists already)."""
    with sessions.begin() as session:
        offer = session.get(EntitlementRow, entitlement_id)
        if offer is None or offer.status not in _OPEN_STATES or offer.deadline is None:
            return 0
        announced = [
            n
            for n in session.scalars(
                select(NotificationRow).where(
                    NotificationRow.event_source == offer.event_source, NotificationRow.event_id == offer.event_id
                )
            )
            if entitlement_id in n.offer_ids and n.dispatch_status != "cancelled"
        ]
        recipients = {n.recipient_id: n for n in announced}
        dead = set(
            session.scalars(
                select(CitizenRow.id).where(CitizenRow.id.in_(list(recipients)), CitizenRow.deceased_on.is_not(None))
            )
        )
        event_id = f"{entitlement_id}:d{days_before}"
        done = set(
            session.scalars(
                select(NotificationRow.recipient_id).where(
                    NotificationRow.event_source == REMINDER_SOURCE, NotificationRow.event_id == event_id
                )
            )
        )
        languages = template_languages(session, recipients)
        line = offer_line(catalog.benefits[offer.benefit_id], offer.amount_krw, offer.payment, offer.deadline)
        days_left = (offer.deadline - now.astimezone(zone).date()).days
        queued = 0
        for recipient, original in recipients.items():
            if recipient in dead or recipient in done:
                continue
            lang = languages.get(recipient, original.language)
            ko = templates.render(REMINDER, "ko", [line], days_left=days_left)
            en = templates.render(REMINDER, "en", [line], days_left=days_left)
            title, body = templates.lock_screen(REMINDER, lang, 1, days_left=days_left)
            session.add(
                NotificationRow(
                    id=str(uuid.uuid5(_NAMESPACE, f"{recipient}|{event_id}")),
                    recipient_id=recipient,
                    household_id=original.household_id,
                    event_source=REMINDER_SOURCE,
                    event_id=event_id,
                    event_type=REMINDER,
                    category=original.category,
                    offer_ids=[entitlement_id],
                    language=lang,
                    lock_screen_title=title,
                    lock_screen_body=body,
                    message_ko=ko.message,
                    message_en=en.message,
                    dispatch_status="pending",
                    dispatch_attempts=0,
                    created_at=now,
                    collapse_key=f"r-{entitlement_id}"[:64],
                )
            )
            queued += 1
        if queued:
            ring(session)
    return queued


def reminder_days(setting: str) -> tuple[int, ...]:
    days = tuple(sorted({int(d) for d in setting.split(",") if d.strip()}, reverse=True))
    if not days or min(days) < 1:
        raise ValueError(f"reminder days must be positive integers, got {setting!r}")
    return days


def utcnow() -> datetime:
    return datetime.now(UTC)
