"""Exactly one notification per (recipient, event) across a dispatcher crash: kill -9 the dispatcher process
mid-batch while the local FCM server is slow, restart it, and read what FCM received."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from notifiers.tables import DeliveryRow, NotificationRow
from tests.conftest import wait_for
from tests.support.fcm_server import LocalFcmServer, write_service_account
from tests.support.notification_seeds import notification, offer, opt_in, seed_citizen

pytestmark = pytest.mark.integration
PEOPLE = 200
BATCH = 40


class SlowFcmServer(LocalFcmServer):
    """FCM taking `delay` seconds to accept each message (it still accepts if the client has gone)."""

    delay = 0.0

    def handle_send(
        self, project: str, authorization: str | None, body: bytes
    ) -> tuple[int, dict[str, Any], dict[str, str]]:
        time.sleep(self.delay)
        return super().handle_send(project, authorization, body)


def start_dispatcher(
    database_url: str, credentials: Path, server: LocalFcmServer, log: Path
) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "tests.support.dispatcher_process",
            database_url,
            str(credentials),
            server.url,
            str(BATCH),
        ],
        stdout=log.open("ab"),
        stderr=subprocess.STDOUT,
    )


def statuses(sessions: sessionmaker[Session]) -> dict[str, str]:
    with sessions() as session:
        return {
            r.id: r.dispatch_status
            for r in session.execute(select(NotificationRow.id, NotificationRow.dispatch_status))
        }


def test_kill_9_mid_batch_resends_only_unmarked_notifications_with_the_same_collapse_key(
    sessions: sessionmaker[Session], database_url: str, tmp_path: Path
) -> None:
    ids = []
    for i in range(PEOPLE):
        citizen = f"p{i:03d}"
        seed_citizen(sessions, citizen)
        opt_in(sessions, citizen, [f"tok-{citizen}"])
        ids.append(notification(sessions, citizen, [offer(sessions, citizen)]))
    with SlowFcmServer() as server:
        server.delay = 0.4
        credentials = write_service_account(tmp_path / "sa.json", server.token_uri)
        log = tmp_path / "dispatcher.log"
        first = start_dispatcher(database_url, credentials, server, log)
        try:
            # Kill while a batch is being accepted, after at least one batch was committed.
            wait_for(
                lambda: sum(s == "sent" for s in statuses(sessions).values()) >= BATCH,
                timeout=120,
                interval=0.02,
                what="a first batch marked",
            )
            wait_for(
                lambda: len(server.received) > BATCH * 2 + 1 and first.poll() is None,
                timeout=60,
                interval=0.005,
                what="a later batch in flight",
            )
            first.send_signal(signal.SIGKILL)
            first.wait()
        finally:
            if first.poll() is None:
                first.kill()
        time.sleep(server.delay + 0.3)  # requests FCM was still working on complete (it accepted them)
        marked_before = {n for n, s in statuses(sessions).items() if s == "sent"}
        received_before = Counter(m["data"]["notification_id"] for m in server.received)
        assert 0 < len(marked_before) < PEOPLE, "the kill should land mid-run"

        server.delay = 0.0
        second = start_dispatcher(database_url, credentials, server, log)
        try:
            wait_for(lambda: all(s == "sent" for s in statuses(sessions).values()), timeout=120, what="all sent")
        finally:
            second.terminate()
            second.wait(timeout=20)

    keys: defaultdict[str, set[str]] = defaultdict(set)
    for message in server.received:
        keys[message["data"]["notification_id"]].add(message["android"]["collapse_key"])
    received = Counter(m["data"]["notification_id"] for m in server.received)
    assert set(received) == set(ids)  # every notification at least once
    assert all(keys[n] == {f"n-{n}"} for n in ids)  # duplicates only with the identical collapse key
    for n in marked_before:  # nothing after a completed mark
        assert received[n] == received_before[n] == 1
    duplicates = sum(c - 1 for c in received.values())
    print(f"\nkilled after {len(marked_before)} marked; {duplicates} re-sent with the same collapse key")
    with sessions() as session:  # the crashed transaction left no trace; every row was marked once
        accepted = session.execute(
            select(DeliveryRow.notification_id, func.count())
            .where(DeliveryRow.accepted)
            .group_by(DeliveryRow.notification_id)
        ).all()
    assert sorted(n for n, c in accepted if c == 1) == sorted(ids)
