"""The daily expiry follows the kind of each deadline, on real databases: only an application that closed expires an
offer, an entitlement that ended ends it, and a retroactive window or a use-by date never closes it."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from sqlalchemy.orm import Session, sessionmaker

from beforeservice.scheduler import expire_offers
from entitlements.persistence.tables import EntitlementRow
from tests.support.notification_seeds import offer, seed_citizen

pytestmark = pytest.mark.integration
LAST_DAY = date(2026, 4, 29)  # day 60 counting the birth day of a child born 2026-03-01


def statuses(sessions: sessionmaker[Session], ids: dict[str, str]) -> dict[str, str]:
    with sessions() as session:
        return {name: session.get(EntitlementRow, i).status for name, i in ids.items()}  # type: ignore[union-attr]


def test_each_kind_on_the_day_of_its_deadline_and_the_day_after(sessions: sessionmaker[Session]) -> None:
    seed_citizen(sessions, "mom")
    ids = {
        "application_closes": offer(
            sessions, "mom", benefit="suwon_birth_grant", deadline=LAST_DAY, deadline_kind="application_closes"
        ),
        "dated_before_kinds": offer(sessions, "mom", benefit="yongin_birth_grant", deadline=LAST_DAY),
        "retroactive_window": offer(
            sessions, "mom", benefit="parental_benefit", payment="monthly", retroactive_until=LAST_DAY
        ),
        "retroactive_and_allowance": offer(
            sessions, "mom", benefit="child_allowance", payment="monthly", retroactive_until=LAST_DAY, status="viewed"
        ),
        "use_by_and_entitlement_ends": offer(
            sessions, "mom", use_by=LAST_DAY, deadline=LAST_DAY, deadline_kind="entitlement_ends"
        ),
        "entitlement_ends_pending": offer(
            sessions,
            "mom",
            benefit="kepco_birth_household_discount",
            deadline=LAST_DAY,
            deadline_kind="entitlement_ends",
            status="pending_review",
        ),
        "entitlement_ends_granted": offer(
            sessions,
            "mom",
            benefit="kepco_birth_household_discount",
            deadline=LAST_DAY,
            deadline_kind="entitlement_ends",
            status="granted",
        ),
        "application_closes_applied": offer(
            sessions,
            "mom",
            benefit="suwon_birth_grant",
            deadline=LAST_DAY,
            deadline_kind="application_closes",
            status="applied",
        ),
    }
    before = statuses(sessions, ids)

    assert expire_offers(sessions, LAST_DAY) == 0  # the last day itself: everything still stands
    assert statuses(sessions, ids) == before

    assert expire_offers(sessions, LAST_DAY + timedelta(days=1)) == 4
    assert statuses(sessions, ids) == {
        "application_closes": "expired",
        "dated_before_kinds": "expired",
        "retroactive_window": "matched",  # the right stands on day 61: only back-pay to the birth month is lost
        "retroactive_and_allowance": "viewed",
        "use_by_and_entitlement_ends": "ended",
        "entitlement_ends_pending": "ended",
        "entitlement_ends_granted": "granted",  # a grant stays a grant; its end date is shown
        "application_closes_applied": "applied",
    }
    assert expire_offers(sessions, LAST_DAY + timedelta(days=400)) == 0  # nothing more, however late
