"""`beforeservice bench app`: how much JavaScript the citizens' app ships and how fast its inbox paints on a slow
phone, printed (never asserted by time).

It seeds a throwaway SQLite database with a parent whose child's birth was registered (the engine's own
processor writes the offers), serves the citizens' app (the same routes and templates as the API, through
uvicorn, without the API's other routers and Kafka producer) and loads the signed-in inbox cold in Debian's
Chromium (Playwright) with Lighthouse's mobile "slow 4G" (CDP Network.emulateNetworkConditions: 150 ms RTT,
1.6 Mbit/s down, 750 kbit/s up) and a 4x slower CPU (Emulation.setCPUThrottlingRate). In the same run, under the
same profile, it loads a reference: the very same inbox HTML with its stylesheet and script removed, so the
difference is what the app's CSS and JavaScript cost, whatever the machine.
"""

from __future__ import annotations

import re
import secrets
import statistics
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import httpx
from fastapi import FastAPI
from fastapi.responses import HTMLResponse
from sqlalchemy import insert

from beforeservice import citizen_app
from beforeservice.auth import issue_token
from beforeservice.bootstrap import Process
from beforeservice.broker import free_port
from beforeservice.citizen_app import session as app_session
from beforeservice.citizen_app.js_size import BUDGET_BYTES, script_sizes
from beforeservice.settings import Settings
from entitlements.batch import Record
from entitlements.persistence.tables import CitizenRow, HouseholdRow
from events.cloudevents import CloudEvent

SLOW_4G = {"offline": False, "latency": 150, "downloadThroughput": 1_600_000 / 8, "uploadThroughput": 750_000 / 8}
CPU_SLOWDOWN = 4
PARENT = "bench-parent"
FIRST_PAINT_TARGET_MS = 1000
_ASSETS = re.compile(
    r'<link rel="stylesheet"[^>]*>|<style>[^<]*</style>|<script[^>]*></script>|<link rel="manifest"[^>]*>'
)
_PAINT = """() => new Promise((resolve) => {
    const seen = performance.getEntriesByName('first-contentful-paint');
    if (seen.length) { resolve(seen[0].startTime); return; }
    new PerformanceObserver((list, observer) => {
        const fcp = list.getEntriesByName('first-contentful-paint')[0];
        if (fcp) { observer.disconnect(); resolve(fcp.startTime); }
    }).observe({type: 'paint', buffered: true});
})"""


@dataclass(frozen=True)
class Figures:
    js_gzip_bytes: int
    inbox_fcp_ms: list[float]
    reference_fcp_ms: list[float]
    inbox_html_bytes: int


def _birth(mother: str) -> CloudEvent:
    child = f"c-{uuid.uuid4().hex[:10]}"
    return CloudEvent(
        id=str(uuid.uuid4()),
        source="/agencies/mois/registry/41110",
        specversion="1.0",
        type="kr.go.mois.birth.registered",
        time=datetime.now(UTC),
        subject=child,
        data={
            "child": {"id": child, "birth_date": date.today().isoformat()},
            "parents": [{"id": mother, "role": "mother"}],
            "birth_order": 2,
            "municipality_code": "41110",
            "registered_on": date.today().isoformat(),
        },
    )


def seed(process: Process) -> None:
    """A household in Suwon since 2021 and a second child's birth, through the engine's processor."""
    now = datetime.now(UTC)
    with process.sessions.begin() as session:
        session.execute(
            insert(HouseholdRow),
            [{"id": "hh-bench", "municipality_code": "41110", "resident_since": date(2021, 5, 1), "updated_at": now}],
        )
        session.execute(
            insert(CitizenRow),
            [
                {
                    "id": PARENT,
                    "household_id": "hh-bench",
                    "role": "parent",
                    "preferred_language": "ko",
                    "updated_at": now,
                }
            ],
        )
    event = _birth(PARENT)
    record = Record(
        "life-events", 0, 0, None, event.to_structured(), [("content-type", b"application/cloudevents+json")]
    )
    refused = process.processor.process([record]).dead_letters
    if refused:
        raise RuntimeError(f"the seed birth was refused: {refused}")


def app_of(process: Process, reference: dict[str, str]) -> FastAPI:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> Any:
        app.state.process = process
        yield

    app = FastAPI(lifespan=lifespan, docs_url=None, redoc_url=None, openapi_url=None)
    citizen_app.install(app)

    @app.get("/bench/reference", response_class=HTMLResponse)
    def reference_page() -> str:
        return reference["html"]

    return app


@contextmanager
def served(app: FastAPI) -> Iterator[str]:
    import uvicorn

    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the app server did not start")
        time.sleep(0.05)
    try:
        yield base
    finally:
        server.should_exit = True
        thread.join(timeout=10)


def first_paint(browser: Any, base: str, path: str, cookie: str) -> float:
    """One cold load (new context, no HTTP cache, service worker bypassed) under the slow phone profile."""
    context = browser.new_context(
        viewport={"width": 412, "height": 839}, device_scale_factor=2.625, is_mobile=True, has_touch=True
    )
    try:
        context.add_cookies([{"name": app_session.COOKIE, "value": cookie, "url": f"{base}/app/"}])
        page = context.new_page()
        cdp = context.new_cdp_session(page)
        cdp.send("Network.enable")
        cdp.send("Network.setCacheDisabled", {"cacheDisabled": True})
        cdp.send("Network.setBypassServiceWorker", {"bypass": True})
        cdp.send("Network.emulateNetworkConditions", SLOW_4G)
        cdp.send("Emulation.setCPUThrottlingRate", {"rate": CPU_SLOWDOWN})
        page.goto(f"{base}{path}", wait_until="load")
        fcp: float = page.evaluate(_PAINT)
        return fcp
    finally:
        context.close()


def run(chromium: str, runs: int) -> Figures:
    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory(prefix="beforeservice-bench-app-") as workdir:
        settings = Settings(
            database_url=f"sqlite:///{Path(workdir) / 'app.db'}",
            data_dir=workdir,
            token_secret=secrets.token_urlsafe(48),
            firebase_web_config="",
        )
        process = Process(settings).with_schema()
        try:
            seed(process)
            cookie = app_session.cookie_value(settings, issue_token(settings, PARENT, "citizen"))
            reference: dict[str, str] = {}
            with served(app_of(process, reference)) as base:
                inbox_html = httpx.get(f"{base}/app/", cookies={app_session.COOKIE: cookie}).text
                if "offer-link" not in inbox_html:
                    raise RuntimeError("the seeded inbox shows no offers")
                reference["html"] = _ASSETS.sub("", inbox_html)
                with sync_playwright() as playwright:
                    browser = playwright.chromium.launch(
                        executable_path=chromium, headless=True, args=["--no-sandbox", "--disable-gpu"]
                    )
                    inbox, bare = [], []
                    for _ in range(runs):  # interleaved: both see the same machine load
                        inbox.append(first_paint(browser, base, "/app/", cookie))
                        bare.append(first_paint(browser, base, "/bench/reference", cookie))
                    browser.close()
        finally:
            process.close()
    js = sum(packed for _, packed in script_sizes().values())
    return Figures(js, inbox, bare, len(inbox_html.encode()))


def report(figures: Figures) -> list[str]:
    inbox, bare = statistics.median(figures.inbox_fcp_ms), statistics.median(figures.reference_fcp_ms)
    verdict = "within" if figures.js_gzip_bytes < BUDGET_BYTES else "OVER"
    paint = "within" if inbox < FIRST_PAINT_TARGET_MS else "OVER"
    runs = len(figures.inbox_fcp_ms)
    return [
        f"JavaScript the app can load, gzip -9: {figures.js_gzip_bytes:,} B ({verdict} the {BUDGET_BYTES:,} B budget)",
        f"profile: slow 4G (150 ms RTT, 1.6/0.75 Mbit/s) + {CPU_SLOWDOWN}x CPU, cold, median of {runs}",
        f"first inbox paint (FCP):           {inbox:7.0f} ms  ({paint} the {FIRST_PAINT_TARGET_MS} ms target)"
        f"  runs {', '.join(f'{v:.0f}' for v in figures.inbox_fcp_ms)}",
        f"reference, same HTML without CSS/JS: {bare:5.0f} ms"
        f"  runs {', '.join(f'{v:.0f}' for v in figures.reference_fcp_ms)}",
        f"cost of the app's CSS and JS:       {inbox - bare:+7.0f} ms  (inbox HTML {figures.inbox_html_bytes:,} B)",
    ]
