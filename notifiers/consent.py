"""Opt-in per category and channel: recorded with the consent text's version and time; withdrawal is immediate.

The current state lives in `consents` (one row per citizen, category and channel: what the dispatcher reads in
the same transaction as it claims a notification, so a committed withdrawal stops the next send); every grant
and withdrawal is also appended to `consent_events`, the audit trail.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from entitlements.persistence.store import among
from notifiers.policy import CHANNELS
from notifiers.tables import ConsentEventRow, ConsentRow
from rules_engine.categories import ConsentCategory, is_category


class UnknownConsentScope(ValueError):
    pass


def _check(category: str, channel: str) -> None:
    if not is_category(category):
        raise UnknownConsentScope(f"unknown category {category!r}; one of {[c.value for c in ConsentCategory]}")
    if channel not in CHANNELS:
        raise UnknownConsentScope(f"unknown channel {channel!r}; one of {list(CHANNELS)}")


def grant(session: Session, citizen_id: str, category: str, channel: str, text_version: str, now: datetime) -> None:
    _check(category, channel)
    row = _current(session, citizen_id, category, channel)
    if row is None:
        session.add(
            ConsentRow(
                citizen_id=citizen_id,
                category=category,
                channel=channel,
                text_version=text_version,
                granted_at=now,
                withdrawn_at=None,
            )
        )
    else:
        row.text_version, row.granted_at, row.withdrawn_at = text_version, now, None
    _record(session, citizen_id, category, channel, "grant", text_version, now)


def withdraw(session: Session, citizen_id: str, category: str, channel: str, now: datetime) -> bool:
    """True if there was a consent to withdraw."""
    _check(category, channel)
    row = _current(session, citizen_id, category, channel)
    if row is None or row.withdrawn_at is not None:
        return False
    row.withdrawn_at = now
    _record(session, citizen_id, category, channel, "withdraw", row.text_version, now)
    return True


def consents_of(session: Session, citizen_id: str) -> list[ConsentRow]:
    return list(
        session.scalars(
            select(ConsentRow)
            .where(ConsentRow.citizen_id == citizen_id)
            .order_by(ConsentRow.category, ConsentRow.channel)
        )
    )


def consented(session: Session, citizen_ids: Iterable[str], channel: str) -> set[tuple[str, str]]:
    """(citizen, category) pairs with a standing opt-in to `channel`."""
    ids = list(set(citizen_ids))
    if not ids:
        return set()
    rows = session.execute(
        select(ConsentRow.citizen_id, ConsentRow.category).where(
            among(session, ConsentRow.citizen_id, ids), ConsentRow.channel == channel, ConsentRow.withdrawn_at.is_(None)
        )
    )
    return {(r.citizen_id, r.category) for r in rows}


def _current(session: Session, citizen_id: str, category: str, channel: str) -> ConsentRow | None:
    return session.scalars(
        select(ConsentRow).where(
            ConsentRow.citizen_id == citizen_id, ConsentRow.category == category, ConsentRow.channel == channel
        )
    ).first()


def _record(
    session: Session, citizen_id: str, category: str, channel: str, action: str, text_version: str, now: datetime
) -> None:
    session.execute(
        insert(ConsentEventRow),
        [
            {
                "citizen_id": citizen_id,
                "category": category,
                "channel": channel,
                "action": action,
                "text_version": text_version,
                "at": now,
            }
        ],
    )
