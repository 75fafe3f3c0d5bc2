"""The facts rules may read, their types, and the facts derived from others on the evaluation date."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from typing import Any

FACTS: dict[str, type] = {
    "event.date": date,
    "event.month": int,
    "child.birth_date": date,
    "child.birth_order": int,
    "child.age_days": int,
    "child.age_months": int,
    "child.attends_daycare": bool,
    "person.birth_date": date,
    "person.age_years": int,
    "person.age_months": int,
    "person.deceased_on": date,
    "person.disability_severity": str,
    "person.insured_days": int,
    "person.separation_reason": str,
    "person.separated_on": date,
    "person.average_daily_wage": int,
    "person.recognized_income_krw": int,
    "person.nps_contribution_months": int,
    "person.married_on": date,
    "person.is_homeowner": bool,
    "person.monthly_rent_krw": int,
    "person.spouse_pension_recipient": bool,
    "person.nps_pension_krw": int,
    "person.nps_redistribution_krw": int,
    "household.municipality_code": str,
    "household.province_code": str,
    "household.previous_municipality_code": str,
    "household.months_resident": int,
    "household.income_percentile": int,
    "household.median_income_ratio": int,
    "household.livelihood_recipient": bool,
    "household.members_count": int,
    "household.children_count": int,
    "household.is_couple": bool,
    "household.assistance_tier": str,
}
# The values of `household.assistance_tier`, the household's place in the public-assistance ladder
# (국민기초생활 보장법 제7조제1항 급여의 종류, 제2조제10호 차상위계층).
ASSISTANCE_TIERS = ("livelihood_medical", "housing_education", "near_poor", "none")

# Derived facts and the given fact each comes from. What a caseworker can ask for is the source: a rule that reads
# "person.age_years" cannot tell because "person.birth_date" is unknown, so that is the missing fact reported.
DERIVED_FROM = {
    "event.month": "event.date",
    "household.province_code": "household.municipality_code",
    "child.age_days": "child.birth_date",
    "child.age_months": "child.birth_date",
    "person.age_years": "person.birth_date",
    "person.age_months": "person.birth_date",
}
DERIVED = frozenset(DERIVED_FROM)


def to_ask_for(fact: str) -> str:
    """The given fact to ask for when `fact` is missing (itself, unless it is derived)."""
    return DERIVED_FROM.get(fact, fact)


def whole_months_between(start: date, end: date) -> int:
    """Completed months from `start` to `end` (a child born on 31 Jan is one month old on 28 Feb + 1 day)."""
    months = (end.year - start.year) * 12 + (end.month - start.month)
    if end.day < start.day:
        months -= 1
    return months


def situation(base: Mapping[str, Any], on: date) -> dict[str, Any]:
    """The facts for an evaluation on `on`: the given ones plus those derived from them.

    Facts absent from `base` stay absent: the engine reports them as missing rather than assuming a value.
    """
    facts = {name: value for name, value in base.items() if value is not None}
    facts["event.date"] = on
    facts["event.month"] = on.month
    code = facts.get("household.municipality_code")
    if isinstance(code, str):
        facts["household.province_code"] = code[:2]  # 시도 part of the 5-digit 시군구 code
    birth_date = facts.get("child.birth_date")
    if isinstance(birth_date, date):
        facts["child.age_days"] = (on - birth_date).days
        facts["child.age_months"] = whole_months_between(birth_date, on)
    person_born = facts.get("person.birth_date")
    if isinstance(person_born, date):
        months = whole_months_between(person_born, on)
        facts["person.age_months"] = months
        facts["person.age_years"] = months // 12  # 만 나이: completed years
    return facts


def check_types(facts: Mapping[str, Any]) -> list[str]:
    """Problems with given facts: unknown names, wrong types."""
    problems = []
    for name, value in facts.items():
        expected = FACTS.get(name)
        if expected is None:
            problems.append(f"unknown fact '{name}'")
        elif name in DERIVED:
            problems.append(f"fact '{name}' is derived; give the date it is derived from")
        elif not isinstance(value, expected) or (expected is int and isinstance(value, bool)):
            problems.append(f"fact '{name}' must be {expected.__name__}, got {type(value).__name__}")
    return problems
