"""When a push may go out: quiet hours, the weekly per-citizen budget and its priority order (pure logic)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

WEEK = timedelta(days=7)
SEOUL = ZoneInfo("Asia/Seoul")


@dataclass(frozen=True)
class QuietHours:
    """Non-urgent pushes wait from `start` to `end` local time (21:00–08:00 Asia/Seoul by default)."""

    start: time = time(21)
    end: time = time(8)
    zone: ZoneInfo = SEOUL

    def release_at(self, now: datetime) -> datetime | None:
        """None if `now` is outside quiet hours; else the moment they end (UTC)."""
        local = now.astimezone(self.zone)
        clock = local.timetz().replace(tzinfo=None)
        overnight = self.start > self.end
        quiet = (clock >= self.start or clock < self.end) if overnight else (self.start <= clock < self.end)
        if not quiet:
            return None
        day = local.date() + timedelta(days=1) if overnight and clock >= self.start else local.date()
        return datetime.combine(day, self.end, tzinfo=self.zone).astimezone(UTC)


@dataclass(frozen=True)
class Candidate:
    """A notification waiting for one of the citizen's push slots."""

    notification_id: str
    worth_krw: int  # a year's worth for monthly payments: the value of the offer bundle
    deadline: date | None  # the earliest day to act by among its offers (application closes, back-pay window)
    urgent: bool  # deadline close: not held by quiet hours, and first in line


def priority(candidate: Candidate) -> tuple[bool, date, int]:
    """Urgent first, then the nearest deadline, then the most valuable."""
    return (not candidate.urgent, candidate.deadline or date.max, -candidate.worth_krw)


@dataclass(frozen=True)
class PushPlan:
    individual: list[Candidate]  # each pushed on its own
    digest: list[Candidate]  # merged into one push (the budget's last slot); empty or ≥ 2
    waiting: list[Candidate]  # no slot left this week


def plan_pushes(candidates: Sequence[Candidate], remaining: int) -> PushPlan:
    """Share the citizen's remaining push slots: the highest priority get their own push; when there are more
    candidates than slots, the last slot carries a digest of the rest, so nothing is dropped."""
    ordered = sorted(candidates, key=priority)
    if remaining <= 0:
        return PushPlan([], [], ordered)
    if len(ordered) <= remaining:
        return PushPlan(ordered, [], [])
    return PushPlan(ordered[: remaining - 1], ordered[remaining - 1 :], [])


@dataclass(frozen=True)
class PushBudget:
    """At most `per_week` pushes to one citizen in any 7 days, whichever agency the offers come from."""

    per_week: int = 3

    def remaining(self, sent_at: Sequence[datetime], now: datetime) -> int:
        return max(0, self.per_week - sum(1 for t in sent_at if t > now - WEEK))

    def next_slot(self, sent_at: Sequence[datetime], now: datetime) -> datetime:
        """When the oldest push of the window leaves it (and a slot frees up)."""
        recent = sorted(t for t in sent_at if t > now - WEEK)
        return recent[0] + WEEK if recent else now


def is_urgent(deadline: date | None, today: date, within_days: int) -> bool:
    """A deadline within `within_days` (or already past: agencies may still accept) makes a push urgent."""
    return deadline is not None and (deadline - today).days <= within_days
