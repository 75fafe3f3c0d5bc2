"""The batch store on SQLite and PostgreSQL: lookups, idempotency keys, and profiles written only when changed."""

from __future__ import annotations

import uuid
from datetime import date

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from entitlements.households import Citizen, Household
from entitlements.ids import NAMESPACE, stable_id
from entitlements.persistence import store
from entitlements.persistence.tables import CitizenRow, HouseholdRow


def _household(household_id: str, *members: tuple[str, str]) -> Household:
    household = Household(household_id, "41110", date(2020, 1, 1), facts={"median_income_ratio": 80})
    for citizen_id, role in members:
        household.members[citizen_id] = Citizen(citizen_id, household_id, role, date(1990, 5, 1))
    return household


def _updated_at(session: Session) -> dict[str, object]:
    rows = session.execute(select(CitizenRow.id, CitizenRow.updated_at)).all()
    households = session.execute(select(HouseholdRow.id, HouseholdRow.updated_at)).all()
    return {**{r.id: r.updated_at for r in rows}, **{h.id: h.updated_at for h in households}}


def test_a_birth_writes_the_child_and_leaves_unchanged_parents_alone(sessions: sessionmaker[Session]) -> None:
    with sessions.begin() as session:
        store.save_batch(session, [_household("hh-1", ("m-1", "parent"), ("f-1", "parent"))], [], [])
        store.save_batch(session, [_household("hh-2", ("m-2", "parent"))], [], [])
    with sessions.begin() as session:
        before = _updated_at(session)
    with sessions.begin() as session:
        households = store.households_of(session, ["m-1", "f-1", "m-2"])
        assert {c for h in households.values() for c in h.members} == {"m-1", "f-1", "m-2"}
        loaded = store.snapshot({h.id: h for h in households.values()}.values())
        born, moved = households["m-1"], households["m-2"]
        born.members["c-1"] = Citizen("c-1", "hh-1", "child", date(2026, 11, 1), 1)
        moved.registered_at("11680", date(2026, 11, 2))
        store.save_batch(session, [born, moved], [], [], loaded=loaded)
    with sessions.begin() as session:
        after = _updated_at(session)
        assert session.get(CitizenRow, "c-1") is not None
        assert session.get(HouseholdRow, "hh-2").municipality_code == "11680"  # type: ignore[union-attr]
        assert session.get(HouseholdRow, "hh-2").previous_municipality_code == "41110"  # type: ignore[union-attr]
    assert after["m-1"] == before["m-1"] and after["f-1"] == before["f-1"]  # a birth changes no parent
    assert after["hh-1"] == before["hh-1"]
    assert after["hh-2"] != before["hh-2"]  # the move is written


def test_without_a_snapshot_existing_rows_are_updated_not_inserted_twice(sessions: sessionmaker[Session]) -> None:
    with sessions.begin() as session:
        store.save_batch(session, [_household("hh-1", ("m-1", "parent"))], [], [])
    changed = _household("hh-1", ("m-1", "parent"))
    changed.members["m-1"].facts["insured_days"] = 400
    with sessions.begin() as session:
        store.save_batch(session, [changed], [], [])
    with sessions.begin() as session:
        assert session.get(CitizenRow, "m-1").insured_days == 400  # type: ignore[union-attr]


def test_already_processed_finds_exactly_the_pairs_seen(sessions: sessionmaker[Session]) -> None:
    seen = [store.ProcessedEvent(f"/agencies/a{i % 3}", f"e-{i}", "t", None) for i in range(1200)]
    with sessions.begin() as session:
        store.save_batch(session, [], seen, [])
    asked = [(f"/agencies/a{i % 3}", f"e-{i}") for i in range(0, 1500, 2)]
    asked += [("/agencies/a1", "e-0")]  # a known id under another source: not the same event
    with sessions.begin() as session:
        found = store.already_processed(session, asked)
    assert found == {(s, e) for s, e in asked if int(e[2:]) < 1200 and s == f"/agencies/a{int(e[2:]) % 3}"}
    assert ("/agencies/a1", "e-0") not in found


def test_stable_ids_are_uuid5() -> None:
    for parts in [("a", "b"), ("/agencies/mois/registry/41110", "가족-1", "child_allowance", "c-1"), ("",)]:
        assert stable_id(*parts) == str(uuid.uuid5(NAMESPACE, "\x1f".join(parts)))
