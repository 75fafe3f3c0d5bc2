"""The birth registration event (MOIS resident registry). Agencies depend on this contract: keep it stable."""

from __future__ import annotations

from datetime import date
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

BIRTH_REGISTERED = "kr.go.mois.birth.registered"
SOURCE_PATTERN = r"^/agencies/mois/registry/\d{5}$"

_PSEUDONYM = r"^[A-Za-z0-9_\-:.]{1,64}$"  # opaque pseudonymous ids, never resident registration numbers


class Child(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(pattern=_PSEUDONYM, description="The child's pseudonymous id")
    birth_date: date


class Parent(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(pattern=_PSEUDONYM, description="The parent's pseudonymous id")
    role: Literal["mother", "father", "guardian"]


class BirthRegistered(BaseModel):
    """`data` of a `kr.go.mois.birth.registered` event."""

    model_config = ConfigDict(extra="forbid", frozen=True, title="BirthRegistered")

    child: Child
    parents: list[Parent] = Field(min_length=1, max_length=4)
    birth_order: int = Field(ge=1, le=20, description="1 for a first child, 2 for a second, ...")
    municipality_code: str = Field(
        pattern=r"^\d{5}$", description="5-digit 시군구 code of the registered address, e.g. 41110 (Suwon)"
    )
    registered_on: date

    @model_validator(mode="after")
    def _consistent(self) -> BirthRegistered:
        if self.registered_on < self.child.birth_date:
            raise ValueError("registered_on is before the child's birth_date")
        ids = [p.id for p in self.parents]
        if len(set(ids)) != len(ids) or self.child.id in ids:
            raise ValueError("parents and child must be distinct people")
        return self
