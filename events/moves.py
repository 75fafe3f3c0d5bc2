"""A move of address (전입신고, MOIS resident registry): the household's members who moved together."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, model_validator

from events.people import MunicipalityCode, PersonId
from events.values import PastDate

ADDRESS_MOVED = "kr.go.mois.address.moved"
SOURCE_PATTERN = r"^/agencies/mois/registry/[0-9]{5}$"


class AddressMoved(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, title="AddressMoved")

    movers: list[PersonId] = Field(min_length=1, max_length=20)
    from_municipality_code: MunicipalityCode
    to_municipality_code: MunicipalityCode
    moved_on: PastDate
    registered_on: PastDate

    @model_validator(mode="after")
    def _consistent(self) -> AddressMoved:
        if len(set(self.movers)) != len(self.movers):
            raise ValueError("movers must be distinct")
        if self.registered_on < self.moved_on:
            raise ValueError("registered_on is before moved_on")
        return self
