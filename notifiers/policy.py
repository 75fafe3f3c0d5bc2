"""The notification policy in one value: timing, budget, tact and fallback settings the dispatcher obeys."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import time, timedelta
from typing import Protocol
from zoneinfo import ZoneInfo

from notifiers.timing import PushBudget, QuietHours

CHANNELS = ("push", "kakao", "sms")


class PolicySettings(Protocol):
    """The fields of beforeservice.settings.Settings the policy reads (notifiers does not import the app)."""

    scheduler_timezone: str
    quiet_hours_start: int
    quiet_hours_end: int
    push_budget_per_week: int
    urgent_deadline_days: int
    bereavement_cooling_off_hours: float
    high_value_krw: int
    fallback_after_hours: float
    push_retry_base_seconds: float
    push_retry_cap_seconds: float
    push_retry_hours: float
    fallback_channels: str
    inbox_url: str


@dataclass(frozen=True)
class DispatchPolicy:
    quiet_hours: QuietHours = field(default_factory=QuietHours)
    budget: PushBudget = field(default_factory=PushBudget)
    urgent_within_days: int = 7
    cooling_off: timedelta = timedelta(days=3)  # next of kin are not pushed to in the first days after a death
    high_value_krw: int = 1_000_000  # offers worth this much are chased through other channels
    fallback_after: timedelta = timedelta(hours=48)  # unopened this long: try the next channel
    fallback_channels: tuple[str, ...] = ("kakao", "sms")  # after push; then an outreach task
    inbox_url: str = "https://beforeservice.example/inbox"
    # FCM unavailable (503, 500, 429, no connection) beyond the sender's own retries: the row is held and re-sent
    # after retry_base * 2**attempts (at most retry_cap), for as long as retry_for from when it was written. An
    # outage is FCM's, not the notification's: it is given up by age, not after a number of attempts.
    retry_base: timedelta = timedelta(minutes=1)
    retry_cap: timedelta = timedelta(minutes=30)
    retry_for: timedelta = timedelta(hours=24)

    def retry_delay(self, attempts: int) -> timedelta:
        """How long a push that failed transiently `attempts` times waits before its next try."""
        return min(self.retry_base * 2 ** min(attempts, 30), self.retry_cap)

    @classmethod
    def of(cls, settings: PolicySettings) -> DispatchPolicy:
        channels = tuple(c.strip() for c in settings.fallback_channels.split(",") if c.strip())
        unknown = [c for c in channels if c not in CHANNELS[1:]]
        if unknown:
            raise ValueError(f"unknown fallback channels {unknown}; use kakao, sms")
        return cls(
            quiet_hours=QuietHours(
                time(settings.quiet_hours_start), time(settings.quiet_hours_end), ZoneInfo(settings.scheduler_timezone)
            ),
            budget=PushBudget(settings.push_budget_per_week),
            urgent_within_days=settings.urgent_deadline_days,
            cooling_off=timedelta(hours=settings.bereavement_cooling_off_hours),
            high_value_krw=settings.high_value_krw,
            fallback_after=timedelta(hours=settings.fallback_after_hours),
            fallback_channels=channels,
            inbox_url=settings.inbox_url,
            retry_base=timedelta(seconds=settings.push_retry_base_seconds),
            retry_cap=timedelta(seconds=settings.push_retry_cap_seconds),
            retry_for=timedelta(hours=settings.push_retry_hours),
        )
