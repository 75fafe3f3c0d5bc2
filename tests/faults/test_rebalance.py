"""Two workers in one consumer group, with rebalances forced mid-stream: nothing lost, nothing twice."""

from __future__ import annotations

import threading
import time

import pytest

from tests.conftest import Stack
from tests.faults import harness

pytestmark = [pytest.mark.integration, pytest.mark.timeout(3600)]


def test_second_worker_joins_and_first_leaves_mid_stream(stack: Stack) -> None:
    broker, sessions, server, engine_env, tmp_path = stack.broker, stack.sessions, stack.fcm, stack.env, stack.tmp_path
    stream, offers_of = harness.births_to_registered_mothers(sessions, seed=2)
    env = harness.fault_env(engine_env)
    first = harness.Worker({**env, "DATA_DIR": str(tmp_path / "var-a")}, tmp_path / "logs", "a")
    second = harness.Worker({**env, "DATA_DIR": str(tmp_path / "var-b")}, tmp_path / "logs", "b")
    # Spread over about a minute, so both rebalances happen while events are still arriving.
    feeding = threading.Thread(
        target=harness.produce, args=(broker.bootstrap_servers, stream), kwargs={"pace_per_second": len(stream) / 60}
    )
    started = time.monotonic()
    feeding.start()
    first.start()
    try:
        harness.wait_for(lambda: harness.processed_count(sessions) >= len(stream) // 4, timeout=600, what="25%")
        at_join = harness.processed_count(sessions)
        second.start()  # rebalance 1: the partitions are split between the two
        harness.wait_for(lambda: harness.processed_count(sessions) >= len(stream) // 2, timeout=600, what="50%")
        at_leave = harness.processed_count(sessions)
        first.stop()  # rebalance 2: SIGTERM, the survivor takes every partition over mid-stream
        feeding.join()
        harness.wait_until_done(sessions, len(stream))
    finally:
        feeding.join()
        first.stop()
        second.stop()
        print(f"--- worker b log ---\n{second.tail()}")
    elapsed = time.monotonic() - started

    result = harness.ledger(sessions, stream, offers_of, server)
    result.figures.update(
        {"processed_when_b_joined": at_join, "processed_when_a_left": at_leave, "seconds": round(elapsed, 1)}
    )
    result.print(f"two workers, rebalanced twice, over {len(stream):,} events")
    assert at_join < at_leave < len(stream), "both rebalances must happen mid-stream"
    result.assert_zeros()
