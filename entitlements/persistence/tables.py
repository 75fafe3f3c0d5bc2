"""SQLAlchemy 2 tables: the profile store and matched entitlements (notifications: notifiers/tables.py).

An adapter: the domain (matching, lifecycle) never imports this module.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import (
    JSON,
    BigInteger,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from entitlements.persistence.sealed_columns import SealedJSON, SealedText
from rules_engine.deadlines import DatedDeadline, DeadlineKind, from_json


class Base(DeclarativeBase):
    pass


class HouseholdRow(Base):
    __tablename__ = "households"

    id: Mapped[str] = mapped_column(String(80), primary_key=True)
    municipality_code: Mapped[str | None] = mapped_column(String(5), index=True)
    resident_since: Mapped[date | None] = mapped_column(Date)
    income_percentile: Mapped[int | None] = mapped_column(Integer)
    previous_municipality_code: Mapped[str | None] = mapped_column(String(5))
    median_income_ratio: Mapped[int | None] = mapped_column(Integer)
    livelihood_recipient: Mapped[bool | None]
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class CitizenRow(Base):
    __tablename__ = "citizens"

    id: Mapped[str] = mapped_column(String(80), primary_key=True)
    household_id: Mapped[str] = mapped_column(ForeignKey("households.id"), index=True)
    role: Mapped[str] = mapped_column(String(16))
    birth_date: Mapped[date | None] = mapped_column(Date)
    birth_order: Mapped[int | None] = mapped_column(Integer)
    preferred_language: Mapped[str] = mapped_column(String(8), default="ko")
    # Facts from agencies' registries; None = not told (the rules say "undetermined", never assume).
    deceased_on: Mapped[date | None] = mapped_column(Date)
    disability_severity: Mapped[str | None] = mapped_column(String(8))
    insured_days: Mapped[int | None] = mapped_column(Integer)
    separation_reason: Mapped[str | None] = mapped_column(String(16))
    separated_on: Mapped[date | None] = mapped_column(Date)
    average_daily_wage: Mapped[int | None] = mapped_column(Integer)
    recognized_income_krw: Mapped[int | None] = mapped_column(BigInteger)
    nps_contribution_months: Mapped[int | None] = mapped_column(Integer)
    married_on: Mapped[date | None] = mapped_column(Date)
    is_homeowner: Mapped[bool | None]
    monthly_rent_krw: Mapped[int | None] = mapped_column(Integer)
    is_couple: Mapped[bool | None]
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
        Index("ix_entitlements_status_retroactive_until", "status", "retroactive_until"),
        Index("ix_entitlements_status_use_by", "status", "use_by"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    benefit_id: Mapped[str] = mapped_column(String(80), index=True)
    beneficiary_id: Mapped[str] = mapped_column(String(80), index=True)
    household_id: Mapped[str] = mapped_column(ForeignKey("households.id"), index=True)
    status: Mapped[str] = mapped_column(String(20))
    eligibility: Mapped[str] = mapped_column(String(16))
    amount_krw: Mapped[int | None] = mapped_column(BigInteger)
    payment: Mapped[str] = mapped_column(String(16))
    # Dated deadlines by kind (rules_engine/deadlines.py). `deadline` is the day the offer ends (its kind in
    # `deadline_kind`: application_closes → expired after it, entitlement_ends → ended); the retroactive window and a
    # voucher's use-by date are columns of their own for the reminders; `deadlines` keeps them all, as decided.
    deadline: Mapped[date | None] = mapped_column(Date)
    deadline_kind: Mapped[str | None] = mapped_column(String(24))
    retroactive_until: Mapped[date | None] = mapped_column(Date)
    use_by: Mapped[date | None] = mapped_column(Date)
    deadlines: Mapped[list[dict[str, str]]] = mapped_column(JSON, default=list)
    missing: Mapped[list[str]] = mapped_column(JSON)
    # The person's facts as the rules saw them, and the reasons built from them: sealed at rest (docs/privacy.md).
    trace: Mapped[list[dict[str, object]]] = mapped_column(SealedJSON("entitlements.trace"))
    reason_ko: Mapped[str] = mapped_column(SealedText("entitlements.reason_ko"))
    reason_en: Mapped[str] = mapped_column(SealedText("entitlements.reason_en"))
    evaluated_on: Mapped[date] = mapped_column(Date)
    event_source: Mapped[str] = mapped_column(String(512))
    event_id: Mapped[str] = mapped_column(String(256))
    corrects_id: Mapped[str | None] = mapped_column(String(36))  # the offer this one corrects (re-evaluation)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))

    def dated_deadlines(self) -> tuple[DatedDeadline, ...]:
        """The offer's dated deadlines with their kinds: as decided, or (a row written before kinds were stored,
        or by the SQL sweep) rebuilt from the dated columns."""
        if self.deadlines:
            return from_json(self.deadlines)
        rebuilt = []
        if self.retroactive_until is not None:
            rebuilt.append(DatedDeadline(DeadlineKind.RETROACTIVE_WINDOW, "", self.retroactive_until))
        if self.use_by is not None:
            rebuilt.append(DatedDeadline(DeadlineKind.USE_BY, "", self.use_by))
        if self.deadline is not None:
            kind = DeadlineKind(self.deadline_kind or DeadlineKind.APPLICATION_CLOSES)
            rebuilt.append(DatedDeadline(kind, "", self.deadline))
        return tuple(rebuilt)
