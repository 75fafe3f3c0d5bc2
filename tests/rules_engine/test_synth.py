"""The synthetic population: deterministic, shaped like Korea's, loadable in bulk."""

from __future__ import annotations

from collections import Counter
from datetime import date
from typing import cast

import pytest
from sqlalchemy import Table, func, select

from beforeservice.bench import synth
from beforeservice.database import make_engine
from entitlements.persistence.tables import CitizenRow, HouseholdRow

ON = date(2025, 6, 30)


def test_the_same_seed_gives_the_same_population() -> None:
    first = [h.row["id"] for h in synth.households(2000, seed=4, on=ON)]
    assert first == [h.row["id"] for h in synth.households(2000, seed=4, on=ON)]
    assert [h.members for h in synth.households(500, seed=4, on=ON)] == [
        h.members for h in synth.households(500, seed=4, on=ON)
    ]


def test_distributions_look_like_korea() -> None:
    households = list(synth.households(50_000, seed=9, on=ON))
    people = [c for h in households for c in h.members]
    sizes = Counter(len(h.members) for h in households)
    assert 0.32 < sizes[1] / len(households) < 0.39  # one-person households
    ages = [(ON - c["birth_date"]).days // 365 for c in people if c["birth_date"]]
    assert 0.13 < sum(a < 19 for a in ages) / len(ages) < 0.20
    assert 0.16 < sum(a >= 65 for a in ages) / len(ages) < 0.23
    assert 0.03 < sum(bool(h.row["livelihood_recipient"]) for h in households) / len(households) < 0.045
    disabled = [c["disability_severity"] for c in people if c["disability_severity"]]
    assert 0.04 < len(disabled) / len(people) < 0.08 and 0.3 < disabled.count("severe") / len(disabled) < 0.45
    codes = Counter(h.row["municipality_code"] for h in households)
    assert len(codes) >= 30 and {"41110", "41117", "41460", "41463", "11680", "11650", "46820"} <= set(codes)
    assert codes["11710"] > codes["46820"]  # weighted by population (Songpa vs Haenam)
    assert any(c["role"] == "child" and (ON - c["birth_date"]).days < 3 * 365 for c in people if c["birth_date"])
    assert sum(h.row["median_income_ratio"] is None for h in households) / len(households) > 0.1  # unknowns


@pytest.mark.integration
def test_bulk_load(database_url: str) -> None:
    engine = make_engine(database_url)
    with engine.begin() as connection:
        loaded = synth.load(
            connection,
            cast(Table, HouseholdRow.__table__),
            cast(Table, CitizenRow.__table__),
            synth.households(30_000, seed=2),
        )
    with engine.connect() as connection:
        assert connection.execute(select(func.count()).select_from(CitizenRow)).scalar_one() == loaded >= 30_000
        assert connection.execute(select(func.count()).select_from(HouseholdRow)).scalar_one() > 10_000
    engine.dispose()
