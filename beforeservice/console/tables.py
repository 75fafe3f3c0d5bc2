"""SQLAlchemy 2 tables of ingestion credentials, caseworker accounts, reviews and the audit log.

Kept on their own metadata: the migration 0003c creates them, and the entitlement side's autogenerate never sees
them (another team owns that metadata).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Boolean, DateTime, Index, Integer, String
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from entitlements.persistence.sealed_columns import SealedText


class ConsoleBase(DeclarativeBase):
    pass


class AgencyKeyRow(ConsoleBase):
    """An agency's API key: only a SHA-256 digest is kept (keys are 256-bit random, so a slow hash adds nothing)."""

    __tablename__ = "agency_keys"

    key_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    agency: Mapped[str] = mapped_column(String(80), index=True)
    key_hash: Mapped[str] = mapped_column(String(64))
    event_types: Mapped[list[str]] = mapped_column(JSON)  # exact types or globs, e.g. "kr.go.mois.*"
    source_prefixes: Mapped[list[str]] = mapped_column(JSON)  # e.g. "/agencies/mois/registry/"
    rate_per_minute: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class IngestedEventRow(ConsoleBase):
    """Events accepted over HTTP: the idempotency record (same source+id = same answer; new payload = 409)."""

    __tablename__ = "ingested_events"

    source: Mapped[str] = mapped_column(String(512), primary_key=True)
    event_id: Mapped[str] = mapped_column(String(256), primary_key=True)
    type: Mapped[str] = mapped_column(String(256))
    key_id: Mapped[str] = mapped_column(String(32), index=True)
    digest: Mapped[str] = mapped_column(String(64))
    accepted_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class CaseworkerRow(ConsoleBase):
    """A console account: caseworker, supervisor or auditor, scoped to agencies and municipalities."""

    __tablename__ = "caseworkers"

    username: Mapped[str] = mapped_column(String(64), primary_key=True)
    display_name: Mapped[str] = mapped_column(String(120))
    role: Mapped[str] = mapped_column(String(16))
    password_hash: Mapped[str] = mapped_column(String(256))  # argon2id
    agencies: Mapped[list[str]] = mapped_column(JSON)  # catalog agency ids, or ["*"]
    municipalities: Mapped[list[str]] = mapped_column(JSON)  # 시군구 code prefixes, or ["*"]
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    # Carried by its tokens and console sessions; raised by logout, deactivation and a password reset, which
    # ends every one of them at once (migration 0005i).
    session_generation: Mapped[int] = mapped_column(Integer, default=0, server_default="0")


class LoginThrottleRow(ConsoleBase):
    """Login attempts counted per account and per address in a window, shared by every API process."""

    __tablename__ = "login_throttle"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)  # SHA-256 of "account:<name>" / "ip:<address>"
    attempts: Mapped[int] = mapped_column(Integer)
    window_started_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class ReviewActionRow(ConsoleBase):
    """What caseworkers did to a pending entitlement: the review's own timeline."""

    __tablename__ = "review_actions"

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True)
    entitlement_id: Mapped[str] = mapped_column(String(36), index=True)
    action: Mapped[str] = mapped_column(String(24))  # approved | rejected | info_requested | assigned
    actor: Mapped[str] = mapped_column(String(64))
    note: Mapped[str | None] = mapped_column(SealedText("review_actions.note"))  # caseworkers' free text: sealed
    assignee: Mapped[str | None] = mapped_column(String(64))
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class ReviewCaseRow(ConsoleBase):
    """The current state of a review beside the entitlement: who has it, whether information was requested."""

    __tablename__ = "review_cases"

    entitlement_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    assigned_to: Mapped[str | None] = mapped_column(String(64), index=True)
    info_requested_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    info_request: Mapped[str | None] = mapped_column(SealedText("review_cases.info_request"))  # free text: sealed
    rejection_reason: Mapped[str | None] = mapped_column(SealedText("review_cases.rejection_reason"))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class AuditRow(ConsoleBase):
    """Append-only, hash-chained: each row's hash covers its fields and the previous row's hash."""

    __tablename__ = "audit_log"
    __table_args__ = (Index("ix_audit_log_subject", "data_subject"),)

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    account: Mapped[str] = mapped_column(String(64), index=True)
    role: Mapped[str] = mapped_column(String(16))
    ip: Mapped[str | None] = mapped_column(String(64))
    action: Mapped[str] = mapped_column(String(48))
    kind: Mapped[str] = mapped_column(String(8))  # read | write | export
    data_subject: Mapped[str | None] = mapped_column(String(80))
    object_id: Mapped[str | None] = mapped_column(String(80))
    detail: Mapped[dict[str, Any]] = mapped_column(JSON)
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64), unique=True)
