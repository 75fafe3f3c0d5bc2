"""Shared pieces of event contracts: pseudonymous ids, municipality codes and a person as registries describe them.

Every pattern is ASCII and anchored at both ends (pydantic's regex engine: `$` is the end of the text, so a
trailing newline is refused): an id is shown in the console and is half of an event's identity, so neither markup
nor a look-alike ("m1\\n", Unicode digits) may pass.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

from events.values import PastDate

PERSON_ID_PATTERN = r"^[A-Za-z][A-Za-z0-9_\-:.]{0,63}$"
MUNICIPALITY_CODE_PATTERN = r"^[0-9]{5}$"

# Opaque pseudonymous ids, never resident registration numbers (the pattern cannot hold a "YYMMDD-NNNNNNN").
PersonId = Annotated[str, Field(pattern=PERSON_ID_PATTERN, description="pseudonymous id")]
MunicipalityCode = Annotated[
    str, Field(pattern=MUNICIPALITY_CODE_PATTERN, description="5-digit 시군구 code, e.g. 41110 (Suwon)")
]


class Person(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    id: PersonId
    birth_date: PastDate
