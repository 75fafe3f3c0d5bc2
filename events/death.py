"""A death registration (MOIS resident registry)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, model_validator

from events.people import MunicipalityCode, PersonId
from events.values import PastDate

DEATH_REGISTERED = "kr.go.mois.death.registered"
SOURCE_PATTERN = r"^/agencies/mois/registry/[0-9]{5}$"


class Deceased(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    id: PersonId
    birth_date: PastDate
    death_date: PastDate


class Informant(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    id: PersonId
    relation: Literal["spouse", "child", "parent", "sibling", "other"]


class DeathRegistered(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, title="DeathRegistered")

    deceased: Deceased
    municipality_code: MunicipalityCode
    registered_on: PastDate
    informant: Informant | None = None

    @model_validator(mode="after")
    def _consistent(self) -> DeathRegistered:
        if self.deceased.death_date < self.deceased.birth_date:
            raise ValueError("death_date is before birth_date")
        if self.registered_on < self.deceased.death_date:
            raise ValueError("registered_on is before the death_date")
        return self
