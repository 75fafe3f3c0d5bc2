"""Real headless Chromium (Debian's /usr/bin/chromium, driven by Playwright) against the API process."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page

from tests.beforeservice.api.stack import Stack, start_stack

ARTIFACTS = Path(__file__).resolve().parents[3] / "test-artifacts" / "console"


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    yield from start_stack("postgresql", tmp_path_factory.mktemp("console"))


@pytest.fixture
def page(browser: Browser, stack: Stack) -> Iterator[Page]:
    # bypass_csp only so the test can inject axe-core; the console itself runs under its strict CSP.
    context = browser.new_context(base_url=stack.base_url, locale="ko-KR", bypass_csp=True, accept_downloads=True)
    opened = context.new_page()
    yield opened
    context.close()


def shot(page: Page, name: str) -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path
