"""Batch persistence of profiles, entitlements and notifications (SQLAlchemy; one transaction per batch)."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import JSON, Table, insert, select, tuple_, update
from sqlalchemy.orm import DeclarativeBase, Session

from entitlements.households import HOUSEHOLD_FACTS, PERSON_FACTS, Citizen, Household
from entitlements.lifecycle import OPEN, EntitlementStatus
from entitlements.matching import Offer, OpenEntitlement, StatusChange
from entitlements.tables import CitizenRow, EntitlementRow, HouseholdRow, ProcessedEventRow
from notifiers.tables import NotificationRow

_CHUNK = 500  # keeps IN-lists and bulk statements within every driver's parameter limits


def _chunks(items: Sequence[object], size: int = _CHUNK) -> Iterable[Sequence[object]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def bulk_insert(session: Session, model: type[DeclarativeBase], rows: Sequence[Mapping[str, Any]]) -> None:
    """INSERT many rows in the caller's transaction: COPY on PostgreSQL, executemany elsewhere.

    COPY is one round trip and no per-row statement; it bypasses SQLAlchemy's Python-side column defaults, so
    every row must name every column it sets (missing columns get the server default, NULL here, as with the
    executemany path). JSON columns are serialised as SQLAlchemy would (json.dumps).
    """
    if not rows:
        return
    table: Table = model.__table__  # type: ignore[assignment]
    connection = session.connection()
    if connection.dialect.name != "postgresql" or connection.dialect.driver != "psycopg":
        session.execute(insert(model), list(rows))
        return
    names = list(rows[0])
    as_json = [isinstance(table.c[name].type, JSON) for name in names]
    columns = ", ".join(f'"{name}"' for name in names)
    cursor = connection.connection.driver_connection.cursor()  # type: ignore[union-attr]
    with cursor, cursor.copy(f'COPY "{table.name}" ({columns}) FROM STDIN') as copy:
        for row in rows:
            copy.write_row([json.dumps(row[n]) if j else row[n] for n, j in zip(names, as_json, strict=True)])


@dataclass(frozen=True)
class ProcessedEvent:
    source: str
    event_id: str
    type: str
    household_id: str | None


@dataclass(frozen=True)
class RenderedNotification:
    id: str
    recipient_id: str
    household_id: str
    event_source: str
    event_id: str
    event_type: str
    category: str
    offer_ids: tuple[str, ...]
    language: str
    lock_screen_title: str
    lock_screen_body: str
    message_ko: str
    message_en: str


def already_processed(session: Session, keys: Sequence[tuple[str, str]]) -> set[tuple[str, str]]:
    found: set[tuple[str, str]] = set()
    for chunk in _chunks(list(keys)):
        rows = session.execute(
            select(ProcessedEventRow.source, ProcessedEventRow.event_id).where(
                tuple_(ProcessedEventRow.source, ProcessedEventRow.event_id).in_(chunk)
            )
        )
        found.update((r.source, r.event_id) for r in rows)
    return found


def households_of(session: Session, citizen_ids: Iterable[str]) -> dict[str, Household]:
    """The households (with all members) of the given citizens, keyed by each given citizen's id."""
    ids = list(set(citizen_ids))
    household_of: dict[str, str] = {}
    for chunk in _chunks(ids):
        for row in session.execute(select(CitizenRow.id, CitizenRow.household_id).where(CitizenRow.id.in_(chunk))):
            household_of[row.id] = row.household_id
    households: dict[str, Household] = {}
    household_ids = list(set(household_of.values()))
    for chunk in _chunks(household_ids):
        for h in session.scalars(select(HouseholdRow).where(HouseholdRow.id.in_(chunk))):
            facts = {name: getattr(h, name) for name in HOUSEHOLD_FACTS if getattr(h, name) is not None}
            households[h.id] = Household(h.id, h.municipality_code, h.resident_since, facts=facts)
        for c in session.scalars(select(CitizenRow).where(CitizenRow.household_id.in_(chunk))):
            person_facts = {name: getattr(c, name) for name in PERSON_FACTS if getattr(c, name) is not None}
            households[c.household_id].members[c.id] = Citizen(
                c.id, c.household_id, c.role, c.birth_date, c.birth_order, person_facts
            )
    return {citizen: households[h] for citizen, h in household_of.items() if h in households}


def open_entitlements(session: Session, household_ids: Iterable[str]) -> list[OpenEntitlement]:
    found: list[OpenEntitlement] = []
    states = [s.value for s in (*OPEN, EntitlementStatus.PENDING_REVIEW)]
    for chunk in _chunks(list(set(household_ids))):
        rows = session.execute(
            select(
                EntitlementRow.id,
                EntitlementRow.benefit_id,
                EntitlementRow.beneficiary_id,
                EntitlementRow.household_id,
                EntitlementRow.status,
                EntitlementRow.amount_krw,
            ).where(EntitlementRow.household_id.in_(chunk), EntitlementRow.status.in_(states))
        )
        found.extend(
            OpenEntitlement(
                r.id, r.benefit_id, r.beneficiary_id, r.household_id, EntitlementStatus(r.status), r.amount_krw
            )
            for r in rows
        )
    return found


def households_by_id(session: Session, household_ids: Iterable[str]) -> dict[str, Household]:
    """Households (with all members) by id: one member's lookup brings the whole household."""
    members: dict[str, str] = {}
    for chunk in _chunks(list(set(household_ids))):
        rows = session.execute(select(CitizenRow.household_id, CitizenRow.id).where(CitizenRow.household_id.in_(chunk)))
        for row in rows:
            members.setdefault(row.household_id, row.id)
    by_citizen = households_of(session, members.values())
    return {household_id: by_citizen[citizen] for household_id, citizen in members.items() if citizen in by_citizen}


def open_offers_of_benefit(session: Session, benefit_id: str, after: str, limit: int) -> list[OpenEntitlement]:
    """One page (by id) of the open offers of a benefit, for re-evaluation after a rule change."""
    states = [s.value for s in (*OPEN, EntitlementStatus.PENDING_REVIEW)]
    rows = session.execute(
        select(
            EntitlementRow.id,
            EntitlementRow.benefit_id,
            EntitlementRow.beneficiary_id,
            EntitlementRow.household_id,
            EntitlementRow.status,
            EntitlementRow.amount_krw,
        )
        .where(EntitlementRow.benefit_id == benefit_id, EntitlementRow.status.in_(states), EntitlementRow.id > after)
        .order_by(EntitlementRow.id)
        .limit(limit)
    )
    return [
        OpenEntitlement(r.id, r.benefit_id, r.beneficiary_id, r.household_id, EntitlementStatus(r.status), r.amount_krw)
        for r in rows
    ]


def languages_of(session: Session, citizen_ids: Iterable[str]) -> dict[str, str]:
    result: dict[str, str] = {}
    for chunk in _chunks(list(set(citizen_ids))):
        rows = session.execute(select(CitizenRow.id, CitizenRow.preferred_language).where(CitizenRow.id.in_(chunk)))
        result.update((r.id, r.preferred_language) for r in rows)
    return result


def save_batch(
    session: Session,
    households: Sequence[Household],
    processed: Sequence[ProcessedEvent],
    offers: Sequence[Offer],
    notifications: Sequence[RenderedNotification],
    status_changes: Sequence[StatusChange] = (),
) -> None:
    """Everything a batch of events produced, in the caller's transaction (the outbox pattern)."""
    now = datetime.now(UTC)
    _upsert_profiles(session, households, now)
    if processed:
        bulk_insert(
            session,
            ProcessedEventRow,
            [
                {
                    "source": p.source,
                    "event_id": p.event_id,
                    "type": p.type,
                    "household_id": p.household_id,
                    "processed_at": now,
                }
                for p in processed
            ],
        )
    if offers:
        bulk_insert(session, EntitlementRow, [_offer_row(o, now) for o in offers])
    if status_changes:  # ORM bulk UPDATE by primary key; the last change of a batch wins
        latest = {c.entitlement_id: c for c in status_changes}
        session.execute(
            update(EntitlementRow), [{"id": i, "status": c.status.value, "updated_at": now} for i, c in latest.items()]
        )
    if notifications:
        bulk_insert(
            session,
            NotificationRow,
            [
                {
                    **n.__dict__,
                    "offer_ids": list(n.offer_ids),
                    "dispatch_status": "pending",
                    "dispatch_attempts": 0,
                    "created_at": now,
                }
                for n in notifications
            ],
        )


def _upsert_profiles(session: Session, households: Sequence[Household], now: datetime) -> None:
    household_ids = [h.id for h in households]
    existing_h: set[str] = set()
    for chunk in _chunks(household_ids):
        existing_h.update(session.scalars(select(HouseholdRow.id).where(HouseholdRow.id.in_(chunk))))
    rows = [
        {
            "id": h.id,
            "municipality_code": h.municipality_code,
            "resident_since": h.resident_since,
            **{name: h.facts.get(name) for name in HOUSEHOLD_FACTS},
            "updated_at": now,
        }
        for h in households
    ]
    new = [r for r in rows if r["id"] not in existing_h]
    old = [r for r in rows if r["id"] in existing_h]
    if new:
        bulk_insert(session, HouseholdRow, new)
    if old:
        session.execute(update(HouseholdRow), old)  # ORM bulk UPDATE by primary key

    members = [c for h in households for c in h.members.values()]
    existing_c: set[str] = set()
    for chunk in _chunks([c.id for c in members]):
        existing_c.update(session.scalars(select(CitizenRow.id).where(CitizenRow.id.in_(chunk))))
    citizen_rows = [
        {
            "id": c.id,
            "household_id": c.household_id,
            "role": c.role,
            "birth_date": c.birth_date,
            "birth_order": c.birth_order,
            **{name: c.facts.get(name) for name in PERSON_FACTS},
            "updated_at": now,
        }
        for c in members
    ]
    new_c = [r for r in citizen_rows if r["id"] not in existing_c]
    old_c = [r for r in citizen_rows if r["id"] in existing_c]
    if new_c:
        bulk_insert(session, CitizenRow, [{**r, "preferred_language": "ko"} for r in new_c])
    if old_c:
        session.execute(update(CitizenRow), old_c)


def _offer_row(o: Offer, now: datetime) -> dict[str, object]:
    return {
        "id": o.id,
        "benefit_id": o.benefit_id,
        "beneficiary_id": o.beneficiary_id,
        "household_id": o.household_id,
        "status": o.status.value,
        "eligibility": o.eligibility.value,
        "amount_krw": o.amount_krw,
        "payment": o.payment,
        "deadline": o.deadline,
        "missing": list(o.missing),
        "trace": o.trace,
        "reason_ko": o.reason_ko,
        "reason_en": o.reason_en,
        "evaluated_on": o.evaluated_on,
        "event_source": o.event_source,
        "event_id": o.event_id,
        "corrects_id": o.corrects_id,
        "created_at": now,
        "updated_at": now,
    }
