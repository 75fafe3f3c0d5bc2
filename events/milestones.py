"""Time-based milestones our scheduler emits (a child turns 1, 2, 3 or 8; a citizen is about to turn 65)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict

from events.people import Person
from events.values import PastDate

MILESTONE_REACHED = "kr.go.beforeservice.milestone.reached"
SOURCE_PATTERN = r"^/beforeservice/scheduler$"

Milestone = Literal["child_turns_1", "child_turns_2", "child_turns_3", "child_turns_8", "turns_65_soon"]


class MilestoneReached(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, title="MilestoneReached")

    person: Person
    milestone: Milestone
    on: PastDate
