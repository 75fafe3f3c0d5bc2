"""The SQL translation decides exactly as the Python engine (the reference), on random profiles, in SQLite and
PostgreSQL: eligibility and amount for every benefit whose facts map to columns, and for the population sweep
also the deadline, the missing facts, the reasons and the trace."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from typing import Any, cast

import pytest
from sqlalchemy import Engine, Table, select
from sqlalchemy.orm import Session

from beforeservice.bench import synth
from beforeservice.database import make_engine
from entitlements import CATALOG_DIR
from entitlements.persistence import store
from entitlements.persistence.sweep import profile_facts as fact_columns
from entitlements.persistence.sweep import sweep
from entitlements.persistence.tables import CitizenRow, HouseholdRow
from entitlements.profiles import profile_facts
from rules_engine.catalog import Benefit
from rules_engine.evaluation import evaluate_benefit
from rules_engine.explanation import reason, trace_record
from rules_engine.facts import situation
from rules_engine.interpreter import interpret_benefit
from rules_engine.loader import load_catalog
from rules_engine.sql import NotTranslatable, benefit_sql
from tests.rules_engine.random_profiles import random_households

CATALOG = load_catalog(CATALOG_DIR)
DATES = [date(2023, 1, 15), date(2024, 3, 5), date(2025, 6, 30), date(2026, 2, 1)]
CITIZENS = cast(Table, CitizenRow.__table__)
HOUSEHOLDS = cast(Table, HouseholdRow.__table__)


@pytest.fixture
def engine(database_url: str) -> Iterator[Engine]:
    engine = make_engine(database_url)
    with engine.begin() as connection:
        synth.load(connection, HOUSEHOLDS, CITIZENS, random_households(150, seed=11, on=date(2025, 6, 30)))
    yield engine
    engine.dispose()


def _python_decisions(engine: Engine, on: date) -> dict[str, dict[str, Any]]:
    """Facts per citizen as the pipeline builds them: households loaded by the store, then profile_facts."""
    with Session(engine) as session:
        ids = list(session.scalars(select(CitizenRow.id)))
        households = store.households_of(session, ids)
    return {cid: situation(profile_facts(households[cid], households[cid].members[cid], on), on) for cid in ids}


def _translatable(benefit: Benefit, on: date) -> bool:
    if not benefit.in_force(on):
        return False
    try:
        benefit_sql(benefit, fact_columns(on, CITIZENS, HOUSEHOLDS, True).columns, on)
    except NotTranslatable:
        return False
    return True


@pytest.mark.integration
def test_sql_decides_like_the_engine_and_the_interpreter(engine: Engine) -> None:
    compared = 0
    for on in DATES:
        facts_of = _python_decisions(engine, on)
        columns = fact_columns(on, CITIZENS, HOUSEHOLDS, True)
        for benefit in CATALOG.benefits.values():
            if not _translatable(benefit, on):
                continue
            decided = benefit_sql(benefit, columns.columns, on)
            query = select(columns.subject.c.id, decided.eligibility, decided.amount).select_from(columns.source)
            with engine.connect() as connection:
                rows = connection.execute(query).all()
            assert len(rows) == len(facts_of)
            for citizen_id, eligibility, amount in rows:
                facts = facts_of[citizen_id]
                compiled = evaluate_benefit(benefit, facts, on)
                interpreted = interpret_benefit(benefit, facts, on)
                python = (compiled.eligibility.value, compiled.amount_krw)
                where = f"{benefit.id} on {on} for {citizen_id}: {facts}"
                assert (interpreted.eligibility.value, interpreted.amount_krw) == python, where
                assert compiled.missing == interpreted.missing, where
                assert compiled.deadline == interpreted.deadline, where
                assert (eligibility, amount) == python, where
                compared += 1
    birth = [b for b in CATALOG.by_trigger["kr.go.mois.birth.registered"]]
    assert all(_translatable(b, DATES[-1]) for b in birth), "every birth benefit maps to the profile columns"
    assert compared >= len(birth) * len(DATES) * 300


@pytest.mark.integration
def test_sweep_rows_match_the_engine_decision_in_every_field(engine: Engine) -> None:
    on = date(2025, 6, 30)
    facts_of = _python_decisions(engine, on)
    seen = {"eligible": 0, "undetermined": 0}
    for benefit in CATALOG.by_trigger["kr.go.mois.birth.registered"]:
        swept = sweep(benefit, on)
        with engine.connect() as connection:
            rows = connection.execute(select(swept.decisions)).mappings().all()
        for row in rows:
            decision = evaluate_benefit(benefit, facts_of[row["citizen_id"]], on)
            where = f"{benefit.id} for {row['citizen_id']}"
            assert row["eligibility"] == decision.eligibility.value, where
            assert row["amount_krw"] == decision.amount_krw, where
            assert row["deadline"] == decision.deadline, where
            assert tuple(row["missing"]) == decision.missing, where
            assert row["reason_ko"] == reason(decision, "ko"), where
            assert row["reason_en"] == reason(decision, "en"), where
            assert row["trace"] == trace_record(decision), where
            seen[row["eligibility"]] += 1
    assert seen["eligible"] > 50 and seen["undetermined"] > 20, seen
