"""The dispatch plan: what happens to each claimed notification this tick (pure logic, no session).

Per row, in this order: a recipient who died is cancelled; a bereavement notice waits out the cooling-off;
without consent to push for its category or without a device it goes to the inbox only; outside urgent cases
quiet hours hold it (the citizen's own, if they chose some, else the service's); the rest share the citizen's
weekly push budget, the last slot carrying a digest of the overflow, and what finds no slot waits for the next one.
The dispatcher reads the inputs, sends, and writes back.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime

from notifiers.policy import DispatchPolicy
from notifiers.timing import Candidate, QuietHours, is_urgent, plan_pushes
from rules_engine.categories import ConsentCategory


@dataclass(frozen=True, slots=True)
class PlannedRow:
    """A claimed notification as the plan sees it: who, which category, when written, what its open offers hold."""

    id: str
    recipient_id: str
    category: str
    created_at: datetime
    worth_krw: int = 0  # a year's worth of its open offers
    deadline: date | None = None  # the earliest day to act by among its open offers


@dataclass(frozen=True, slots=True)
class Cancel:
    reason: str


@dataclass(frozen=True, slots=True)
class InboxOnly:
    escalate: bool  # high value and push cannot reach them: the fallback channels start at once


@dataclass(frozen=True, slots=True)
class Hold:
    until: datetime
    reason: str  # cooling_off, quiet_hours, budget


@dataclass(frozen=True, slots=True)
class Send:
    tokens: tuple[str, ...]
    merged: tuple[str, ...] = ()  # ids this push carries as a digest (empty: an individual push)


@dataclass(frozen=True, slots=True)
class MergeInto:
    carrier_id: str


Decision = Cancel | InboxOnly | Hold | Send | MergeInto


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def plan_dispatch(
    rows: Sequence[PlannedRow],
    *,
    deceased: Collection[str],
    consents: Collection[tuple[str, str]],
    devices: Mapping[str, Sequence[str]],
    sent_at: Mapping[str, Sequence[datetime]],
    policy: DispatchPolicy,
    now: datetime,
    own_quiet_hours: Mapping[str, QuietHours] | None = None,
) -> dict[str, Decision]:
    """One decision per row id. `consents` are (recipient, category) push opt-ins, `devices` the tokens per
    recipient (empty when no sender is configured), `sent_at` each recipient's pushes of the past week,
    `own_quiet_hours` the quiet hours of recipients who chose their own instead of the policy's.
    Sends come out in the order they are to be handed to the sender."""
    decisions: dict[str, Decision] = {}
    today = now.astimezone(policy.quiet_hours.zone).date()
    default_release = policy.quiet_hours.release_at(now)  # the same for all who kept the default
    own = own_quiet_hours or {}
    waiting: dict[str, list[tuple[PlannedRow, Candidate]]] = {}
    for row in rows:
        if row.recipient_id in deceased:
            decisions[row.id] = Cancel("deceased")
            continue
        cooled_off = _aware(row.created_at) + policy.cooling_off
        if row.category == ConsentCategory.BEREAVEMENT and now < cooled_off:
            decisions[row.id] = Hold(cooled_off, "cooling_off")
            continue
        if (row.recipient_id, row.category) not in consents or not devices.get(row.recipient_id):
            decisions[row.id] = InboxOnly(escalate=row.worth_krw >= policy.high_value_krw)
            continue
        urgent = is_urgent(row.deadline, today, policy.urgent_within_days)
        chosen = own.get(row.recipient_id)
        quiet_until = default_release if chosen is None else chosen.release_at(now)
        if quiet_until is not None and not urgent:
            decisions[row.id] = Hold(quiet_until, "quiet_hours")
            continue
        candidate = Candidate(row.id, row.worth_krw, row.deadline, urgent)
        waiting.setdefault(row.recipient_id, []).append((row, candidate))

    for recipient, entries in waiting.items():
        sent = [_aware(t) for t in sent_at.get(recipient, [])]
        tokens = tuple(devices[recipient])
        plan = plan_pushes([c for _, c in entries], policy.budget.remaining(sent, now))
        for c in plan.individual:
            decisions[c.notification_id] = Send(tokens)
        if plan.digest:
            carrier, *rest = (c.notification_id for c in plan.digest)
            for merged in rest:
                decisions[merged] = MergeInto(carrier)
            decisions[carrier] = Send(tokens, tuple(rest))
        for c in plan.waiting:
            decisions[c.notification_id] = Hold(policy.budget.next_slot(sent, now), "budget")
    return decisions
