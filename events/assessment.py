"""An income / insurance assessment (소득·재산 조사, NHIS and the social security information system)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from events.people import Person
from events.values import Count, Flag, PastDate

INCOME_ASSESSED = "kr.go.nhis.income.assessed"
SOURCE_PATTERN = r"^/agencies/nhis/assessment$"


class IncomeAssessed(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, title="IncomeAssessed")

    person: Person
    household_median_income_ratio: Count = Field(ge=0, le=1000, description="소득인정액 as % of 기준 중위소득")
    recognized_income_krw: Count = Field(ge=0, le=10_000_000_000, description="the person's 소득인정액, KRW a month")
    livelihood_recipient: Flag
    is_couple: Flag
    assessed_on: PastDate
