"""Fixtures of the notification tests: the real FcmPushSender against the local FCM server, and the local
SMS/KakaoTalk provider."""

from __future__ import annotations

import random
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from notifiers.fcm.sender import FcmPushSender
from tests.support.fcm_server import LocalFcmServer, write_service_account
from tests.support.message_gateway_server import LocalMessageGateway


@pytest.fixture
def fcm_server() -> Iterator[LocalFcmServer]:
    with LocalFcmServer() as server:
        yield server


@pytest.fixture
def backoff_sleeps() -> list[float]:
    return []


@pytest.fixture
def sender(fcm_server: LocalFcmServer, tmp_path: Path, backoff_sleeps: list[float]) -> Iterator[FcmPushSender]:
    credentials = write_service_account(tmp_path / "sa.json", fcm_server.token_uri, "before-service-test")
    with FcmPushSender(
        credentials,
        project_id="before-service-test",
        endpoint=fcm_server.url,
        app_name=f"notify-{uuid.uuid4().hex}",
        sleep=backoff_sleeps.append,  # the backoff is recorded, not waited for
        rng=random.Random(3),
    ) as fcm:
        yield fcm


@pytest.fixture
def gateway_server() -> Iterator[LocalMessageGateway]:
    with LocalMessageGateway() as server:
        yield server
