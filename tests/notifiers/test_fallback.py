"""Fallback of high-value offers: push, then KakaoTalk Alimtalk, then SMS (as consented), then a caseworker —
through the real HttpMessageGateway against the local provider."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, time, timedelta

import pytest
from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from entitlements.persistence.tables import EntitlementRow
from notifiers.fallback import FallbackResult, escalate_unopened, mark_opened
from notifiers.fcm.sender import FcmPushSender
from notifiers.gateway import HttpMessageGateway
from notifiers.outbox import aware, dispatch_pending
from notifiers.policy import DispatchPolicy
from notifiers.preferences import set_preferences
from notifiers.rendering import shared_templates
from notifiers.tables import DeliveryRow, OutreachTaskRow
from tests.support.fcm_server import LocalFcmServer
from tests.support.message_gateway_server import API_KEY, LocalMessageGateway
from tests.support.notification_seeds import T0, notification, offer, opt_in, row, seed_citizen

pytestmark = pytest.mark.integration
POLICY = DispatchPolicy(high_value_krw=1_000_000, fallback_after=timedelta(hours=48))
LATER = T0 + timedelta(hours=48)


@pytest.fixture
def gateway(gateway_server: LocalMessageGateway) -> Iterator[HttpMessageGateway]:
    client = HttpMessageGateway(gateway_server.url, API_KEY)
    yield client
    client.close()


def escalate(
    sessions: sessionmaker[Session], gateway: HttpMessageGateway | None, now: datetime = LATER
) -> FallbackResult:
    return escalate_unopened(sessions, gateway, shared_templates(), POLICY, now)


def tasks(sessions: sessionmaker[Session]) -> list[OutreachTaskRow]:
    with sessions() as session:
        return list(session.scalars(select(OutreachTaskRow)))


def test_unopened_high_value_offer_goes_kakao_then_sms_then_to_a_caseworker(
    sessions: sessionmaker[Session],
    sender: FcmPushSender,
    fcm_server: LocalFcmServer,
    gateway: HttpMessageGateway,
    gateway_server: LocalMessageGateway,
) -> None:
    seed_citizen(sessions, "c1")
    opt_in(sessions, "c1", ["tok"], channels=("push", "kakao", "sms"))
    n = notification(sessions, "c1", [offer(sessions, "c1", amount=2_000_000)])
    dispatch_pending(sessions, sender, policy=POLICY, now=T0)
    assert len(fcm_server.received) == 1

    assert escalate(sessions, gateway, now=LATER - timedelta(minutes=1)).due == 0  # not yet
    assert escalate(sessions, gateway).texted == 1
    assert [m["channel"] for m in gateway_server.received] == ["kakao"]
    kakao = gateway_server.received[0]
    assert kakao["recipient_ref"] == "c1" and kakao["idempotency_key"] == f"{n}:kakao"
    assert "https://beforeservice.example/inbox" in kakao["text"] and "2,000,000" not in kakao["text"]

    assert escalate(sessions, gateway, now=LATER + timedelta(hours=48)).texted == 1
    assert [m["channel"] for m in gateway_server.received] == ["kakao", "sms"]

    assert escalate(sessions, gateway, now=LATER + timedelta(hours=96)).outreach == 1
    [task] = tasks(sessions)
    assert (task.citizen_id, task.notification_id, task.status, task.assigned_to) == ("c1", n, "open", None)
    assert "push, kakao, sms" in task.reason and task.worth_krw == 2_000_000
    assert row(sessions, n).escalate_at is None
    assert escalate(sessions, gateway, now=LATER + timedelta(days=30)).due == 0  # one task, once


def test_no_kakao_account_falls_through_to_sms_at_once(
    sessions: sessionmaker[Session], gateway: HttpMessageGateway, gateway_server: LocalMessageGateway
) -> None:
    seed_citizen(sessions, "c1")
    opt_in(sessions, "c1", [], channels=("kakao", "sms"))
    n = notification(sessions, "c1", [offer(sessions, "c1", amount=1_500_000)])
    dispatch_pending(sessions, None, policy=POLICY, now=T0)  # no push at all: the fallback starts now
    assert row(sessions, n).escalate_at is not None
    gateway_server.refuse("kakao", "c1", 404, "NOT_A_KAKAO_USER")

    assert escalate(sessions, gateway, now=T0 + timedelta(minutes=1)).texted == 1

    assert [m["channel"] for m in gateway_server.received] == ["sms"]
    with sessions() as session:
        attempts = session.execute(select(DeliveryRow.channel, DeliveryRow.accepted).order_by(DeliveryRow.id)).all()
    assert [tuple(a) for a in attempts] == [("kakao", False), ("sms", True)]


def test_provider_outage_retries_the_same_channel_later(
    sessions: sessionmaker[Session], gateway: HttpMessageGateway, gateway_server: LocalMessageGateway
) -> None:
    seed_citizen(sessions, "c1")
    opt_in(sessions, "c1", [], channels=("kakao",))
    n = notification(sessions, "c1", [offer(sessions, "c1", amount=1_500_000)])
    dispatch_pending(sessions, None, policy=POLICY, now=T0)
    gateway_server.refuse("kakao", "c1", 503, "UNAVAILABLE")

    result = escalate(sessions, gateway, now=T0)

    assert result.deferred == 1 and tasks(sessions) == []
    assert row(sessions, n).channel == "inbox"


def test_people_push_cannot_reach_get_a_caseworker(sessions: sessionmaker[Session]) -> None:
    seed_citizen(sessions, "grandma")  # no smartphone, no consents, no provider configured
    n = notification(sessions, "grandma", [offer(sessions, "grandma", amount=300_000, payment="monthly")])
    dispatch_pending(sessions, None, policy=POLICY, now=T0)

    assert escalate(sessions, None, now=T0).outreach == 1
    [task] = tasks(sessions)
    assert task.notification_id == n and task.reason.endswith("tried: inbox")


def test_opened_applied_or_low_value_offers_are_not_chased(
    sessions: sessionmaker[Session], gateway: HttpMessageGateway, gateway_server: LocalMessageGateway
) -> None:
    for citizen in ("opened", "applied", "small"):
        seed_citizen(sessions, citizen)
        opt_in(sessions, citizen, [], channels=("sms",))
    opened = notification(sessions, "opened", [offer(sessions, "opened", amount=5_000_000)])
    applied_offer = offer(sessions, "applied", amount=5_000_000)
    notification(sessions, "applied", [applied_offer])
    small = notification(sessions, "small", [offer(sessions, "small", amount=50_000)])
    dispatch_pending(sessions, None, policy=POLICY, now=T0)
    with sessions.begin() as session:
        assert mark_opened(session, "opened", opened, T0)
        assert not mark_opened(session, "someone-else", opened, T0)  # only the recipient opens it
        session.execute(update(EntitlementRow).where(EntitlementRow.id == applied_offer).values(status="applied"))

    result = escalate(sessions, gateway, now=T0 + timedelta(minutes=1))

    assert result.settled == 1 and result.texted == 0  # the opened one is no longer due at all
    assert gateway_server.received == [] and tasks(sessions) == []
    assert row(sessions, small).escalate_at is None


def test_texts_wait_for_the_morning(
    sessions: sessionmaker[Session], gateway: HttpMessageGateway, gateway_server: LocalMessageGateway
) -> None:
    seed_citizen(sessions, "c1")
    opt_in(sessions, "c1", [], channels=("sms",))
    n = notification(sessions, "c1", [offer(sessions, "c1", amount=1_500_000)])
    night = T0 + timedelta(hours=12)
    dispatch_pending(sessions, None, policy=POLICY, now=night)

    assert escalate(sessions, gateway, now=night).deferred == 1
    assert gateway_server.received == []
    assert row(sessions, n).escalate_at is not None


def test_texts_wait_for_the_end_of_the_citizen_s_own_quiet_hours(
    sessions: sessionmaker[Session], gateway: HttpMessageGateway, gateway_server: LocalMessageGateway
) -> None:
    seed_citizen(sessions, "c1")
    opt_in(sessions, "c1", [], channels=("sms",))
    with sessions.begin() as session:  # asleep 09:00-17:00 Seoul time; LATER is 10:00 there
        set_preferences(session, "c1", "ko", False, T0, (time(9), time(17)))
    n = notification(sessions, "c1", [offer(sessions, "c1", amount=1_500_000)])
    dispatch_pending(sessions, None, policy=POLICY, now=T0)

    assert escalate(sessions, gateway).deferred == 1
    assert gateway_server.received == []
    waiting = row(sessions, n).escalate_at
    assert waiting is not None and aware(waiting) == LATER + timedelta(hours=7)  # 17:00 Seoul
    assert escalate(sessions, gateway, now=LATER + timedelta(hours=7)).deferred == 0
    assert len(gateway_server.received) == 1
