"""The app under its own Content-Security-Policy (no bypass, unlike the axe runs): pages load their script and the
service worker without a violation, and the vendored firebase messaging bundle loads and initialises in Chromium.

What cannot run here: firebase's getToken needs a push subscription, and headless Chromium refuses one
(`pushManager.subscribe` → "AbortError: Registration failed - permission denied", with notifications granted by
Playwright and push granted through CDP Browser.setPermission). The end-to-end test therefore registers a stand-in
token through the same /app/devices/register call app.js makes, and delivers FCM's payload through CDP."""

from __future__ import annotations

import httpx
import pytest
from playwright.sync_api import Browser, ConsoleMessage, expect

from tests.beforeservice.citizen_app.conftest import sign_in

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
    context.close()
