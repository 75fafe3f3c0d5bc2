"""SQLAlchemy 2 tables: the profile store, matched entitlements, the notification outbox and inbox.

An adapter: the domain (matching, lifecycle) never imports this module.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import JSON, BigInteger, Date, DateTime, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class Base(DeclarativeBase):
    pass


class HouseholdRow(Base):
    __tablename__ = "households"

    id: Mapped[str] = mapped_column(String(80), primary_key=True)
    municipality_code: Mapped[str | None] = mapped_column(String(5), index=True)
    resident_since: Mapped[date | None] = mapped_column(Date)
    income_percentile: Mapped[int | None] = mapped_column(Integer)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class CitizenRow(Base):
    __tablename__ = "citizens"

    id: Mapped[str] = mapped_column(String(80), primary_key=True)
    household_id: Mapped[str] = mapped_column(ForeignKey("households.id"), index=True)
    role: Mapped[str] = mapped_column(String(16))
    birth_date: Mapped[date | None] = mapped_column(Date)
    birth_order: Mapped[int | None] = mapped_column(Integer)
    preferred_language: Mapped[str] = mapped_column(String(8), default="ko")
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class ProcessedEventRow(Base):
    """CloudEvents (source, id) already handled: the idempotency key of the whole pipeline."""

    __tablename__ = "processed_events"

    source: Mapped[str] = mapped_column(String(512), primary_key=True)
    event_id: Mapped[str] = mapped_column(String(256), primary_key=True)
    type: Mapped[str] = mapped_column(String(256))
    household_id: Mapped[str | None] = mapped_column(String(80), index=True)
    processed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class EntitlementRow(Base):
    __tablename__ = "entitlements"
    __table_args__ = (
        UniqueConstraint("event_source", "event_id", "benefit_id", "beneficiary_id", name="uq_entitlement_event"),
        Index("ix_entitlements_status_deadline", "status", "deadline"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    benefit_id: Mapped[str] = mapped_column(String(80), index=True)
    beneficiary_id: Mapped[str] = mapped_column(String(80), index=True)
    household_id: Mapped[str] = mapped_column(ForeignKey("households.id"), index=True)
    status: Mapped[str] = mapped_column(String(20))
    eligibility: Mapped[str] = mapped_column(String(16))
    amount_krw: Mapped[int | None] = mapped_column(BigInteger)
    payment: Mapped[str] = mapped_column(String(16))
    deadline: Mapped[date | None] = mapped_column(Date)
    missing: Mapped[list[str]] = mapped_column(JSON)
    trace: Mapped[list[dict[str, object]]] = mapped_column(JSON)
    reason_ko: Mapped[str] = mapped_column(Text)
    reason_en: Mapped[str] = mapped_column(Text)
    evaluated_on: Mapped[date] = mapped_column(Date)
    event_source: Mapped[str] = mapped_column(String(512))
    event_id: Mapped[str] = mapped_column(String(256))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class NotificationRow(Base):
    """Outbox and inbox at once: written with the entitlements, sent by the dispatcher, read by the app."""

    __tablename__ = "notifications"
    __table_args__ = (
        UniqueConstraint("recipient_id", "event_source", "event_id", name="uq_notification_recipient_event"),
        Index("ix_notifications_dispatch", "dispatch_status", "created_at"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True)  # opaque id carried by the push
    recipient_id: Mapped[str] = mapped_column(String(80), index=True)
    household_id: Mapped[str] = mapped_column(String(80))
    event_source: Mapped[str] = mapped_column(String(512))
    event_id: Mapped[str] = mapped_column(String(256))
    event_type: Mapped[str] = mapped_column(String(256))
    category: Mapped[str] = mapped_column(String(32))
    offer_ids: Mapped[list[str]] = mapped_column(JSON)
    language: Mapped[str] = mapped_column(String(8))
    lock_screen_title: Mapped[str] = mapped_column(String(200))
    lock_screen_body: Mapped[str] = mapped_column(String(400))
    message_ko: Mapped[str] = mapped_column(Text)
    message_en: Mapped[str] = mapped_column(Text)
    dispatch_status: Mapped[str] = mapped_column(String(16))  # pending | sent | inbox_only | failed
    dispatch_attempts: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    dispatched_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    viewed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class DeviceRow(Base):
    __tablename__ = "devices"

    token: Mapped[str] = mapped_column(String(512), primary_key=True)
    citizen_id: Mapped[str] = mapped_column(String(80), index=True)
    platform: Mapped[str] = mapped_column(String(16))
    last_refreshed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class ConsentRow(Base):
    """Opt-in to a category on a channel, with the version of the text the citizen agreed to."""

    __tablename__ = "consents"
    __table_args__ = (UniqueConstraint("citizen_id", "category", "channel", name="uq_consent"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    citizen_id: Mapped[str] = mapped_column(String(80), index=True)
    category: Mapped[str] = mapped_column(String(32))
    channel: Mapped[str] = mapped_column(String(16))
    text_version: Mapped[str] = mapped_column(String(32))
    granted_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    withdrawn_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class DeliveryRow(Base):
    """One push attempt's result per device, for audit and take-up measurement."""

    __tablename__ = "push_deliveries"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    notification_id: Mapped[str] = mapped_column(ForeignKey("notifications.id"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64))
    accepted: Mapped[bool]
    message_id: Mapped[str | None] = mapped_column(String(256))
    error_code: Mapped[str | None] = mapped_column(String(64))
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
