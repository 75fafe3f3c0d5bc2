"""The whole loop a parent sees, on the real stack, in Chromium with a phone's viewport: sign in through the OIDC
provider → opt in to push, this browser registered → the registry's birth registration (an agency's HTTP POST) →
the worker's offers → the push FCM received, delivered into the page's service worker through the browser's own
push path (DevTools protocol) → the notification opens the app → the offer → "I applied" → the engine holds the
offer applied, its reminders are no longer planned, the take-up funnel counts it. axe-core on every screen;
screenshots in test-artifacts/citizen_app/."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from apscheduler.schedulers.background import BackgroundScheduler
from playwright.sync_api import Page, expect
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from beforeservice.auth import Principal
from beforeservice.console.takeup import funnel
from entitlements import CATALOG_DIR
from entitlements.persistence.tables import EntitlementRow
from notifiers.reminders import plan_reminders
from notifiers.tables import DeviceRow, NotificationRow
from notifiers.timing import SEOUL
from rules_engine.loader import load_catalog
from tests.beforeservice.citizen_app.conftest import shot, sign_in, wcag_violations
from tests.conftest import Component, wait_for
from tests.support.births import birth_event, seed_household
from tests.support.fcm_server import LocalFcmServer

pytestmark = pytest.mark.integration
WEB_TOKEN = "web-push-token-of-the-mothers-browser-0001"


def _entitlement(sessions: sessionmaker[Session], event_id: str, benefit: str) -> EntitlementRow:
    with sessions() as session:
        row = session.scalars(
            select(EntitlementRow).where(EntitlementRow.event_id == event_id, EntitlementRow.benefit_id == benefit)
        ).one()
        session.expunge(row)
        return row


def _remind(**_: object) -> None:
    """The job the test's scheduler would run (it never starts: only the plan is looked at)."""


def _planned_reminders(sessions: sessionmaker[Session], scheduler: BackgroundScheduler, offer_id: str) -> set[str]:
    """What the scheduler's hourly planning job keeps for this offer (its own code, on an unstarted scheduler)."""
    plan_reminders(scheduler, sessions, _remind, {}, datetime.now(UTC))
    return {job.id for job in scheduler.get_jobs() if offer_id in job.id}


def _web_push_payload(message: dict[str, Any]) -> str:
    """What FCM hands a browser for a message firebase-admin sent: its notification and data, FCM's own keys."""
    return json.dumps(
        {
            "notification": message["notification"],
            "data": message.get("data", {}),
            "from": "before-service-test",
            "fcmMessageId": "local-1",
            "priority": "high",
        },
        ensure_ascii=False,
    )


def _notifications_shown(page: Page) -> list[dict[str, str]]:
    shown: list[dict[str, str]] = page.evaluate(
        """async () => (await (await navigator.serviceWorker.ready).getNotifications())
            .map(n => ({title: n.title, body: n.body, url: n.data && n.data.url}))"""
    )
    return shown


def test_birth_to_push_to_offer_to_i_applied(
    phone: Page,
    api: httpx.Client,
    worker: Component,
    fcm: tuple[LocalFcmServer, Path],
    sessions: sessionmaker[Session],
) -> None:
    server, _ = fcm
    base = str(api.base_url).rstrip("/")
    today = date.today()
    born, registered = today - timedelta(days=50), today - timedelta(days=48)  # back-pay window still open
    seed_household(sessions, "hh-kim", ["m-kim", "f-kim"], "41110", date(2021, 5, 1))

    # Sign in: no session → the sign-in page → the provider → back, signed in as m-kim.
    phone.goto("/app/")
    expect(phone).to_have_url(f"{base}/app/login")
    assert wcag_violations(phone) == []
    shot(phone, "01-sign-in")
    sign_in(phone, "m-kim")
    expect(phone.get_by_role("heading", name="내 혜택")).to_be_visible()
    expect(phone.get_by_text("아직 안내할 혜택이 없습니다")).to_be_visible()

    # Consent centre: opt in to childbirth pushes.
    phone.get_by_role("link", name="알림 동의").click()
    phone.get_by_role("button", name="출산·육아 앱 알림 동의").click()
    expect(phone.get_by_role("status")).to_contain_text("동의했습니다")
    assert wcag_violations(phone) == []
    shot(phone, "02-consents")

    # This browser's push token, registered as app.js does once firebase hands it one (FCM itself is not
    # reachable from here: the token is the one firebase would return).
    phone.get_by_role("link", name="내 기기").click()
    phone.wait_for_function("() => navigator.serviceWorker.controller !== null || true")
    status = phone.evaluate(
        """async (token) => (await fetch('/app/devices/register', {method: 'POST',
            headers: {'content-type': 'application/json', 'x-csrf-token': document.body.dataset.csrf},
            body: JSON.stringify({token, platform: 'web'})})).status""",
        WEB_TOKEN,
    )
    assert status == 200
    phone.reload()
    expect(phone.get_by_text(f"…{WEB_TOKEN[-6:]}", exact=False).first).to_be_visible()
    assert wcag_violations(phone) == []
    shot(phone, "03-devices")
    with sessions() as session:
        assert session.get(DeviceRow, WEB_TOKEN) is not None

    # The registry's birth registration, as MOIS posts it.
    event = birth_event(
        mother="m-kim", father="f-kim", child="c-kim", born=born.isoformat(), registered=registered.isoformat()
    )
    response = api.post(
        "/v1/events", content=event.to_structured(), headers={"content-type": "application/cloudevents+json"}
    )
    assert response.status_code == 202, response.text
    wait_for(lambda: any(m["token"] == WEB_TOKEN for m in server.received), what="the push to the mother's browser")
    message = next(m for m in server.received if m["token"] == WEB_TOKEN)

    # The push, into the page's service worker through Chromium's push path.
    phone.goto("/app/")
    phone.evaluate("async () => { await navigator.serviceWorker.ready; }")
    cdp = phone.context.new_cdp_session(phone)
    registrations: list[dict[str, Any]] = []
    cdp.on("ServiceWorker.workerRegistrationUpdated", lambda e: registrations.extend(e["registrations"]))
    cdp.send("ServiceWorker.enable")
    # Playwright hands CDP events over only while it is called: wait in the page, not in time.sleep.
    for _ in range(120):
        if any(r["scopeURL"].endswith("/app/") for r in registrations):
            break
        phone.wait_for_timeout(250)
    registration = next(r for r in registrations if r["scopeURL"].endswith("/app/"))
    cdp.send(
        "ServiceWorker.deliverPushMessage",
        {"origin": base, "registrationId": registration["registrationId"], "data": _web_push_payload(message)},
    )
    shown = wait_for(lambda: _notifications_shown(phone), timeout=30, what="the notification shown")
    assert len(shown) == 1
    lock_screen = shown[0]["title"] + " " + shown[0]["body"]
    assert lock_screen == message["notification"]["title"] + " " + message["notification"]["body"]
    for personal in ("m-kim", "c-kim", "3,000,000", "41110"):
        assert personal not in lock_screen

    # The tap (the service worker's notificationclick opens its url; the test opens the same url).
    notification_id = message["data"]["notification_id"]
    assert shown[0]["url"] == f"/app/notifications/{notification_id}"
    phone.goto(shown[0]["url"])
    expect(phone).to_have_url(f"{base}/app/")  # six offers in this push: the inbox, grouped by the birth
    with sessions() as session:
        assert session.get(NotificationRow, notification_id).viewed_at is not None  # type: ignore[union-attr]
    group = phone.get_by_role("region", name="아이가 태어났어요 혜택 6가지")
    expect(group).to_be_visible()
    expect(group.get_by_role("link", name="첫만남이용권 3,000,000원 (한 번)")).to_be_visible()
    expect(group.locator(".deadline-kind", has_text="소급 신청 기한").first).to_be_visible()
    parental = _entitlement(sessions, event.id, "parental_benefit")
    assert parental.retroactive_until is not None
    days_left = (parental.retroactive_until - datetime.now(SEOUL).date()).days  # the app counts in Seoul
    expect(group.locator(".countdown", has_text=f"D-{days_left}").first).to_be_visible()
    assert wcag_violations(phone) == []
    shot(phone, "04-inbox")

    # The offer: why (with the law), the deadlines, how to apply; then "I applied".
    scheduler = BackgroundScheduler(timezone="Asia/Seoul")
    assert _planned_reminders(sessions, scheduler, parental.id)  # the back-pay window is reminded of
    group.get_by_role("link", name="부모급여", exact=False).click()
    expect(phone.get_by_role("heading", name="부모급여", exact=False)).to_be_visible()
    expect(phone.locator(".reason")).to_contain_text("부모급여")
    expect(phone.get_by_text("근거 법령", exact=False)).to_be_visible()
    expect(phone.locator("#offer-status")).to_have_text("확인함")  # opening it made it viewed
    assert wcag_violations(phone) == []
    shot(phone, "05-offer")
    phone.get_by_role("button", name="신청했어요").click()
    expect(phone.get_by_role("status")).to_contain_text("신청하셨다고 기록했습니다")
    expect(phone.locator("#offer-status")).to_have_text("신청함")
    shot(phone, "06-applied")

    # The engine: applied, no reminder planned any more, the funnel counts the application.
    assert _entitlement(sessions, event.id, "parental_benefit").status == "applied"
    assert _planned_reminders(sessions, scheduler, parental.id) == set()
    supervisor = Principal("park", "supervisor", {"agencies": ["*"], "municipalities": ["*"]})
    with sessions() as session:
        rows = [r for r in funnel(session, supervisor, load_catalog(CATALOG_DIR)) if r.benefit_id == "parental_benefit"]
    assert sum(r.counts["applied"] for r in rows) == 1

    # Another citizen's offer is not found; so is a forged one.
    other = phone.request.get(f"/app/offers/{_entitlement(sessions, event.id, 'child_allowance').id}")
    assert other.status == 200  # the mother's own (a child's allowance is offered to the parents)
    assert phone.request.get("/app/offers/00000000-0000-0000-0000-000000000000").status == 404
