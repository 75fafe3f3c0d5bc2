"""Birth registration events and registry seeds for tests."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import insert
from sqlalchemy.orm import Session, sessionmaker

from entitlements.persistence.tables import CitizenRow, HouseholdRow
from events.cloudevents import CloudEvent
from notifiers.tables import ConsentRow, DeviceRow


def birth_event(
    *,
    mother: str,
    father: str | None = None,
    child: str | None = None,
    birth_order: int = 2,
    municipality: str = "41110",
    born: str = "2024-03-01",
    registered: str = "2024-03-05",
    event_id: str | None = None,
) -> CloudEvent:
    child = child or f"c-{uuid.uuid4().hex[:10]}"
    parents = [{"id": mother, "role": "mother"}] + ([{"id": father, "role": "father"}] if father else [])
    return CloudEvent(
        id=event_id or str(uuid.uuid4()),
        source=f"/agencies/mois/registry/{municipality}",
        specversion="1.0",
        type="kr.go.mois.birth.registered",
        time=datetime(2024, 3, 5, 9, 30, tzinfo=UTC),
        subject=child,
        data={
            "child": {"id": child, "birth_date": born},
            "parents": parents,
            "birth_order": birth_order,
            "municipality_code": municipality,
            "registered_on": registered,
        },
    )


def seed_household(
    sessions: sessionmaker[Session], household: str, parents: list[str], municipality: str, resident_since: date | None
) -> None:
    now = datetime.now(UTC)
    with sessions.begin() as session:
        session.execute(
            insert(HouseholdRow),
            [
                {
                    "id": household,
                    "municipality_code": municipality,
                    "resident_since": resident_since,
                    "income_percentile": None,
                    "updated_at": now,
                }
            ],
        )
        session.execute(
            insert(CitizenRow),
            [
                {
                    "id": p,
                    "household_id": household,
                    "role": "parent",
                    "birth_date": None,
                    "birth_order": None,
                    "preferred_language": "ko",
                    "updated_at": now,
                }
                for p in parents
            ],
        )


def register_device(
    sessions: sessionmaker[Session], citizen: str, token: str, category: str = "childbirth_childcare"
) -> None:
    """A device plus the citizen's opt-in to push for the category (no consent, no push)."""
    now = datetime.now(UTC)
    with sessions.begin() as session:
        session.execute(
            insert(DeviceRow),
            [{"token": token, "citizen_id": citizen, "platform": "android", "last_refreshed_at": now}],
        )
        session.execute(
            insert(ConsentRow),
            [
                {
                    "citizen_id": citizen,
                    "category": category,
                    "channel": "push",
                    "text_version": "2024-01",
                    "granted_at": now,
                    "withdrawn_at": None,
                }
            ],
        )


def as_json(event: CloudEvent) -> dict[str, Any]:
    return event.model_dump(mode="json", exclude_none=True)
