"""Fault tests run on PostgreSQL only: several workers, a proxy in front of the database and 50,000 events are
what production looks like; SQLite is a single-file development store."""

from __future__ import annotations

import os

import pytest

from beforeservice.database import make_engine, upgrade
from tests.conftest import DEFAULT_TEST_DATABASE_URL, _reset_postgres


@pytest.fixture
def database_url() -> str:
    url = os.environ.get("TEST_DATABASE_URL", DEFAULT_TEST_DATABASE_URL)
    _reset_postgres(url)
    engine = make_engine(url)
    upgrade(engine)
    engine.dispose()
    return url
