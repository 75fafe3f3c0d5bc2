"""One active scheduler: a second `beforeservice scheduler` stands by, and takes over when the first dies."""

from __future__ import annotations

import os
import signal
from pathlib import Path

from beforeservice.scheduler_lease import SchedulerLease
from tests.conftest import RUNNING, Component, wait_for


def test_a_second_lease_waits_until_the_first_is_released(database_url: str) -> None:
    first, second = SchedulerLease(database_url), SchedulerLease(database_url)
    try:
        assert first.try_acquire()
        assert first.alive()
        assert not second.try_acquire()
        first.release()
        assert second.try_acquire()
        assert not first.try_acquire()
    finally:
        first.release()
        second.release()


def test_only_one_scheduler_process_runs_and_a_standby_takes_over(database_url: str, tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("KAFKA_", "DATABASE_", "FIREBASE_", "FCM_"))}
    env.update({"DATABASE_URL": database_url, "DATA_DIR": str(tmp_path / "var")})
    probe = SchedulerLease(database_url)
    active = Component("scheduler", env, tmp_path / "active")
    standby: Component | None = None
    try:
        wait_for(lambda: "lease taken" in active.log.read_text(), timeout=60, what="the first scheduler runs")
        assert not probe.try_acquire()
        standby = Component("scheduler", env, tmp_path / "standby")
        wait_for(lambda: "standing by" in standby.log.read_text(), timeout=60, what="the second one stands by")
        assert "lease taken" not in standby.log.read_text()

        RUNNING.remove(active)  # its death is the point, not a failure
        active.process.send_signal(signal.SIGKILL)  # a crash: no clean release
        active.process.wait(timeout=10)
        wait_for(lambda: "lease taken" in standby.log.read_text(), timeout=60, what="the standby takes over")
        assert not probe.try_acquire()
    finally:
        probe.release()
        active.stop()
        if standby is not None:
            standby.stop()
