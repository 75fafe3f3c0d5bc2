"""The outbox dispatcher: sends pending notifications through push where consented and timely, marks what happened.

Notifications are committed with their entitlements (transactional outbox); this sends them afterwards. The
in-app inbox needs no sending: the row *is* the inbox entry. Rows are claimed with SKIP LOCKED on PostgreSQL
so several dispatchers never send the same row, and claim, send and mark happen in one transaction: a crash
after FCM accepted but before the commit re-sends with the same collapse key, which replaces the earlier push
on the device instead of duplicating it; after the commit a row is never sent again.

What holds a push back (the row becomes `held` until `not_before`): a bereavement cooling-off, quiet hours
(unless a deadline is close), the citizen's weekly budget, or a transient FCM failure. What stops it: a
recipient who died (`cancelled`), no consent or no device (`inbox_only`), FCM refusing it for good (`failed`: a
permanent error, or unavailable for longer than the policy's `retry_for`).
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import Table, and_, bindparam, delete, or_, select, text, update
from sqlalchemy.orm import Session, sessionmaker

from entitlements.lifecycle import OPEN, EntitlementStatus
from entitlements.persistence.store import among, bulk_insert
from entitlements.persistence.tables import CitizenRow, EntitlementRow
from entitlements.persistence.transitions import move_where
from notifiers.consent import consented
from notifiers.dispatch_plan import Cancel, Hold, InboxOnly, MergeInto, PlannedRow, plan_dispatch
from notifiers.dispatch_status import TOLD, DispatchStatus
from notifiers.policy import DispatchPolicy
from notifiers.preferences import own_quiet_hours, template_languages
from notifiers.push import PushMessage, PushSender
from notifiers.rendering import DIGEST, REMINDER, NotificationTemplates
from notifiers.tables import DeliveryRow, DeviceRow, NotificationRow
from rules_engine.deadlines import DeadlineKind
from rules_engine.worth import yearly_worth

APPLICATION_CLOSES = DeadlineKind.APPLICATION_CLOSES.value

PUSH = "push"
RETRY = "retry"  # the hold reason of a push FCM could not take (outbox_gauges.py counts these as due)
_OPEN_STATES = {s.value for s in OPEN}
_NOTIFICATIONS: Table = NotificationRow.__table__  # type: ignore[assignment]


@dataclass
class DispatchResult:
    notifications: int = 0
    pushed: int = 0
    push_failed: int = 0
    inbox_only: int = 0
    tokens_removed: int = 0
    held: int = 0
    merged: int = 0
    cancelled: int = 0
    messages: int = 0  # pushes handed to the sender (one per device)


@dataclass
class _Bundle:
    """What the dispatcher knows about one claimed notification's offers."""

    worth_krw: int = 0
    deadline: date | None = None
    offer_count: int = 0
    open_ids: list[str] = field(default_factory=list)


@dataclass(slots=True)
class _Claim:
    """A claimed outbox row: the columns the dispatcher reads, and the ones it decides (written back in bulk).

    Plain Core rows rather than ORM objects: loading, tracking and flushing 500 NotificationRow instances cost
    more than everything else the dispatcher does per batch."""

    id: str
    recipient_id: str
    category: str
    event_type: str
    language: str
    lock_screen_title: str
    lock_screen_body: str
    offer_ids: list[str]
    created_at: datetime
    dispatch_attempts: int
    traceparent: str | None  # its life event's trace context: the push continues that trace
    # decided by this tick
    dispatch_status: str
    dispatched_at: datetime | None
    not_before: datetime | None
    hold_reason: str | None
    collapse_key: str | None
    channel: str | None
    escalate_at: datetime | None
    digest_of: list[str] | None = None  # set on a digest's carrier only (written apart: JSON, and rare)


_READ = (
    "id",
    "recipient_id",
    "category",
    "event_type",
    "language",
    "lock_screen_title",
    "lock_screen_body",
    "offer_ids",
    "created_at",
    "dispatch_attempts",
    "traceparent",
)
_DECIDED = (
    "dispatch_status",
    "dispatched_at",
    "not_before",
    "hold_reason",
    "collapse_key",
    "channel",
    "escalate_at",
)
# One UPDATE for the whole batch (executemany): every claimed row leaves this tick with a decision.
_WRITE_BACK = (
    update(_NOTIFICATIONS)
    .where(_NOTIFICATIONS.c.id == bindparam("claimed_id"))
    .values({name: bindparam(name) for name in ("dispatch_attempts", *_DECIDED)})
)
# On PostgreSQL the same as one statement over arrays (UPDATE ... FROM unnest): one plan and one index join
# instead of a statement per row (the difference: docs/benchmarks.md, notify).
_PG_TYPES = {
    "id": "varchar",
    "dispatch_attempts": "integer",
    "dispatch_status": "varchar",
    "dispatched_at": "timestamptz",
    "not_before": "timestamptz",
    "hold_reason": "varchar",
    "collapse_key": "varchar",
    "channel": "varchar",
    "escalate_at": "timestamptz",
}
_PG_WRITE_BACK = text(
    f"UPDATE {_NOTIFICATIONS.name} AS n SET "
    + ", ".join(f"{name} = v.{name}" for name in _PG_TYPES if name != "id")
    + " FROM unnest("
    + ", ".join(f"CAST(:{name} AS {kind}[])" for name, kind in _PG_TYPES.items())
    + f") AS v({', '.join(_PG_TYPES)}) WHERE n.id = v.id"
)


def aware(moment: datetime) -> datetime:
    """SQLite returns naive datetimes even for timezone=True columns; they were stored as UTC."""
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def collapse_key_of(row: NotificationRow | _Claim) -> str:
    return row.collapse_key or f"n-{row.id}"[:64]


def dispatch_pending(
    sessions: sessionmaker[Session],
    sender: PushSender | None,
    limit: int = 500,
    *,
    policy: DispatchPolicy | None = None,
    templates: NotificationTemplates | None = None,
    now: datetime | None = None,
) -> DispatchResult:
    policy = policy or DispatchPolicy()
    now = now or datetime.now(UTC)
    result = DispatchResult()
    with sessions.begin() as session:
        claimed = _claim(session, now, limit)
        if not claimed:
            return result
        result.notifications = len(claimed)
        bundles = _bundles(session, claimed, now.astimezone(policy.quiet_hours.zone).date())
        recipients = list({row.recipient_id for row in claimed})
        consents = consented(session, recipients, PUSH) if sender is not None else set()
        devices = _devices(session, recipients) if sender is not None else {}
        reachable = [r for r in recipients if devices.get(r)]
        decisions = plan_dispatch(
            [
                PlannedRow(
                    row.id,
                    row.recipient_id,
                    row.category,
                    aware(row.created_at),
                    bundles[row.id].worth_krw,
                    bundles[row.id].deadline,
                )
                for row in claimed
            ],
            deceased=_deceased(session, recipients),
            consents=consents,
            devices=devices,
            sent_at=_pushes_this_week(session, reachable, now) if reachable else {},
            policy=policy,
            now=now,
            own_quiet_hours=own_quiet_hours(session, reachable, policy.quiet_hours.zone) if reachable else {},
        )
        rows = [row for row in claimed if not isinstance(decisions[row.id], Cancel)]
        languages = template_languages(session, [r.recipient_id for r in rows]) if templates else {}
        by_id = {row.id: row for row in claimed}
        messages: list[tuple[_Claim, PushMessage]] = []
        for row_id, decision in decisions.items():
            row = by_id[row_id]
            if isinstance(decision, Cancel):
                row.dispatch_status = DispatchStatus.CANCELLED
                row.hold_reason, row.not_before, row.escalate_at = decision.reason, None, None
                result.cancelled += 1
                continue
            row.collapse_key = collapse_key_of(row)
            if isinstance(decision, Hold):
                _hold(row, decision.until, decision.reason, result)
            elif isinstance(decision, InboxOnly):
                _inbox_only(row, decision.escalate, now, result)
            elif isinstance(decision, MergeInto):
                row.dispatch_status = DispatchStatus.MERGED
                row.dispatched_at, row.not_before, row.hold_reason = now, None, None
                result.merged += 1
            else:
                merged = [by_id[i] for i in decision.merged]
                if merged:
                    row.digest_of = list(decision.merged)
                title, body = _lock_screen(row, merged, bundles, templates, languages)
                key = f"d-{row.id}"[:64] if merged else collapse_key_of(row)
                kind = "digest" if merged else "offers"
                for token in decision.tokens:
                    data = {"notification_id": row.id, "kind": kind}
                    messages.append((row, PushMessage(token, title, body, key, data, trace_context=row.traceparent)))
        if messages and sender is not None:
            _send(session, sender, messages, policy, bundles, now, result)
        _write_back(session, claimed)
        for row in rows:
            if row.digest_of is not None:
                session.execute(
                    update(_NOTIFICATIONS).where(_NOTIFICATIONS.c.id == row.id).values(digest_of=row.digest_of)
                )
        notified = [i for row in rows if row.dispatch_status in TOLD for i in row.offer_ids]
        if notified:  # through the lifecycle's gate: only a matched offer becomes notified
            move_where(
                session,
                EntitlementStatus.NOTIFIED,
                among(session, EntitlementRow.id, notified),
                now=now,
                only_from=(EntitlementStatus.MATCHED,),
            )
    return result


def _claim(session: Session, now: datetime, limit: int) -> list[_Claim]:
    n = _NOTIFICATIONS.c
    query = (
        select(*(n[name] for name in (*_READ, *_DECIDED)))
        .where(
            or_(
                n.dispatch_status == DispatchStatus.PENDING,
                and_(n.dispatch_status == DispatchStatus.HELD, n.not_before <= now),
            )
        )
        .order_by(n.created_at)
        .limit(limit)
    )
    if session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update(skip_locked=True)
    return [_Claim(*row) for row in session.execute(query)]


def _write_back(session: Session, claimed: list[_Claim]) -> None:
    if session.get_bind().dialect.name == "postgresql":
        session.execute(_PG_WRITE_BACK, {name: [getattr(row, name) for row in claimed] for name in _PG_TYPES})
    else:
        session.execute(_WRITE_BACK, [_decision(row) for row in claimed])


def _decision(row: _Claim) -> dict[str, Any]:
    decided = {name: getattr(row, name) for name in _DECIDED}
    decided["claimed_id"] = row.id
    decided["dispatch_attempts"] = row.dispatch_attempts
    return decided


def _deceased(session: Session, recipients: list[str]) -> set[str]:
    """Recipients who died: unreachable, their notifications are cancelled, whoever forgot to."""
    return set(
        session.scalars(
            select(CitizenRow.id).where(among(session, CitizenRow.id, recipients), CitizenRow.deceased_on.is_not(None))
        )
    )


def _act_by(offer: Any, today: date) -> date | None:
    """The day by which the citizen must act for an offer, by the kind of its deadlines: the application's last day,
    or a retroactive window still open (after it the right stands: no hurry). An entitlement's end or a voucher's
    use-by date does not make the offer's push urgent (the use-by date has its own reminders)."""
    days = []
    if offer.deadline is not None and offer.deadline_kind in (None, APPLICATION_CLOSES):
        days.append(offer.deadline)
    if offer.retroactive_until is not None and offer.retroactive_until >= today:
        days.append(offer.retroactive_until)
    return min(days, default=None)


def _bundles(session: Session, rows: Sequence[_Claim], today: date) -> dict[str, _Bundle]:
    offer_ids = list({o for row in rows for o in row.offer_ids})
    offers = {
        e.id: e
        for e in session.execute(
            select(
                EntitlementRow.id,
                EntitlementRow.amount_krw,
                EntitlementRow.payment,
                EntitlementRow.deadline,
                EntitlementRow.deadline_kind,
                EntitlementRow.retroactive_until,
                EntitlementRow.status,
            ).where(among(session, EntitlementRow.id, offer_ids))
        )
    }
    bundles: dict[str, _Bundle] = {}
    for row in rows:
        bundle = _Bundle(offer_count=len(row.offer_ids))
        for offer_id in row.offer_ids:
            offer = offers.get(offer_id)
            if offer is None or offer.status not in _OPEN_STATES:
                continue
            bundle.open_ids.append(offer_id)
            bundle.worth_krw += yearly_worth(offer.amount_krw, offer.payment)
            act_by = _act_by(offer, today)
            if act_by is not None and (bundle.deadline is None or act_by < bundle.deadline):
                bundle.deadline = act_by
        bundles[row.id] = bundle
    return bundles


def _devices(session: Session, recipients: list[str]) -> dict[str, list[str]]:
    """Device tokens per recipient."""
    tokens: dict[str, list[str]] = {}
    for d in session.execute(
        select(DeviceRow.citizen_id, DeviceRow.token).where(among(session, DeviceRow.citizen_id, recipients))
    ):
        tokens.setdefault(d.citizen_id, []).append(d.token)
    return tokens


def _hold(row: _Claim, until: datetime, reason: str, result: DispatchResult) -> None:
    row.dispatch_status, row.not_before, row.hold_reason = DispatchStatus.HELD, until, reason
    result.held += 1


def _inbox_only(row: _Claim, escalate: bool, now: datetime, r: DispatchResult) -> None:
    row.dispatch_status, row.dispatched_at, row.not_before = DispatchStatus.INBOX_ONLY, now, None
    row.dispatch_attempts += 1
    if escalate:
        row.channel, row.escalate_at = "inbox", now  # push cannot reach them: the fallback starts at once
    r.inbox_only += 1


def _pushes_this_week(session: Session, recipients: list[str], now: datetime) -> dict[str, list[datetime]]:
    """When each recipient was pushed to in the past 7 days: what their weekly budget has left."""
    history: dict[str, list[datetime]] = {}
    n = _NOTIFICATIONS.c
    query = select(n.recipient_id, n.dispatched_at).where(
        among(session, n.recipient_id, recipients),
        n.channel == PUSH,
        n.dispatch_status == DispatchStatus.SENT,
        n.dispatched_at > now - timedelta(days=7),
    )
    # Without statistics SQLite picks (dispatch_status, created_at) and reads every sent notification ever,
    # per batch; by recipient it reads only theirs.
    query = query.with_hint(_NOTIFICATIONS, "INDEXED BY ix_notifications_recipient_id", "sqlite")
    for h in session.execute(query):
        history.setdefault(h.recipient_id, []).append(aware(h.dispatched_at))
    return history


def _lock_screen(
    carrier: _Claim,
    merged: list[_Claim],
    bundles: dict[str, _Bundle],
    templates: NotificationTemplates | None,
    languages: dict[str, str],
) -> tuple[str, str]:
    """The stored (Korean or English) lock-screen text, unless the citizen prefers Vietnamese or easy-read Korean,
    or the push is a digest: then it is rendered now, from the offer count alone."""
    lang = languages.get(carrier.recipient_id)
    if templates is not None and merged:
        count = sum(bundles[r.id].offer_count for r in (carrier, *merged))
        return templates.lock_screen(DIGEST, lang or carrier.language, count)
    if templates is not None and lang and lang != carrier.language and carrier.event_type != REMINDER:
        return templates.lock_screen(carrier.event_type, lang, bundles[carrier.id].offer_count)
    return carrier.lock_screen_title, carrier.lock_screen_body


def _send(
    session: Session,
    sender: PushSender,
    messages: list[tuple[_Claim, PushMessage]],
    policy: DispatchPolicy,
    bundles: dict[str, _Bundle],
    now: datetime,
    result: DispatchResult,
) -> None:
    results = sender.send([m for _, m in messages])
    result.messages += len(messages)
    accepted: dict[str, bool] = {}
    transient: dict[str, bool] = {}
    for (row, _), r in zip(messages, results, strict=True):
        accepted[row.id] = accepted.get(row.id, False) or r.accepted
        transient[row.id] = transient.get(row.id, True) and (r.accepted or r.retryable)
    bulk_insert(
        session,
        DeliveryRow,
        [
            {
                "notification_id": row.id,
                "token_hash": hashlib.sha256(r.token.encode()).hexdigest(),
                "accepted": r.accepted,
                "message_id": r.message_id,
                "error_code": r.error_code,
                "at": now,
                "channel": PUSH,
            }
            for (row, _), r in zip(messages, results, strict=True)
        ],
    )
    invalid = list({r.token for r in results if r.token_invalid})
    if invalid:  # UNREGISTERED: the app was uninstalled or the token rotated
        session.execute(delete(DeviceRow).where(DeviceRow.token.in_(invalid)))
        result.tokens_removed = len(invalid)
    rows = {row.id: row for row, _ in messages}
    for row_id, row in rows.items():
        row.dispatch_attempts += 1
        high_value = bundles[row_id].worth_krw >= policy.high_value_krw
        if accepted[row_id]:
            row.dispatch_status, row.dispatched_at, row.channel = DispatchStatus.SENT, now, PUSH
            row.not_before, row.hold_reason = None, None
            row.escalate_at = now + policy.fallback_after if high_value else None
            result.pushed += 1
        elif transient[row_id] and now - aware(row.created_at) < policy.retry_for:
            # FCM down or overloaded beyond the sender's own retries: try again later, keeping the collapse key.
            _hold(row, now + policy.retry_delay(row.dispatch_attempts), RETRY, result)
        else:
            row.dispatch_status, row.dispatched_at, row.channel = DispatchStatus.FAILED, now, PUSH
            row.not_before, row.hold_reason = None, None
            row.escalate_at = now if high_value else None  # not delivered: the next channel, at once
            result.push_failed += 1
