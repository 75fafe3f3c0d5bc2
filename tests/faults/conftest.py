"""Fault tests run on PostgreSQL only: several workers, a proxy in front of the database and 50,000 events are
what production looks like; SQLite is a single-file development store."""

from __future__ import annotations

import pytest

from tests.conftest import fresh_postgres_url


@pytest.fixture
def database_url() -> str:
    return fresh_postgres_url()
