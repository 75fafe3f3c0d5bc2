"""A disability registration (장애인 등록, MOHW disability registry)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict

from events.people import MunicipalityCode, Person
from events.values import PastDate

DISABILITY_REGISTERED = "kr.go.mohw.disability.registered"
SOURCE_PATTERN = r"^/agencies/mohw/disability-registry$"


class DisabilityRegistered(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, title="DisabilityRegistered")

    person: Person
    severity: Literal["severe", "mild"]
    registered_on: PastDate
    municipality_code: MunicipalityCode
