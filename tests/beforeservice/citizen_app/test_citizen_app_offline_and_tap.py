"""The service worker on the real stack (API process, local OIDC, Debian's Chromium with a phone viewport):

- offline reading: the inbox and an offer page, once loaded, still show with the network cut
  (`context.set_offline`), with a visible "offline, last updated …" notice;
- a tap on a push opens the offer: a push delivered through Chromium's own push path (CDP
  ServiceWorker.deliverPushMessage), then, in the worker, the shown notification from
  `registration.getNotifications()` is handed to the worker's notificationclick handler as a synthetic
  NotificationEvent, and the open app window goes to the offer (clients.matchAll + client.navigate).

What a test cannot reach: a real OS tap (Chromium gives only a synthetic event no user activation, so
`client.focus()` is refused and a tap with no window open, `clients.openWindow`, is not exercised here)."""

from __future__ import annotations

import json
import re
from datetime import date
from typing import Any

import httpx
import pytest
from playwright.sync_api import Page, expect
from sqlalchemy.orm import Session, sessionmaker

from beforeservice.bootstrap import processor
from beforeservice.settings import Settings
from entitlements.batch import Record
from notifiers.tables import NotificationRow
from tests.beforeservice.citizen_app.conftest import shot, sign_in
from tests.conftest import wait_for
from tests.support.births import birth_event, seed_household
from tests.support.notification_seeds import notification

pytestmark = pytest.mark.integration


def _born(sessions: sessionmaker[Session], database_url: str, mother: str) -> None:
    seed_household(sessions, f"hh-{mother}", [mother], "41110", date(2021, 5, 1))
    event = birth_event(mother=mother, birth_order=2)
    record = Record(
        "life-events", 0, 0, None, event.to_structured(), [("content-type", b"application/cloudevents+json")]
    )
    assert processor(Settings(database_url=database_url)).process([record]).dead_letters == []


def _controlled(page: Page) -> None:
    """Until the service worker controls the page (it claims its clients when it activates)."""
    page.evaluate("async () => { await navigator.serviceWorker.ready; }")
    page.wait_for_function("() => navigator.serviceWorker.controller !== null")


def test_inbox_and_offer_page_read_offline_with_a_last_updated_notice(
    phone: Page, api: httpx.Client, sessions: sessionmaker[Session], database_url: str
) -> None:
    _born(sessions, database_url, "m-off")
    sign_in(phone, "m-off")
    _controlled(phone)
    phone.reload()  # now through the worker, which keeps the copy
    group = phone.get_by_role("region", name="아이가 태어났어요 혜택 6가지")
    expect(group).to_be_visible()
    expect(phone.locator("#offline-note")).to_be_hidden()
    link = group.get_by_role("link").first
    offer_name = link.locator(".offer-name").inner_text()
    link.click()
    expect(phone.get_by_role("heading", level=1)).to_have_text(offer_name)
    offer_url = phone.url

    phone.context.set_offline(True)
    try:
        phone.goto("/app/")
        expect(phone.get_by_role("region", name="아이가 태어났어요 혜택 6가지")).to_be_visible()
        note = phone.locator("#offline-note")
        expect(note).to_be_visible()
        expect(note).to_contain_text("인터넷에 연결되어 있지 않습니다")
        expect(note).to_contain_text("마지막 업데이트")
        expect(note.locator("time")).to_have_text(re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d$"))
        shot(phone, "09-offline-inbox")
        phone.goto(offer_url)
        expect(phone.get_by_role("heading", level=1)).to_have_text(offer_name)
        expect(phone.locator("#offline-note")).to_be_visible()
    finally:
        phone.context.set_offline(False)
    phone.reload()
    expect(phone.locator("#offline-note")).to_be_hidden()


def test_a_tap_on_the_push_takes_the_open_app_to_the_offer(
    phone: Page, api: httpx.Client, sessions: sessionmaker[Session], database_url: str
) -> None:
    _born(sessions, database_url, "m-tap")
    sign_in(phone, "m-tap")
    _controlled(phone)
    href = phone.locator("a.offer-link").first.get_attribute("href")
    assert href is not None
    offer_id = href.rsplit("/", 1)[1]
    told = notification(sessions, "m-tap", [offer_id])  # a push about this one offer
    base = str(api.base_url).rstrip("/")

    cdp = phone.context.new_cdp_session(phone)
    registrations: list[dict[str, Any]] = []
    cdp.on("ServiceWorker.workerRegistrationUpdated", lambda e: registrations.extend(e["registrations"]))
    cdp.send("ServiceWorker.enable")
    for _ in range(120):  # CDP events arrive while Playwright is called: wait in the page
        if any(r["scopeURL"].endswith("/app/") for r in registrations):
            break
        phone.wait_for_timeout(250)
    registration = next(r for r in registrations if r["scopeURL"].endswith("/app/"))
    payload = {
        "notification": {"title": "새 혜택 안내", "body": "받으실 수 있는 혜택이 있어요. 앱에서 확인해 주세요."},
        "data": {"notification_id": told, "kind": "offers"},
        "from": "before-service-test",
    }
    cdp.send(
        "ServiceWorker.deliverPushMessage",
        {"origin": base, "registrationId": registration["registrationId"], "data": json.dumps(payload)},
    )
    worker = next(w for w in phone.context.service_workers if w.url.endswith("/app/sw.js"))
    shown = wait_for(
        lambda: worker.evaluate("async () => (await self.registration.getNotifications()).map(n => n.data.url)"),
        timeout=30,
        what="the notification shown",
    )
    assert shown == [f"/app/notifications/{told}"]

    # The tap, as the worker receives it.
    worker.evaluate(
        """async () => {
            const [shown] = await self.registration.getNotifications();
            self.dispatchEvent(new NotificationEvent('notificationclick', {notification: shown}));
        }"""
    )
    expect(phone).to_have_url(f"{base}/app/offers/{offer_id}")  # via /app/notifications/<id>: opened
    expect(phone.locator("#offer-status")).to_have_text("확인함")
    with sessions() as session:
        assert session.get(NotificationRow, told).viewed_at is not None  # type: ignore[union-attr]
    closed = worker.evaluate("async () => (await self.registration.getNotifications()).length")
    assert closed == 0  # the tap closed it
