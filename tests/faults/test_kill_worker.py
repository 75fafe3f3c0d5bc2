"""kill -9 the worker at random points while events flow: nothing lost, nothing twice."""

from __future__ import annotations

import random
import threading
import time

import pytest

from tests.conftest import Stack
from tests.faults import harness

pytestmark = [pytest.mark.integration, pytest.mark.timeout(3600)]
KILLS = 10
# Events keep arriving across all the kills: a restart costs about 12 s (the dead member's 6 s session, a
# rebalance, Faust's start-up), so the feed is spread over about 16 s per kill.
PACE = harness.EVENTS / (KILLS * 16)


def test_worker_killed_ten_times_loses_and_duplicates_nothing(stack: Stack) -> None:
    broker, sessions, server, engine_env, tmp_path = stack.broker, stack.sessions, stack.fcm, stack.env, stack.tmp_path
    stream, offers_of = harness.births_to_registered_mothers(sessions, seed=1)
    worker = harness.Worker(harness.fault_env(engine_env), tmp_path / "logs")
    rng = random.Random(20240305)
    feeding = threading.Thread(
        target=harness.produce, args=(broker.bootstrap_servers, stream), kwargs={"pace_per_second": PACE}
    )
    started = time.monotonic()
    feeding.start()
    worker.start()
    kills, progress, resumed_after = 0, [], []
    try:
        while kills < KILLS:
            # Each kill lands while the worker is consuming (after it made progress since its start), at a random
            # point: mid-batch, mid-commit or while the outbox dispatches.
            before, restarted = harness.processed_count(sessions), time.monotonic()
            harness.wait_for(
                lambda before=before: (
                    harness.processed_count(sessions) > before  # type: ignore[misc]
                    or harness.processed_count(sessions) >= len(stream)
                ),
                timeout=300,
                interval=0.1,
                what="the restarted worker consuming",
            )
            resumed_after.append(round(time.monotonic() - restarted, 1))
            print(f"kill {kills + 1}: consuming {resumed_after[-1]}s after its start", flush=True)
            time.sleep(rng.uniform(0.0, 3.0))
            progress.append(harness.processed_count(sessions))
            worker.kill()
            kills += 1
            worker.start()
        feeding.join()
        harness.wait_until_done(sessions, len(stream))
    finally:
        feeding.join()
        worker.stop()
        print(f"--- worker log ---\n{worker.tail()}")
    elapsed = time.monotonic() - started

    result = harness.ledger(sessions, stream, offers_of, server)
    result.figures.update({"kills": kills, "seconds": round(elapsed, 1)})
    print(f"seconds from each start to its first committed batch: {resumed_after}")
    result.print(f"kill -9 x{kills} over {len(stream):,} events (processed at each kill: {progress})")
    assert kills >= KILLS
    result.assert_zeros()
