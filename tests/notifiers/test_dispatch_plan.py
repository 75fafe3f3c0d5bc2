"""The dispatch plan on plain data: who is cancelled, held, kept to the inbox, pushed or merged (no database)."""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from datetime import UTC, date, datetime, time, timedelta

from notifiers.dispatch_plan import Cancel, Decision, Hold, InboxOnly, MergeInto, PlannedRow, Send, plan_dispatch
from notifiers.policy import DispatchPolicy
from notifiers.timing import SEOUL, PushBudget, QuietHours
from rules_engine.categories import ConsentCategory

BENEFITS = ConsentCategory.HOUSING.value
BEREAVEMENT = ConsentCategory.BEREAVEMENT.value
NOON = datetime(2026, 3, 10, 12, tzinfo=SEOUL).astimezone(UTC)
NIGHT = datetime(2026, 3, 10, 23, tzinfo=SEOUL).astimezone(UTC)
NEXT_MORNING = datetime(2026, 3, 11, 8, tzinfo=SEOUL).astimezone(UTC)
TODAY = date(2026, 3, 10)


def row(
    id: str,
    recipient: str = "kim",
    category: str = BENEFITS,
    *,
    worth: int = 100_000,
    deadline: date | None = None,
    created_at: datetime = NOON - timedelta(hours=1),
) -> PlannedRow:
    return PlannedRow(id, recipient, category, created_at, worth, deadline)


def plan(
    rows: Sequence[PlannedRow],
    *,
    now: datetime = NOON,
    deceased: Collection[str] = (),
    consents: Collection[tuple[str, str]] | None = None,
    devices: Mapping[str, Sequence[str]] | None = None,
    sent_at: Mapping[str, Sequence[datetime]] | None = None,
    policy: DispatchPolicy | None = None,
    own_quiet_hours: Mapping[str, QuietHours] | None = None,
) -> dict[str, Decision]:
    recipients = {r.recipient_id for r in rows}
    return plan_dispatch(
        rows,
        deceased=deceased,
        consents={(r.recipient_id, r.category) for r in rows} if consents is None else consents,
        devices={p: [f"token-{p}"] for p in recipients} if devices is None else devices,
        sent_at=sent_at or {},
        policy=policy or DispatchPolicy(),
        now=now,
        own_quiet_hours=own_quiet_hours,
    )


def test_a_consented_citizen_with_a_device_is_pushed_on_every_device() -> None:
    decisions = plan([row("n1")], devices={"kim": ["phone", "tablet"]})
    assert decisions == {"n1": Send(("phone", "tablet"))}


def test_the_deceased_are_cancelled_before_anything_else() -> None:
    decisions = plan([row("n1", "kim"), row("n2", "lee")], deceased={"kim"})
    assert decisions["n1"] == Cancel("deceased")
    assert decisions["n2"] == Send(("token-lee",))


def test_bereavement_waits_out_the_cooling_off_then_goes() -> None:
    written = NOON - timedelta(days=1)
    notice = row("n1", category=BEREAVEMENT, created_at=written)
    assert plan([notice]) == {"n1": Hold(written + timedelta(days=3), "cooling_off")}
    assert plan([notice], now=written + timedelta(days=3)) == {"n1": Send(("token-kim",))}


def test_no_consent_or_no_device_means_inbox_only_and_high_value_escalates_at_once() -> None:
    rows = [row("small", "kim"), row("big", "lee", worth=2_000_000)]
    assert plan(rows, consents=set()) == {"small": InboxOnly(escalate=False), "big": InboxOnly(escalate=True)}
    assert plan(rows, devices={}) == {"small": InboxOnly(escalate=False), "big": InboxOnly(escalate=True)}
    # consent is per category: benefits consent does not cover a bereavement notice
    other = plan([row("n1", category=BEREAVEMENT, created_at=NOON - timedelta(days=4))], consents={("kim", BENEFITS)})
    assert other == {"n1": InboxOnly(escalate=False)}


def test_quiet_hours_hold_until_morning_unless_a_deadline_is_close() -> None:
    calm = row("calm", deadline=TODAY + timedelta(days=30))
    urgent = row("urgent", "lee", deadline=TODAY + timedelta(days=2))
    decisions = plan([calm, urgent], now=NIGHT)
    assert decisions["calm"] == Hold(NEXT_MORNING, "quiet_hours")
    assert decisions["urgent"] == Send(("token-lee",))


def test_a_citizen_s_own_quiet_hours_replace_the_default_for_them_alone() -> None:
    # Kim (a night-shift nurse) sleeps 09:00-17:00 Seoul time and wants pushes at night; Lee keeps 21:00-08:00.
    kim = {"kim": QuietHours(time(9), time(17), SEOUL)}
    calm_kim, calm_lee = row("kim1", "kim"), row("lee1", "lee")
    at_noon = plan([calm_kim, calm_lee], own_quiet_hours=kim)
    assert at_noon["kim1"] == Hold(datetime(2026, 3, 10, 17, tzinfo=SEOUL).astimezone(UTC), "quiet_hours")
    assert at_noon["lee1"] == Send(("token-lee",))
    at_night = plan([calm_kim, calm_lee], now=NIGHT, own_quiet_hours=kim)
    assert at_night["kim1"] == Send(("token-kim",))
    assert at_night["lee1"] == Hold(NEXT_MORNING, "quiet_hours")
    # start = end: no quiet hours at all; an urgent deadline still goes through a chosen window
    assert plan([calm_kim], now=NIGHT, own_quiet_hours={"kim": QuietHours(time(0), time(0))}) == {
        "kim1": Send(("token-kim",))
    }
    urgent = row("kim2", "kim", deadline=TODAY + timedelta(days=1))
    assert plan([urgent], own_quiet_hours=kim) == {"kim2": Send(("token-kim",))}


def test_the_weekly_budget_holds_until_the_oldest_push_leaves_the_window() -> None:
    pushed = [NOON - timedelta(days=6), NOON - timedelta(days=2), NOON - timedelta(days=1)]
    decisions = plan([row("n1")], sent_at={"kim": pushed})
    assert decisions == {"n1": Hold(pushed[0] + timedelta(days=7), "budget")}


def test_overflow_is_merged_into_a_digest_carried_by_the_last_slot() -> None:
    rows = [
        row("small", worth=10_000),
        row("big", worth=3_000_000),
        row("soon", worth=100, deadline=TODAY + timedelta(days=20)),
        row("urgent", worth=1, deadline=TODAY + timedelta(days=2)),
    ]
    decisions = plan(rows, policy=DispatchPolicy(budget=PushBudget(per_week=2)))
    assert decisions["urgent"] == Send(("token-kim",))
    assert decisions["soon"] == Send(("token-kim",), merged=("big", "small"))
    assert decisions["big"] == decisions["small"] == MergeInto("soon")
    sends = [i for i, d in decisions.items() if isinstance(d, Send)]
    assert sends == ["urgent", "soon"]  # the order they are handed to the sender


def test_each_citizen_has_a_budget_of_their_own() -> None:
    rows = [row("kim-1", "kim"), row("lee-1", "lee")]
    decisions = plan(rows, sent_at={"kim": [NOON - timedelta(hours=h) for h in (1, 2, 3)]})
    assert decisions["kim-1"] == Hold(NOON - timedelta(hours=3) + timedelta(days=7), "budget")
    assert decisions["lee-1"] == Send(("token-lee",))


def test_naive_timestamps_are_read_as_utc() -> None:
    naive = (NOON - timedelta(days=1)).replace(tzinfo=None)
    notice = row("n1", category=BEREAVEMENT, created_at=naive)
    assert plan([notice]) == {"n1": Hold(NOON - timedelta(days=1) + timedelta(days=3), "cooling_off")}
