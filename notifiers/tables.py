"""SQLAlchemy 2 tables of the notification side: outbox/inbox, devices, consents, delivery results.

An adapter: the pure notification logic never imports this module.
"""

from __future__ import annotations

from datetime import datetime, time

from sqlalchemy import JSON, BigInteger, Boolean, DateTime, ForeignKey, Index, Integer, String, Time, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from entitlements.persistence.sealed_columns import SealedText
from entitlements.persistence.tables import Base


class NotificationRow(Base):
    """Outbox and inbox at once: written with the entitlements, sent by the dispatcher, read by the app."""

    __tablename__ = "notifications"
    __table_args__ = (
        UniqueConstraint("recipient_id", "event_source", "event_id", name="uq_notification_recipient_event"),
        Index("ix_notifications_dispatch", "dispatch_status", "created_at"),
        Index("ix_notifications_escalate_at", "escalate_at"),
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
    # The inbox text (amounts, deadlines, reasons): sealed at rest. The lock-screen text is generic by design.
    message_ko: Mapped[str] = mapped_column(SealedText("notifications.message_ko"))
    message_en: Mapped[str] = mapped_column(SealedText("notifications.message_en"))
    # pending | held (until not_before) | sent | inbox_only | failed | merged (into a digest) | cancelled
    dispatch_status: Mapped[str] = mapped_column(String(16))
    dispatch_attempts: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    dispatched_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    viewed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # Timing: a held notification waits until not_before (quiet hours, cooling-off, weekly budget).
    not_before: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    hold_reason: Mapped[str | None] = mapped_column(String(16))
    # Stable per offer bundle: a re-send (crash, reminder) replaces the earlier push on the device.
    collapse_key: Mapped[str | None] = mapped_column(String(64))
    digest_of: Mapped[list[str] | None] = mapped_column(JSON)  # notifications merged into this push
    # Fallback: the channel last tried, and when to try the next one if the offer is still unopened.
    channel: Mapped[str | None] = mapped_column(String(16))
    escalate_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # The W3C traceparent of the life event this answers: the push's span continues its trace (docs/observability.md).
    traceparent: Mapped[str | None] = mapped_column(String(256))


class DeviceRow(Base):
    """An app installation's FCM token; pruned when FCM says UNREGISTERED or after 270 days without refresh."""

    __tablename__ = "devices"
    __table_args__ = (Index("ix_devices_last_refreshed_at", "last_refreshed_at"),)

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
    channel: Mapped[str] = mapped_column(String(16), default="push")  # push | kakao | sms


class ConsentEventRow(Base):
    """Every grant and withdrawal, append-only: what was agreed to, in which text version, and when."""

    __tablename__ = "consent_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    citizen_id: Mapped[str] = mapped_column(String(80), index=True)
    category: Mapped[str] = mapped_column(String(32))
    channel: Mapped[str] = mapped_column(String(16))
    action: Mapped[str] = mapped_column(String(8))  # grant | withdraw
    text_version: Mapped[str] = mapped_column(String(32))
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class PreferenceRow(Base):
    """How a citizen wants to be told: language (ko, en, vi), easy-read Korean and their own quiet hours."""

    __tablename__ = "citizen_preferences"

    citizen_id: Mapped[str] = mapped_column(String(80), primary_key=True)
    language: Mapped[str] = mapped_column(String(8))
    easy_read: Mapped[bool] = mapped_column(Boolean)
    # Local (Asia/Seoul) wall-clock times; both NULL: the service's default quiet hours; start = end: none.
    quiet_start: Mapped[time | None] = mapped_column(Time)
    quiet_end: Mapped[time | None] = mapped_column(Time)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class OutreachTaskRow(Base):
    """A person no channel reached about a high-value offer: a caseworker calls or visits (the console lists these)."""

    __tablename__ = "outreach_tasks"
    __table_args__ = (
        UniqueConstraint("notification_id", name="uq_outreach_notification"),
        Index("ix_outreach_tasks_status", "status", "created_at"),
        Index("ix_outreach_tasks_citizen_id", "citizen_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    citizen_id: Mapped[str] = mapped_column(String(80))
    notification_id: Mapped[str] = mapped_column(ForeignKey("notifications.id"))
    reason: Mapped[str] = mapped_column(String(200))
    worth_krw: Mapped[int | None] = mapped_column(BigInteger)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    status: Mapped[str] = mapped_column(String(8), default="open")  # open | done
    assigned_to: Mapped[str | None] = mapped_column(String(80))
