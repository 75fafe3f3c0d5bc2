"""At scale the worker only matches and `beforeservice dispatcher` sends: nothing is pushed until a dispatcher
runs, then exactly one push per consenting recipient, on real parts (tansu, the database, firebase-admin)."""

from __future__ import annotations

import time
from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from beforeservice.broker import EmbeddedBroker
from events.producer import AgencyProducer
from notifiers.tables import NotificationRow
from tests.conftest import Component, wait_for
from tests.support.births import birth_event, register_device, seed_household
from tests.support.fcm_server import LocalFcmServer

pytestmark = pytest.mark.integration


def statuses(sessions: sessionmaker[Session]) -> dict[str, str]:
    with sessions() as session:
        rows = session.execute(select(NotificationRow.recipient_id, NotificationRow.dispatch_status))
        return {recipient: status for recipient, status in rows}


def test_a_separate_dispatcher_sends_what_the_worker_committed(
    broker: EmbeddedBroker,
    sessions: sessionmaker[Session],
    fcm: tuple[LocalFcmServer, Path],
    engine_env: dict[str, str],
    tmp_path: Path,
) -> None:
    server, _ = fcm
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
