"""Batch persistence of profiles, entitlements and notifications (SQLAlchemy; one transaction per batch)."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, TypeVar

from sqlalchemy import JSON, ColumnElement, String, Table, TypeDecorator, any_, bindparam, insert, select, update
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import DeclarativeBase, InstrumentedAttribute, Session

from entitlements.households import HOUSEHOLD_FACTS, PERSON_FACTS, Citizen, Household
from entitlements.lifecycle import CLOSABLE, UNDECIDED, EntitlementStatus
from entitlements.matching import Offer, OpenEntitlement, StatusChange
from entitlements.persistence.sealed_columns import SealedJSON
from entitlements.persistence.tables import CitizenRow, EntitlementRow, HouseholdRow, ProcessedEventRow
from entitlements.persistence.transitions import apply_changes
from entitlements.ports import ProcessedEvent
from rules_engine.deadlines import DeadlineKind, of_kind, offer_end, to_json

_CHUNK = 500  # keeps IN-lists and bulk statements within every driver's parameter limits


def _chunks(items: Sequence[Any], size: int = _CHUNK) -> Iterable[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def among(
    session: Session, column: ColumnElement[str] | InstrumentedAttribute[str], values: Sequence[str]
) -> ColumnElement[bool]:
    """`column IN values`: on PostgreSQL one array parameter (`= ANY(%s)`), so a 500-id lookup is planned as
    fast as a 1-id one; elsewhere an expanded IN-list."""
    if session.get_bind().dialect.name == "postgresql":
        return column == any_(bindparam(None, list(values), type_=ARRAY(String)))
    return column.in_(values)


def bulk_insert(session: Session, model: type[DeclarativeBase], rows: Sequence[Mapping[str, Any]]) -> None:
    """INSERT many rows in the caller's transaction: COPY on PostgreSQL, executemany elsewhere.

    COPY is one round trip and no per-row statement; it bypasses SQLAlchemy's Python-side column defaults, so
    every row must name every column it sets (missing columns get the server default, NULL here, as with the
    executemany path). It bypasses SQLAlchemy's bind processing too, so that is applied here, once per value, by
    a callable chosen per column up front: JSON columns are serialised as SQLAlchemy would (json.dumps), and
    TypeDecorator columns (the sealed ones: entitlements/persistence/sealed_columns.py) go through their
    process_bind_param.
    """
    if not rows:
        return
    table: Table = model.__table__  # type: ignore[assignment]
    connection = session.connection()
    dialect = connection.dialect
    if dialect.name != "postgresql" or dialect.driver != "psycopg":
        session.execute(insert(model), list(rows))
        return
    names = list(rows[0])

    def bound(column_type: TypeDecorator[Any]) -> Callable[[Any], Any]:
        if isinstance(column_type, SealedJSON):
            return _sealed_json(column_type)
        bind = column_type.process_bind_param
        if isinstance(column_type.impl_instance, JSON):  # a decorated JSON: its result is still a document
            return lambda value: json.dumps(bind(value, dialect))
        return lambda value: bind(value, dialect)

    # (index, convert) for the columns that need converting; the others are written as given.
    converters: list[tuple[int, Callable[[Any], Any]]] = []
    for index, name in enumerate(names):
        column_type = table.c[name].type
        if isinstance(column_type, TypeDecorator):
            converters.append((index, bound(column_type)))
        elif isinstance(column_type, JSON):
            converters.append((index, json.dumps))
    columns = ", ".join(f'"{name}"' for name in names)
    # Binary COPY where every column's type has a binary form we pass as given: long texts (sealed values)
    # are then sent as they are instead of escaped character by character (docs/benchmarks.md, pipeline).
    types = [_BINARY_COPY_TYPES.get(_type_name(table.c[name].type, dialect)) for name in names]
    binary = all(types)
    cursor = connection.connection.driver_connection.cursor()  # type: ignore[union-attr]
    mode = " (FORMAT BINARY)" if binary else ""
    with cursor, cursor.copy(f'COPY "{table.name}" ({columns}) FROM STDIN{mode}') as copy:
        if binary:
            copy.set_types(types)
        for row in rows:
            values = [row[n] for n in names]
            for index, convert in converters:
                values[index] = convert(values[index])
            copy.write_row(values)


# SQL type (as compiled for PostgreSQL, without length) → the type whose binary form COPY is given. JSON documents
# arrive serialised (json.dumps), and json's binary form is its text; sealed columns are Text.
_BINARY_COPY_TYPES = {
    "VARCHAR": "text",
    "TEXT": "text",
    "JSON": "text",
    "BIGINT": "int8",
    "INTEGER": "int4",
    "SMALLINT": "int2",
    "BOOLEAN": "bool",
    "DATE": "date",
    "TIMESTAMP WITH TIME ZONE": "timestamptz",
}


def _type_name(column_type: Any, dialect: Any) -> str:
    return str(column_type.compile(dialect=dialect)).split("(")[0].strip()


def _sealed_json(column_type: SealedJSON) -> Callable[[Any], Any]:
    """Seal each value (a fresh nonce per row) but serialise a document shared by many rows once: equal decisions
    share one trace object (rules_engine.explanation.explain)."""
    documents: dict[int, tuple[Any, bytes]] = {}  # by id(); the value is kept so that the id stays its own

    def convert(value: Any) -> Any:
        if value is None:
            return None
        known = documents.get(id(value))
        if known is None or known[0] is not value:
            known = documents[id(value)] = (value, column_type.document(value))
        return column_type.seal_document(known[1])

    return convert


def already_processed(session: Session, keys: Sequence[tuple[str, str]]) -> set[tuple[str, str]]:
    found: set[tuple[str, str]] = set()
    wanted = set(keys)
    for chunk in _chunks(list(wanted)):
        # Both key columns as arrays (an index scan of the primary key), the exact pairs checked here:
        # one IN-list of row values is costly to plan, and sources are few.
        rows = session.execute(
            select(ProcessedEventRow.source, ProcessedEventRow.event_id).where(
                among(session, ProcessedEventRow.source, list({source for source, _ in chunk})),
                among(session, ProcessedEventRow.event_id, [event_id for _, event_id in chunk]),
            )
        )
        found.update(key for r in rows if (key := (r.source, r.event_id)) in wanted)
    return found


def households_of(session: Session, citizen_ids: Iterable[str]) -> dict[str, Household]:
    """The households (with all members) of the given citizens, keyed by each given citizen's id.

    Plain column selects, not ORM entities: this runs for every batch, and building ORM objects cost more
    than the queries."""
    ids = list(set(citizen_ids))
    household_of: dict[str, str] = {}
    for chunk in _chunks(ids):
        for row in session.execute(
            select(CitizenRow.id, CitizenRow.household_id).where(among(session, CitizenRow.id, chunk))
        ):
            household_of[row.id] = row.household_id
    households: dict[str, Household] = {}
    household_ids = list(set(household_of.values()))
    for chunk in _chunks(household_ids):
        # Rows as plain tuples, facts zipped by position: named access on a Row costs more than the query.
        for h_id, municipality, since, *values in session.execute(
            select(*_HOUSEHOLD_COLUMNS).where(among(session, HouseholdRow.id, chunk))
        ).tuples():
            facts = {name: v for name, v in zip(HOUSEHOLD_FACTS, values, strict=True) if v is not None}
            households[h_id] = Household(h_id, municipality, since, facts=facts)
        for c_id, h_id, role, born, order, *values in session.execute(
            select(*_CITIZEN_COLUMNS).where(among(session, CitizenRow.household_id, chunk))
        ).tuples():
            person_facts = {name: v for name, v in zip(PERSON_FACTS, values, strict=True) if v is not None}
            households[h_id].members[c_id] = Citizen(c_id, h_id, role, born, order, person_facts)
    return {citizen: households[h] for citizen, h in household_of.items() if h in households}


_HOUSEHOLD_COLUMNS = [
    HouseholdRow.__table__.c[n] for n in ("id", "municipality_code", "resident_since", *HOUSEHOLD_FACTS)
]
_CITIZEN_COLUMNS = [
    CitizenRow.__table__.c[n] for n in ("id", "household_id", "role", "birth_date", "birth_order", *PERSON_FACTS)
]


ProfileSnapshot = dict[str, tuple[Any, ...]]


def snapshot(households: Iterable[Household]) -> ProfileSnapshot:
    """The profile rows as loaded, so that saving writes only what an event changed (a birth changes no parent)."""
    taken: ProfileSnapshot = {}
    for h in households:
        taken["h:" + h.id] = _household_values(h)
        for c in h.members.values():
            taken["c:" + c.id] = _citizen_values(c)
    return taken


# The profile columns written, in the order of _household_values / _citizen_values.
_HOUSEHOLD_WRITTEN = ("municipality_code", "resident_since", *HOUSEHOLD_FACTS)
_CITIZEN_WRITTEN = ("household_id", "role", "birth_date", "birth_order", *PERSON_FACTS)


def _household_values(h: Household) -> tuple[Any, ...]:
    return (h.municipality_code, h.resident_since, *(h.facts.get(name) for name in HOUSEHOLD_FACTS))


def _citizen_values(c: Citizen) -> tuple[Any, ...]:
    return (c.household_id, c.role, c.birth_date, c.birth_order, *(c.facts.get(name) for name in PERSON_FACTS))


def open_entitlements(
    session: Session, household_ids: Iterable[str], closing: Iterable[str] = ()
) -> list[OpenEntitlement]:
    """The undecided entitlements of these households; for those in `closing` (an agency's application.received
    or benefit.granted is in the batch) every entitlement its event may concern, whatever its status."""
    found = _entitlements(session, set(household_ids) - set(closing), UNDECIDED)
    return found + _entitlements(session, set(closing), CLOSABLE)


def _entitlements(
    session: Session, household_ids: Iterable[str], statuses: Iterable[EntitlementStatus]
) -> list[OpenEntitlement]:
    found: list[OpenEntitlement] = []
    states = sorted(s.value for s in statuses)
    for chunk in _chunks(list(set(household_ids))):
        rows = session.execute(
            select(
                EntitlementRow.id,
                EntitlementRow.benefit_id,
                EntitlementRow.beneficiary_id,
                EntitlementRow.household_id,
                EntitlementRow.status,
                EntitlementRow.amount_krw,
            ).where(among(session, EntitlementRow.household_id, chunk), EntitlementRow.status.in_(states))
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
        rows = session.execute(
            select(CitizenRow.household_id, CitizenRow.id).where(among(session, CitizenRow.household_id, chunk))
        )
        for row in rows:
            members.setdefault(row.household_id, row.id)
    by_citizen = households_of(session, members.values())
    return {household_id: by_citizen[citizen] for household_id, citizen in members.items() if citizen in by_citizen}


def open_offers_of_benefit(
    session: Session, benefit_id: str, after: str, limit: int, created_before: datetime
) -> list[OpenEntitlement]:
    """One page (by id) of the open offers of a benefit created before `created_before`, for re-evaluation after a
    rule change: the offers it corrects are written with new ids while it pages, and must not be examined again."""
    states = sorted(s.value for s in UNDECIDED)
    rows = session.execute(
        select(
            EntitlementRow.id,
            EntitlementRow.benefit_id,
            EntitlementRow.beneficiary_id,
            EntitlementRow.household_id,
            EntitlementRow.status,
            EntitlementRow.amount_krw,
        )
        .where(
            EntitlementRow.benefit_id == benefit_id,
            EntitlementRow.status.in_(states),
            EntitlementRow.id > after,
            EntitlementRow.created_at < created_before,
        )
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
        rows = session.execute(
            select(CitizenRow.id, CitizenRow.preferred_language).where(among(session, CitizenRow.id, chunk))
        )
        result.update((r.id, r.preferred_language) for r in rows)
    return result


def save_batch(
    session: Session,
    households: Sequence[Household],
    processed: Sequence[ProcessedEvent],
    offers: Sequence[Offer],
    status_changes: Sequence[StatusChange] = (),
    loaded: ProfileSnapshot | None = None,
) -> None:
    """Everything a batch of events produced but its notifications, in the caller's transaction (the outbox rows
    follow in the same one: notifiers/outbox_writer.py).

    With `loaded` (the snapshot taken when the profiles were read in this transaction) only the profile rows
    that differ from it are written, and only the ids it lacks are looked up."""
    now = datetime.now(UTC)
    _upsert_profiles(session, households, now, loaded)
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
    if status_changes:  # through the lifecycle's gate; the last change of an entitlement in a batch wins
        apply_changes(session, status_changes, now)


def _upsert_profiles(
    session: Session, households: Sequence[Household], now: datetime, loaded: ProfileSnapshot | None
) -> None:
    known = loaded or {}
    trust = loaded is not None
    household_rows = [(h.id, known.get("h:" + h.id), _household_values(h)) for h in households]
    _write_profile_rows(session, HouseholdRow, _HOUSEHOLD_WRITTEN, household_rows, trust, now, {})
    members = [c for h in households for c in h.members.values()]
    citizen_rows = [(c.id, known.get("c:" + c.id), _citizen_values(c)) for c in members]
    _write_profile_rows(session, CitizenRow, _CITIZEN_WRITTEN, citizen_rows, trust, now, {"preferred_language": "ko"})


def _write_profile_rows(
    session: Session,
    model: type[HouseholdRow] | type[CitizenRow],
    names: tuple[str, ...],
    items: Sequence[tuple[str, tuple[Any, ...] | None, tuple[Any, ...]]],
    trust_snapshot: bool,
    now: datetime,
    defaults_of_new: Mapping[str, Any],
) -> None:
    """INSERT the new rows (COPY), UPDATE the changed ones; `items` are (id, values as loaded, values now)."""
    new, old = _split(
        session, model, [(key, before, values, (key, values)) for key, before, values in items], trust_snapshot
    )
    if new:
        bulk_insert(
            session,
            model,
            [
                {"id": key, **dict(zip(names, values, strict=True)), "updated_at": now, **defaults_of_new}
                for key, values in new
            ],
        )
    if old:  # ORM bulk UPDATE by primary key
        session.execute(
            update(model),
            [{"id": key, **dict(zip(names, values, strict=True)), "updated_at": now} for key, values in old],
        )


_T = TypeVar("_T")


def _split(
    session: Session,
    model: type[HouseholdRow] | type[CitizenRow],
    items: Sequence[tuple[str, tuple[Any, ...] | None, tuple[Any, ...], _T]],
    trust_snapshot: bool,
) -> tuple[list[_T], list[_T]]:
    """(to insert, to update): unchanged rows of the snapshot are skipped; ids it lacks are looked up."""
    unique = {item[0]: item for item in items}  # a household touched by several events of a batch: once
    unknown = [i for i, before, _, _ in unique.values() if before is None or not trust_snapshot]
    existing: set[str] = set()
    for chunk in _chunks(unknown):
        existing.update(session.scalars(select(model.id).where(among(session, model.id, chunk))))
    new, old = [], []
    for key, before, now_values, obj in unique.values():
        if before is not None and trust_snapshot:
            if before != now_values:
                old.append(obj)
        elif key in existing:
            old.append(obj)
        else:
            new.append(obj)
    return new, old


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
        "deadline_kind": _end_kind(o),
        "retroactive_until": _last_day(o, DeadlineKind.RETROACTIVE_WINDOW),
        "use_by": _last_day(o, DeadlineKind.USE_BY),
        "deadlines": to_json(o.deadlines),
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


def _end_kind(o: Offer) -> str | None:
    end = offer_end(o.deadlines)
    return end.kind.value if end is not None else None


def _last_day(o: Offer, kind: DeadlineKind) -> Any:
    found = of_kind(o.deadlines, kind)
    return found.last_day if found is not None else None
