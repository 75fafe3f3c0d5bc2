"""How fast the inbox paints on a slow phone, and how much JavaScript the app ships: measured and PRINTED, never
asserted by time (a shared CI machine's timing is not the app's). Run with -s to see the figures:

    pytest -s -m integration tests/beforeservice/citizen_app/test_citizen_app_speed.py
    python -m beforeservice.citizen_app.js_size    # the JavaScript alone, no stack needed

Profile: Lighthouse's mobile "slow 4G" (150 ms RTT, 1.6 Mbit/s down, 750 kbit/s up) and a 4x slower CPU, cold
(no HTTP cache, service worker bypassed)."""

from __future__ import annotations

from datetime import date
from typing import Any

import httpx
import pytest
from playwright.sync_api import Page, expect
from sqlalchemy.orm import Session, sessionmaker

from beforeservice.bootstrap import processor
from beforeservice.citizen_app.js_size import BUDGET_BYTES, report, script_sizes
from beforeservice.settings import Settings
from entitlements.batch import Record
from tests.beforeservice.citizen_app.conftest import sign_in
from tests.support.births import birth_event, seed_household

pytestmark = pytest.mark.integration
SLOW_4G = {
    "offline": False,
    "latency": 150,
    "downloadThroughput": 1_600_000 / 8,
    "uploadThroughput": 750_000 / 8,
}


def test_first_inbox_paint_on_slow_4g_and_javascript_size(
    phone: Page, api: httpx.Client, sessions: sessionmaker[Session], database_url: str
) -> None:
    seed_household(sessions, "hh-speed", ["m-speed"], "41110", date(2021, 5, 1))
    event = birth_event(mother="m-speed", birth_order=2)
    record = Record(
        "life-events", 0, 0, None, event.to_structured(), [("content-type", b"application/cloudevents+json")]
    )
    assert processor(Settings(database_url=database_url)).process([record]).dead_letters == []
    sign_in(phone, "m-speed")

    cdp = phone.context.new_cdp_session(phone)
    cdp.send("Network.enable")
    cdp.send("Network.setCacheDisabled", {"cacheDisabled": True})
    cdp.send("Network.setBypassServiceWorker", {"bypass": True})
    cdp.send("Network.emulateNetworkConditions", SLOW_4G)
    cdp.send("Emulation.setCPUThrottlingRate", {"rate": 4})
    phone.goto("/app/", wait_until="load")
    expect(phone.get_by_role("region", name="아이가 태어났어요 혜택 6가지")).to_be_visible()
    timing: dict[str, Any] = phone.evaluate(
        """() => {
            const paint = Object.fromEntries(performance.getEntriesByType('paint').map(e => [e.name, e.startTime]));
            const nav = performance.getEntriesByType('navigation')[0];
            const scripts = performance.getEntriesByType('resource').filter(r => r.initiatorType === 'script');
            return {fcp: paint['first-contentful-paint'], dcl: nav.domContentLoadedEventEnd,
                    load: nav.loadEventEnd, html: nav.encodedBodySize,
                    js: scripts.reduce((n, r) => n + r.transferSize, 0)};
        }"""
    )
    cdp.send("Emulation.setCPUThrottlingRate", {"rate": 1})

    print("\n--- citizens' app: first inbox paint, slow 4G + 4x CPU, cold ---")
    print(f"first contentful paint   {timing['fcp']:.0f} ms (target < 1000 ms)")
    print(f"DOMContentLoaded         {timing['dcl']:.0f} ms; load {timing['load']:.0f} ms")
    print(f"inbox HTML               {timing['html']:,} B; scripts on the inbox page {timing['js']:,} B transferred")
    print("--- JavaScript the app can load (gzip -9) ---")
    print("\n".join(report()))
    assert timing["fcp"] > 0  # the figure exists: the page painted
    assert sum(packed for _, packed in script_sizes().values()) < BUDGET_BYTES  # a size, not a time
