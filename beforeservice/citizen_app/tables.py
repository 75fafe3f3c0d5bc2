"""What the citizens' app records itself: a citizen saying an offer is not for them.

Not a status of the entitlement (the lifecycle is the engine's law, entitlements/lifecycle.py): the offer stays
open, as the right stands, and the citizen's word is kept beside it for the app and the take-up figures.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import DateTime, String
from sqlalchemy.orm import Mapped, mapped_column

from entitlements.persistence.tables import Base


class OfferDeclineRow(Base):
    __tablename__ = "offer_declines"

    entitlement_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    citizen_id: Mapped[str] = mapped_column(String(80), primary_key=True)
    declined_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
