"""Restoring the database from a backup on the real stack: life events into tansu, the worker processes a first
set, `pg_dump -Fc` is taken while it runs, more events are processed, then the database is lost. Restored with
`pg_restore` into a new database, it lags the log, and the workers' consumer group cannot bring it up to date
(its committed offsets are past everything); `beforeservice catch-up` does, so that it equals the database that
never lost anything row for row, and no push is sent twice."""

from __future__ import annotations

import subprocess
import sys
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from kafka import KafkaConsumer, TopicPartition
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

from beforeservice.bootstrap import push_sender
from beforeservice.broker import EmbeddedBroker, free_port
from beforeservice.database import make_engine, session_factory
from beforeservice.dispatcher import dispatch_round
from beforeservice.restore import catch_up
from beforeservice.settings import Settings
from entitlements.persistence.tables import EntitlementRow, ProcessedEventRow
from events.producer import AgencyProducer
from events.topics import LIFE_EVENTS
from notifiers.policy import DispatchPolicy
from notifiers.rendering import shared_templates
from rules_engine.categories import ConsentCategory
from tests.beforeservice.ops.scrape import samples, status, value
from tests.beforeservice.ops.test_rebuild import count, differences, dispatch_states, granted, life_events, snapshot
from tests.conftest import PARTITIONS, Component, Stack, agency_key, wait_for
from tests.support.births import register_device
from tests.support.notification_seeds import notification, offer, row, seed_citizen

pytestmark = pytest.mark.integration

PG_BIN = Path("/usr/lib/postgresql/15/bin")  # Debian's PostgreSQL 15 client binaries (tests/support/start_postgres.sh)
PARTS = ("entitlements", "households", "citizens", "processed", "notifications")


def libpq(url: str) -> str:
    """The SQLAlchemy URL as pg_dump and pg_restore take it."""
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


@pytest.fixture
def restored_url(stack: Stack) -> Iterator[str]:
    """A new, empty database beside the test's, dropped afterwards: where the backup is restored."""
    original = make_url(stack.env["DATABASE_URL"])
    name = f"{original.database}_restored"
    admin = make_engine(original.render_as_string(hide_password=False)).execution_options(isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield original.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def committed(bootstrap: str, group: str) -> int:
    """How many records of life-events the consumer group has committed, over all partitions."""
    consumer = KafkaConsumer(bootstrap_servers=bootstrap, group_id=group, enable_auto_commit=False)
    try:
        return sum(consumer.committed(TopicPartition(LIFE_EVENTS, p)) or 0 for p in range(PARTITIONS))
    finally:
        consumer.close()


def run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, env=env, capture_output=True, text=True, timeout=300)


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_a_restored_backup_caught_up_from_the_log_equals_the_database_that_lost_nothing(
    stack: Stack, restored_url: str, tmp_path: Path
) -> None:
    agency_key(stack.env["DATABASE_URL"], "mohw", ("kr.go.mohw.*",), ("/agencies/mohw/",))
    register_device(stack.sessions, "m-1", "token-m-1")  # m-1 is pushed to: a push sent twice would show
    events = life_events()
    producer = AgencyProducer(stack.broker.bootstrap_servers)
    for event in events[:5]:  # the births
        producer.send(event)
    producer.flush()
    backup = tmp_path / "beforeservice.dump"
    # FCM is down when the backup is taken: m-1's push waits in the backup's outbox, and is sent after it.
    stack.fcm.unavailable = True
    env = {**stack.env, "PUSH_RETRY_BASE_SECONDS": "0.5", "PUSH_RETRY_CAP_SECONDS": "2"}  # FCM re-tried in seconds
    worker = Component("worker", env, stack.logs)  # it also dispatches (the embedded default)
    try:
        wait_for(lambda: count(stack.sessions, ProcessedEventRow) == 5, what="the births processed")
        wait_for(lambda: "held" in dispatch_states(stack.sessions).values(), what="m-1's push waiting for FCM")
        # The nightly backup, taken while the engine runs (pg_dump reads one consistent snapshot).
        dumped = run(str(PG_BIN / "pg_dump"), "-Fc", "-f", str(backup), libpq(stack.env["DATABASE_URL"]))
        assert dumped.returncode == 0, dumped.stderr
        stack.fcm.unavailable = False
        wait_for(lambda: stack.fcm.received, what="m-1's push accepted by FCM")
        wait_for(lambda: {"pending", "held"}.isdisjoint(dispatch_states(stack.sessions).values()), what="notified")
        for event in events[5:]:  # the day goes on after the backup
            producer.send(event)
        producer.flush()
        producer.close()
        wait_for(lambda: count(stack.sessions, ProcessedEventRow) == 10, what="every accepted event processed")
        wait_for(lambda: granted(stack.sessions), what="the application and the grant")
        wait_for(lambda: "pending" not in dispatch_states(stack.sessions).values(), what="the outbox dispatched")
        group, records = stack.env["WORKER_ID"], len(events)
        wait_for(lambda: committed(stack.broker.bootstrap_servers, group) == records, what="every offset committed")
    finally:
        worker.stop()
    # The database that never lost anything, and what FCM received from it.
    reference, pushes = snapshot(stack.sessions), list(stack.fcm.received)
    states = dispatch_states(stack.sessions)

    # The database is lost; the backup is restored into a new one.
    restored = run(str(PG_BIN / "pg_restore"), "--no-owner", "--exit-on-error", "-d", libpq(restored_url), str(backup))
    assert restored.returncode == 0, restored.stderr
    engine = make_engine(restored_url)
    sessions: sessionmaker[Session] = session_factory(engine)
    try:
        assert count(sessions, ProcessedEventRow) == 5  # the backup's day: the births only
        # A worker restarted now resumes from its group's offsets, past all 12 records: it would read none of the
        # events the backup misses. Only the database knows what it processed.
        assert committed(stack.broker.bootstrap_servers, group) == records

        env = {**env, "DATABASE_URL": restored_url}
        caught_up = run(sys.executable, "-m", "beforeservice", "catch-up", "--batch-size", "4", env=env)
        assert caught_up.returncode == 0, caught_up.stdout + caught_up.stderr
        assert "12 records, 6 already in the backup, 5 events applied, 1 refused" in caught_up.stdout, caught_up.stdout

        after = snapshot(sessions)
        for part in PARTS:
            assert differences(reference[part], after[part]) == [], part

        # The workers start again on the restored database, and its outbox is dispatched: nothing goes twice.
        port = free_port()
        # BROKER_SESSION_TIMEOUT (Faust's, from the environment): a stale member of the group is dropped in 6 s, not 60.
        restarted = {**env, "WORKER_METRICS_PORT": str(port), "BROKER_SESSION_TIMEOUT": "6"}
        worker = Component("worker", restarted, stack.logs)
        try:
            base = f"http://127.0.0.1:{port}"
            wait_for(lambda: status(f"{base}/readyz") == 200, timeout=180, what="the worker holding partitions")
            lag = "beforeservice_consumer_lag"
            wait_for(lambda: any(name == lag for name, _ in samples(base)), what="its lag reported")
            assert value(samples(base), lag) == 0  # its group is at the end of the log: it reads nothing again
            settings = Settings(
                database_url=restored_url,
                firebase_credentials=stack.env["FIREBASE_CREDENTIALS"],
                fcm_endpoint=stack.env["FCM_ENDPOINT"],
                quiet_hours_start=0,
                quiet_hours_end=0,
            )
            while dispatch_round(sessions, push_sender(settings), DispatchPolicy.of(settings), shared_templates()):
                pass
            # As delivered in the original run (`rebuilt` when the backup did not know), or still cooling off.
            for notification, state in dispatch_states(sessions).items():
                expected = {"held"} if states[notification] == "held" else {states[notification], "rebuilt"}
                assert state in expected, (notification, states[notification], state)
        finally:
            worker.stop()
        assert snapshot(sessions) == after
    finally:
        engine.dispose()
    delivered = Counter((m["token"], m["data"]["notification_id"]) for m in stack.fcm.received)
    assert len(stack.fcm.received) == len(pushes) and max(delivered.values()) == 1  # no push sent twice


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_pushes_a_backup_holds_as_unsent_are_marked_delivered_except_a_notice_still_cooling_off(
    broker: EmbeddedBroker, sessions: sessionmaker[Session], database_url: str
) -> None:
    # The backup is as recent as the log (nothing to replay), taken while two notifications were still unsent.
    an_hour_ago = datetime.now(UTC) - timedelta(hours=1)
    seed_citizen(sessions, "c1")
    offered = offer(sessions, "c1")
    sent_after_the_dump = notification(sessions, "c1", [offered], created_at=an_hour_ago)
    mourning = notification(sessions, "c1", [], category=ConsentCategory.BEREAVEMENT, created_at=an_hour_ago)

    settled, report = catch_up(
        Settings(database_url=database_url, kafka_bootstrap_servers=broker.bootstrap_servers), batch_size=500
    )

    assert (settled, report.records) == (1, 0)
    assert row(sessions, sent_after_the_dump).dispatch_status == "rebuilt"  # the dispatcher went on after the dump
    assert row(sessions, mourning).dispatch_status == "pending"  # its cooling-off has 71 hours to go: sent once then
    with sessions() as s:
        assert s.get(EntitlementRow, offered).status == "notified"  # type: ignore[union-attr]
