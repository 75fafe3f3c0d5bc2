"""`beforeservice bench rules`: figures for the rules engine (printed, never asserted).

1. The whole catalog for one event and household, compiled (`evaluation.evaluate`): median and p99.
2. The same workload through the reference interpreter (`interpreter.interpret_event`).
3. A population sweep: backfill of one benefit over N synthetic citizens in the database (dry run: the two
   shadow-mode queries; then the real INSERT ... SELECT, rolled back so the figure can be reproduced).
"""

from __future__ import annotations

import gc
import platform
import statistics
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import Engine

from beforeservice.bench import synth
from entitlements.households import Citizen, Household
from entitlements.persistence.sweep import CITIZENS, HOUSEHOLDS, backfill, count_synthetic
from entitlements.profiles import profile_facts
from rules_engine.catalog import Catalog
from rules_engine.evaluation import evaluate
from rules_engine.interpreter import interpret_event

BIRTH = "kr.go.mois.birth.registered"


@dataclass(frozen=True)
class Timing:
    median_us: float
    p99_us: float
    per_second: float


def time_calls(call: Callable[[], Any], repeat: int) -> Timing:
    """Per-call wall times (perf_counter_ns) with the garbage collector paused, as a benchmark should."""
    samples = []
    clock = time.perf_counter_ns
    gc.collect()
    gc.disable()
    try:
        for _ in range(repeat):
            start = clock()
            call()
            samples.append(clock() - start)
    finally:
        gc.enable()
    samples.sort()
    median = statistics.median(samples) / 1000
    return Timing(median, samples[int(len(samples) * 0.99)] / 1000, 1e6 / median)


def birth_households(count: int, seed: int, on: date) -> list[dict[str, Any]]:
    """Base facts of synthetic newborns (the youngest child of synthetic households), as the pipeline gives them."""
    situations = []
    for generated in synth.households(count * 40, seed=seed, on=on):
        household = Household(
            generated.row["id"],
            generated.row["municipality_code"],
            generated.row["resident_since"],
            facts={k: v for k, v in generated.row.items() if k in ("median_income_ratio", "livelihood_recipient")},
        )
        for m in generated.members:
            household.members[m["id"]] = Citizen(
                m["id"], m["household_id"], m["role"], m["birth_date"], m["birth_order"]
            )
        children = [c for c in household.members.values() if c.role == "child" and c.birth_date is not None]
        if children:
            newborn = max(children, key=lambda c: c.birth_date or date.min)
            situations.append(profile_facts(household, newborn, on))
        if len(situations) >= count:
            break
    return situations


def catalog_timings(catalog: Catalog, on: date, repeat: int, seed: int) -> tuple[Timing, Timing, Timing]:
    """(compiled, one household; compiled, cycling over varied households; interpreted, cycling)."""
    situations = birth_households(1000, seed, on)
    one = situations[0]
    cycle = _cycle(situations)
    compiled_one = time_calls(lambda: evaluate(catalog, BIRTH, one, on), repeat)
    compiled_varied = time_calls(lambda: evaluate(catalog, BIRTH, next(cycle), on), repeat)
    interpreted = time_calls(lambda: interpret_event(catalog, BIRTH, next(cycle), on), max(1000, repeat // 10))
    return compiled_one, compiled_varied, interpreted


def _cycle(items: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    while True:
        yield from items


def ensure_population(engine: Engine, people: int, seed: int, on: date) -> tuple[int, float | None]:
    """The synthetic citizens present (generating them if fewer than asked), and the load time if it loaded."""
    with engine.connect() as connection:
        present = count_synthetic(connection, synth.synthetic_prefix(seed))
    if present >= people:
        return present, None
    if present:
        raise RuntimeError(f"{present} synthetic citizens of seed {seed} exist, fewer than {people}: use another seed")
    started = time.perf_counter()
    with engine.begin() as connection:
        loaded = synth.load(connection, HOUSEHOLDS, CITIZENS, synth.households(people, seed=seed, on=on))
    with engine.begin() as connection:
        if connection.dialect.name == "postgresql":
            connection.exec_driver_sql("ANALYZE households")
            connection.exec_driver_sql("ANALYZE citizens")
    return loaded, time.perf_counter() - started


def machine() -> str:
    import os

    return f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}"


def sweep_timings(engine: Engine, catalog: Catalog, benefit_id: str, on: date) -> tuple[float, float, int, int]:
    """(dry run seconds, real run seconds, eligible + undetermined, rows inserted); the real run is rolled back."""
    benefit = catalog.benefits[benefit_id]
    with engine.connect() as connection:
        started = time.perf_counter()
        report = backfill(connection, benefit, on, dry_run=True)
        dry = time.perf_counter() - started
        found = sum(sum(c.values()) for c in report.by_municipality.values())
        connection.rollback()  # end the dry run's implicit transaction
        started = time.perf_counter()
        inserted = backfill(connection, benefit, on).inserted
        real = time.perf_counter() - started
        connection.rollback()  # a figure, not a change: the rows are not kept
    return dry, real, found, inserted
