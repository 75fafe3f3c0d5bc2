"""The in-app inbox keeps the same tact as the push: a bereavement notice waits out the cooling-off."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy.orm import Session, sessionmaker

from notifiers.inbox import visible_notifications
from tests.support.notification_seeds import T0, notification, seed_citizen

pytestmark = pytest.mark.integration

COOLING_OFF = timedelta(hours=72)


def test_a_bereavement_notice_appears_only_after_the_cooling_off(sessions: sessionmaker[Session]) -> None:
    seed_citizen(sessions, "kin")
    birth = notification(sessions, "kin", [], created_at=T0 - timedelta(days=30))
    bereavement = notification(
        sessions, "kin", [], category="bereavement", event_type="kr.go.mois.death.registered", created_at=T0
    )
    with sessions() as session:
        early = [n.id for n in visible_notifications(session, "kin", T0 + timedelta(hours=1), COOLING_OFF)]
        later = [n.id for n in visible_notifications(session, "kin", T0 + COOLING_OFF, COOLING_OFF)]
        other = visible_notifications(session, "someone-else", T0 + COOLING_OFF, COOLING_OFF)
    assert early == [birth]
    assert later == [bereavement, birth]  # newest first
    assert other == []
