"""A citizen answers an offer: "I applied" and "not for me" (the app's buttons; any app may call them).

"I applied" is the citizen's own word, taken as the agency's `application.received` is: the offer becomes applied
through the lifecycle's gate, so its deadline reminders stop (the scheduler plans none for an applied offer and a
reminder already planned finds it applied and sends nothing) and the take-up funnel counts it. The agency's own
event, when it comes, finds it applied and changes nothing. "Not for me" keeps the offer (the right stands) and
records the citizen's word (beforeservice/citizen_app/tables.py).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, HTTPException, Request
from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from beforeservice.api.deps import CitizenDep as CurrentCitizen
from beforeservice.api.deps import catalog_of, sessions_of
from beforeservice.auth import own_citizen_id
from beforeservice.citizen_app.tables import OfferDeclineRow
from beforeservice.console.offers import CitizenOffer, _own_offer, _view
from entitlements.lifecycle import EntitlementStatus, IllegalTransition
from entitlements.persistence import transitions

router = APIRouter(tags=["citizens"])
_ANSWERS: dict[int | str, dict[str, Any]] = {
    401: {},
    403: {},
    404: {},
    409: {"description": "The offer can no longer be applied for"},
}


def mark_applied(session: Session, citizen_id: str, offer_id: str, now: datetime) -> None:
    row = _own_offer(session, citizen_id, offer_id)
    if row.status in (EntitlementStatus.APPLIED, EntitlementStatus.GRANTED):
        return  # told twice, or after the agency's own word: nothing changes
    try:
        transitions.move(row, EntitlementStatus.APPLIED, now)
    except IllegalTransition as exc:
        raise HTTPException(409, f"this offer is {row.status}: it can no longer be applied for") from exc


def mark_declined(session: Session, citizen_id: str, offer_id: str, now: datetime) -> None:
    _own_offer(session, citizen_id, offer_id)  # 404 unless it is the citizen's offer
    values = {"entitlement_id": offer_id, "citizen_id": citizen_id, "declined_at": now}
    insert = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    session.execute(insert(OfferDeclineRow).values(values).on_conflict_do_nothing())


def declined_offers(session: Session, citizen_id: str) -> set[str]:
    return set(session.scalars(select(OfferDeclineRow.entitlement_id).where(OfferDeclineRow.citizen_id == citizen_id)))


@router.post("/v1/citizens/{citizen_id}/offers/{offer_id}/applied", response_model=CitizenOffer, responses=_ANSWERS)
def applied(citizen_id: str, offer_id: str, who: CurrentCitizen, request: Request) -> CitizenOffer:
    """The citizen says they applied: the offer becomes applied and its reminders stop."""
    own_citizen_id(citizen_id, who)
    with sessions_of(request).begin() as session:
        mark_applied(session, citizen_id, offer_id, datetime.now(UTC))
        return _view(_own_offer(session, citizen_id, offer_id), catalog_of(request))


@router.post("/v1/citizens/{citizen_id}/offers/{offer_id}/declined", status_code=204, responses=_ANSWERS)
def declined(citizen_id: str, offer_id: str, who: CurrentCitizen, request: Request) -> None:
    """The citizen says the offer is not for them: recorded; the offer itself stays open."""
    own_citizen_id(citizen_id, who)
    with sessions_of(request).begin() as session:
        mark_declined(session, citizen_id, offer_id, datetime.now(UTC))
