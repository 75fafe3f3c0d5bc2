"""Municipal tables are linted as they load: each mistake stops the catalog with the table file and line."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any, cast

import pytest
from sqlalchemy import Engine, Table, select
from sqlalchemy.orm import Session

from beforeservice.bench import synth
from beforeservice.database import make_engine
from entitlements import CATALOG_DIR
from entitlements.persistence import store
from entitlements.persistence.sweep import sweep
from entitlements.persistence.tables import CitizenRow, HouseholdRow
from entitlements.profiles import profile_facts
from rules_engine.catalog import CatalogError
from rules_engine.eligibility import Eligibility
from rules_engine.evaluation import evaluate, evaluate_benefit
from rules_engine.facts import situation
from rules_engine.interpreter import interpret_event
from rules_engine.loader import load_catalog
from tests.rules_engine.random_profiles import random_households

CITIZENS = cast(Table, CitizenRow.__table__)
HOUSEHOLDS = cast(Table, HouseholdRow.__table__)

BUSAN = Path("tables/local_birth_grant/26_busan.yaml")


def _broken(tmp_path: Path, old: str, new: str) -> tuple[Path, int]:
    """A copy of the catalog with one edit in the 부산 table; returns the file and the edited line."""
    catalog = tmp_path / "catalog"
    shutil.copytree(CATALOG_DIR, catalog)
    table = catalog / BUSAN
    text = table.read_text(encoding="utf-8")
    assert old in text
    table.write_text(text.replace(old, new, 1), encoding="utf-8")
    return table, text[: text.index(old)].count("\n") + 1


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        ('  - code: "26110"\n', '  - code: "26999"\n', "unknown code '26999'"),
        ('  - code: "26110"\n', '  - code: "41110"\n', "belongs to 시도 41"),
        ("    source: https://www.dongnae.go.kr\n", "", "missing required key 'source'"),
        ("    source: https://www.dongnae.go.kr\n", "    source: dongnae.go.kr\n", "official page's URL"),
        ('{1: 0, 2: 200000, "3+": 500000}', '{1: 0, 2: 200000.5, "3+": 500000}', "whole numbers of KRW"),
        ('{1: 0, 2: 200000, "3+": 500000}', '{1: 0, "3+": 500000}', "birth orders must run 1, 2"),
        ('  - code: "26140"\n', '  - code: "26110"\n', "26110 already has a row"),
        # A `code:` line one space short of its row: YAML itself refuses it, and the error says where.
        ('  - code: "26200"\n', '  -\n   code: "26200"\n', "invalid YAML"),
        ("    ordinance: {name: 부산광역시 영도구", "   ordinance: {name: 부산광역시 영도구", "invalid YAML"),
        # A key that would load and be ignored: a typo, or `amounts` indented under the ordinance.
        (
            '    amounts:\n      2024-01-01: {"1+": 5000000}\n',
            '    amount:\n      2024-01-01: {"1+": 5000000}\n',
            "a row has no key 'amount'",
        ),
        (
            "(명칭·조문 미확인)}\n    source: https://news.sbs",
            '(명칭·조문 미확인),\n      amounts: {2024-01-01: {"1+": 1}}}\n    source: https://news.sbs',
            "ordinance has no key 'amounts'",
        ),
        ("    seen: 2026-11-27\n", "", "missing required key 'seen'"),
        ("    seen: 2026-11-27\n", "    seen: 2099-01-01\n", "the day the source was read"),
    ],
)
def test_a_table_mistake_names_the_file_and_line(tmp_path: Path, old: str, new: str, message: str) -> None:
    table, line = _broken(tmp_path, old, new)
    with pytest.raises(CatalogError) as error:
        load_catalog(tmp_path / "catalog")
    assert f"{table}:" in str(error.value) and message in str(error.value)
    reported = int(str(error.value).removeprefix(f"{table}:").split(":", 1)[0])
    assert abs(reported - line) <= 3, (reported, line)  # the row (or its key) that is wrong


def test_two_amounts_for_one_birth_date_overlap(tmp_path: Path) -> None:
    _broken(
        tmp_path,
        '      2023-01-01: {1: 0, 2: 200000, "3+": 10000000}\n',
        '      2023-01-01: {1: 0, 2: 200000, "3+": 10000000}\n      2023-01-01: {"1+": 1}\n',
    )
    with pytest.raises(CatalogError, match=r"26_busan\.yaml:\d+: invalid YAML: duplicate key .*\(first on line \d+\)"):
        load_catalog(tmp_path / "catalog")


def test_every_listed_municipality_gets_a_grant_or_the_information_offer() -> None:
    from rules_engine.catalog import load_agencies
    from rules_engine.grant_tables import expand
    from rules_engine.yaml_source import read_yaml

    declaration = CATALOG_DIR / "birth" / "local_birth_grant.yaml"
    table = expand(declaration, read_yaml(declaration), CATALOG_DIR, load_agencies(CATALOG_DIR / "agencies.yaml"))
    ids = set(load_catalog(CATALOG_DIR).benefits)
    for code in table.codes.municipalities:
        row = table.rows.get(code)
        if row is not None and row.benefit_id is not None:
            assert row.benefit_id in ids and f"local_birth_grant_information_{code}" not in ids
        elif row is None or row.pending:
            assert f"local_birth_grant_information_{code}" in ids


# --- selection: a household is evaluated against its own place's rows only --------------------------------

BIRTH = "kr.go.mois.birth.registered"
ON = date(2025, 6, 30)


def _newborn(code: str | None) -> dict[str, Any]:
    facts: dict[str, Any] = {
        "child.birth_date": date(2025, 6, 1),
        "child.birth_order": 2,
        "person.birth_date": date(2025, 6, 1),
        "household.months_resident": 24,
    }
    return facts if code is None else {**facts, "household.municipality_code": code}


@pytest.mark.parametrize(
    ("code", "expected"),
    [
        ("41117", {"suwon_birth_grant"}),  # an 일반구 of 수원: the city's row
        ("26320", {"local_birth_grant_26", "local_birth_grant_26320"}),  # 부산 북구: its row and the city's
        ("26260", {"local_birth_grant_26", "local_birth_grant_information_26260"}),  # listed, amounts not found
        ("27110", {"local_birth_grant_27", "local_birth_grant_information_27110"}),  # no 구 row: the city's and the gap
        ("99999", {"local_birth_grant_information_unlisted"}),  # a code the list does not know
        (None, {"local_birth_grant_information_unlisted"}),  # the household's code is unknown
    ],
)
def test_a_household_is_evaluated_against_its_own_places_only(code: str | None, expected: set[str]) -> None:
    catalog = load_catalog(CATALOG_DIR)
    compiled = [d for d in evaluate(catalog, BIRTH, _newborn(code), ON) if d.benefit.table]
    assert {d.benefit.id for d in compiled} == expected  # not one decision per row of every table
    assert all(d.eligibility is not Eligibility.UNDETERMINED for d in compiled)
    interpreted = interpret_event(catalog, BIRTH, _newborn(code), ON)
    assert len(interpreted) == len(evaluate(catalog, BIRTH, _newborn(code), ON))
    gaps = {d.benefit.id for d in compiled if d.benefit.coverage_gap}
    assert gaps == {i for i in expected if "information" in i}
    if code is None:  # the one offer says why it is general, and asks nothing
        (unknown,) = compiled
        assert unknown.eligibility is Eligibility.ELIGIBLE and unknown.missing == ()


def test_selection_drops_only_what_could_not_apply() -> None:
    """For every known code: what selection evaluates, minus nothing, equals evaluating every triggered benefit
    and dropping the not-eligible (and no code selects more than two table benefits: its own and its 시도's)."""
    catalog = load_catalog(CATALOG_DIR)
    codes = [*catalog.by_place[BIRTH].by_code, "99999"]
    assert len(codes) > 250
    for code in codes:
        facts = situation(_newborn(code), ON)
        everything = {b.id: evaluate_benefit(b, facts, ON) for b in catalog.by_trigger[BIRTH] if b.in_force(ON)}
        selected = {d.benefit.id: d for d in evaluate(catalog, BIRTH, _newborn(code), ON)}
        kept = {i for i, d in everything.items() if d.eligibility is not Eligibility.NOT_ELIGIBLE}
        assert set(selected) >= kept, code
        assert all(selected[i].eligibility is Eligibility.NOT_ELIGIBLE for i in set(selected) - kept), code
        assert sum(1 for d in selected.values() if d.benefit.table) <= 2, code


@pytest.fixture
def population(database_url: str) -> Iterator[Engine]:
    engine = make_engine(database_url)
    with engine.begin() as connection:  # codes of rows, 일반구, pending and missing rows, unknown and NULL codes
        synth.load(connection, HOUSEHOLDS, CITIZENS, random_households(220, seed=13, on=ON))
    yield engine
    engine.dispose()


@pytest.mark.integration
def test_the_sweep_selects_the_households_the_engine_evaluates(population: Engine) -> None:
    """Per table benefit and living child: a sweep row exactly when the engine, for that child's birth, selects the
    benefit and does not find it not eligible (a NULL code: only the catch-all, decided)."""
    catalog = load_catalog(CATALOG_DIR)
    with Session(population) as session:
        ids = list(
            session.scalars(select(CitizenRow.id).where(CitizenRow.role == "child", CitizenRow.deceased_on.is_(None)))
        )
        households = store.households_of(session, ids)
    engine_says: dict[str, set[str]] = {}
    for cid in ids:
        facts = profile_facts(households[cid], households[cid].members[cid], ON)
        for d in evaluate(catalog, BIRTH, facts, ON):
            if d.benefit.table and d.eligibility is not Eligibility.NOT_ELIGIBLE:
                engine_says.setdefault(d.benefit.id, set()).add(cid)
    codes = {h.municipality_code for h in households.values()}
    assert None in codes and "99999" in codes and "41117" in codes
    table = [b for b in catalog.by_trigger[BIRTH] if b.table and b.in_force(ON)]
    compared = 0
    for benefit in table:
        swept = sweep(benefit, ON)
        with population.connect() as connection:
            rows = connection.execute(select(swept.decisions.c.citizen_id)).scalars().all()
        children = {r for r in rows if r in households}
        assert children == engine_says.get(benefit.id, set()), benefit.id
        compared += len(children)
    assert compared >= 100 and "local_birth_grant_information_unlisted" in engine_says


def test_a_grant_read_from_secondary_sources_tells_the_family_to_check_and_a_confirmed_one_does_not() -> None:
    """The summary is what every screen shows about the offer: an amount we could not confirm is hedged there."""
    catalog = load_catalog(CATALOG_DIR)
    hedged = catalog.benefits["local_birth_grant_26140"]  # 부산 서구: a blog table only
    assert hedged.unconfirmed
    assert "공식 자료로 아직 확인되지 않았으니" in hedged.summary["ko"] and "서구" in hedged.summary["ko"]
    assert "not yet confirmed from an official source" in hedged.summary["en"]
    confirmed = catalog.benefits["local_birth_grant_46830"]  # 영암: the county's own page, nothing left open
    assert not confirmed.unconfirmed
    assert "확인되지 않았" not in confirmed.summary["ko"] and "not yet confirmed" not in confirmed.summary["en"]
