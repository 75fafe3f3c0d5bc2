"""One stack per module and database: the API process is started once, cases are made per test."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.beforeservice.api.stack import Stack, start_stack


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def stack(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    yield from start_stack(request.param, tmp_path_factory.mktemp(f"stack-{request.param}"))
