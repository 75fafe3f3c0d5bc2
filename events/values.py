"""Plausible values every contract shares: dates a registry can have written, integers that are integers.

Registries in Korea date their records in Korea's time zone. A date before 1900 or after tomorrow (one day of
clock skew between an agency and us) is a typing error or an attack, never a life event: a birth dated
9999-12-01 once made the rules overflow and halted the pipeline. Dates are ISO strings (`YYYY-MM-DD`) only: a
number is refused, not read as a Unix time. Integers and booleans are strict: `"1"` is not 1.
"""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta
from typing import Annotated, Any
from zoneinfo import ZoneInfo

from pydantic import AfterValidator, BeforeValidator, Field

REGISTRY_TIME_ZONE = ZoneInfo("Asia/Seoul")
EARLIEST_DATE = date(1900, 1, 1)
CLOCK_SKEW = timedelta(days=1)
_ISO_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")


def latest_date() -> date:
    """The latest date an event may carry: tomorrow in Korea."""
    return datetime.now(REGISTRY_TIME_ZONE).date() + CLOCK_SKEW


def _iso_date_string(value: Any) -> Any:
    if type(value) is date:  # built in our own code (the scheduler); a datetime is not a date here
        return value
    if isinstance(value, str) and _ISO_DATE.fullmatch(value):
        return value  # pydantic parses it, and refuses 2024-02-30
    raise ValueError("must be a date string YYYY-MM-DD")


def _not_future(value: date) -> date:
    if value < EARLIEST_DATE:
        raise ValueError(f"must not be before {EARLIEST_DATE.isoformat()}")
    latest = latest_date()
    if value > latest:
        raise ValueError(f"must not be after {latest.isoformat()} (a date in the future)")
    return value


# A date that has happened: births, deaths, registrations, moves, separations, assessments, grants, milestones.
PastDate = Annotated[
    date,
    BeforeValidator(_iso_date_string),
    AfterValidator(_not_future),
    Field(description="YYYY-MM-DD, from 1900-01-01 to tomorrow (Asia/Seoul)"),
]


def _plausible_time(value: datetime) -> datetime:
    # Bounded like dates, so that converting it to any offset cannot overflow (9999-12-31T23:00-05:00 does).
    if value.tzinfo is not None and not (
        datetime(EARLIEST_DATE.year, 1, 1, tzinfo=REGISTRY_TIME_ZONE)
        <= value
        <= datetime.now(REGISTRY_TIME_ZONE) + CLOCK_SKEW
    ):
        raise ValueError("must lie between 1900 and tomorrow")
    return value


def _rfc3339_string(value: Any) -> Any:
    if isinstance(value, datetime) or (isinstance(value, str) and _ISO_DATE.match(value)):
        return value
    raise ValueError("must be an RFC 3339 timestamp string")


EventTime = Annotated[datetime, BeforeValidator(_rfc3339_string), AfterValidator(_plausible_time)]

Count = Annotated[int, Field(strict=True)]
Flag = Annotated[bool, Field(strict=True)]
