"""The app under its own Content-Security-Policy (no bypass, unlike the axe runs): pages load their script and the
service worker without a violation, and the vendored firebase messaging bundle loads and initialises in Chromium.

What cannot run here: firebase's getToken needs a push subscription, and headless Chromium refuses one
(`pushManager.subscribe` → "AbortError: Registration failed - permission denied", with notifications granted by
Playwright and push granted through CDP Browser.setPermission). The end-to-end test therefore registers a stand-in
token through the same /app/devices/register call app.js makes, and delivers FCM's payload through CDP."""

from __future__ import annotations

from datetime import date

import httpx
import pytest
from playwright.sync_api import Browser, ConsoleMessage, expect
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from beforeservice.bootstrap import processor
from beforeservice.settings import Settings
from entitlements.batch import Record
from entitlements.persistence.tables import EntitlementRow
from tests.beforeservice.citizen_app.conftest import sign_in
from tests.support.births import birth_event, seed_household

pytestmark = pytest.mark.integration


def test_pages_run_under_their_csp_and_firebase_messaging_loads(browser: Browser, api: httpx.Client) -> None:
    base = str(api.base_url).rstrip("/")
    context = browser.new_context(base_url=base, locale="ko-KR")  # the app's CSP in force
    page = context.new_page()
    messages: list[str] = []

    def keep(message: ConsoleMessage) -> None:
        messages.append(message.text)

    page.on("console", keep)
    sign_in(page, "m-csp")
    for path in ("/app/", "/app/consents", "/app/devices", "/app/preferences"):
        page.goto(path)
    page.evaluate("async () => { await navigator.serviceWorker.ready; }")
    headers = api.get("/app/login").headers
    assert "script-src 'self'" in headers["content-security-policy"]
    assert "'unsafe-inline'" not in headers["content-security-policy"]

    sdk = page.evaluate(
        """async () => {
            const m = await import('/app/static/vendor/firebase-messaging.js');
            const app = m.initializeApp({apiKey: 'k', projectId: 'before-service-test', messagingSenderId: '1',
                                         appId: '1:1:web:1'});
            return {supported: await m.isSupported(), messaging: typeof m.getMessaging(app),
                    getToken: typeof m.getToken};
        }"""
    )
    assert sdk == {"supported": True, "messaging": "object", "getToken": "function"}
    assert [m for m in messages if "Content Security Policy" in m] == []
    expect(page.get_by_role("heading", name="설정")).to_be_visible()

    # Offline: the service worker answers with the last inbox it saw, and the page says it is offline.
    page.goto("/app/")
    page.wait_for_function("() => navigator.serviceWorker.controller !== null")
    page.reload()  # through the service worker now: it keeps this copy
    context.set_offline(True)
    page.reload()
    expect(page.get_by_role("heading", name="내 혜택")).to_be_visible()
    expect(page.get_by_text("인터넷에 연결되어 있지 않습니다")).to_be_visible()
    context.set_offline(False)
    context.close()


def test_every_page_reflows_at_200_percent_zoom(
    browser: Browser, api: httpx.Client, sessions: sessionmaker[Session], database_url: str
) -> None:
    """A 412 px wide phone at 200% zoom lays pages out in 206 CSS px: nothing may need scrolling sideways."""
    seed_household(sessions, "hh-zoom", ["m-zoom"], "41110", date(2021, 5, 1))
    event = birth_event(mother="m-zoom", birth_order=2)
    record = Record(
        "life-events", 0, 0, None, event.to_structured(), [("content-type", b"application/cloudevents+json")]
    )
    assert processor(Settings(database_url=database_url)).process([record]).dead_letters == []
    with sessions() as session:
        offer = session.scalars(select(EntitlementRow.id).where(EntitlementRow.event_id == event.id)).first()
    context = browser.new_context(
        base_url=str(api.base_url).rstrip("/"), locale="ko-KR", viewport={"width": 206, "height": 420}
    )
    page = context.new_page()
    sign_in(page, "m-zoom")
    for path in ("/app/", f"/app/offers/{offer}", "/app/consents", "/app/devices", "/app/preferences"):
        page.goto(path)
        overflow = page.evaluate("() => document.documentElement.scrollWidth - document.documentElement.clientWidth")
        assert overflow <= 0, (path, overflow)
    context.close()
