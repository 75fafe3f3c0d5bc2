"""Agencies close the loop: an application was received, a benefit was granted (or refused)."""

from __future__ import annotations

from datetime import date

from pydantic import BaseModel, ConfigDict, Field

from events.people import PersonId

APPLICATION_RECEIVED_SUFFIX = ".application.received"
BENEFIT_GRANTED_SUFFIX = ".benefit.granted"
TYPE_PATTERN = r"^kr\.go\.[a-z0-9]+\.(application\.received|benefit\.granted)$"
SOURCE_PATTERN = r"^/agencies/[a-z0-9\-]+(/[A-Za-z0-9\-_.]+)*$"


class ApplicationReceived(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, title="ApplicationReceived")

    benefit_id: str = Field(pattern=r"^[a-z0-9_]{1,80}$")
    citizen_id: PersonId
    received_on: date


class BenefitGranted(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, title="BenefitGranted")

    benefit_id: str = Field(pattern=r"^[a-z0-9_]{1,80}$")
    citizen_id: PersonId
    granted_on: date
    amount_krw: int | None = Field(default=None, ge=0)
