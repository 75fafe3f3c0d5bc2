"""Pure timing rules: quiet hours, the weekly budget and who gets the slots."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from notifiers.timing import SEOUL, Candidate, PushBudget, QuietHours, is_urgent, plan_pushes


def seoul(hour: int, minute: int = 0, day: int = 10) -> datetime:
    return datetime(2026, 3, day, hour, minute, tzinfo=SEOUL)


def test_quiet_hours_hold_from_21_to_8_seoul_time() -> None:
    quiet = QuietHours()
    assert quiet.release_at(seoul(20, 59)) is None
    assert quiet.release_at(seoul(8, 0)) is None
    assert quiet.release_at(seoul(21, 0)) == seoul(8, 0, day=11).astimezone(UTC)  # evening: next morning
    assert quiet.release_at(seoul(3, 30)) == seoul(8, 0).astimezone(UTC)  # after midnight: this morning
    assert quiet.release_at(datetime(2026, 3, 10, 13, 0, tzinfo=UTC)) == seoul(8, 0, day=11).astimezone(UTC)  # 22:00


def test_budget_counts_the_last_seven_days() -> None:
    budget = PushBudget(per_week=3)
    now = seoul(12)
    sent = [now - timedelta(days=8), now - timedelta(days=6), now - timedelta(days=1)]
    assert budget.remaining(sent, now) == 1
    assert budget.next_slot(sent, now) == now - timedelta(days=6) + timedelta(days=7)
    assert budget.remaining([*sent, now - timedelta(hours=1)], now) == 0


def test_priority_urgent_then_deadline_then_value_and_digest_takes_the_last_slot() -> None:
    small = Candidate("small", 10_000, None, False)
    big = Candidate("big", 3_000_000, None, False)
    soon = Candidate("soon", 100, date(2026, 3, 20), False)
    urgent = Candidate("urgent", 1, date(2026, 3, 12), True)
    plan = plan_pushes([small, big, soon, urgent], remaining=2)
    assert [c.notification_id for c in plan.individual] == ["urgent"]
    assert [c.notification_id for c in plan.digest] == ["soon", "big", "small"]
    assert plan.waiting == []
    assert plan_pushes([small, big], remaining=2).individual == [big, small]
    assert plan_pushes([small, big], remaining=0).waiting == [big, small]


def test_a_close_or_past_deadline_is_urgent() -> None:
    today = date(2026, 3, 10)
    assert is_urgent(date(2026, 3, 17), today, 7)
    assert is_urgent(date(2026, 3, 1), today, 7)  # past: agencies may still accept a late application
    assert not is_urgent(date(2026, 3, 18), today, 7)
    assert not is_urgent(None, today, 7)
