"""The citizen's own offers: plain-language reasons, marking one viewed, and the way to apply.

A citizen's offers are the entitlements they are the beneficiary of, plus those their notifications carried (a
child's allowance is offered to the parents). Anything else is answered 404, like another citizen's id.
"""

from __future__ import annotations

from contextlib import suppress
from datetime import UTC, date, datetime
from typing import Any, Literal, Self

from fastapi import APIRouter, HTTPException
from fastapi.responses import RedirectResponse
from pydantic import BaseModel
from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from beforeservice.api.deps import CatalogDep, CitizenDep, SessionsDep
from beforeservice.auth import own_citizen_id
from entitlements.lifecycle import EntitlementStatus, IllegalTransition
from entitlements.persistence import transitions
from entitlements.persistence.tables import EntitlementRow
from notifiers.tables import NotificationRow
from notifiers.timing import SEOUL
from rules_engine.catalog import Benefit, Catalog
from rules_engine.deadlines import DatedDeadline

router = APIRouter(tags=["citizens"])
# What a citizen sees: undecided, withdrawn and refused-in-review entitlements are not offers.
VISIBLE = ("matched", "notified", "viewed", "applied", "granted", "expired", "ended")


class DeadlineView(BaseModel):
    """One dated deadline of an offer, with its kind and what it means today (rules_engine/deadlines.py)."""

    kind: str  # application_closes | retroactive_window | use_by | entitlement_ends
    last_day: date
    passed: bool
    meaning_ko: str
    meaning_en: str

    @classmethod
    def of(cls, deadline: DatedDeadline, today: date) -> DeadlineView:
        words = deadline.words(today)
        return cls(
            kind=deadline.kind.value,
            last_day=deadline.last_day,
            passed=deadline.passed(today),
            meaning_ko=words["ko"],
            meaning_en=words["en"],
        )


def seoul_today() -> date:
    return datetime.now(SEOUL).date()


class OfferExplanation(BaseModel):
    """What is offered and why, as a citizen reads it: the entitlement row joined with its catalog benefit.

    Why a base: the inbox's offers (beforeservice.api.Offer) and the offers endpoint's (CitizenOffer) tell the
    same facts in the same words; one definition, filled in one place, keeps the two from drifting apart.
    """

    benefit_id: str
    name_ko: str
    name_en: str
    agency: str
    amount_krw: int | None
    payment: str
    deadline: date | None  # the day the offer ends (application closes or the entitlement ends), if any
    deadlines: list[DeadlineView]  # every dated deadline with its kind; a passed retroactive window keeps it open
    status: str
    reason_ko: str
    reason_en: str

    @classmethod
    def of(cls, row: EntitlementRow, benefit: Benefit, agency_language: Literal["ko", "en"], **more: Any) -> Self:
        """The shared fields from the row and its benefit; `more` fills the subclass's own fields."""
        return cls(
            benefit_id=row.benefit_id,
            name_ko=benefit.name["ko"],
            name_en=benefit.name["en"],
            agency=benefit.agency.name[agency_language],
            amount_krw=row.amount_krw,
            payment=row.payment,
            deadline=row.deadline,
            deadlines=[DeadlineView.of(d, seoul_today()) for d in row.dated_deadlines()],
            status=row.status,
            reason_ko=row.reason_ko,
            reason_en=row.reason_en,
            **more,
        )


class _OfferId(BaseModel):
    id: str


# _OfferId listed last so that pydantic (which orders fields base-most first) keeps `id` the first JSON field.
class CitizenOffer(OfferExplanation, _OfferId):
    how_to_apply_ko: str
    how_to_apply_en: str
    apply_url: str
    legal_basis: str


class Offers(BaseModel):
    citizen_id: str
    offers: list[CitizenOffer]


def _offer_ids(session: Session, citizen_id: str) -> set[str]:
    carried = session.scalars(select(NotificationRow.offer_ids).where(NotificationRow.recipient_id == citizen_id))
    return {i for ids in carried for i in ids}


def _own_offers(session: Session, citizen_id: str) -> list[EntitlementRow]:
    carried = _offer_ids(session, citizen_id)
    query = select(EntitlementRow).where(
        or_(EntitlementRow.beneficiary_id == citizen_id, EntitlementRow.id.in_(carried)),
        EntitlementRow.status.in_(VISIBLE),
    )
    return list(session.scalars(query.order_by(EntitlementRow.deadline.is_(None), EntitlementRow.deadline)))


def _own_offer(session: Session, citizen_id: str, offer_id: str) -> EntitlementRow:
    row = next((r for r in _own_offers(session, citizen_id) if r.id == offer_id), None)
    if row is None:
        raise HTTPException(404, "not found")
    return row


def _view(row: EntitlementRow, catalog: Catalog) -> CitizenOffer:
    benefit = catalog.benefits[row.benefit_id]
    return CitizenOffer.of(
        row,
        benefit,
        "ko",
        id=row.id,
        how_to_apply_ko=benefit.apply_how.get("ko", ""),
        how_to_apply_en=benefit.apply_how.get("en", ""),
        apply_url=benefit.apply_url,
        legal_basis=benefit.legal_basis[0].ko if benefit.legal_basis else "",
    )


@router.get("/v1/citizens/{citizen_id}/offers", response_model=Offers, responses={401: {}, 403: {}, 404: {}})
def offers(citizen_id: str, who: CitizenDep, sessions: SessionsDep, catalog: CatalogDep) -> Offers:
    """The citizen's offers, nearest deadline first, each with the reasons in Korean and English."""
    own_citizen_id(citizen_id, who)
    with sessions() as session:
        rows = [r for r in _own_offers(session, citizen_id) if r.benefit_id in catalog.benefits]
    return Offers(citizen_id=citizen_id, offers=[_view(r, catalog) for r in rows])


@router.post(
    "/v1/citizens/{citizen_id}/offers/{offer_id}/viewed",
    response_model=CitizenOffer,
    responses={401: {}, 403: {}, 404: {}},
)
def mark_viewed(
    citizen_id: str, offer_id: str, who: CitizenDep, sessions: SessionsDep, catalog: CatalogDep
) -> CitizenOffer:
    """The citizen opened the offer: status → viewed (if it was matched or notified), notifications marked viewed."""
    own_citizen_id(citizen_id, who)
    now = datetime.now(UTC)
    with sessions.begin() as session:
        row = _own_offer(session, citizen_id, offer_id)
        with suppress(IllegalTransition):  # already viewed, applied or beyond: opening it again changes nothing
            transitions.move(row, EntitlementStatus.VIEWED, now)
        for notification in session.scalars(
            select(NotificationRow).where(
                NotificationRow.recipient_id == citizen_id, NotificationRow.viewed_at.is_(None)
            )
        ):
            if offer_id in notification.offer_ids:
                notification.viewed_at = now
        return _view(row, catalog)


@router.get(
    "/v1/citizens/{citizen_id}/offers/{offer_id}/apply",
    status_code=303,
    response_class=RedirectResponse,
    responses={303: {"description": "To the agency's application page"}, 401: {}, 403: {}, 404: {}},
)
def apply_link(
    citizen_id: str, offer_id: str, who: CitizenDep, sessions: SessionsDep, catalog: CatalogDep
) -> RedirectResponse:
    """Where to apply for this offer (the agency's own service; applying is not done here)."""
    own_citizen_id(citizen_id, who)
    with sessions() as session:
        row = _own_offer(session, citizen_id, offer_id)
    return RedirectResponse(catalog.benefits[row.benefit_id].apply_url, status_code=303)
