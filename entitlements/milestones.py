"""Time-based life events: the scheduler finds who reaches a milestone and emits it like any agency would.

Event ids are `{citizen}:{milestone}`, so re-emitting (a catch-up window after downtime, two runs on one day)
creates nothing twice: the pipeline de-duplicates on (source, id).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime

from events.cloudevents import CloudEvent
from events.milestones import MILESTONE_REACHED

SOURCE = "/beforeservice/scheduler"
CATCH_UP_DAYS = 7


@dataclass(frozen=True)
class Due:
    citizen_id: str
    household_id: str
    birth_date: date
    milestone: str
    on: date


def shift_years(day: date, years: int) -> date:
    """The same calendar day `years` later; 29 February becomes 1 March in common years."""
    try:
        return day.replace(year=day.year + years)
    except ValueError:
        return date(day.year + years, 3, 1)


def month_before(day: date) -> date:
    month, year = (day.month - 1, day.year) if day.month > 1 else (12, day.year - 1)
    for d in (day.day, 30, 29, 28):
        try:
            return date(year, month, d)
        except ValueError:
            continue
    raise AssertionError("unreachable")


# milestone -> (roles it concerns, years of age, reached on the birthday or one month before it)
MILESTONES = {
    "child_turns_1": (("child",), 1, False),
    "child_turns_2": (("child",), 2, False),
    "child_turns_3": (("child",), 3, False),  # a household discount for a newborn ends (KEPCO: under three)
    "child_turns_8": (("child",), 8, False),
    "turns_65_soon": (("parent", "guardian", "head", "spouse", "adult"), 65, True),  # 기초연금: apply a month early
}


def next_month(day: date) -> date:
    month, year = (day.month + 1, day.year) if day.month < 12 else (1, day.year + 1)
    for d in (day.day, 30, 29, 28):
        try:
            return date(year, month, d)
        except ValueError:
            continue
    raise AssertionError("unreachable")


def milestone_event(due: Due) -> CloudEvent:
    return CloudEvent(
        id=f"{due.citizen_id}:{due.milestone}",
        source=SOURCE,
        specversion="1.0",
        type=MILESTONE_REACHED,
        time=datetime.now(UTC),
        subject=due.citizen_id,
        partitionkey=due.household_id,  # with the household's other events, in order
        data={
            "person": {"id": due.citizen_id, "birth_date": due.birth_date.isoformat()},
            "milestone": due.milestone,
            "on": due.on.isoformat(),
        },
    )
