"""`GET /v1/citizens/{citizen_id}/inbox`: the citizen's notifications, each with its offers and the reasons."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from fastapi import APIRouter
from pydantic import BaseModel
from sqlalchemy import select

from beforeservice.api.deps import CatalogDep, CitizenDep, SessionsDep, SettingsDep
from beforeservice.auth import own_citizen_id
from beforeservice.console.offers import OfferExplanation
from entitlements.persistence.tables import EntitlementRow
from notifiers.inbox import visible_notifications
from rules_engine.catalog import Catalog

router = APIRouter()


class Offer(OfferExplanation):
    apply_url: str
    legal_basis: str
    source: str


class InboxEntry(BaseModel):
    id: str
    event_type: str
    title: str
    body: str
    message_ko: str
    message_en: str
    created_at: str
    offers: list[Offer]


class Inbox(BaseModel):
    citizen_id: str
    notifications: list[InboxEntry]


@router.get("/v1/citizens/{citizen_id}/inbox", response_model=Inbox)
def inbox(citizen_id: str, who: CitizenDep, sessions: SessionsDep, catalog: CatalogDep, settings: SettingsDep) -> Inbox:
    """The citizen's notifications, newest first, each with its offers and the reasons for them."""
    own_citizen_id(citizen_id, who)
    cooling_off = timedelta(hours=settings.bereavement_cooling_off_hours)
    with sessions() as session:
        rows = visible_notifications(session, citizen_id, datetime.now(UTC), cooling_off)
        offer_ids = [o for row in rows for o in row.offer_ids]
        offers = {e.id: e for e in session.scalars(select(EntitlementRow).where(EntitlementRow.id.in_(offer_ids)))}
    return Inbox(
        citizen_id=citizen_id,
        notifications=[
            InboxEntry(
                id=row.id,
                event_type=row.event_type,
                title=row.lock_screen_title,
                body=row.lock_screen_body,
                message_ko=row.message_ko,
                message_en=row.message_en,
                created_at=row.created_at.isoformat(),
                offers=[_offer(offers[i], catalog) for i in row.offer_ids if i in offers],
            )
            for row in rows
        ],
    )


def _offer(row: EntitlementRow, catalog: Catalog) -> Offer:
    benefit = catalog.benefits[row.benefit_id]
    return Offer.of(
        row,
        benefit,
        "en",
        apply_url=benefit.apply_url,
        legal_basis=benefit.legal_basis[0].ko,
        source=benefit.source,
    )
