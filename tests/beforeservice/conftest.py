"""Fixtures shared by the console's and the citizens' app's browser tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser

from tests.support.browser import chromium


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """One headless Chromium per test module; each test opens its own context (cookies, storage, service workers)."""
    with chromium() as launched:
        yield launched
