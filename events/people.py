"""Shared pieces of event contracts: pseudonymous ids and a person as registries describe them."""

from __future__ import annotations

from datetime import date
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

# Opaque pseudonymous ids, never resident registration numbers (the pattern cannot hold a "YYMMDD-NNNNNNN").
PersonId = Annotated[str, Field(pattern=r"^[A-Za-z][A-Za-z0-9_\-:.]{0,63}$", description="pseudonymous id")]
MunicipalityCode = Annotated[str, Field(pattern=r"^\d{5}$", description="5-digit 시군구 code, e.g. 41110 (Suwon)")]


class Person(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    id: PersonId
    birth_date: date
