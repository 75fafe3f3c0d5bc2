"""The birth registration event (MOIS resident registry). Agencies depend on this contract: keep it stable."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from events.people import MunicipalityCode, PersonId
from events.values import Count, PastDate

BIRTH_REGISTERED = "kr.go.mois.birth.registered"
SOURCE_PATTERN = r"^/agencies/mois/registry/[0-9]{5}$"


class Child(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    id: PersonId = Field(description="The child's pseudonymous id")
    birth_date: PastDate


class Parent(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    id: PersonId = Field(description="The parent's pseudonymous id")
    role: Literal["mother", "father", "guardian"]


class BirthRegistered(BaseModel):
    """`data` of a `kr.go.mois.birth.registered` event."""

    model_config = ConfigDict(extra="forbid", frozen=True, title="BirthRegistered")

    child: Child
    parents: list[Parent] = Field(min_length=1, max_length=4)
    birth_order: Count = Field(ge=1, le=20, description="1 for a first child, 2 for a second, ...")
    municipality_code: MunicipalityCode = Field(
        description="5-digit 시군구 code of the registered address, e.g. 41110 (Suwon)"
    )
    registered_on: PastDate

    @model_validator(mode="after")
    def _consistent(self) -> BirthRegistered:
        if self.registered_on < self.child.birth_date:
            raise ValueError("registered_on is before the child's birth_date")
        ids = [p.id for p in self.parents]
        if len(set(ids)) != len(ids) or self.child.id in ids:
            raise ValueError("parents and child must be distinct people")
        return self
