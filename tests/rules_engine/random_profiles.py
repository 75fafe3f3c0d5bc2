"""Random households for parity tests: boundary values and unknown (NULL) facts, more often than in life."""

from __future__ import annotations

import random
from datetime import UTC, date, datetime, timedelta
from typing import Any

from beforeservice.bench.synth import CITIZEN_COLUMNS, MUNICIPALITIES, Household

CODES = [code for code, _ in MUNICIPALITIES] + ["41110", "41117", "41460", "41463", "11680", "46820", "99999"]
ROLES = ["parent", "parent", "guardian", "head", "spouse", "adult", "child", "child", "child"]


def _maybe(rng: random.Random, value: Any, unknown: float = 0.15) -> Any:
    return None if rng.random() < unknown else value


def _near(rng: random.Random, around: date, days: int) -> date:
    return around + timedelta(days=rng.randint(-days, days))


def random_households(count: int, seed: int, on: date) -> list[Household]:
    rng = random.Random(seed)
    now = datetime.now(UTC)
    result = []
    for h in range(count):
        household_id = f"rnd-{seed}-h{h:05d}"
        # Residence straddles the 6- and 12-month thresholds, sometimes after the evaluation date.
        months = rng.choice([0, 5, 6, 7, 11, 12, 13, 40])
        resident_since = _maybe(rng, _near(rng, on - timedelta(days=months * 30), 20))
        ratio = _maybe(rng, rng.choice([0, 30, 32, 50, 100, 150, 300]), 0.3)
        row = {
            "id": household_id,
            "municipality_code": _maybe(rng, rng.choice(CODES), 0.1),
            "resident_since": resident_since,
            "income_percentile": _maybe(rng, rng.randint(0, 99), 0.3),
            "previous_municipality_code": _maybe(rng, rng.choice(CODES), 0.5),
            "median_income_ratio": ratio,
            "livelihood_recipient": _maybe(rng, rng.random() < 0.3, 0.3),
            "updated_at": now,
        }
        members = []
        for m in range(rng.randint(1, 5)):
            role = rng.choice(ROLES)
            child = role == "child"
            # Birth dates around the thresholds the rules use: 0, 12, 24, 36, 72-156 months; 2022-01-01.
            anchor = rng.choice(
                [on, on - timedelta(days=365), on - timedelta(days=730), on - timedelta(days=1095), date(2022, 1, 1)]
            )
            born = _near(rng, anchor, 40) if child else _near(rng, on - timedelta(days=365 * rng.randint(19, 90)), 400)
            if child and rng.random() < 0.2:
                born = _near(rng, on - timedelta(days=30 * rng.choice([72, 84, 96, 108, 156])), 40)
            citizen: dict[str, Any] = dict.fromkeys(CITIZEN_COLUMNS)
            citizen.update(
                id=f"rnd-{seed}-h{h:05d}-c{m}",
                household_id=household_id,
                role=role,
                birth_date=_maybe(rng, born, 0.1),
                birth_order=_maybe(rng, rng.randint(1, 6), 0.15) if child else None,
                preferred_language="ko",
                deceased_on=_near(rng, on, 30) if rng.random() < 0.05 else None,
                disability_severity=_maybe(rng, rng.choice(["severe", "mild"]), 0.6),
                insured_days=_maybe(rng, rng.choice([0, 179, 180, 181, 1000]), 0.6),
                separation_reason=_maybe(rng, rng.choice(["involuntary", "voluntary"]), 0.6),
                separated_on=_maybe(rng, _near(rng, on, 60), 0.6),
                average_daily_wage=_maybe(rng, rng.randint(10_000, 300_000), 0.6),
                recognized_income_krw=_maybe(rng, rng.randint(0, 3_000_000), 0.5),
                nps_contribution_months=_maybe(rng, rng.randint(0, 480), 0.5),
                married_on=_maybe(rng, _near(rng, on, 400), 0.6),
                is_homeowner=_maybe(rng, rng.random() < 0.5, 0.4),
                monthly_rent_krw=_maybe(rng, rng.randint(0, 1_500_000), 0.6),
                is_couple=_maybe(rng, rng.random() < 0.5, 0.4),
                updated_at=now,
            )
            members.append(citizen)
        result.append(Household(row, members))
    return result
