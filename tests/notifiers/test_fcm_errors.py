"""Each FCM error code, scripted on the local FCM server, through the dispatcher and the real firebase-admin."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from notifiers.fcm.sender import FcmPushSender
from notifiers.outbox import aware, dispatch_pending
from notifiers.policy import DispatchPolicy
from notifiers.tables import DeliveryRow
from tests.support.fcm_server import LocalFcmServer
from tests.support.notification_seeds import T0, notification, offer, opt_in, row, seed_citizen

pytestmark = pytest.mark.integration

DEVICE = "tok"  # citizen c1's phone


def pending_offer(sessions: sessionmaker[Session], tokens: Sequence[str] = (DEVICE,)) -> str:
    """Citizen c1 opted in to pushes on the devices ``tokens``, and the id of one notification of one offer
    waiting in the outbox for them."""
    seed_citizen(sessions, "c1")
    opt_in(sessions, "c1", list(tokens))
    return notification(sessions, "c1", [offer(sessions, "c1")])


def offer_to_failing_device(
    sessions: sessionmaker[Session], fcm_server: LocalFcmServer, status: int, code: str, **failure: int | None
) -> str:
    """``pending_offer`` to ``DEVICE`` alone, which FCM answers with ``status`` / ``code`` (``failure``: how many
    times, and a Retry-After, as ``LocalFcmServer.fail_token`` takes them)."""
    notification_id = pending_offer(sessions)
    fcm_server.fail_token(DEVICE, status, code, **failure)
    return notification_id


@pytest.mark.parametrize(
    ("status", "code", "retry_after"),
    [(429, "QUOTA_EXCEEDED", 2), (500, "INTERNAL", None), (503, "UNAVAILABLE", None)],
)
def test_transient_errors_are_retried_with_backoff_and_then_delivered(
    status: int,
    code: str,
    retry_after: int | None,
    sessions: sessionmaker[Session],
    sender: FcmPushSender,
    fcm_server: LocalFcmServer,
    backoff_sleeps: list[float],
) -> None:
    n = offer_to_failing_device(sessions, fcm_server, status, code, times=2, retry_after=retry_after)

    assert dispatch_pending(sessions, sender, now=T0).pushed == 1

    assert fcm_server.attempts(DEVICE) == 3 and len(fcm_server.received) == 1
    assert len(backoff_sleeps) == 2
    if retry_after is not None:
        assert min(backoff_sleeps) >= retry_after  # Retry-After honoured
    else:
        assert 0.1 <= backoff_sleeps[0] <= 0.2 < backoff_sleeps[1] <= 0.4  # jittered, exponential
    assert row(sessions, n).dispatch_status == "sent"


@pytest.mark.parametrize(("status", "code"), [(400, "INVALID_ARGUMENT"), (403, "SENDER_ID_MISMATCH")])
def test_permanent_errors_are_never_retried(
    status: int,
    code: str,
    sessions: sessionmaker[Session],
    sender: FcmPushSender,
    fcm_server: LocalFcmServer,
    backoff_sleeps: list[float],
) -> None:
    n = offer_to_failing_device(sessions, fcm_server, status, code)

    result = dispatch_pending(sessions, sender, now=T0)
    dispatch_pending(sessions, sender, now=T0)  # and not by a later tick either

    assert result.push_failed == 1 and fcm_server.attempts(DEVICE) == 1 and backoff_sleeps == []
    assert row(sessions, n).dispatch_status == "failed"
    with sessions() as session:
        assert session.scalars(select(DeliveryRow.error_code)).all() == [code]


def test_an_outage_beyond_the_senders_retries_is_held_and_resent_with_the_same_collapse_key(
    sessions: sessionmaker[Session], sender: FcmPushSender, fcm_server: LocalFcmServer
) -> None:
    # Failing more often than the sender tries in one send(): it gives up after 4 attempts.
    n = offer_to_failing_device(sessions, fcm_server, 503, "UNAVAILABLE", times=4)

    assert dispatch_pending(sessions, sender, now=T0).held == 1
    held = row(sessions, n)
    assert held.hold_reason == "retry" and held.dispatch_status == "held"
    assert dispatch_pending(sessions, sender, now=T0 + timedelta(minutes=2)).pushed == 1
    assert [m["android"]["collapse_key"] for m in fcm_server.received] == [f"n-{n}"]


def test_fcm_down_for_hours_keeps_the_push_waiting_and_gives_it_up_only_after_the_retry_window(
    sessions: sessionmaker[Session], sender: FcmPushSender, fcm_server: LocalFcmServer
) -> None:
    n = offer_to_failing_device(sessions, fcm_server, 503, "UNAVAILABLE", times=None)  # down until further notice
    policy = DispatchPolicy()  # re-sends after 2, 4, 8, 16, 30, 30… minutes, for 24 hours
    waits, now = [], T0
    for _ in range(8):  # more failed tries than any fixed count of attempts used to allow (5)
        assert dispatch_pending(sessions, sender, policy=policy, now=now).held == 1
        held = row(sessions, n)
        assert (held.dispatch_status, held.hold_reason) == ("held", "retry") and held.not_before is not None
        waits.append(aware(held.not_before) - now)
        now = aware(held.not_before)
    assert waits[:6] == [timedelta(minutes=m) for m in (2, 4, 8, 16, 30, 30)]

    fcm_server.fail_token(DEVICE, 503, "UNAVAILABLE", times=0)  # back after ~3 hours: delivered, once
    assert dispatch_pending(sessions, sender, policy=policy, now=now).pushed == 1
    assert len(fcm_server.received) == 1 and row(sessions, n).dispatch_status == "sent"


def test_a_push_fcm_cannot_take_for_longer_than_the_retry_window_fails(
    sessions: sessionmaker[Session], sender: FcmPushSender, fcm_server: LocalFcmServer
) -> None:
    n = offer_to_failing_device(sessions, fcm_server, 503, "UNAVAILABLE", times=None)
    policy = DispatchPolicy()

    assert dispatch_pending(sessions, sender, policy=policy, now=T0 + timedelta(hours=23)).held == 1
    assert dispatch_pending(sessions, sender, policy=policy, now=T0 + timedelta(hours=25)).push_failed == 1
    assert row(sessions, n).dispatch_status == "failed"


def test_600_messages_of_one_tick_all_reach_fcm(
    sessions: sessionmaker[Session], sender: FcmPushSender, fcm_server: LocalFcmServer
) -> None:
    pending_offer(sessions, [f"tok-{i}" for i in range(600)])  # one citizen, 600 devices: 600 messages

    result = dispatch_pending(sessions, sender, now=T0)

    assert result.messages == 600 and len(fcm_server.received) == 600
    assert len({m["token"] for m in fcm_server.received}) == 600
