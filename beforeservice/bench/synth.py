"""A synthetic population with realistic Korean distributions, for the demo, the tests and the benchmarks.

`households(...)` is pure: it yields rows (dicts keyed by column name) from a seeded generator, nothing else.
`load(...)` writes them in bulk: COPY through psycopg on PostgreSQL, large executemany batches elsewhere.

The distributions are approximations of public statistics, good enough to make sweeps and benchmarks behave
like the real population (the shares of households, ages and registry facts), not to study it:
- ages: the 2024 resident-registration pyramid (KOSIS, 5-year bands);
- household sizes 1-5: 2023 census shares (about 35% one-person households);
- municipalities: about 50 real 시군구 codes weighted by population (thousands, 2024), including every code
  the catalog names (Suwon 41110-41117, Yongin 41460-41465, Gangnam 11680, Seocho 11650, Haenam 46820);
- household income deciles -> 기준 중위소득 ratio; livelihood recipients about 3.5%; registered disability
  about 5% of people, 38% of them severe;
- facts the registries would not have told us are NULL (unknown), in realistic shares.
"""

from __future__ import annotations

import bisect
import itertools
import random
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import Connection, Table, insert

from entitlements.households import HOUSEHOLD_FACTS, PERSON_FACTS

# (code, population in thousands): approximate 2024 resident registration.
MUNICIPALITIES: tuple[tuple[str, int], ...] = (
    ("11110", 139),  # 서울 종로구
    ("11170", 213),  # 서울 용산구
    ("11215", 335),  # 서울 광진구
    ("11260", 380),  # 서울 중랑구
    ("11290", 428),  # 서울 성북구
    ("11350", 493),  # 서울 노원구
    ("11380", 460),  # 서울 은평구
    ("11440", 356),  # 서울 마포구
    ("11470", 432),  # 서울 양천구
    ("11500", 557),  # 서울 강서구
    ("11560", 376),  # 서울 영등포구
    ("11620", 485),  # 서울 관악구
    ("11650", 405),  # 서울 서초구
    ("11680", 553),  # 서울 강남구
    ("11710", 656),  # 서울 송파구
    ("11740", 462),  # 서울 강동구
    ("26350", 378),  # 부산 해운대구
    ("26440", 141),  # 부산 강서구
    ("27290", 521),  # 대구 달서구
    ("28237", 485),  # 인천 부평구
    ("28185", 420),  # 인천 연수구
    ("29170", 418),  # 광주 북구
    ("30200", 357),  # 대전 유성구
    ("31140", 306),  # 울산 남구
    ("36110", 389),  # 세종특별자치시
    ("41110", 40),  # 수원시 (registered at city level)
    ("41111", 270),  # 수원 장안구
    ("41113", 368),  # 수원 권선구
    ("41115", 180),  # 수원 팔달구
    ("41117", 370),  # 수원 영통구
    ("41135", 475),  # 성남 분당구
    ("41281", 488),  # 고양 덕양구
    ("41360", 728),  # 남양주시
    ("41390", 517),  # 시흥시
    ("41460", 30),  # 용인시 (registered at city level)
    ("41461", 262),  # 용인 처인구
    ("41463", 445),  # 용인 기흥구
    ("41465", 375),  # 용인 수지구
    ("41590", 950),  # 화성시
    ("43113", 270),  # 청주 흥덕구
    ("44133", 410),  # 천안 서북구
    ("46110", 213),  # 목포시
    ("46130", 270),  # 여수시
    ("46820", 64),  # 해남군
    ("47111", 235),  # 포항 남구
    ("48170", 340),  # 진주시
    ("50110", 489),  # 제주시
    ("51110", 285),  # 춘천시
    ("52111", 348),  # 전주 완산구
)
# 2024 population pyramid: (first age of the 5-year band, % of the population); the last band is 85-99.
AGE_BANDS: tuple[tuple[int, float], ...] = (
    (0, 2.8),
    (5, 3.7),
    (10, 4.6),
    (15, 4.5),
    (20, 5.0),
    (25, 6.6),
    (30, 6.9),
    (35, 6.3),
    (40, 7.4),
    (45, 7.6),
    (50, 8.4),
    (55, 8.1),
    (60, 8.2),
    (65, 6.6),
    (70, 4.6),
    (75, 3.5),
    (80, 2.6),
    (85, 2.2),
)
HOUSEHOLD_SIZES = ((1, 35.5), (2, 28.8), (3, 19.2), (4, 13.4), (5, 3.1))
# Income decile -> household 소득인정액 as % of 기준 중위소득 (lower, upper).
DECILE_RATIOS = ((0, 30), (30, 50), (50, 70), (70, 90), (90, 110), (110, 130), (130, 160), (160, 200), (200, 260))
TOP_DECILE_RATIO = (260, 400)
CHILD_AGE = 19  # under 19: a child (아동복지법 제3조), as entitlements.profiles counts them
CHILD_SLOT_SHARE = 0.55  # members beyond the couple who are children (so ~16% of people are under 19)

HOUSEHOLD_COLUMNS = ("id", "municipality_code", "resident_since", *HOUSEHOLD_FACTS, "updated_at")
# The profile store's columns: the registry facts come from the domain's own list, so both stay in step.
CITIZEN_COLUMNS = (
    "id",
    "household_id",
    "role",
    "birth_date",
    "birth_order",
    "preferred_language",
    *PERSON_FACTS,
    "updated_at",
)


@dataclass(frozen=True)
class Household:
    row: dict[str, Any]
    members: list[dict[str, Any]] = field(default_factory=list)


class _Weighted:
    """Draws from a discrete distribution with a prebuilt cumulative table (random.choices rebuilds it)."""

    def __init__(self, items: Sequence[tuple[Any, float]]) -> None:
        self.values = [v for v, _ in items]
        self.cumulative = list(itertools.accumulate(w for _, w in items))

    def draw(self, rng: random.Random) -> Any:
        return self.values[bisect.bisect_right(self.cumulative, rng.random() * self.cumulative[-1])]


class _Population:
    def __init__(self, seed: int, on: date) -> None:
        self.rng = random.Random(seed)
        self.seed, self.on = seed, on
        self.now = datetime.combine(on, datetime.min.time(), UTC)
        self.municipality = _Weighted(MUNICIPALITIES)
        self.size = _Weighted(HOUSEHOLD_SIZES)
        self.adult_band = _Weighted([(a, w) for a, w in AGE_BANDS if a >= 20] + [(19, 1.0)])
        self.child_band = _Weighted([(a, w) for a, w in AGE_BANDS if a < CHILD_AGE])
        self.households = 0
        self.citizens = 0

    def chance(self, p: float) -> bool:
        return self.rng.random() < p

    def born(self, band: int, lowest: int = 0, highest: int = 99) -> date:
        """A birth date for someone whose age falls in the 5-year band starting at `band`."""
        top = 99 if band >= 85 else band + 4
        age = self.rng.randint(max(band, lowest), max(min(top, highest), max(band, lowest)))
        return self.on - timedelta(days=age * 365 + self.rng.randint(0, 364))

    def age(self, birth: date) -> int:
        return (self.on - birth).days // 365

    def household(self) -> Household:
        rng = self.rng
        self.households += 1
        household_id = f"syn-{self.seed}-h{self.households:08d}"
        size = self.size.draw(rng)
        head_born = self.born(self.adult_band.draw(rng))
        adults = [head_born]
        children: list[date] = []
        if size >= 2:
            if size == 2 and self.chance(0.2):  # a single parent
                children.append(self.child_of(head_born))
            else:
                adults.append(head_born + timedelta(days=rng.randint(-1500, 1500)))
        for _ in range(size - 2):
            if self.chance(CHILD_SLOT_SHARE):
                children.append(self.child_of(head_born))
            else:
                adults.append(self.born(self.adult_band.draw(rng)))
        row = self.household_row(household_id, min(adults))
        members = self.members(household_id, row, adults, children)
        return Household(row, members)

    def child_of(self, parent_born: date) -> date:
        parent_age = self.age(parent_born)
        # A parent is 20-45 at the birth: the child's age is bounded by the parent's.
        return self.born(self.child_band.draw(self.rng), lowest=0, highest=max(0, min(CHILD_AGE - 1, parent_age - 20)))

    def household_row(self, household_id: str, oldest: date) -> dict[str, Any]:
        rng = self.rng
        code = None if self.chance(0.005) else self.municipality.draw(rng)
        resident_since = None
        if not self.chance(0.10):  # the registry did not say since when, for some
            months = min(int(rng.expovariate(1 / 84)), max(0, self.age(oldest) * 12))
            resident_since = self.on - timedelta(days=months * 30 + rng.randint(0, 29))
        ratio = percentile = None
        livelihood: bool | None = None
        if not self.chance(0.20):  # not yet assessed
            decile = rng.randint(1, 10)
            low, high = DECILE_RATIOS[decile - 1] if decile < 10 else TOP_DECILE_RATIO
            ratio = rng.randint(low, high - 1)
            percentile = (decile - 1) * 10 + rng.randint(0, 9)
            livelihood = decile == 1 and self.chance(0.35)
        elif not self.chance(0.25):
            livelihood = self.chance(0.035)
        previous = self.municipality.draw(rng) if self.chance(0.3) else None
        return {
            "id": household_id,
            "municipality_code": code,
            "resident_since": resident_since,
            "income_percentile": percentile,
            "previous_municipality_code": previous,
            "median_income_ratio": ratio,
            "livelihood_recipient": livelihood,
            "updated_at": self.now,
        }

    def members(
        self, household_id: str, household: dict[str, Any], adults: list[date], children: list[date]
    ) -> list[dict[str, Any]]:
        couple = len(adults) >= 2
        rows = []
        for index, born in enumerate(adults):
            if children:
                role = "parent" if index < 2 else "adult"
            else:
                role = "head" if index == 0 else "spouse" if index == 1 else "adult"
            rows.append(self.citizen(household_id, role, born, None, couple and index < 2, household))
        # Oldest first: birth order 1 is the oldest child.
        for order, born in enumerate(sorted(children), start=1):
            rows.append(self.citizen(household_id, "child", born, order, False, household))
        return rows

    def citizen(
        self, household_id: str, role: str, born: date, order: int | None, in_couple: bool, household: dict[str, Any]
    ) -> dict[str, Any]:
        rng = self.rng
        self.citizens += 1
        age = self.age(born)
        adult = role != "child"
        row: dict[str, Any] = dict.fromkeys(CITIZEN_COLUMNS)
        row.update(
            id=f"syn-{self.seed}-c{self.citizens:08d}",
            household_id=household_id,
            role=role,
            birth_date=None if self.chance(0.003) else born,
            birth_order=order,
            preferred_language="en" if self.chance(0.01) else "vi" if self.chance(0.005) else "ko",
            updated_at=self.now,
        )
        if self.chance(0.05 if age < 65 else 0.12):  # registered disability (more common with age)
            row["disability_severity"] = "severe" if self.chance(0.38) else "mild"
        if self.chance(0.001 * (1 + age // 20)):
            row["deceased_on"] = self.on - timedelta(days=rng.randint(0, 180))
        if adult and 19 <= age < 65 and self.chance(0.02):  # an employment-insurance record of a recent job loss
            row.update(
                insured_days=rng.randint(60, 1800),
                separation_reason="involuntary" if self.chance(0.7) else "voluntary",
                separated_on=self.on - timedelta(days=rng.randint(0, 120)),
                average_daily_wage=rng.randint(60_000, 300_000),
            )
        if adult and age >= 65 and self.chance(0.6):
            row["recognized_income_krw"] = int(rng.lognormvariate(13.3, 0.8))
        if adult and self.chance(0.6):
            row["nps_contribution_months"] = rng.randint(0, min(480, max(0, (age - 18) * 12)))
        if in_couple and self.chance(0.7):
            row["married_on"] = self.on - timedelta(days=rng.randint(30, max(31, (age - 20) * 365)))
        if adult and self.chance(0.7):
            row["is_homeowner"] = self.chance(0.56)
            if not row["is_homeowner"] and self.chance(0.4):
                row["monthly_rent_krw"] = rng.randrange(300_000, 1_200_000, 10_000)
        if adult and self.chance(0.5):
            row["is_couple"] = in_couple
        return row


def households(people: int, seed: int = 7, on: date | None = None) -> Iterator[Household]:
    """Households (with members) until at least `people` citizens; the same seed gives the same rows."""
    population = _Population(seed, on or date.today())
    while population.citizens < people:
        yield population.household()


def synthetic_prefix(seed: int) -> str:
    return f"syn-{seed}-"


def load(
    connection: Connection, households_table: Table, citizens_table: Table, population: Iterable[Household]
) -> int:
    """Write the population in bulk within the caller's transaction; returns the number of citizens."""
    batch: list[Household] = []
    written = 0
    for household in population:
        batch.append(household)
        if len(batch) >= 20_000:
            written += _write(connection, households_table, citizens_table, batch)
            batch = []
    if batch:
        written += _write(connection, households_table, citizens_table, batch)
    return written


def _write(connection: Connection, households_table: Table, citizens_table: Table, batch: list[Household]) -> int:
    household_rows = [h.row for h in batch]
    citizen_rows = [c for h in batch for c in h.members]
    if connection.dialect.name == "postgresql":
        # COPY is several times faster than INSERT for bulk loads; the households go first (foreign key).
        cursor = connection.connection.driver_connection.cursor()  # type: ignore[union-attr]
        for table, columns, rows in (
            (households_table, HOUSEHOLD_COLUMNS, household_rows),
            (citizens_table, CITIZEN_COLUMNS, citizen_rows),
        ):
            with cursor.copy(f"COPY {table.name} ({', '.join(columns)}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row([row[c] for c in columns])
        cursor.close()
    else:
        connection.execute(insert(households_table), household_rows)
        connection.execute(insert(citizens_table), citizen_rows)
    return len(citizen_rows)
