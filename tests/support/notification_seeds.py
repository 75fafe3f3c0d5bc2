"""Rows the notification tests start from: a household, offers, outbox entries, devices and consents."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime

from sqlalchemy import insert
from sqlalchemy.orm import Session, sessionmaker

from entitlements.persistence.tables import CitizenRow, EntitlementRow, HouseholdRow
from notifiers import consent, devices
from notifiers.tables import NotificationRow

T0 = datetime(2026, 3, 10, 1, 0, tzinfo=UTC)  # 10:00 in Seoul, a Tuesday: outside quiet hours


def seed_citizen(sessions: sessionmaker[Session], citizen: str, household: str | None = None) -> None:
    household = household or f"hh-{citizen}"
    with sessions.begin() as session:
        if session.get(HouseholdRow, household) is None:
            session.add(HouseholdRow(id=household, municipality_code="41110", resident_since=None, updated_at=T0))
            session.flush()
        session.add(
            CitizenRow(id=citizen, household_id=household, role="parent", preferred_language="ko", updated_at=T0)
        )


def opt_in(
    sessions: sessionmaker[Session],
    citizen: str,
    tokens: list[str],
    category: str = "childbirth_childcare",
    channels: tuple[str, ...] = ("push",),
) -> None:
    with sessions.begin() as session:
        for token in tokens:
            devices.register(session, citizen, token, "android", T0)
        for channel in channels:
            consent.grant(session, citizen, category, channel, "2026-01", T0)


def offer(
    sessions: sessionmaker[Session],
    citizen: str,
    *,
    amount: int | None = 100_000,
    payment: str = "lump_sum",
    deadline: date | None = None,
    benefit: str = "first_meeting_voucher",
    event_id: str | None = None,
    status: str = "matched",
    **dated: object,  # deadline_kind, retroactive_until, use_by, deadlines: the dated deadlines by kind
) -> str:
    offer_id = str(uuid.uuid4())
    with sessions.begin() as session:
        session.execute(
            insert(EntitlementRow),
            [
                {
                    "id": offer_id,
                    "benefit_id": benefit,
                    "beneficiary_id": citizen,
                    "household_id": f"hh-{citizen}",
                    "status": status,
                    "eligibility": "eligible",
                    "amount_krw": amount,
                    "payment": payment,
                    "deadline": deadline,
                    "missing": [],
                    "trace": [],
                    "reason_ko": "사유",
                    "reason_en": "reason",
                    "evaluated_on": T0.date(),
                    "event_source": "/agencies/mois/registry/41110",
                    "event_id": event_id or f"ev-{offer_id}",
                    "created_at": T0,
                    "updated_at": T0,
                    **dated,
                }
            ],
        )
    return offer_id


def notification(
    sessions: sessionmaker[Session],
    citizen: str,
    offer_ids: list[str],
    *,
    category: str = "childbirth_childcare",
    event_type: str = "kr.go.mois.birth.registered",
    event_id: str | None = None,
    created_at: datetime = T0,
    language: str = "ko",
) -> str:
    """An outbox row as the pipeline writes it (same columns, same defaults)."""
    notification_id = str(uuid.uuid4())
    with sessions.begin() as session:
        session.execute(
            insert(NotificationRow),
            [
                {
                    "id": notification_id,
                    "recipient_id": citizen,
                    "household_id": f"hh-{citizen}",
                    "event_source": "/agencies/mois/registry/41110",
                    "event_id": event_id or f"ev-{notification_id}",
                    "event_type": event_type,
                    "category": category,
                    "offer_ids": offer_ids,
                    "language": language,
                    "lock_screen_title": "출산을 축하합니다",
                    "lock_screen_body": f"{len(offer_ids)}가지 혜택을 받으실 수 있어요. 앱에서 확인해 주세요.",
                    "message_ko": "본문",
                    "message_en": "body",
                    "dispatch_status": "pending",
                    "dispatch_attempts": 0,
                    "created_at": created_at,
                }
            ],
        )
    return notification_id


def row(sessions: sessionmaker[Session], notification_id: str) -> NotificationRow:
    with sessions() as session:
        found = session.get(NotificationRow, notification_id)
        assert found is not None
        return found
