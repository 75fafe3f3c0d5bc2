"""Agencies close the loop: an application was received, a benefit was granted (or refused)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from events.people import PersonId
from events.values import Count, PastDate

APPLICATION_RECEIVED_SUFFIX = ".application.received"
BENEFIT_GRANTED_SUFFIX = ".benefit.granted"
TYPE_PATTERN = r"^kr\.go\.[a-z0-9]+\.(application\.received|benefit\.granted)$"
SOURCE_PATTERN = r"^/agencies/[a-z0-9-]+(/[A-Za-z0-9_~-][A-Za-z0-9._~-]*)*$"  # no "." or ".." segment


class ApplicationReceived(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, title="ApplicationReceived")

    benefit_id: str = Field(pattern=r"^[a-z0-9_]{1,80}$")
    citizen_id: PersonId
    received_on: PastDate


class BenefitGranted(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, title="BenefitGranted")

    benefit_id: str = Field(pattern=r"^[a-z0-9_]{1,80}$")
    citizen_id: PersonId
    granted_on: PastDate
    amount_krw: Count | None = Field(default=None, ge=0, le=10_000_000_000)
