"""Sealed columns on real databases (SQLite and PostgreSQL): nothing personal in clear at rest, everything readable
through the models, the COPY path sealed too, key rotation, and the migration that seals existing rows."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from datetime import UTC, date, datetime
from typing import Any, cast

import pytest
from alembic import command
from sqlalchemy import Engine, Table, text
from sqlalchemy.orm import Session, sessionmaker
from typer.testing import CliRunner

from beforeservice.bootstrap import configure_keyring
from beforeservice.console.tables import ReviewActionRow, ReviewCaseRow
from beforeservice.database import alembic_config, make_engine, session_factory, upgrade
from beforeservice.key_rotation import sealed_specs, status
from beforeservice.settings import Settings, get_settings
from entitlements.persistence.sealed_columns import install_keyring, installed_keyring
from entitlements.persistence.sealing import SealingError, UnknownKeyError, new_key_entry
from entitlements.persistence.store import bulk_insert
from entitlements.persistence.tables import EntitlementRow, HouseholdRow
from notifiers.tables import NotificationRow

pytestmark = pytest.mark.integration

K1 = new_key_entry("k1")
K2 = new_key_entry("k2")
NOW = datetime(2026, 3, 10, 1, 0, tzinfo=UTC)
REASON_KO = "아동수당: 만 8세 미만 아동 — 아동수당법 제4조 (받을 수 있어요)"
REASON_EN = "Child allowance: a child under 8 — Child Allowance Act art. 4 (you can receive it)"
TRACE = [{"when": "child.age_months < 96", "holds": True, "reason_ko": "만 8세 미만 아동", "reference": "제4조"}]
MESSAGE_KO = "출산을 축하해요. 첫만남이용권 3,000,000원을 받으실 수 있어요."
NOTE = "어머니와 통화함: 소득 서류를 다음 주에 제출 예정"
SECRETS = (REASON_KO, REASON_EN, "만 8세 미만 아동", MESSAGE_KO, "첫만남이용권 3,000,000원", NOTE, "소득 서류")


@pytest.fixture(autouse=True)
def _restore_keyring() -> Iterator[None]:
    previous = installed_keyring()
    yield
    if previous is not None:
        install_keyring(previous)


def use_keys(spec: str) -> None:
    configure_keyring(Settings(data_keys=spec))


def offer_row(household: str, n: int = 0) -> dict[str, Any]:
    return {
        "id": str(uuid.uuid4()),
        "benefit_id": "child_allowance",
        "beneficiary_id": f"c-{household}-{n}",
        "household_id": household,
        "status": "pending_review",
        "eligibility": "undetermined",
        "amount_krw": 100_000,
        "payment": "monthly",
        "deadline": date(2026, 5, 1),
        "missing": ["household.income_percentile"],
        "trace": TRACE,
        "reason_ko": REASON_KO,
        "reason_en": REASON_EN,
        "evaluated_on": date(2026, 3, 9),
        "event_source": "/agencies/mois/registry/41110",
        "event_id": f"e-{household}-{n}",
        "corrects_id": None,
        "created_at": NOW,
        "updated_at": NOW,
    }


def seed(sessions: sessionmaker[Session], household: str = "hh-1", offers: int = 3) -> list[str]:
    """Offers (through the COPY path on PostgreSQL), a notification and a caseworker's review, all personal."""
    rows = [offer_row(household, n) for n in range(offers)]
    with sessions.begin() as session:
        session.add(HouseholdRow(id=household, municipality_code="41110", resident_since=None, updated_at=NOW))
        session.flush()
        bulk_insert(session, EntitlementRow, rows)
        bulk_insert(
            session,
            NotificationRow,
            [
                {
                    "id": str(uuid.uuid4()),
                    "recipient_id": f"m-{household}",
                    "household_id": household,
                    "event_source": "/agencies/mois/registry/41110",
                    "event_id": f"e-{household}-0",
                    "event_type": "kr.go.mois.birth.registered",
                    "category": "childbirth_childcare",
                    "offer_ids": [r["id"] for r in rows],
                    "language": "ko",
                    "lock_screen_title": "출산을 축하합니다",
                    "lock_screen_body": "앱에서 확인해 주세요.",
                    "message_ko": MESSAGE_KO,
                    "message_en": "Congratulations. You can receive the First Meeting Voucher, KRW 3,000,000.",
                    "dispatch_status": "pending",
                    "dispatch_attempts": 0,
                    "created_at": NOW,
                }
            ],
        )
        for row in rows:
            session.add(
                ReviewActionRow(entitlement_id=row["id"], action="info_requested", actor="cw", note=NOTE, at=NOW)
            )
            session.add(
                ReviewCaseRow(entitlement_id=row["id"], info_request=NOTE, rejection_reason=None, updated_at=NOW)
            )
    return [r["id"] for r in rows]


def raw_values(sessions: sessionmaker[Session]) -> dict[str, list[Any]]:
    """Every stored value of every sealed column, read with plain SQL (no model, no type)."""
    found: dict[str, list[Any]] = {}
    with sessions() as session:
        for spec in sealed_specs():
            for name in spec.columns:
                query = text(f'SELECT "{name}" FROM "{spec.name}" WHERE "{name}" IS NOT NULL')
                found[f"{spec.name}.{name}"] = list(session.scalars(query))
    return found


def all_raw_text(sessions: sessionmaker[Session]) -> list[str]:
    with sessions() as session:
        tables = [t for (t,) in session.execute(text(_TABLES[session.get_bind().dialect.name]))]
        return [str(v) for t in tables for row in session.execute(text(f'SELECT * FROM "{t}"')) for v in row]


_TABLES = {
    "sqlite": "SELECT name FROM sqlite_master WHERE type = 'table'",
    "postgresql": "SELECT tablename FROM pg_tables WHERE schemaname = current_schema()",
}


def read_back(sessions: sessionmaker[Session], ids: list[str]) -> None:
    with sessions() as session:
        for offer_id in ids:
            e = session.get_one(EntitlementRow, offer_id)
            assert (e.reason_ko, e.reason_en, e.trace) == (REASON_KO, REASON_EN, TRACE)
            case = session.get_one(ReviewCaseRow, offer_id)
            assert (case.info_request, case.rejection_reason) == (NOTE, None)
        notes = session.query(ReviewActionRow.note).filter(ReviewActionRow.entitlement_id.in_(ids)).all()
        assert [n for (n,) in notes] == [NOTE] * len(ids)
        assert {n.message_ko for n in session.query(NotificationRow)} >= {MESSAGE_KO}


def test_sealed_at_rest_readable_through_the_models(sessions: sessionmaker[Session]) -> None:
    use_keys(K1)
    ids = seed(sessions)
    stored = raw_values(sessions)
    assert all(values for column, values in stored.items() if column != "review_cases.rejection_reason")
    for column, values in stored.items():
        assert all(isinstance(v, str) and v.startswith("v1.k1.") for v in values), column
    everything = "\n".join(all_raw_text(sessions))
    assert [s for s in SECRETS if s in everything] == []  # nor in any other column of any table
    assert "아동수당법" not in everything and "소득" not in everything
    read_back(sessions, ids)
    with sessions() as session:  # a value moved to another column does not open
        sealed_reason = session.scalar(text("SELECT reason_ko FROM entitlements LIMIT 1"))
    with sessions.begin() as session:
        session.execute(
            text("UPDATE entitlements SET reason_en = :v WHERE id = :id"), {"v": sealed_reason, "id": ids[0]}
        )
    with sessions() as session, pytest.raises(SealingError, match=r"entitlements\.reason_en"):
        session.get_one(EntitlementRow, ids[0])


def test_key_rotation_then_the_old_key_can_go(
    database_url: str, sessions: sessionmaker[Session], monkeypatch: pytest.MonkeyPatch
) -> None:
    from beforeservice.cli import app

    use_keys(K1)
    ids = seed(sessions, "hh-a", offers=7)

    use_keys(f"{K2},{K1}")  # k2 first: the active key; k1 still opens
    ids += seed(sessions, "hh-b", offers=2)  # written under k2 meanwhile
    read_back(sessions, ids)
    with sessions.begin() as session:  # a value from before sealing (or raw SQL): rotation seals it too
        clear = text("UPDATE review_actions SET note = :n WHERE entitlement_id = :id")
        session.execute(clear, {"n": NOTE, "id": ids[0]})
    monkeypatch.setenv("DATABASE_URL", database_url)
    monkeypatch.setenv("DATA_KEYS", f"{K2},{K1}")
    get_settings.cache_clear()
    try:
        result = CliRunner().invoke(app, ["keys", "rotate", "--batch", "3"])
    finally:
        get_settings.cache_clear()
    assert result.exit_code == 0, result.output
    assert "entitlements.reason_ko: 7 re-sealed" in result.output
    assert "review_actions.note: 7 re-sealed" in result.output  # 6 under k1, 1 in clear
    assert "notifications.message_ko: 1 re-sealed" in result.output
    assert "review_cases.rejection_reason: 0 re-sealed" in result.output
    assert "every sealed value is under k2" in result.output
    for column, values in raw_values(sessions).items():
        assert all(v.startswith("v1.k2.") for v in values), column

    use_keys(K2)  # k1 removed from DATA_KEYS: everything still reads
    read_back(sessions, ids)
    engine = make_engine(database_url)
    assert {c: behind for c, (_, behind) in status(engine, installed_keyring()).items()} == dict.fromkeys(  # type: ignore[arg-type]
        [f"{s.name}.{c}" for s in sealed_specs() for c in s.columns], 0
    )
    engine.dispose()
    again = CliRunner().invoke(app, ["keys", "rotate"], env={"DATABASE_URL": database_url, "DATA_KEYS": K2})
    assert again.exit_code == 0 and "entitlements.trace: 0 re-sealed" in again.output  # nothing left: idempotent


def test_without_the_key_a_value_does_not_open_and_the_error_names_it(sessions: sessionmaker[Session]) -> None:
    use_keys(K1)
    ids = seed(sessions, offers=1)
    use_keys(K2)
    with sessions() as session, pytest.raises(UnknownKeyError, match=r"entitlements\.\w+: sealed under key id 'k1'"):
        session.get_one(EntitlementRow, ids[0])


@pytest.fixture
def engine(database_url: str) -> Iterator[Engine]:
    engine = make_engine(database_url)
    yield engine
    engine.dispose()


def _alembic(engine: Engine, verb: str, target: str) -> None:
    config = alembic_config(engine)
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        getattr(command, verb)(config, target)


def test_the_migration_seals_existing_plaintext_rows_and_the_downgrade_opens_them(engine: Engine) -> None:
    use_keys(K1)
    _alembic(engine, "downgrade", "0003c")  # unapplies 0004s only: back to heads 0003c + 0003n
    offer = offer_row("hh-m")
    with engine.begin() as connection:  # plaintext rows, as the schema before 0004s held them
        connection.execute(
            text("INSERT INTO households (id, municipality_code, updated_at) VALUES ('hh-m', '41110', :now)"),
            {"now": NOW},
        )
        values = {**offer, "missing": json.dumps(offer["missing"]), "trace": json.dumps(TRACE, ensure_ascii=False)}
        names = ", ".join(values)
        binds = ", ".join(f":{n}" for n in values)
        connection.execute(text(f"INSERT INTO entitlements ({names}) VALUES ({binds})"), values)
        connection.execute(
            text(
                "INSERT INTO review_actions (entitlement_id, action, actor, note, at) VALUES (:id, 'rejected', 'cw', "
                ":note, :now)"
            ),
            {"id": offer["id"], "note": NOTE, "now": NOW},
        )
    upgrade(engine)
    sessions = session_factory(engine)
    stored = raw_values(sessions)
    assert stored["entitlements.trace"][0].startswith("v1.k1.") and stored["review_actions.note"][0].startswith("v1.")
    assert [s for s in SECRETS if s in "\n".join(all_raw_text(sessions))] == []
    with sessions() as session:
        e = session.get_one(EntitlementRow, offer["id"])
        assert (e.trace, e.reason_ko, e.missing) == (TRACE, REASON_KO, ["household.income_percentile"])
        assert session.query(ReviewActionRow.note).scalar() == NOTE

    _alembic(engine, "downgrade", "0003c")
    with engine.connect() as connection:
        row = connection.execute(text("SELECT reason_ko, trace FROM entitlements")).one()
        trace = row.trace if isinstance(row.trace, list) else json.loads(row.trace)  # JSON again on PostgreSQL
        assert (row.reason_ko, trace) == (REASON_KO, TRACE)
    upgrade(engine)  # and up again
    with sessions() as session:
        assert session.get_one(EntitlementRow, offer["id"]).trace == TRACE


def test_the_sql_backfill_seals_what_it_computed(engine: Engine) -> None:
    from beforeservice.bench import synth
    from entitlements import CATALOG_DIR
    from entitlements.persistence.sweep import backfill
    from entitlements.persistence.tables import CitizenRow
    from rules_engine.loader import load_catalog

    use_keys(K1)
    on = date(2025, 6, 30)
    with engine.begin() as connection:
        synth.load(
            connection,
            cast(Table, HouseholdRow.__table__),
            cast(Table, CitizenRow.__table__),
            synth.households(300, seed=7, on=on),
        )
        report = backfill(connection, load_catalog(CATALOG_DIR).benefits["child_allowance"], on)
    assert report.inserted > 0
    sessions = session_factory(engine)
    stored = raw_values(sessions)
    assert len(stored["entitlements.reason_ko"]) == report.inserted
    assert all(v.startswith("v1.k1.") for c in ("trace", "reason_ko", "reason_en") for v in stored[f"entitlements.{c}"])
    with sessions() as session:
        rows = session.query(EntitlementRow).all()
        assert all(r.reason_ko.startswith("아동수당: ") and isinstance(r.trace, list) and r.trace for r in rows)
