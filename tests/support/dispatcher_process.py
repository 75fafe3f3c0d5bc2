"""The outbox dispatcher alone, as a process a test can kill -9: `python -m tests.support.dispatcher_process
DATABASE_URL CREDENTIALS FCM_ENDPOINT BATCH [CLOCK_FILE]`. Loops dispatch_pending with the production push sender
(CurlFcmPushSender, as beforeservice/bootstrap.py builds it) forever. With CLOCK_FILE, "now" is the ISO 8601
moment written in that file (re-read every round), so a test can move the process's clock across quiet hours."""

from __future__ import annotations

import sys
import time
from datetime import UTC, datetime
from pathlib import Path

from beforeservice.bootstrap import Process
from beforeservice.settings import Settings
from notifiers.fcm.transport import CurlFcmPushSender
from notifiers.outbox import dispatch_pending
from notifiers.policy import DispatchPolicy
from notifiers.timing import PushBudget, QuietHours


def main() -> None:
    database_url, credentials, endpoint, batch = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
    clock_file = Path(sys.argv[5]) if len(sys.argv) > 5 else None

    def now() -> datetime:
        return datetime.fromisoformat(clock_file.read_text().strip()) if clock_file else datetime.now(UTC)

    sessions = Process(Settings(database_url=database_url)).sessions
    # Timing rules are not under test here: a huge budget and no quiet hours let every row go at once.
    from datetime import time as clock

    policy = DispatchPolicy(quiet_hours=QuietHours(clock(0), clock(0)), budget=PushBudget(10**6))
    with CurlFcmPushSender(credentials, project_id="before-service-test", endpoint=endpoint) as sender:
        print("dispatcher ready", flush=True)
        while True:
            if dispatch_pending(sessions, sender, batch, policy=policy, now=now()).notifications == 0:
                time.sleep(0.05)


if __name__ == "__main__":
    main()
