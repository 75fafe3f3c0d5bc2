"""The dispatcher on real parts: SQLite and PostgreSQL, the real firebase-admin client, the local FCM server."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from entitlements.persistence.tables import CitizenRow, EntitlementRow
from notifiers import consent, devices
from notifiers.fcm.sender import FcmPushSender
from notifiers.outbox import DispatchResult, dispatch_pending
from notifiers.policy import DispatchPolicy
from notifiers.preferences import set_preferences
from notifiers.rendering import shared_templates
from notifiers.tables import DeviceRow, NotificationRow
from notifiers.tact import on_death
from tests.support.fcm_server import LocalFcmServer
from tests.support.notification_seeds import T0, notification, offer, opt_in, row, seed_citizen

pytestmark = pytest.mark.integration
NIGHT = T0 + timedelta(hours=12)  # 22:00 in Seoul


def dispatch(
    sessions: sessionmaker[Session], sender: FcmPushSender | None, now: datetime = T0, **policy: Any
) -> DispatchResult:
    return dispatch_pending(
        sessions,
        sender,
        policy=DispatchPolicy(**policy),
        templates=shared_templates(),
        now=now,
    )


def test_without_consent_nothing_is_pushed_and_the_offer_waits_in_the_inbox(
    sessions: sessionmaker[Session], sender: FcmPushSender, fcm_server: LocalFcmServer
) -> None:
    seed_citizen(sessions, "c1")
    with sessions.begin() as session:
        devices.register(session, "c1", "tok-c1", "android", T0)  # a device, but no opt-in
        consent.grant(session, "c1", "housing", "push", "2026-01", T0)  # consent to another category only
    n = notification(sessions, "c1", [offer(sessions, "c1")])

    result = dispatch(sessions, sender)

    assert result.inbox_only == 1 and result.pushed == 0
    assert fcm_server.received == []
    assert row(sessions, n).dispatch_status == "inbox_only"


def test_withdrawal_takes_effect_before_the_next_send(
    sessions: sessionmaker[Session], sender: FcmPushSender, fcm_server: LocalFcmServer
) -> None:
    seed_citizen(sessions, "c1")
    opt_in(sessions, "c1", ["tok-c1"])
    first = notification(sessions, "c1", [offer(sessions, "c1")])
    assert dispatch(sessions, sender).pushed == 1
    with sessions.begin() as session:
        assert consent.withdraw(session, "c1", "childbirth_childcare", "push", T0 + timedelta(minutes=1))
    second = notification(sessions, "c1", [offer(sessions, "c1")], created_at=T0 + timedelta(minutes=2))

    dispatch(sessions, sender, now=T0 + timedelta(minutes=3))

    assert [m["data"]["notification_id"] for m in fcm_server.received] == [first]
    assert row(sessions, second).dispatch_status == "inbox_only"
    with sessions() as session:
        [current] = consent.consents_of(session, "c1")
        assert current.withdrawn_at is not None and current.text_version == "2026-01"


def test_push_is_private_with_a_stable_collapse_key_and_ttl_to_every_device(
    sessions: sessionmaker[Session], sender: FcmPushSender, fcm_server: LocalFcmServer
) -> None:
    seed_citizen(sessions, "c1")
    opt_in(sessions, "c1", ["phone", "tablet"])
    n = notification(sessions, "c1", [offer(sessions, "c1")])

    assert dispatch(sessions, sender).pushed == 1

    assert sorted(m["token"] for m in fcm_server.received) == ["phone", "tablet"]
    for message in fcm_server.received:
        assert message["android"]["collapse_key"] == f"n-{n}"
        assert message["android"]["notification"]["tag"] == f"n-{n}"
        assert message["android"]["notification"]["visibility"] == "PRIVATE"
        assert message["android"]["ttl"].endswith("s") and message["apns"]["headers"]["apns-collapse-id"] == f"n-{n}"
        assert message["data"] == {"notification_id": n, "kind": "offers"}
    assert row(sessions, n).collapse_key == f"n-{n}"


def test_quiet_hours_hold_non_urgent_pushes_until_eight_but_not_urgent_ones(
    sessions: sessionmaker[Session], sender: FcmPushSender, fcm_server: LocalFcmServer
) -> None:
    seed_citizen(sessions, "c1")
    opt_in(sessions, "c1", ["tok-c1"])
    calm = notification(sessions, "c1", [offer(sessions, "c1", deadline=date(2026, 6, 1))])
    pressing = notification(sessions, "c1", [offer(sessions, "c1", deadline=date(2026, 3, 13))])

    result = dispatch(sessions, sender, now=NIGHT)

    assert result.held == 1 and result.pushed == 1
    assert [m["data"]["notification_id"] for m in fcm_server.received] == [pressing]
    held = row(sessions, calm)
    assert held.dispatch_status == "held" and held.hold_reason == "quiet_hours"
    morning = datetime(2026, 3, 10, 23, 0, tzinfo=T0.tzinfo)  # 08:00 on the 11th in Seoul
    assert held.not_before is not None and held.not_before.replace(tzinfo=T0.tzinfo) == morning

    assert dispatch(sessions, sender, now=morning - timedelta(minutes=1)).notifications == 0  # still night
    assert dispatch(sessions, sender, now=morning).pushed == 1
    assert [m["data"]["notification_id"] for m in fcm_server.received] == [pressing, calm]


def test_weekly_budget_gives_slots_by_priority_and_merges_the_rest_into_a_digest(
    sessions: sessionmaker[Session], sender: FcmPushSender, fcm_server: LocalFcmServer
) -> None:
    seed_citizen(sessions, "c1")
    opt_in(sessions, "c1", ["tok-c1"])
    earlier = notification(sessions, "c1", [offer(sessions, "c1")], created_at=T0 - timedelta(days=2))
    dispatch(sessions, sender, now=T0 - timedelta(days=2))  # one of three slots used this week
    small = notification(sessions, "c1", [offer(sessions, "c1", amount=10_000)])
    large = notification(sessions, "c1", [offer(sessions, "c1", amount=200_000, payment="monthly")])
    medium = notification(sessions, "c1", [offer(sessions, "c1", amount=500_000)])

    result = dispatch(sessions, sender)

    assert result.pushed == 2 and result.merged == 1
    pushed = [m["data"] for m in fcm_server.received]
    assert pushed[0] == {"notification_id": earlier, "kind": "offers"}
    # One batch's pushes are sent concurrently: they may arrive in either order.
    assert sorted(pushed[1:], key=lambda d: d["kind"]) == [
        {"notification_id": medium, "kind": "digest"},  # the last slot carries the rest
        {"notification_id": large, "kind": "offers"},  # 2,400,000 a year: the most valuable gets its own push
    ]
    digest = next(m for m in fcm_server.received if m["data"]["kind"] == "digest")
    assert digest["notification"]["title"] == "이번 주 혜택 모음"
    assert row(sessions, medium).digest_of == [small]
    assert row(sessions, small).dispatch_status == "merged"

    late = notification(sessions, "c1", [offer(sessions, "c1")], created_at=T0 + timedelta(hours=1))
    assert dispatch(sessions, sender, now=T0 + timedelta(hours=1)).held == 1  # budget spent: it waits
    waiting = row(sessions, late)
    assert waiting.hold_reason == "budget"
    assert waiting.not_before is not None
    assert waiting.not_before.replace(tzinfo=T0.tzinfo) == T0 - timedelta(days=2) + timedelta(days=7)
    assert len(fcm_server.received) == 3


def test_next_of_kin_are_left_in_peace_for_the_cooling_off_period(
    sessions: sessionmaker[Session], sender: FcmPushSender, fcm_server: LocalFcmServer
) -> None:
    seed_citizen(sessions, "widow")
    opt_in(sessions, "widow", ["tok-widow"], category="bereavement")
    n = notification(
        sessions,
        "widow",
        [offer(sessions, "widow", benefit="first_meeting_voucher", deadline=date(2026, 3, 12))],  # urgent, still held
        category="bereavement",
        event_type="kr.go.mois.death.registered",
    )

    assert dispatch(sessions, sender).held == 1
    assert row(sessions, n).hold_reason == "cooling_off"
    assert dispatch(sessions, sender, now=T0 + timedelta(days=2, hours=23)).notifications == 0
    assert dispatch(sessions, sender, now=T0 + timedelta(days=3)).pushed == 1
    assert len(fcm_server.received) == 1


def test_never_push_to_the_deceased(
    sessions: sessionmaker[Session], sender: FcmPushSender, fcm_server: LocalFcmServer
) -> None:
    seed_citizen(sessions, "gone")
    seed_citizen(sessions, "gone-too")
    opt_in(sessions, "gone", ["tok-gone"])
    opt_in(sessions, "gone-too", ["tok-gone-too"])
    first = notification(sessions, "gone", [offer(sessions, "gone")])
    second = notification(sessions, "gone-too", [offer(sessions, "gone-too")])
    with sessions.begin() as session:
        assert on_death(session, "gone") == 1  # the death handler's call
        session.execute(update(CitizenRow).where(CitizenRow.id == "gone-too").values(deceased_on=date(2026, 3, 9)))

    result = dispatch(sessions, sender)

    assert fcm_server.received == []
    assert result.cancelled == 1  # the one nobody cancelled: deceased_on alone makes them unreachable
    assert row(sessions, first).dispatch_status == "cancelled"
    assert row(sessions, second).dispatch_status == "cancelled"
    with sessions() as session:
        assert session.scalars(select(DeviceRow.token)).all() == ["tok-gone-too"]


def test_unregistered_token_is_deleted_and_stale_tokens_are_pruned(
    sessions: sessionmaker[Session], sender: FcmPushSender, fcm_server: LocalFcmServer
) -> None:
    seed_citizen(sessions, "c1")
    opt_in(sessions, "c1", ["old-phone", "new-phone"])
    with sessions.begin() as session:
        devices.register(session, "c1", "forgotten-tablet", "android", T0 - timedelta(days=271))
        devices.register(session, "c1", "quiet-phone", "ios", T0 - timedelta(days=269))
    fcm_server.fail_token("old-phone", 404, "UNREGISTERED")
    fcm_server.fail_token("forgotten-tablet", 404, "UNREGISTERED")
    notification(sessions, "c1", [offer(sessions, "c1")])

    result = dispatch(sessions, sender)

    assert result.pushed == 1 and result.tokens_removed == 2
    assert fcm_server.attempts("old-phone") == 1  # never retried
    with sessions() as session:
        assert sorted(session.scalars(select(DeviceRow.token))) == ["new-phone", "quiet-phone"]
    assert devices.prune_stale(sessions, T0, stale_after_days=270) == 0
    assert devices.prune_stale(sessions, T0 + timedelta(days=2), stale_after_days=270) == 1
    with sessions() as session:
        assert sorted(session.scalars(select(DeviceRow.token))) == ["new-phone"]


def test_lock_screen_in_the_citizens_language_and_easy_read(
    sessions: sessionmaker[Session], sender: FcmPushSender, fcm_server: LocalFcmServer
) -> None:
    seed_citizen(sessions, "viet")
    seed_citizen(sessions, "easy")
    opt_in(sessions, "viet", ["tok-viet"])
    opt_in(sessions, "easy", ["tok-easy"])
    with sessions.begin() as session:
        set_preferences(session, "viet", "vi", False, T0)
        set_preferences(session, "easy", "ko", True, T0)
        assert session.get(CitizenRow, "viet").preferred_language == "vi"  # type: ignore[union-attr]
    notification(sessions, "viet", [offer(sessions, "viet"), offer(sessions, "viet")])
    notification(sessions, "easy", [offer(sessions, "easy")])

    dispatch(sessions, sender)

    shown = {m["token"]: m["notification"] for m in fcm_server.received}
    assert shown["tok-viet"] == {
        "title": "Chúc mừng gia đình có em bé",
        "body": "Bạn có thể nhận 2 khoản hỗ trợ. Mở ứng dụng để xem.",
    }
    assert shown["tok-easy"]["body"] == "받을 수 있는 도움이 1가지 있어요. 앱을 열어 보세요."


def test_notified_offers_move_from_matched_to_notified(sessions: sessionmaker[Session], sender: FcmPushSender) -> None:
    seed_citizen(sessions, "c1")
    opt_in(sessions, "c1", ["tok"])
    offer_id = offer(sessions, "c1")
    notification(sessions, "c1", [offer_id])
    dispatch(sessions, sender)
    with sessions() as session:
        assert session.get(EntitlementRow, offer_id).status == "notified"  # type: ignore[union-attr]
        assert session.scalar(select(NotificationRow.channel)) == "push"
