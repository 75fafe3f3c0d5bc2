"""The citizens' app on the real stack: tansu, PostgreSQL, the worker and API as processes, the local FCM server,
the local OIDC provider, and Debian's Chromium (Playwright) with a phone's viewport."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, Page, ViewportSize

from beforeservice.broker import free_port
from beforeservice.citizen_app import local_provider
from tests.conftest import fresh_postgres_url, wait_for

ARTIFACTS = Path(__file__).resolve().parents[3] / "test-artifacts" / "citizen_app"
AXE = Path(__file__).resolve().parents[1] / "console" / "vendor" / "axe.min.js"
PHONE = ViewportSize(width=412, height=839)  # Pixel 7 (Playwright's descriptor), with Chromium's own user agent


@pytest.fixture
def database_url() -> str:
    """PostgreSQL only, emptied and migrated (the production database)."""
    return fresh_postgres_url()


@pytest.fixture
def oidc_issuer(tmp_path: Path) -> Iterator[str]:
    port = free_port()
    log = (tmp_path / "oidc.log").open("wb")
    provider = local_provider.start(port, log)

    def ready() -> bool:
        try:
            return httpx.get(local_provider.discovery_ready(port), timeout=1).status_code == 200
        except httpx.HTTPError:
            return False

    try:
        wait_for(ready, timeout=30, what="the local OIDC provider")
        yield local_provider.issuer_url(port)
    finally:
        provider.terminate()
        provider.wait(timeout=10)
        log.close()


@pytest.fixture
def engine_env(engine_env: dict[str, str], oidc_issuer: str) -> dict[str, str]:
    return {**engine_env, "CITIZEN_OIDC_ISSUER": oidc_issuer, "CITIZEN_OIDC_CLIENT_SECRET": "test-client-secret"}


@pytest.fixture
def phone(browser: Browser, api: httpx.Client) -> Iterator[Page]:
    # bypass_csp only so the test can inject axe-core; the app itself runs under its strict CSP.
    context = browser.new_context(
        base_url=str(api.base_url).rstrip("/"),
        locale="ko-KR",
        bypass_csp=True,
        viewport=PHONE,
        device_scale_factor=2.625,
        is_mobile=True,
        has_touch=True,
    )
    context.grant_permissions(["notifications"], origin=str(api.base_url).rstrip("/"))
    opened = context.new_page()
    yield opened
    context.close()


def shot(page: Page, name: str) -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


def wcag_violations(page: Page) -> list[dict[str, Any]]:
    page.add_script_tag(path=str(AXE))
    tags = "['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa']"
    result = page.evaluate(f"async () => await axe.run(document, {{runOnly: {{type: 'tag', values: {tags}}}}})")
    return [{"id": v["id"], "nodes": [n["html"] for n in v["nodes"]][:3]} for v in result["violations"]]


def sign_in(page: Page, subject: str) -> None:
    """Through the local provider's own page, as a citizen would with the government's identity service."""
    page.goto("/app/")
    page.wait_for_url("**/app/login")
    page.get_by_role("link", name="간편인증으로 로그인").click()
    page.locator('input[name="sub"]').fill(subject)
    page.get_by_role("button", name="Authorize").click()
    page.wait_for_url("**/app/")
