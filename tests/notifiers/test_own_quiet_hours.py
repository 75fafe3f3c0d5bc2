"""A citizen's own quiet hours, honoured by a real dispatcher process sending to the local FCM server: a push that
would land inside them is held (FCM receives nothing) until they end, while another citizen's goes at once.
The process's clock is a file the test moves (tests/support/dispatcher_process.py), so no test waits for hours."""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, datetime, time
from pathlib import Path

import pytest
from sqlalchemy.orm import Session, sessionmaker

from notifiers.preferences import set_preferences
from notifiers.timing import SEOUL
from tests.conftest import wait_for
from tests.support.fcm_server import LocalFcmServer, write_service_account
from tests.support.notification_seeds import T0, notification, offer, opt_in, row, seed_citizen

pytestmark = pytest.mark.integration
NOON = datetime(2026, 3, 10, 12, 0, tzinfo=SEOUL)  # inside the nurse's 11:00-13:00, outside the default's night
WINDOW_ENDS = datetime(2026, 3, 10, 13, 0, tzinfo=SEOUL)


def received_ids(server: LocalFcmServer) -> list[str]:
    return [m["data"]["notification_id"] for m in server.received]


def test_a_push_inside_the_citizen_s_quiet_hours_waits_for_their_end(
    sessions: sessionmaker[Session], database_url: str, tmp_path: Path
) -> None:
    for citizen in ("nurse", "other"):
        seed_citizen(sessions, citizen)
        opt_in(sessions, citizen, [f"tok-{citizen}"])
    with sessions.begin() as session:
        set_preferences(session, "nurse", "ko", False, T0, (time(11), time(13)))
    held = notification(sessions, "nurse", [offer(sessions, "nurse")])
    control = notification(sessions, "other", [offer(sessions, "other")])

    clock = tmp_path / "clock"
    clock.write_text(NOON.isoformat())
    with LocalFcmServer() as server:
        credentials = write_service_account(tmp_path / "sa.json", server.token_uri)
        command = [sys.executable, "-m", "tests.support.dispatcher_process", database_url, str(credentials)]
        dispatcher = subprocess.Popen(
            [*command, server.url, "50", str(clock)],
            stdout=(tmp_path / "dispatcher.log").open("ab"),
            stderr=subprocess.STDOUT,
        )
        try:
            wait_for(lambda: control in received_ids(server), timeout=60, what="the other citizen's push")
            waiting = wait_for(lambda: (r := row(sessions, held)).dispatch_status == "held" and r, timeout=30)
            assert waiting.hold_reason == "quiet_hours"
            assert waiting.not_before is not None
            assert waiting.not_before.replace(tzinfo=waiting.not_before.tzinfo or UTC) == WINDOW_ENDS
            assert held not in received_ids(server)

            clock.write_text(WINDOW_ENDS.isoformat())  # the quiet hours end
            wait_for(lambda: held in received_ids(server), timeout=60, what="the held push after 13:00")
            assert row(sessions, held).dispatch_status == "sent"
            assert received_ids(server).count(held) == 1
        finally:
            dispatcher.terminate()
            dispatcher.wait(timeout=20)
