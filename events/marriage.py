"""A marriage registration (혼인신고, MOIS/court family registry)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, model_validator

from events.people import MunicipalityCode, Person
from events.values import PastDate

MARRIAGE_REGISTERED = "kr.go.mois.marriage.registered"
SOURCE_PATTERN = r"^/agencies/mois/registry/[0-9]{5}$"


class MarriageRegistered(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, title="MarriageRegistered")

    spouses: list[Person] = Field(min_length=2, max_length=2)
    municipality_code: MunicipalityCode
    registered_on: PastDate

    @model_validator(mode="after")
    def _consistent(self) -> MarriageRegistered:
        if self.spouses[0].id == self.spouses[1].id:
            raise ValueError("the spouses must be two different people")
        return self
