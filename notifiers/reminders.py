"""Deadline reminders, by the kind of the deadline (rules_engine/deadlines.py): one APScheduler date job per offer,
kind and reminder day, with a stable id, in the SQLAlchemy job store.

- `application_closes`: apply before the offer expires (open offers).
- `retroactive_window`: 부모급여 and 아동수당 are paid from the month of birth only if applied for within 60 days
  counting the birth day; the reminder says what is lost after it (the months before the application), never that
  the offer closes (open offers).
- `use_by`: a voucher lapses; reminded to open offers and to granted ones (the voucher was issued: use it).
- `entitlement_ends` is not a call to act: no reminder.

When a job fires it re-reads the offer: a status the kind is not reminded in (applied, expired, ended, retracted,
rejected... the agency's event got there first) or a date already passed means no reminder. Planning also removes
the jobs of offers that closed, so they do not linger. A reminder is an outbox notification like any other
(consent, quiet hours, budget apply), unique per (recipient, offer, kind, reminder day), and carries a collapse key
per offer: D-3 replaces D-14 on the device.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from apscheduler.schedulers.base import BaseScheduler
from sqlalchemy import ColumnElement, or_, select
from sqlalchemy.orm import InstrumentedAttribute, Session, sessionmaker

from entitlements import ids
from entitlements.lifecycle import OPEN, EntitlementStatus
from entitlements.persistence.tables import CitizenRow, EntitlementRow
from notifiers.dispatch_status import DispatchStatus
from notifiers.doorbell import ring
from notifiers.offer_lines import offer_line
from notifiers.preferences import template_languages
from notifiers.rendering import REMINDER, NotificationTemplates
from notifiers.tables import NotificationRow
from notifiers.timing import SEOUL
from rules_engine.catalog import Catalog
from rules_engine.deadlines import REMINDED, DeadlineKind

JOB_PREFIX = "reminder:"
REMINDER_SOURCE = "/beforeservice/reminders"
REMIND_AT = time(10)  # local time: mid-morning, well outside quiet hours
K = DeadlineKind
APPLICATION_CLOSES = K.APPLICATION_CLOSES.value
# The statuses an offer is reminded in, by the kind of deadline: a voucher is reminded once granted too.
REMINDED_IN: dict[DeadlineKind, frozenset[EntitlementStatus]] = {
    K.APPLICATION_CLOSES: OPEN,
    K.RETROACTIVE_WINDOW: OPEN,
    K.USE_BY: OPEN | {EntitlementStatus.APPLIED, EntitlementStatus.GRANTED},
}
assert set(REMINDED_IN) == REMINDED


def _states(kind: DeadlineKind) -> list[str]:
    return sorted(s.value for s in REMINDED_IN[kind])


def _day_column(kind: DeadlineKind) -> InstrumentedAttribute[date | None]:
    return {
        K.APPLICATION_CLOSES: EntitlementRow.deadline,
        K.RETROACTIVE_WINDOW: EntitlementRow.retroactive_until,
        K.USE_BY: EntitlementRow.use_by,
    }[kind]


def _of_kind(kind: DeadlineKind) -> list[ColumnElement[bool]]:
    """Where the row's date of this kind is: `deadline` holds an application deadline only under that kind (a row
    from before kinds were stored counts as one)."""
    if kind is K.APPLICATION_CLOSES:
        return [or_(EntitlementRow.deadline_kind == APPLICATION_CLOSES, EntitlementRow.deadline_kind.is_(None))]
    return []


def day_of(offer: EntitlementRow, kind: DeadlineKind) -> date | None:
    """The offer's date of this kind, if it has one."""
    if kind is K.APPLICATION_CLOSES:
        return offer.deadline if offer.deadline_kind in (None, APPLICATION_CLOSES) else None
    return offer.retroactive_until if kind is K.RETROACTIVE_WINDOW else offer.use_by


def job_id(entitlement_id: str, days_before: int, kind: DeadlineKind = K.APPLICATION_CLOSES) -> str:
    return f"{JOB_PREFIX}{entitlement_id}:{kind.value}:d{days_before}"


def _entitlement_of(job: str) -> str:
    return job[len(JOB_PREFIX) :].split(":", 1)[0]  # ids are uuids: no colon


def _kind_of(job: str) -> DeadlineKind:
    parts = job[len(JOB_PREFIX) :].split(":")
    return DeadlineKind(parts[1]) if len(parts) == 3 else K.APPLICATION_CLOSES  # "reminder:<id>:d14" before kinds


def plan_reminders(
    scheduler: BaseScheduler,
    sessions: sessionmaker[Session],
    fire: Callable[..., Any],
    fire_kwargs: dict[str, Any],
    now: datetime,
    days_before: Sequence[int] = (14, 3),
    zone: ZoneInfo = SEOUL,
) -> tuple[int, int]:
    """Add the reminder jobs due within the horizon and remove those of offers no longer reminded of that kind.
    Returns (added, removed). Idempotent: stable ids, existing jobs are left as they are."""
    today = now.astimezone(zone).date()
    horizon = today + timedelta(days=max(days_before) + 1)  # run hourly: jobs exist well before they fire
    existing = {job.id for job in scheduler.get_jobs() if job.id.startswith(JOB_PREFIX)}
    due: list[tuple[str, DeadlineKind, date]] = []
    still: set[tuple[str, DeadlineKind]] = set()
    with sessions() as session:
        for kind in REMINDED_IN:
            column = _day_column(kind)
            due += [
                (row.id, kind, row.day)
                for row in session.execute(
                    select(EntitlementRow.id, column.label("day")).where(
                        EntitlementRow.status.in_(_states(kind)), column >= today, column <= horizon, *_of_kind(kind)
                    )
                )
            ]
            ids = list({_entitlement_of(j) for j in existing if _kind_of(j) is kind})
            still.update(
                (i, kind)
                for i in session.scalars(
                    select(EntitlementRow.id).where(
                        EntitlementRow.id.in_(ids), EntitlementRow.status.in_(_states(kind)), *_of_kind(kind)
                    )
                )
            )
    removed = 0
    for job in existing:
        if (_entitlement_of(job), _kind_of(job)) not in still:
            scheduler.remove_job(job)
            removed += 1
    added = 0
    for entitlement_id, kind, day in due:
        for days in days_before:
            run_at = datetime.combine(day - timedelta(days=days), REMIND_AT, tzinfo=zone)
            ident = job_id(entitlement_id, days, kind)
            if run_at <= now or ident in existing:
                continue
            scheduler.add_job(
                fire,
                "date",
                run_date=run_at,
                id=ident,
                replace_existing=True,
                kwargs={**fire_kwargs, "entitlement_id": entitlement_id, "days_before": days, "kind": kind.value},
            )
            added += 1
    return added, removed


def cancel_reminders(scheduler: BaseScheduler, entitlement_id: str, days_before: Sequence[int] = (14, 3)) -> int:
    """Remove an offer's reminder jobs now, of every kind (the job itself would also skip when it fires)."""
    removed = 0
    for kind in REMINDED_IN:
        for days in days_before:
            if scheduler.get_job(job_id(entitlement_id, days, kind)) is not None:
                scheduler.remove_job(job_id(entitlement_id, days, kind))
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
    kind: DeadlineKind = K.APPLICATION_CLOSES,
) -> int:
    """Queue the reminder of this kind for everyone the offer was announced to. Returns how many were queued (0 when
    the offer is no longer reminded of this kind — applied for, granted, expired, ended or retracted meanwhile —,
    its date of this kind has passed or is gone, or the reminder exists already)."""
    today = now.astimezone(zone).date()
    with sessions.begin() as session:
        offer = session.get(EntitlementRow, entitlement_id)
        if offer is None or offer.status not in _states(kind):
            return 0
        day = day_of(offer, kind)
        if day is None or day < today:
            return 0
        announced = [
            n
            for n in session.scalars(
                select(NotificationRow).where(
                    NotificationRow.event_source == offer.event_source, NotificationRow.event_id == offer.event_id
                )
            )
            if entitlement_id in n.offer_ids and n.dispatch_status != DispatchStatus.CANCELLED
        ]
        recipients = {n.recipient_id: n for n in announced}
        dead = set(
            session.scalars(
                select(CitizenRow.id).where(CitizenRow.id.in_(list(recipients)), CitizenRow.deceased_on.is_not(None))
            )
        )
        # Before kinds, one application deadline per offer: its reminders kept this id (so none is sent twice).
        event_id = (
            f"{entitlement_id}:d{days_before}"
            if kind is K.APPLICATION_CLOSES
            else f"{entitlement_id}:{kind.value}:d{days_before}"
        )
        done = set(
            session.scalars(
                select(NotificationRow.recipient_id).where(
                    NotificationRow.event_source == REMINDER_SOURCE, NotificationRow.event_id == event_id
                )
            )
        )
        languages = template_languages(session, recipients)
        line = offer_line(
            catalog.benefits[offer.benefit_id],
            offer.amount_krw,
            offer.payment,
            offer.deadline,
            offer.dated_deadlines(),
            today,
        )
        days_left = (day - today).days
        words = {"days_left": days_left, "kind": kind.value}
        queued = 0
        for recipient, original in recipients.items():
            if recipient in dead or recipient in done:
                continue
            lang = languages.get(recipient, original.language)
            ko = templates.render(REMINDER, "ko", [line], **words)
            en = templates.render(REMINDER, "en", [line], **words)
            title, body = templates.lock_screen(REMINDER, lang, 1, **words)
            session.add(
                NotificationRow(
                    id=ids.reminder_notice_id(recipient, event_id),
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
                    dispatch_status=DispatchStatus.PENDING,
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
