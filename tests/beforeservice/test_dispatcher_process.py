"""At scale the worker only matches and `beforeservice dispatcher` sends: nothing is pushed until a dispatcher
runs, then exactly one push per consenting recipient, on real parts (tansu, the database, firebase-admin)."""

from __future__ import annotations

import time
from datetime import date

import pytest
from sqlalchemy import select, text
from sqlalchemy.orm import Session, sessionmaker

from events.producer import AgencyProducer
from notifiers.doorbell import CHANNEL
from notifiers.tables import NotificationRow
from tests.conftest import Component, Stack, wait_for
from tests.support.births import birth_event, register_device, seed_household

pytestmark = pytest.mark.integration


def statuses(sessions: sessionmaker[Session]) -> dict[str, str]:
    with sessions() as session:
        rows = session.execute(select(NotificationRow.recipient_id, NotificationRow.dispatch_status))
        return {recipient: status for recipient, status in rows}


def test_a_separate_dispatcher_sends_what_the_worker_committed(stack: Stack) -> None:
    broker, sessions, server, engine_env, tmp_path = stack.broker, stack.sessions, stack.fcm, stack.env, stack.tmp_path
    env = {**engine_env, "WORKER_DISPATCHES_OUTBOX": "false"}
    seed_household(sessions, "hh-park", ["m-park", "f-park"], "41110", date(2021, 5, 1))
    register_device(sessions, "m-park", "token-park-phone")
    worker = Component("worker", env, tmp_path / "logs")
    dispatcher: Component | None = None
    try:
        producer = AgencyProducer(broker.bootstrap_servers)
        producer.send(birth_event(mother="m-park", father="f-park", child="c-park", birth_order=1))
        producer.flush()
        wait_for(lambda: len(statuses(sessions)) == 2, what="the worker committed both parents' notifications")
        time.sleep(2)  # several dispatch intervals: a worker that still dispatched would have sent by now
        assert set(statuses(sessions).values()) == {"pending"}
        assert server.received == []

        dispatcher = Component("dispatcher", env, tmp_path / "logs")
        wait_for(lambda: "pending" not in statuses(sessions).values(), what="the dispatcher sent the outbox")
        assert statuses(sessions) == {"m-park": "sent", "f-park": "inbox_only"}
        assert [m["token"] for m in server.received] == ["token-park-phone"]
    finally:
        if dispatcher is not None:
            dispatcher.stop()
        worker.stop()


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_the_dispatcher_wakes_when_the_worker_commits_not_at_its_next_poll(stack: Stack) -> None:
    """Polling every 10 minutes, the dispatcher still pushes within seconds: the worker's commit rang the doorbell."""
    broker, sessions, server, engine_env, tmp_path = stack.broker, stack.sessions, stack.fcm, stack.env, stack.tmp_path
    env = {**engine_env, "WORKER_DISPATCHES_OUTBOX": "false", "DISPATCH_INTERVAL_SECONDS": "600"}
    seed_household(sessions, "hh-kim", ["m-kim", "f-kim"], "41110", date(2021, 5, 1))
    register_device(sessions, "m-kim", "token-kim-phone")
    dispatcher = Component("dispatcher", env, tmp_path / "logs")
    worker: Component | None = None
    try:
        wait_for(lambda: listening(sessions), what="the dispatcher listening on the outbox doorbell")
        worker = Component("worker", env, tmp_path / "logs")
        producer = AgencyProducer(broker.bootstrap_servers)
        producer.send(birth_event(mother="m-kim", father="f-kim", child="c-kim", birth_order=1))
        producer.flush()
        wait_for(lambda: len(statuses(sessions)) == 2, what="the worker committed both parents' notifications")
        committed = time.monotonic()
        wait_for(lambda: server.received, timeout=30, what="the push, long before the next poll")
        assert time.monotonic() - committed < 30
        assert [m["token"] for m in server.received] == ["token-kim-phone"]
        # FCM accepts the push before the dispatcher commits what it answered: wait for that commit.
        expected = {"m-kim": "sent", "f-kim": "inbox_only"}
        wait_for(lambda: statuses(sessions) == expected, timeout=15, what="the dispatcher recording the outcome")
        assert statuses(sessions) == expected
    finally:
        if worker is not None:
            worker.stop()
        dispatcher.stop()


def listening(sessions: sessionmaker[Session]) -> bool:
    with sessions() as session:
        found = session.execute(
            text("SELECT count(*) FROM pg_stat_activity WHERE query = :listen"), {"listen": f"LISTEN {CHANNEL}"}
        ).scalar()
        return bool(found)
