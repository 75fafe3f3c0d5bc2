"""Fixtures on real parts: the tansu broker, SQLite and PostgreSQL, the local FCM server, engine processes."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.orm import Session, sessionmaker

from beforeservice.bootstrap import configure_keyring
from beforeservice.broker import EmbeddedBroker, ensure_topics, free_port
from beforeservice.console.audit_anchors import new_signing_key
from beforeservice.database import make_engine, session_factory, upgrade
from beforeservice.settings import Settings, get_settings
from entitlements.persistence.sealed_columns import install_keyring, installed_keyring
from entitlements.persistence.sealing import new_key_entry
from tests.support.fcm_server import LocalFcmServer, write_service_account

# google-auth would look up a "regional access boundary" at iamcredentials.googleapis.com for the fake service
# account; tests reach nothing outside this machine.
os.environ["GOOGLE_AUTH_TRUST_BOUNDARY_ENABLED"] = "false"
# Engine processes started by the tests run as in production (no DEV_MODE), on strong secrets made for this
# session; this process reads what they seal and signs what they check, so it holds the same ones.
TOKEN_SECRET = "test-secret-" + uuid.uuid4().hex
os.environ.update(
    {
        "DEV_MODE": "false",
        "TOKEN_SECRET": TOKEN_SECRET,
        "PSEUDONYM_KEY": "test-pseudonym-key-" + uuid.uuid4().hex,
        "DATA_KEYS": new_key_entry("test"),
        "AUDIT_ANCHOR_KEY": new_signing_key(),
    }
)
configure_keyring(Settings())  # as a process's bootstrap does (make_engine installs none)
DEFAULT_TEST_DATABASE_URL = "postgresql+psycopg://beforeservice:beforeservice@127.0.0.1:5432/beforeservice_test"
PARTITIONS = 4


@pytest.fixture(autouse=True)
def _settings_and_keyring_per_test() -> Iterator[None]:
    """Settings are cached per process (get_settings) and the keyring is process-wide: what one test sets (a CLI
    command run in-process with other DATA_KEYS) must not leak into the next one's scheduler jobs."""
    keyring = installed_keyring()
    yield
    get_settings.cache_clear()
    if keyring is not None:
        install_keyring(keyring)


# A test that needs a server is an integration test whatever its module says, so that `make test-unit` runs the
# rest with no database server or broker (SQLite is embedded, not a server).
SERVER_FIXTURES = frozenset({"broker", "fcm", "engine_env", "stack", "worker", "api"})


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        params = getattr(getattr(item, "callspec", None), "params", {})
        needs = SERVER_FIXTURES & set(getattr(item, "fixturenames", ()))
        if needs or params.get("database_url") == "postgresql" or "postgres" in item.name:
            item.add_marker(pytest.mark.integration)


RUNNING: list[Component] = []  # engine processes of the current test: a crash ends a wait at once


def wait_for(predicate: Callable[[], Any], timeout: float = 90.0, interval: float = 0.25, what: str = "") -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for component in RUNNING:
            if component.process.poll() is not None:
                raise AssertionError(f"the {component.name} exited while waiting for {what}:\n{component.tail()}")
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {what or predicate}")


@pytest.fixture
def broker() -> Iterator[EmbeddedBroker]:
    with EmbeddedBroker(free_port()) as running:
        ensure_topics(running.bootstrap_servers, PARTITIONS)
        yield running


def _reset_postgres(url: str) -> None:
    engine = make_engine(url)
    with engine.begin() as conn:
        conn.execute(text("DROP SCHEMA IF EXISTS public CASCADE"))
        conn.execute(text("CREATE SCHEMA public"))
    engine.dispose()


def migrated(url: str) -> str:
    """`url`, its schema brought up to date (an empty database gets every table)."""
    engine = make_engine(url)
    upgrade(engine)
    engine.dispose()
    return url


def fresh_postgres_url() -> str:
    """The test PostgreSQL database, emptied and migrated."""
    url = os.environ.get("TEST_DATABASE_URL", DEFAULT_TEST_DATABASE_URL)
    _reset_postgres(url)
    return migrated(url)


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return migrated(f"sqlite:///{tmp_path}/beforeservice.db")
    return fresh_postgres_url()


@pytest.fixture
def sessions(database_url: str) -> Iterator[sessionmaker[Session]]:
    engine = make_engine(database_url)
    yield session_factory(engine)
    engine.dispose()


@pytest.fixture
def fcm(tmp_path: Path) -> Iterator[tuple[LocalFcmServer, Path]]:
    with LocalFcmServer() as server:
        credentials = write_service_account(tmp_path / "service-account.json", server.token_uri)
        yield server, credentials


@pytest.fixture
def engine_env(
    broker: EmbeddedBroker, database_url: str, fcm: tuple[LocalFcmServer, Path], tmp_path: Path
) -> dict[str, str]:
    server, credentials = fcm
    env = {k: v for k, v in os.environ.items() if not k.startswith(("KAFKA_", "DATABASE_", "FIREBASE_", "FCM_"))}
    env.update(
        {
            "KAFKA_BOOTSTRAP_SERVERS": broker.bootstrap_servers,
            "KAFKA_IDEMPOTENCE": "false",  # tansu refuses aiokafka's idempotent producer (docs/operations-kafka.md)
            "DATABASE_URL": database_url,
            "FIREBASE_CREDENTIALS": str(credentials),
            "FCM_ENDPOINT": server.url,
            "WORKER_ID": f"test-worker-{uuid.uuid4().hex[:8]}",
            "WORKER_METRICS_PORT": "0",
            "WORKER_BATCH_SECONDS": "0.1",
            "DISPATCH_INTERVAL_SECONDS": "0.2",
            "LIFE_EVENTS_PARTITIONS": str(PARTITIONS),
            "DATA_DIR": str(tmp_path / "var"),
            "API_PORT": str(free_port()),
            "TOKEN_SECRET": TOKEN_SECRET,
            "DEV_LOGIN": "false",
            # No quiet hours (start = end): whether a push goes out now must not depend on the hour the suite runs
            # (tests/notifiers/test_dispatch.py and test_timing.py prove quiet hours on a fixed clock).
            "QUIET_HOURS_START": "0",
            "QUIET_HOURS_END": "0",
        }
    )
    return env


@dataclass(frozen=True)
class Stack:
    """The real parts an end-to-end test runs engine processes against, and their environment."""

    broker: EmbeddedBroker
    sessions: sessionmaker[Session]
    fcm: LocalFcmServer
    env: dict[str, str]
    tmp_path: Path

    @property
    def logs(self) -> Path:
        return self.tmp_path / "logs"


@pytest.fixture
def stack(
    broker: EmbeddedBroker,
    sessions: sessionmaker[Session],
    fcm: tuple[LocalFcmServer, Path],
    engine_env: dict[str, str],
    tmp_path: Path,
) -> Stack:
    return Stack(broker, sessions, fcm[0], engine_env, tmp_path)


def citizen_headers(citizen_id: str) -> dict[str, str]:
    """A bearer token for the citizen, signed with the engine's key (what the citizen app would hold)."""
    from beforeservice.auth import issue_token
    from beforeservice.settings import Settings

    token = issue_token(Settings(token_secret=TOKEN_SECRET), citizen_id, "citizen")
    return {"authorization": f"Bearer {token}"}


class Component:
    def __init__(self, name: str, env: dict[str, str], log_dir: Path) -> None:
        self.name = name
        self.log = log_dir / f"{name}.log"
        log_dir.mkdir(parents=True, exist_ok=True)
        self.process = subprocess.Popen(
            [sys.executable, "-m", "beforeservice", name], env=env, stdout=self.log.open("wb"), stderr=subprocess.STDOUT
        )
        RUNNING.append(self)

    def stop(self) -> None:
        if self in RUNNING:
            RUNNING.remove(self)
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def tail(self, lines: int = 40) -> str:
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])


@pytest.fixture
def worker(engine_env: dict[str, str], tmp_path: Path) -> Iterator[Component]:
    component = Component("worker", engine_env, tmp_path / "logs")
    yield component
    component.stop()
    print(f"--- worker log ---\n{component.tail()}")


def agency_key(
    database_url: str,
    agency: str = "mois",
    event_types: tuple[str, ...] = ("kr.go.mois.*",),
    source_prefixes: tuple[str, ...] = ("/agencies/mois/registry/",),
    rate_per_minute: int = 6000,
) -> str:
    """A fresh agency API key in the engine's database (what `beforeservice agencies add` creates)."""
    from beforeservice.console.agencies import add_agency_key

    engine = make_engine(database_url)
    with session_factory(engine).begin() as session:
        _, key = add_agency_key(session, agency, list(event_types), list(source_prefixes), rate_per_minute)
    engine.dispose()
    return key


@pytest.fixture
def api(engine_env: dict[str, str], tmp_path: Path) -> Iterator[httpx.Client]:
    """The API as a process; the client sends a MOIS registry key (X-API-Key) unless a request overrides it."""
    key = agency_key(engine_env["DATABASE_URL"])
    component = Component("api", engine_env, tmp_path / "logs")
    base = f"http://127.0.0.1:{engine_env['API_PORT']}"

    def healthy() -> bool:
        assert component.process.poll() is None, component.tail()
        try:
            return httpx.get(f"{base}/healthz", timeout=1).status_code == 200
        except httpx.HTTPError:
            return False

    wait_for(healthy, timeout=60, what="the API to answer /healthz")
    with httpx.Client(base_url=base, timeout=30, headers={"x-api-key": key}) as client:
        yield client
    component.stop()
