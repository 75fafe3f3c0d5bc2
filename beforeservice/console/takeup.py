"""Take-up: how far offers get, matched → notified → opened → applied → granted, per benefit, place and channel.

Beside the stages, the offers the citizen marked "not for me" (beforeservice/citizen_app/tables.py): declined by
the citizen is the citizen's own answer, neither take-up nor a failure to reach them, so it is counted apart and
never as applied nor as unreached. An offer applied for after a decline counts as applied (the later word wins).

Aggregated in Python over the caller's scope (one query for the offers, one for their notifications, one for
application events, one for declines); at national scale this becomes a materialised view refreshed by the scheduler.
"""

from __future__ import annotations

import csv
import io
import statistics
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from beforeservice.auth import Principal
from beforeservice.citizen_app.tables import OfferDeclineRow
from beforeservice.console.review import _scope_filter
from beforeservice.console.tables import ReviewCaseRow
from entitlements.persistence.tables import EntitlementRow, HouseholdRow, ProcessedEventRow
from notifiers.dispatch_status import PUSHED, DispatchStatus
from notifiers.tables import NotificationRow
from rules_engine.catalog import Catalog

STAGES = ("matched", "notified", "viewed", "applied", "granted")
STAGE_LABELS = {"matched": "매칭", "notified": "알림", "viewed": "열람", "applied": "신청", "granted": "지급"}
_REACHED = {
    "matched": 0,
    "notified": 1,
    "viewed": 2,
    "applied": 3,
    "granted": 4,
    "expired": 0,
    "ended": 0,  # the right ended before anyone applied
    "rejected": 3,
}


@dataclass
class FunnelRow:
    benefit_id: str
    benefit_name: str
    municipality: str
    channel: str  # push | inbox | pending | none
    counts: dict[str, int] = field(default_factory=lambda: dict.fromkeys(STAGES, 0))
    unreached: int = 0
    declined: int = 0  # declined by the citizen ("not for me"): not take-up, not an error
    days_to_apply: list[float] = field(default_factory=list)

    def rate(self, stage: str) -> float:
        return self.counts[stage] / self.counts["matched"] if self.counts["matched"] else 0.0

    @property
    def median_days_to_apply(self) -> float | None:
        return round(statistics.median(self.days_to_apply), 1) if self.days_to_apply else None


def _aware(at: datetime) -> datetime:
    return at if at.tzinfo else at.replace(tzinfo=UTC)


def _channel(notifications: list[NotificationRow]) -> str:
    statuses = {n.dispatch_status for n in notifications}
    if statuses & PUSHED:
        return "push"
    if DispatchStatus.INBOX_ONLY in statuses:
        return "inbox"
    return "pending" if notifications else "none"


def funnel(session: Session, who: Principal, catalog: Catalog) -> list[FunnelRow]:
    query = _scope_filter(
        select(EntitlementRow, HouseholdRow.municipality_code, ReviewCaseRow.rejection_reason)
        .join(HouseholdRow, HouseholdRow.id == EntitlementRow.household_id)
        .outerjoin(ReviewCaseRow, ReviewCaseRow.entitlement_id == EntitlementRow.id),
        who,
        catalog,
    ).where(EntitlementRow.status.in_(list(_REACHED)))
    offers = [(e, m) for e, m, rejected_in_review in session.execute(query).all() if not rejected_in_review]
    households = sorted({e.household_id for e, _ in offers})
    declined = _declined(session, [e.id for e, _ in offers])
    by_offer: dict[str, list[NotificationRow]] = defaultdict(list)
    applications: dict[str, list[datetime]] = defaultdict(list)
    events: dict[tuple[str, str], datetime] = {}
    for chunk in (households[i : i + 500] for i in range(0, len(households), 500)):
        for n in session.scalars(select(NotificationRow).where(NotificationRow.household_id.in_(chunk))):
            for offer_id in n.offer_ids:
                by_offer[offer_id].append(n)
        for p in session.scalars(select(ProcessedEventRow).where(ProcessedEventRow.household_id.in_(chunk))):
            events[(p.source, p.event_id)] = _aware(p.processed_at)
            if p.type.endswith(".application.received"):
                applications[p.household_id or ""].append(_aware(p.processed_at))
    rows: dict[tuple[str, str, str], FunnelRow] = {}
    for e, municipality in offers:
        if e.benefit_id not in catalog.benefits:
            continue
        notifications = by_offer.get(e.id, [])
        channel = _channel(notifications)
        key = (e.benefit_id, municipality or "?", channel)
        row = rows.get(key) or rows.setdefault(
            key, FunnelRow(e.benefit_id, catalog.benefits[e.benefit_id].name["ko"], municipality or "?", channel)
        )
        reached = _REACHED[e.status]
        if channel in ("push", "inbox"):
            reached = max(reached, 1)
        if any(n.viewed_at for n in notifications):
            reached = max(reached, 2)
        declined_by_citizen = e.id in declined and reached < 3
        if declined_by_citizen:
            row.declined += 1
            reached = max(reached, 2)  # the citizen saw the offer to answer it
        for stage in STAGES[: reached + 1]:
            row.counts[stage] += 1
        if reached < 2 and channel != "push":
            row.unreached += 1  # push cannot reach them and they have not opened the app: outreach needed
        if reached >= 3:
            started = events.get((e.event_source, e.event_id), _aware(e.created_at))
            applied_at = min((a for a in applications.get(e.household_id, []) if a >= started), default=None)
            if applied_at is None and e.status == "applied":
                applied_at = _aware(e.updated_at)
            if applied_at is not None:
                row.days_to_apply.append((applied_at - started).total_seconds() / 86400)
    return sorted(rows.values(), key=lambda r: (r.benefit_id, r.municipality, r.channel))


def _declined(session: Session, offer_ids: list[str]) -> set[str]:
    """The offers among these that a citizen marked "not for me" (the offers are already in the caller's scope)."""
    found: set[str] = set()
    for chunk in (offer_ids[i : i + 500] for i in range(0, len(offer_ids), 500)):
        found.update(
            session.scalars(select(OfferDeclineRow.entitlement_id).where(OfferDeclineRow.entitlement_id.in_(chunk)))
        )
    return found


def totals(rows: list[FunnelRow], key: str | None = None) -> list[FunnelRow]:
    """Rows summed over everything (key None) or per "benefit" / "municipality" / "channel"."""
    merged: dict[str, FunnelRow] = {}
    for r in rows:
        name = {"benefit": r.benefit_id, "municipality": r.municipality, "channel": r.channel}.get(key or "", "전체")
        label = r.benefit_name if key == "benefit" else name
        total = merged.setdefault(
            name,
            FunnelRow(
                name, label, r.municipality if key == "municipality" else "*", r.channel if key == "channel" else "*"
            ),
        )
        for stage in STAGES:
            total.counts[stage] += r.counts[stage]
        total.unreached += r.unreached
        total.declined += r.declined
        total.days_to_apply.extend(r.days_to_apply)
    return list(merged.values())


CSV_COLUMNS = [
    "benefit_id",
    "benefit_name",
    "municipality",
    "channel",
    *STAGES,
    *(f"{s}_rate" for s in STAGES[1:]),
    "unreached",
    "median_days_event_to_application",
    "declined_by_citizen",  # last, so the columns before it keep their places in existing spreadsheets
]


# A spreadsheet runs a cell starting with one of these as a formula (CSV injection): such text cells get a leading
# apostrophe, which spreadsheets show as text (OWASP's advice). Counts and rates are numbers and stay as they are.
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def spreadsheet_text(text: str) -> str:
    return "'" + text if text.startswith(_FORMULA_STARTS) else text


def to_csv(rows: list[FunnelRow]) -> str:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(CSV_COLUMNS)
    for r in rows:
        writer.writerow(
            [
                spreadsheet_text(r.benefit_id),
                spreadsheet_text(r.benefit_name),
                spreadsheet_text(r.municipality),
                spreadsheet_text(r.channel),
                *(r.counts[s] for s in STAGES),
                *(f"{r.rate(s):.3f}" for s in STAGES[1:]),
                r.unreached,
                "" if r.median_days_to_apply is None else r.median_days_to_apply,
                r.declined,
            ]
        )
    return out.getvalue()
