"""A module-wide stack on real parts for the API and console tests: tansu, SQLite or PostgreSQL, the API process.

Cases to review come from the real rules: birth events run through the worker's processor in-process (no
Kafka round trip needed to make a pending case). Accounts and keys are made as the CLI makes them.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx
from sqlalchemy import select, text
from sqlalchemy.orm import Session, sessionmaker

from beforeservice.bootstrap import processor
from beforeservice.broker import EmbeddedBroker, ensure_topics, free_port
from beforeservice.console.accounts import add_caseworker
from beforeservice.database import make_engine, session_factory, upgrade
from beforeservice.settings import Settings
from entitlements.batch import LifeEventProcessor, Record
from entitlements.persistence.tables import EntitlementRow
from tests.conftest import DEFAULT_TEST_DATABASE_URL, TOKEN_SECRET, Component, agency_key, wait_for
from tests.support.births import birth_event, seed_household

STRUCTURED = b"application/cloudevents+json"
PASSWORD = "correct horse battery staple"
SUWON = "41117"  # 수원시 영통구
GANGNAM = "11680"  # 서울 강남구
# username -> (role, agencies, municipality prefixes)
ACCOUNTS = {
    "kim.suwon": ("caseworker", ["suwon"], ["4111"]),
    "lee.suwon": ("caseworker", ["suwon"], ["4111"]),
    "park.suwon": ("supervisor", ["suwon"], ["4111"]),
    "choi.gangnam": ("caseworker", ["gangnam"], ["11680"]),
    "jung.audit": ("auditor", [], []),
}


@dataclass
class Stack:
    database_url: str
    env: dict[str, str]
    client: httpx.Client
    sessions: sessionmaker[Session]
    mois_key: str
    broker: EmbeddedBroker
    tokens: dict[str, str] = field(default_factory=dict)
    processor: LifeEventProcessor | None = None

    @property
    def base_url(self) -> str:
        return str(self.client.base_url).rstrip("/")

    def bearer(self, username: str) -> dict[str, str]:
        """Log in through the API as a console account (the token carries its scopes)."""
        if username not in self.tokens:
            r = self.client.post("/v1/caseworkers/token", json={"username": username, "password": PASSWORD})
            assert r.status_code == 200, r.text
            self.tokens[username] = r.json()["access_token"]
        return {"authorization": f"Bearer {self.tokens[username]}"}

    def pending_case(self, municipality: str, tag: str | None = None) -> tuple[str, str, list[str]]:
        """A fresh family's birth through the real rules: (pending entitlement id, child id, parent ids)."""
        tag = tag or uuid.uuid4().hex[:8]
        parents = [f"m-{tag}", f"f-{tag}"]
        seed_household(self.sessions, f"hh-{tag}", parents, municipality, None)  # residence unknown: undetermined
        event = birth_event(mother=parents[0], father=parents[1], child=f"c-{tag}", municipality=municipality)
        record = Record("life-events", 0, 0, None, event.to_structured(), [("content-type", STRUCTURED)])
        if self.processor is None:
            self.processor = processor(Settings(database_url=self.database_url))
        result = self.processor.process([record])
        assert result.undetermined >= 1, result
        with self.sessions() as session:
            pending = session.scalars(
                select(EntitlementRow.id).where(
                    EntitlementRow.event_id == event.id, EntitlementRow.status == "pending_review"
                )
            ).all()
        assert len(pending) == 1, pending
        return pending[0], f"c-{tag}", parents


def reset_database(kind: str, directory: Path) -> str:
    if kind == "sqlite":
        url = f"sqlite:///{directory}/beforeservice.db"
    else:
        url = os.environ.get("TEST_DATABASE_URL", DEFAULT_TEST_DATABASE_URL)
        engine = make_engine(url)
        with engine.begin() as conn:
            conn.execute(text("DROP SCHEMA IF EXISTS public CASCADE"))
            conn.execute(text("CREATE SCHEMA public"))
        engine.dispose()
    engine = make_engine(url)
    upgrade(engine)
    engine.dispose()
    return url


def start_stack(kind: str, directory: Path, extra_env: dict[str, str] | None = None) -> Iterator[Stack]:
    with EmbeddedBroker(free_port()) as broker:
        ensure_topics(broker.bootstrap_servers, 2)
        url = reset_database(kind, directory)
        engine = make_engine(url)
        sessions = session_factory(engine)
        with sessions.begin() as session:
            for username, (role, agencies, places) in ACCOUNTS.items():
                add_caseworker(session, username, PASSWORD, role=role, agencies=agencies, municipalities=places)
        env = {k: v for k, v in os.environ.items() if not k.startswith(("KAFKA_", "DATABASE_", "FIREBASE_", "FCM_"))}
        env.update(
            {
                "KAFKA_BOOTSTRAP_SERVERS": broker.bootstrap_servers,
                "KAFKA_IDEMPOTENCE": "false",  # tansu refuses aiokafka's idempotent producer
                "DATABASE_URL": url,
                "DATA_DIR": str(directory / "var"),
                "API_PORT": str(free_port()),
                "TOKEN_SECRET": TOKEN_SECRET,
                "DEV_LOGIN": "false",
                "MAX_EVENT_BYTES": "65536",
                "MAX_BATCH_BYTES": "2000000",
                **(extra_env or {}),
            }
        )
        key = agency_key(url)
        try:
            with api_process(env, directory / "logs", "the API") as client:
                yield Stack(url, env, client, sessions, key, broker)
        finally:
            engine.dispose()


@contextmanager
def api_process(env: dict[str, str], logs: Path, what: str) -> Iterator[httpx.Client]:
    """An API process with `env` (port API_PORT), a client once it answers /healthz; stopped (log printed) after."""
    api = Component("api", env, logs)
    base = f"http://127.0.0.1:{env['API_PORT']}"

    def healthy() -> bool:
        try:
            return httpx.get(f"{base}/healthz", timeout=1).status_code == 200
        except httpx.HTTPError:
            return False

    try:
        wait_for(healthy, timeout=60, what=f"{what} to answer /healthz")
        with httpx.Client(base_url=base, timeout=30) as client:
            yield client
    finally:
        api.stop()
        print(f"--- {what} log ---\n{api.tail()}")
