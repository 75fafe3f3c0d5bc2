"""Consents, devices and preferences over HTTP (the router on FastAPI, real tokens, real database)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from beforeservice.api import citizens as citizen_routes
from beforeservice.api import deps
from beforeservice.settings import Settings
from notifiers.tables import ConsentEventRow, DeviceRow, NotificationRow
from tests.conftest import TOKEN_SECRET, citizen_headers
from tests.support.notification_seeds import notification, offer, seed_citizen

pytestmark = pytest.mark.integration


@pytest.fixture
def client(sessions: sessionmaker[Session]) -> Iterator[TestClient]:
    app = FastAPI()
    settings = Settings(token_secret=TOKEN_SECRET, consent_text_version="2026-02")
    app.dependency_overrides[deps.get_sessions] = lambda: sessions
    app.dependency_overrides[deps.get_settings] = lambda: settings
    app.include_router(citizen_routes.router)
    with TestClient(app) as test_client:
        yield test_client


def test_consent_is_recorded_with_version_and_time_and_can_be_withdrawn(
    client: TestClient, sessions: sessionmaker[Session]
) -> None:
    me = citizen_headers("c1")
    granted = client.put(
        "/v1/citizens/c1/consents",
        json=[
            {"category": "childbirth_childcare", "channel": "push", "granted": True},
            {"category": "housing", "channel": "sms", "granted": True, "text_version": "2025-12"},
        ],
        headers=me,
    )
    assert granted.status_code == 200, granted.text
    by_scope = {(c["category"], c["channel"]): c for c in granted.json()}
    assert by_scope[("childbirth_childcare", "push")]["text_version"] == "2026-02"
    assert by_scope[("housing", "sms")]["text_version"] == "2025-12"
    assert all(c["granted"] and c["granted_at"] for c in granted.json())

    withdrawn = client.put(
        "/v1/citizens/c1/consents",
        json=[{"category": "housing", "channel": "sms", "granted": False}],
        headers=me,
    ).json()
    housing = next(c for c in withdrawn if c["category"] == "housing")
    assert housing["granted"] is False and housing["withdrawn_at"] is not None
    with sessions() as session:
        trail = session.execute(select(ConsentEventRow.category, ConsentEventRow.action).order_by(ConsentEventRow.id))
        assert [tuple(t) for t in trail] == [
            ("childbirth_childcare", "grant"),
            ("housing", "grant"),
            ("housing", "withdraw"),
        ]

    bad = client.put(
        "/v1/citizens/c1/consents", json=[{"category": "x", "channel": "push", "granted": True}], headers=me
    )
    assert bad.status_code == 422
    assert client.get("/v1/citizens/c1/consents", headers=citizen_headers("c2")).status_code == 404
    assert client.get("/v1/citizens/c1/consents").status_code == 401


def test_several_devices_are_registered_refreshed_and_removed(
    client: TestClient, sessions: sessionmaker[Session]
) -> None:
    me = citizen_headers("c1")
    for token, platform in (("fcm-token-phone-aaaaaa", "android"), ("fcm-token-tablet-bbbbbb", "ios")):
        assert client.put("/v1/citizens/c1/devices", json={"token": token, "platform": platform}, headers=me).is_success
    first_refresh = client.get("/v1/citizens/c1/devices", headers=me).json()
    assert sorted(d["token_suffix"] for d in first_refresh) == ["aaaaaa", "bbbbbb"]
    assert "fcm-token" not in str(first_refresh)  # tokens are never echoed back

    again = client.put(
        "/v1/citizens/c1/devices", json={"token": "fcm-token-phone-aaaaaa", "platform": "android"}, headers=me
    ).json()
    assert again["last_refreshed_at"] >= max(d["last_refreshed_at"] for d in first_refresh)

    assert (
        client.delete("/v1/citizens/c1/devices/fcm-token-tablet-bbbbbb", headers=citizen_headers("c2")).status_code
        == 404
    )
    assert client.delete("/v1/citizens/c1/devices/fcm-token-tablet-bbbbbb", headers=me).status_code == 204
    with sessions() as session:
        assert session.scalars(select(DeviceRow.token)).all() == ["fcm-token-phone-aaaaaa"]


def test_preferences_and_opening_a_notification(client: TestClient, sessions: sessionmaker[Session]) -> None:
    seed_citizen(sessions, "c1")
    me = citizen_headers("c1")
    no_own_quiet_hours = {"quiet_hours_start": None, "quiet_hours_end": None}  # the service's default applies
    assert client.get("/v1/citizens/c1/preferences", headers=me).json() == {
        "language": "ko",
        "easy_read": False,
        **no_own_quiet_hours,
    }
    assert client.put("/v1/citizens/c1/preferences", json={"language": "vi", "easy_read": False}, headers=me).is_success
    assert client.get("/v1/citizens/c1/preferences", headers=me).json() == {
        "language": "vi",
        "easy_read": False,
        **no_own_quiet_hours,
    }
    assert client.put("/v1/citizens/c1/preferences", json={"language": "fr"}, headers=me).status_code == 422

    n = notification(sessions, "c1", [offer(sessions, "c1")])
    assert client.post(f"/v1/citizens/c1/notifications/{n}/opened", headers=citizen_headers("c2")).status_code == 404
    assert client.post(f"/v1/citizens/c1/notifications/{n}/opened", headers=me).status_code == 204
    with sessions() as session:
        assert session.scalar(select(NotificationRow.viewed_at).where(NotificationRow.id == n)) is not None
