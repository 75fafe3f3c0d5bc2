"""Population backfill on real databases: shadow mode writes nothing, a real run inserts each offer once."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from datetime import date
from typing import cast

import pytest
from sqlalchemy import Engine, Table, func, select
from typer.testing import CliRunner

from beforeservice.bench import synth
from beforeservice.database import make_engine
from entitlements import CATALOG_DIR, ids
from entitlements.persistence.sweep import backfill
from entitlements.persistence.tables import CitizenRow, EntitlementRow, HouseholdRow
from rules_engine.loader import load_catalog

CATALOG = load_catalog(CATALOG_DIR)
ON = date(2025, 6, 30)


@pytest.fixture
def engine(database_url: str) -> Iterator[Engine]:
    engine = make_engine(database_url)
    with engine.begin() as connection:
        synth.load(
            connection,
            cast(Table, HouseholdRow.__table__),
            cast(Table, CitizenRow.__table__),
            synth.households(5000, seed=21, on=ON),
        )
    yield engine
    engine.dispose()


def _entitlements(engine: Engine) -> int:
    with engine.connect() as connection:
        return connection.execute(select(func.count()).select_from(EntitlementRow)).scalar_one()


@pytest.mark.integration
def test_shadow_mode_reports_counts_and_a_sample_and_writes_nothing(engine: Engine) -> None:
    with engine.begin() as connection:
        report = backfill(connection, CATALOG.benefits["child_allowance"], ON, dry_run=True)
    assert _entitlements(engine) == 0
    assert report.total_of("eligible") > 150  # children under 8 of ~5,000 people
    assert "11680" in report.by_municipality
    assert len(report.sample) == 10
    assert all(row["eligibility"] in ("eligible", "undetermined") for row in report.sample)


@pytest.mark.integration
def test_a_real_run_inserts_each_offer_once_with_deterministic_ids(engine: Engine) -> None:
    benefit = CATALOG.benefits["first_meeting_voucher"]
    with engine.begin() as connection:
        report = backfill(connection, benefit, ON)
    expected = report.total_of("eligible") + report.total_of("undetermined")
    assert report.inserted == expected > 0
    with engine.connect() as connection:
        rows = connection.execute(
            select(EntitlementRow.id, EntitlementRow.beneficiary_id, EntitlementRow.status, EntitlementRow.event_id)
        ).all()
    statuses = Counter(r.status for r in rows)
    assert statuses["matched"] == report.total_of("eligible")
    assert statuses["pending_review"] == report.total_of("undetermined")
    event_id = ids.backfill_event_id(benefit.id, ON.isoformat())
    assert all(r.id == ids.backfill_offer_id(event_id, r.beneficiary_id) for r in rows)  # SQL and Python agree
    with engine.begin() as connection:  # again: everyone already has the offer
        assert backfill(connection, benefit, ON).inserted == 0
    assert _entitlements(engine) == expected


@pytest.mark.integration
def test_a_household_benefit_is_offered_once_per_household(engine: Engine) -> None:
    benefit = CATALOG.benefits["kepco_birth_household_discount"]
    with engine.begin() as connection:
        report = backfill(connection, benefit, ON)
    with engine.connect() as connection:
        rows = connection.execute(select(EntitlementRow.beneficiary_id, EntitlementRow.household_id)).all()
    assert report.inserted == len(rows) > 0
    assert all(r.beneficiary_id == r.household_id for r in rows)
    assert len({r.household_id for r in rows}) == len(rows)


@pytest.mark.integration
def test_cli_backfill_dry_run(engine: Engine, database_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    from beforeservice.cli import app

    monkeypatch.setenv("DATABASE_URL", database_url)
    result = CliRunner().invoke(app, ["rules", "backfill", "gangnam_birth_grant", "--on", "2025-06-30", "--dry-run"])
    assert result.exit_code == 0, result.output
    assert "dry run: nothing written" in result.output and "11680" in result.output
    assert _entitlements(engine) == 0
