"""Degraded mode: the citizens' identity provider (OIDC) is unreachable. Signing in answers 503 and says why;
citizens already signed in keep using the app (their tokens are the engine's own, not the provider's)."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from beforeservice.broker import free_port
from tests.conftest import citizen_headers

pytestmark = pytest.mark.integration


@pytest.fixture
def engine_env(engine_env: dict[str, str]) -> Iterator[dict[str, str]]:
    # A provider on a port where nothing listens: down (connection refused).
    yield {
        **engine_env,
        "CITIZEN_OIDC_ISSUER": f"http://127.0.0.1:{free_port()}",
        "CITIZEN_OIDC_CLIENT_SECRET": "test-client-secret",
    }


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_provider_down_means_sign_in_503_and_signed_in_citizens_carry_on(api: httpx.Client) -> None:
    start = api.get("/app/login/start", follow_redirects=False)

    assert start.status_code == 503, start.text
    assert "the identity provider cannot be reached" in start.text

    inbox = api.get("/v1/citizens/c-kim/inbox", headers=citizen_headers("c-kim"))
    assert inbox.status_code == 200, inbox.text
