"""Fallback for high-value offers: unopened (or undelivered) after a while, try the next channel — KakaoTalk
Alimtalk, then SMS, as consented — and finally ask a caseworker to reach the person (outreach task).

People push cannot reach (no smartphone, no consent, uninstalled app) start here at once.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import insert, select
from sqlalchemy.orm import Session, sessionmaker

from entitlements.lifecycle import OPEN
from entitlements.persistence.tables import CitizenRow, EntitlementRow
from notifiers.consent import consented
from notifiers.gateway import MessageGateway, TextMessage
from notifiers.policy import DispatchPolicy
from notifiers.preferences import own_quiet_hours, template_languages
from notifiers.rendering import FALLBACK_TEXT, NotificationTemplates
from notifiers.tables import DeliveryRow, NotificationRow, OutreachTaskRow
from rules_engine.worth import yearly_worth

_RETRY_LATER = timedelta(minutes=10)
_OPEN_STATES = [s.value for s in OPEN]


@dataclass
class FallbackResult:
    due: int = 0
    texted: int = 0
    outreach: int = 0
    settled: int = 0  # opened, applied or otherwise nothing left to chase
    deferred: int = 0  # quiet hours or a struggling provider


def escalate_unopened(
    sessions: sessionmaker[Session],
    gateway: MessageGateway | None,
    templates: NotificationTemplates,
    policy: DispatchPolicy,
    now: datetime,
    limit: int = 200,
) -> FallbackResult:
    result = FallbackResult()
    with sessions.begin() as session:
        query = (
            select(NotificationRow)
            .where(NotificationRow.escalate_at <= now)
            .order_by(NotificationRow.escalate_at)
            .limit(limit)
        )
        if session.get_bind().dialect.name == "postgresql":
            query = query.with_for_update(skip_locked=True)
        rows = list(session.scalars(query))
        result.due = len(rows)
        if not rows:
            return result
        recipients = {r.recipient_id for r in rows}
        dead = set(
            session.scalars(
                select(CitizenRow.id).where(CitizenRow.id.in_(list(recipients)), CitizenRow.deceased_on.is_not(None))
            )
        )
        allowed = {ch: consented(session, recipients, ch) for ch in policy.fallback_channels}
        languages = template_languages(session, recipients)
        own_quiet = own_quiet_hours(session, recipients, policy.quiet_hours.zone)
        open_worth = _open_worth(session, rows)
        for row in rows:
            if row.viewed_at is not None or row.recipient_id in dead or open_worth.get(row.id) is None:
                row.escalate_at = None  # opened, nobody to reach, or every offer applied for / closed
                result.settled += 1
                continue
            release = own_quiet.get(row.recipient_id, policy.quiet_hours).release_at(now)
            if release is not None:  # texts wait for the morning (or the end of the citizen's own quiet hours) too
                row.escalate_at = release
                result.deferred += 1
                continue
            _next_step(session, row, gateway, templates, policy, allowed, languages, open_worth[row.id], now, result)
    return result


def _open_worth(session: Session, rows: list[NotificationRow]) -> dict[str, int]:
    """Worth of each notification's offers still open; absent if none is (nothing left to chase)."""
    ids = list({o for row in rows for o in row.offer_ids})
    offers = {
        e.id: yearly_worth(e.amount_krw, e.payment)
        for e in session.execute(
            select(EntitlementRow.id, EntitlementRow.amount_krw, EntitlementRow.payment).where(
                EntitlementRow.id.in_(ids), EntitlementRow.status.in_(_OPEN_STATES)
            )
        )
    }
    found: dict[str, int] = {}
    for row in rows:
        open_ids = [o for o in row.offer_ids if o in offers]
        if open_ids:
            found[row.id] = sum(offers[o] for o in open_ids)
    return found


def _next_step(
    session: Session,
    row: NotificationRow,
    gateway: MessageGateway | None,
    templates: NotificationTemplates,
    policy: DispatchPolicy,
    allowed: dict[str, set[tuple[str, str]]],
    languages: dict[str, str],
    worth_krw: int,
    now: datetime,
    result: FallbackResult,
) -> None:
    tried = [row.channel] if row.channel else []
    order = list(policy.fallback_channels)
    start = order.index(row.channel) + 1 if row.channel in order else 0
    for channel in order[start:]:
        if gateway is None or (row.recipient_id, row.category) not in allowed[channel]:
            continue
        lang = languages.get(row.recipient_id, row.language)
        text = templates.render(FALLBACK_TEXT, lang, [{} for _ in row.offer_ids], inbox_url=policy.inbox_url).message
        sent = gateway.send(TextMessage(channel, row.recipient_id, text, idempotency_key=f"{row.id}:{channel}"))
        session.execute(
            insert(DeliveryRow),
            [
                {
                    "notification_id": row.id,
                    "token_hash": "",
                    "accepted": sent.accepted,
                    "message_id": sent.provider_id,
                    "error_code": sent.error_code,
                    "at": now,
                    "channel": channel,
                }
            ],
        )
        if sent.accepted:
            row.channel, row.escalate_at = channel, now + policy.fallback_after
            result.texted += 1
            return
        if sent.retryable:
            row.escalate_at = now + _RETRY_LATER
            result.deferred += 1
            return
        tried.append(channel)
    history = session.scalars(
        select(DeliveryRow.channel).where(DeliveryRow.notification_id == row.id).order_by(DeliveryRow.id)
    )
    tried = list(dict.fromkeys([*(["inbox"] if "inbox" in tried else []), *history, *tried]))
    reason = f"high-value offer not opened; tried: {', '.join(tried) or 'no channel'}"
    if session.scalar(select(OutreachTaskRow.id).where(OutreachTaskRow.notification_id == row.id)) is None:
        session.add(
            OutreachTaskRow(
                citizen_id=row.recipient_id,
                notification_id=row.id,
                reason=reason[:200],
                worth_krw=worth_krw,
                created_at=now,
                status="open",
                assigned_to=None,
            )
        )
        result.outreach += 1
    row.channel, row.escalate_at = "outreach", None


def mark_opened(session: Session, citizen_id: str, notification_id: str, now: datetime) -> bool:
    """The app opened the notification: it counts as seen, and the fallback stops."""
    row = session.get(NotificationRow, notification_id)
    if row is None or row.recipient_id != citizen_id:
        return False
    if row.viewed_at is None:
        row.viewed_at = now
    row.escalate_at = None
    return True
