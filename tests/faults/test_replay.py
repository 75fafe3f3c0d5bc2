"""Replay from offset 0 (a new consumer group over the same topic and database): nothing new happens."""

from __future__ import annotations

import time
import uuid

import pytest
from kafka import KafkaConsumer, TopicPartition
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from entitlements.persistence.tables import EntitlementRow
from events.topics import LIFE_EVENTS
from notifiers.tables import NotificationRow
from tests.conftest import Stack
from tests.faults import harness

pytestmark = [pytest.mark.integration, pytest.mark.timeout(3600)]


def caught_up(bootstrap: str, group: str) -> bool:
    """The group has committed the end offset of every partition of the topic: it has read everything."""
    # A consumer that only asks for the group's committed offsets (it never subscribes, so never joins it).
    consumer = KafkaConsumer(bootstrap_servers=bootstrap, group_id=group, enable_auto_commit=False)
    try:
        partitions = [TopicPartition(LIFE_EVENTS, p) for p in consumer.partitions_for_topic(LIFE_EVENTS) or ()]
        ends = consumer.end_offsets(partitions)
        return bool(partitions) and all((consumer.committed(tp) or 0) >= end for tp, end in ends.items())
    finally:
        consumer.close()


def counts(sessions: sessionmaker[Session]) -> tuple[int, int, int]:
    with sessions() as session:
        return (
            harness.processed_count(sessions),
            int(session.scalar(select(func.count()).select_from(EntitlementRow)) or 0),
            int(session.scalar(select(func.count()).select_from(NotificationRow)) or 0),
        )


def test_replay_from_offset_zero_matches_and_notifies_nothing_new(stack: Stack) -> None:
    broker, sessions, server, engine_env, tmp_path = stack.broker, stack.sessions, stack.fcm, stack.env, stack.tmp_path
    stream, offers_of = harness.births_to_registered_mothers(sessions, seed=6)
    env = harness.fault_env(engine_env)
    original = harness.Worker(env, tmp_path / "logs", "original")
    original.start()
    try:
        harness.produce(broker.bootstrap_servers, stream)
        harness.wait_until_done(sessions, len(stream))
    finally:
        original.stop()
    first = harness.ledger(sessions, stream, offers_of, server)
    first.assert_zeros()
    before, pushes_before = counts(sessions), len(server.received)

    group = f"replay-{uuid.uuid4().hex[:8]}"
    replay = harness.Worker({**env, "WORKER_ID": group, "DATA_DIR": str(tmp_path / "var-replay")}, tmp_path / "logs")
    started = time.monotonic()
    replay.start()
    try:
        harness.wait_for(lambda: caught_up(broker.bootstrap_servers, group), timeout=1800, interval=1, what="replay")
        replayed_in = time.monotonic() - started
        time.sleep(2.0)  # several outbox ticks: anything the replay had queued would be pushed by now
    finally:
        replay.stop()
        print(f"--- replay worker log ---\n{replay.tail()}")
    after, pushes_after = counts(sessions), len(server.received)

    new = {
        "new_processed_events": after[0] - before[0],
        "new_matches": after[1] - before[1],
        "new_notifications": after[2] - before[2],
        "new_pushes": pushes_after - pushes_before,
    }
    first.figures.update({**new, "replay_seconds": round(replayed_in, 1)})
    first.print(f"replay of {len(stream):,} events from offset 0 under a new consumer group")
    assert new == dict.fromkeys(new, 0)
