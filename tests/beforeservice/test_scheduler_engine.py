"""The scheduler builds its engine once: every run of every job shares it, and it is disposed when it stops."""

from __future__ import annotations

import threading
from datetime import UTC, datetime

import pytest
from apscheduler.events import EVENT_JOB_ERROR, EVENT_JOB_EXECUTED, JobExecutionEvent
from sqlalchemy import Connection, Engine, event
from sqlalchemy.pool import NullPool

from beforeservice import scheduler
from beforeservice.settings import get_settings
from tests.conftest import wait_for

pytestmark = pytest.mark.integration
ROUNDS = 3


def test_job_runs_share_one_engine_disposed_when_the_scheduler_stops(
    database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    used: dict[int, Engine] = {}  # every engine that connected, wherever it was built
    disposed: dict[int, Engine] = {}

    def connected(connection: Connection) -> None:
        # The lease's own unpooled engine (PostgreSQL) is deliberate: its lock must end with its session.
        if not isinstance(connection.engine.pool, NullPool):
            used[id(connection.engine)] = connection.engine

    def dispose(engine: Engine) -> None:
        disposed[id(engine)] = engine

    event.listen(Engine, "engine_connect", connected)
    event.listen(Engine, "engine_disposed", dispose)
    monkeypatch.setattr(scheduler, "_RUNNING", None)
    settings = get_settings().model_copy(update={"database_url": database_url, "message_gateway_url": ""})
    runs: list[JobExecutionEvent] = []
    running = threading.Thread(target=scheduler.run_scheduler, args=(settings, 0.1), daemon=True)
    running.start()
    try:
        wait_for(lambda: scheduler._RUNNING is not None and scheduler._RUNNING.running, 60, what="the scheduler")
        active = scheduler._RUNNING
        assert active is not None
        active.add_listener(runs.append, EVENT_JOB_EXECUTED | EVENT_JOB_ERROR)
        jobs = [job.id for job in active.get_jobs(jobstore="default")]
        assert len(jobs) == 5, jobs  # expiry, milestones, reminder planning, device pruning, fallback
        for round_ in range(1, ROUNDS + 1):
            for job_id in jobs:  # as if each job's time had come
                active.modify_job(job_id, jobstore="default", next_run_time=datetime.now(UTC))
            expected = round_ * len(jobs)
            wait_for(lambda: len(runs) >= expected, 60, what=f"job runs of round {round_}")  # noqa: B023
    finally:
        if scheduler._RUNNING is not None:
            scheduler._RUNNING.shutdown(wait=True)
        running.join(timeout=60)
        event.remove(Engine, "engine_connect", connected)
        event.remove(Engine, "engine_disposed", dispose)
    assert not running.is_alive()
    assert [r.exception for r in runs if r.exception] == []
    assert len(runs) == ROUNDS * len(jobs)
    assert len(used) == 1, f"{len(used)} engines for {len(runs)} job runs"
    assert set(disposed) >= set(used)
