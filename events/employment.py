"""Loss of employment-insurance status (고용보험 피보험자격 상실, MOEL / employment centres)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from events.people import MunicipalityCode, Person
from events.values import Count, PastDate

EMPLOYMENT_LOST = "kr.go.moel.employment.lost"
SOURCE_PATTERN = r"^/agencies/moel/employment-insurance$"


class EmploymentLost(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, title="EmploymentLost")

    person: Person
    separated_on: PastDate
    separation_reason: Literal["involuntary", "voluntary"]
    insured_days: Count = Field(ge=0, le=20000, description="days insured in the 18 months before separation")
    average_daily_wage: Count = Field(ge=0, le=10_000_000, description="평균임금, KRW a day")
    municipality_code: MunicipalityCode
