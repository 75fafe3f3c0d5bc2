"""Reviewing what the rules could not decide: the scoped queue, one case in detail, and the decisions.

Shared by the JSON API and the web console, so both apply the same scope, masking and transitions. An
entitlement outside the caller's agencies and municipalities does not exist for them (None → 404).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any, Generic, TypeVar

from pydantic import BaseModel, ConfigDict
from sqlalchemy import Select, or_, select
from sqlalchemy.orm import Session

from beforeservice.auth import Principal
from beforeservice.console.accounts import colleagues
from beforeservice.console.masking import mask_id, masked_date
from beforeservice.console.offers import DeadlineView
from beforeservice.console.tables import ReviewActionRow, ReviewCaseRow
from entitlements import ids
from entitlements import review as rules
from entitlements.households import ADULT_ROLES
from entitlements.lifecycle import EntitlementStatus
from entitlements.persistence import transitions
from entitlements.persistence.tables import CitizenRow, EntitlementRow, HouseholdRow, ProcessedEventRow
from notifiers.approval_notice import approval_notice
from notifiers.dispatch_status import DispatchStatus
from notifiers.preferences import template_languages
from notifiers.rendering import APPROVAL, language_of, shared_templates
from notifiers.tables import NotificationRow
from notifiers.timing import SEOUL
from rules_engine.catalog import Benefit, Catalog

REVIEW_STATUSES = ("pending_review", "info_requested", "matched", "rejected", "all")
APPROVAL_TYPE = APPROVAL  # the notice is rendered from the `review_approved` templates
_ID = re.compile(r"[A-Za-z0-9\-]{1,64}")
Q = TypeVar("Q", bound=Select)  # any select of entitlements joined to households
Entry = TypeVar("Entry")  # one line of a case's timeline


class NotFound(LookupError):
    """Absent, or outside the caller's scope: the two are answered alike so ids cannot be probed."""


Refused = rules.Refused  # the decision is not possible now (e.g. the entitlement is no longer pending)


@dataclass(frozen=True)
class QueueFilter:
    agency: str | None = None
    municipality: str | None = None
    benefit: str | None = None
    status: str = "pending_review"
    deadline_before: date | None = None
    assigned_to: str | None = None


# One case in the queue as its viewer may see it (the beneficiary masked for caseworkers). Why a pydantic model,
# here: the JSON API returns exactly these fields (review_api) and the console shows them; one definition keeps
# the two alike. (A comment, not a docstring: a docstring would become the API schema's description.)
class CaseSummary(BaseModel):
    id: str
    benefit_id: str
    benefit_name: str
    agency: str
    municipality: str | None
    beneficiary: str
    status: str
    amount_krw: int | None
    deadline: date | None  # the day the offer ends (application closes or the entitlement ends)
    days_left: int | None
    deadlines: list[DeadlineView] = []  # every dated deadline with its kind (a retroactive window closes no case)
    missing: list[str]
    assigned_to: str | None
    info_requested: bool


class QueueItem(CaseSummary):
    model_config = ConfigDict(frozen=True)

    data_subject: str  # unmasked, for the audit log only: never shown
    created_at: datetime


@dataclass(frozen=True)
class TimelineEntry:
    at: datetime
    what: str
    detail: str


class CaseFile(BaseModel, Generic[Entry]):
    """What a reviewer reads about one case beyond its summary: who, what happened, and why it stands so.

    Why a base: the console's CaseDetail and the JSON API's CaseView carry the same file; only the timeline's
    entries differ (TimelineEntry here, plain strings in JSON).
    """

    citizen: dict[str, str]
    timeline: list[Entry]
    trace: list[dict[str, Any]]
    reason_ko: str
    reason_en: str
    legal_basis: str
    info_request: str | None
    rejection_reason: str | None


class CaseDetail(CaseFile[TimelineEntry]):
    model_config = ConfigDict(frozen=True)

    item: QueueItem
    colleagues: list[str] = []


def _scope_filter(query: Q, who: Principal, catalog: Catalog) -> Q:
    agencies = who.scopes.get("agencies", [])
    if "*" not in agencies:
        benefits = [b.id for b in catalog.benefits.values() if b.agency.id in agencies]
        query = query.where(EntitlementRow.benefit_id.in_(benefits))
    municipalities = who.scopes.get("municipalities", [])
    if "*" not in municipalities:
        if not municipalities:
            return query.where(False)  # type: ignore[arg-type]
        query = query.where(or_(*(HouseholdRow.municipality_code.startswith(p) for p in municipalities)))
    return query


def _base(who: Principal, catalog: Catalog) -> Select[EntitlementRow, HouseholdRow, ReviewCaseRow]:
    query = (
        select(EntitlementRow, HouseholdRow, ReviewCaseRow)
        .join(HouseholdRow, HouseholdRow.id == EntitlementRow.household_id)
        .outerjoin(ReviewCaseRow, ReviewCaseRow.entitlement_id == EntitlementRow.id)
    )
    return _scope_filter(query, who, catalog)


def queue(session: Session, who: Principal, catalog: Catalog, wanted: QueueFilter, today: date) -> list[QueueItem]:
    """Cases in scope, most urgent first: nearest deadline, then oldest."""
    query = _base(who, catalog)
    if wanted.status == "coverage_gap":
        # Information offers standing in for a municipality's missing grant row (Benefit.coverage_gap), whatever
        # their status: the families a table does not yet cover, by 시군구 (docs/rules-format.md, "Municipal tables").
        query = query.where(EntitlementRow.benefit_id.in_([b.id for b in catalog.benefits.values() if b.coverage_gap]))
    elif wanted.status == "info_requested":
        query = query.where(
            EntitlementRow.status == EntitlementStatus.PENDING_REVIEW.value,
            ReviewCaseRow.info_requested_at.is_not(None),
        )
    elif wanted.status in ("matched", "rejected"):
        # Decisions taken in review (the rules' own matches are not a caseworker's business here).
        query = query.where(EntitlementRow.status == wanted.status, ReviewCaseRow.entitlement_id.is_not(None))
    elif wanted.status != "all":
        query = query.where(EntitlementRow.status == EntitlementStatus.PENDING_REVIEW.value)
    else:
        query = query.where(
            or_(
                EntitlementRow.status == EntitlementStatus.PENDING_REVIEW.value,
                ReviewCaseRow.entitlement_id.is_not(None),
            )
        )
    if wanted.agency:
        query = query.where(
            EntitlementRow.benefit_id.in_([b.id for b in catalog.benefits.values() if b.agency.id == wanted.agency])
        )
    if wanted.municipality:
        query = query.where(HouseholdRow.municipality_code.startswith(wanted.municipality))
    if wanted.benefit:
        query = query.where(EntitlementRow.benefit_id == wanted.benefit)
    if wanted.deadline_before:
        query = query.where(EntitlementRow.deadline <= wanted.deadline_before)
    if wanted.assigned_to:
        query = query.where(ReviewCaseRow.assigned_to == wanted.assigned_to)
    query = query.order_by(
        EntitlementRow.deadline.is_(None), EntitlementRow.deadline, EntitlementRow.created_at, EntitlementRow.id
    ).limit(500)
    return [_item(e, h, c, who, catalog, today) for e, h, c in session.execute(query).all()]


def _item(
    e: EntitlementRow, h: HouseholdRow, c: ReviewCaseRow | None, who: Principal, catalog: Catalog, today: date
) -> QueueItem:
    benefit = catalog.benefits[e.benefit_id]
    return QueueItem(
        id=e.id,
        benefit_id=e.benefit_id,
        benefit_name=benefit.name["ko"],
        agency=benefit.agency.id,
        municipality=h.municipality_code,
        beneficiary=e.beneficiary_id if who.sees_personal_data else mask_id(e.beneficiary_id),
        data_subject=e.beneficiary_id,
        status=e.status,
        amount_krw=e.amount_krw,
        deadline=e.deadline,
        days_left=(e.deadline - today).days if e.deadline else None,
        deadlines=[DeadlineView.of(d, today) for d in e.dated_deadlines()],
        missing=list(e.missing),
        assigned_to=c.assigned_to if c else None,
        info_requested=bool(c and c.info_requested_at),
        created_at=e.created_at,
    )


def find(
    session: Session, who: Principal, catalog: Catalog, entitlement_id: str
) -> tuple[EntitlementRow, HouseholdRow]:
    if not _ID.fullmatch(entitlement_id):
        raise NotFound(entitlement_id)
    row = session.execute(_base(who, catalog).where(EntitlementRow.id == entitlement_id)).first()
    if row is None or row[0].benefit_id not in catalog.benefits:
        raise NotFound(entitlement_id)
    return row[0], row[1]


def detail(session: Session, who: Principal, catalog: Catalog, entitlement_id: str, today: date) -> CaseDetail:
    e, h = find(session, who, catalog, entitlement_id)
    case = session.get(ReviewCaseRow, e.id)
    benefit = catalog.benefits[e.benefit_id]
    person = session.get(CitizenRow, e.beneficiary_id)
    citizen = _citizen_summary(person, h, who)
    timeline = [
        TimelineEntry(
            p.processed_at, p.type, f"{p.source} · {p.event_id if who.sees_personal_data else mask_id(p.event_id)}"
        )
        for p in session.scalars(
            select(ProcessedEventRow)
            .where(ProcessedEventRow.household_id == h.id)
            .order_by(ProcessedEventRow.processed_at)
        )
    ]
    timeline.append(TimelineEntry(e.created_at, "entitlement.created", f"{e.eligibility} → {e.status}"))
    for action in session.scalars(
        select(ReviewActionRow).where(ReviewActionRow.entitlement_id == e.id).order_by(ReviewActionRow.id)
    ):
        text = action.note or ""
        if action.assignee:
            text = f"→ {action.assignee} {text}".strip()
        timeline.append(TimelineEntry(action.at, f"review.{action.action}", f"{action.actor}: {text}".rstrip(": ")))
    timeline.sort(key=lambda t: _aware(t.at))
    return CaseDetail(
        item=_item(e, h, case, who, catalog, today),
        citizen=citizen,
        timeline=timeline,
        trace=list(e.trace),
        reason_ko=e.reason_ko,
        reason_en=e.reason_en,
        legal_basis=benefit.legal_basis[0].ko if benefit.legal_basis else "",
        info_request=case.info_request if case else None,
        rejection_reason=case.rejection_reason if case else None,
        colleagues=[c.username for c in colleagues(session, who) if c.username != who.subject],
    )


def _aware(at: datetime) -> datetime:
    return at if at.tzinfo else at.replace(tzinfo=UTC)


def _citizen_summary(person: CitizenRow | None, h: HouseholdRow, who: Principal) -> dict[str, str]:
    full = who.sees_personal_data

    def known(value: object) -> str:
        if value is None:
            return "알 수 없음 (unknown)"
        return str(value) if full else "확인됨 (on record, masked)"

    summary = {
        "household": h.id if full else mask_id(h.id),
        "municipality": h.municipality_code or "알 수 없음 (unknown)",
        "resident_since": (str(h.resident_since) if full else masked_date(h.resident_since))
        if h.resident_since
        else "알 수 없음 (unknown)",
        "income_percentile": known(h.income_percentile),
        "livelihood_recipient": known(h.livelihood_recipient),
    }
    if person is not None:
        summary.update(
            {
                "person": person.id if full else mask_id(person.id),
                "role": person.role,
                "birth_date": (str(person.birth_date) if full else masked_date(person.birth_date))
                if person.birth_date
                else "알 수 없음 (unknown)",
                "disability_severity": known(person.disability_severity),
                "preferred_language": person.preferred_language,
            }
        )
    return summary


def _case(session: Session, entitlement_id: str, now: datetime) -> ReviewCaseRow:
    case = session.get(ReviewCaseRow, entitlement_id)
    if case is None:
        case = ReviewCaseRow(entitlement_id=entitlement_id, updated_at=now)
        session.add(case)
    case.updated_at = now
    return case


def _record(session: Session, who: Principal, e: EntitlementRow, verdict: rules.Verdict, now: datetime) -> None:
    """Write what a decision answered: the status change (through the lifecycle's gate) and the action on record."""
    if verdict.action is None:  # a repeated approval writes nothing
        return
    if verdict.new_status is not None:
        transitions.move(e, verdict.new_status, now)
    session.add(
        ReviewActionRow(
            entitlement_id=e.id,
            action=verdict.action.value,
            actor=who.subject,
            note=verdict.note,
            assignee=verdict.assignee,
            at=now,
        )
    )


@dataclass(frozen=True)
class Approval:
    notified: list[str]  # the recipients of its notices
    repeated: bool  # the entitlement was approved before: nothing was written


def approve(session: Session, who: Principal, catalog: Catalog, e: EntitlementRow, note: str | None) -> Approval:
    """pending_review → matched, and a notification in the outbox for the people the offer is addressed to.

    Idempotent: the entitlement identifies its approval (it is never pending review again), so approving it again
    (a resubmitted form, a retried request, two caseworkers at once) writes nothing and answers as the first time."""
    if session.get_bind().dialect.name == "postgresql":  # a concurrent approval waits here, then sees this one
        session.refresh(e, with_for_update=True)
    verdict = rules.approve(rules.Case(e.status, approved_before=_approved(session, e.id)), note)
    if verdict.repeated:
        return Approval(_approval_recipients(session, e.id), repeated=True)
    now = datetime.now(UTC)
    _case(session, e.id, now)
    _record(session, who, e, verdict, now)
    recipients = _recipients(session, e)
    benefit = catalog.benefits[e.benefit_id]
    for recipient in recipients:
        session.add(_approval_notification(session, benefit, e, recipient, now))
    return Approval(recipients, repeated=False)


def _approved(session: Session, entitlement_id: str) -> bool:
    return (
        session.scalars(
            select(ReviewActionRow.id).where(
                ReviewActionRow.entitlement_id == entitlement_id, ReviewActionRow.action == rules.ReviewAction.APPROVED
            )
        ).first()
        is not None
    )


def _approval_recipients(session: Session, entitlement_id: str) -> list[str]:
    return list(
        session.scalars(
            select(NotificationRow.recipient_id)
            .where(
                NotificationRow.event_source == ids.APPROVAL_SOURCE,
                NotificationRow.event_id == ids.approval_event_id(entitlement_id),
            )
            .order_by(NotificationRow.recipient_id)
        )
    )


def reject(session: Session, who: Principal, e: EntitlementRow, reason: str) -> None:
    verdict = rules.reject(rules.Case(e.status), reason)
    now = datetime.now(UTC)
    _case(session, e.id, now).rejection_reason = verdict.note
    _record(session, who, e, verdict, now)


def request_information(session: Session, who: Principal, e: EntitlementRow, what: str) -> None:
    verdict = rules.request_information(rules.Case(e.status), what)
    now = datetime.now(UTC)
    case = _case(session, e.id, now)
    case.info_requested_at, case.info_request = now, verdict.note
    _record(session, who, e, verdict, now)


def assign(session: Session, who: Principal, e: EntitlementRow, assignee: str) -> None:
    verdict = rules.assign(rules.Case(e.status), assignee, {c.username for c in colleagues(session, who)})
    now = datetime.now(UTC)
    _case(session, e.id, now).assigned_to = verdict.assignee
    _record(session, who, e, verdict, now)


def _recipients(session: Session, e: EntitlementRow) -> list[str]:
    """The beneficiary when an adult; for a child's or a household's benefit, the living adults of the household."""
    person = session.get(CitizenRow, e.beneficiary_id)
    if person is not None and person.role in ADULT_ROLES and person.deceased_on is None:
        return [person.id]
    adults = session.scalars(
        select(CitizenRow.id)
        .where(
            CitizenRow.household_id == e.household_id,
            CitizenRow.role.in_(ADULT_ROLES),
            CitizenRow.deceased_on.is_(None),
        )
        .order_by(CitizenRow.id)
    )
    return list(adults)


def _approval_notification(
    session: Session, benefit: Benefit, e: EntitlementRow, recipient: str, now: datetime
) -> NotificationRow:
    person = session.get(CitizenRow, recipient)
    language = template_languages(session, [recipient]).get(recipient) or language_of(
        person.preferred_language if person else "ko", easy_read=False
    )
    # Every dated deadline in the words of its kind (a retroactive window is no application deadline).
    texts = approval_notice(
        shared_templates(),
        benefit,
        e.amount_krw,
        e.payment,
        e.deadline,
        e.dated_deadlines(),
        language,
        today=now.astimezone(SEOUL).date(),
    )
    return NotificationRow(
        id=ids.approval_notice_id(e.id, recipient),
        recipient_id=recipient,
        household_id=e.household_id,
        # Its own event key: the birth's notification for this recipient already holds the original key.
        event_source=ids.APPROVAL_SOURCE,
        event_id=ids.approval_event_id(e.id),
        event_type=APPROVAL_TYPE,
        category=benefit.category,
        offer_ids=[e.id],
        language=language,
        # Nothing personal on the lock screen (the template's title and body name no benefit, amount or person).
        lock_screen_title=texts.lock_screen_title,
        lock_screen_body=texts.lock_screen_body,
        message_ko=texts.message_ko,
        message_en=texts.message_en,
        dispatch_status=DispatchStatus.PENDING,
        dispatch_attempts=0,
        created_at=now,
    )
