"""The history a shadow replay reads ends where the log ends, not where tansu says it ends."""

from __future__ import annotations

import json

import pytest
from kafka import KafkaConsumer, KafkaProducer, TopicPartition

from beforeservice.broker import EmbeddedBroker
from events.history import read_history
from events.privacy import Pseudonymizer
from events.topics import LIFE_EVENTS
from tests.support.births import as_json, birth_event

pytestmark = pytest.mark.integration
RECORDS = 700  # more than one poll hands out (max_poll_records 500)


def test_read_history_reads_the_tail_past_tansus_short_end_offset(broker: EmbeddedBroker) -> None:
    # One produced batch of 700 records on one partition (linger and a large batch gather them): tansu then
    # reports the partition's end as that batch's first offset + 1, so a reader that stops once its position passes
    # the reported end stops after its first poll's 500 records.
    producer = KafkaProducer(bootstrap_servers=broker.bootstrap_servers, linger_ms=1000, batch_size=4 * 1024 * 1024)
    for n in range(RECORDS):
        event = as_json(birth_event(mother=f"m-{n}", child=f"c-{n}", event_id=f"birth-{n}"))
        producer.send(LIFE_EVENTS, json.dumps(event).encode(), partition=0)
    producer.flush()
    producer.close()
    probe = KafkaConsumer(bootstrap_servers=broker.bootstrap_servers, group_id=None)
    try:
        reported_end = probe.end_offsets([TopicPartition(LIFE_EVENTS, 0)])[TopicPartition(LIFE_EVENTS, 0)]
    finally:
        probe.close()
    assert reported_end < RECORDS  # the broker's quirk this reader must survive (else the test proves nothing)

    history = list(read_history(broker.bootstrap_servers, Pseudonymizer(b"k" * 32)))

    assert len(history) == RECORDS
    assert all(event is not None for event in history)
    ids = sorted(event.envelope.id for event in history if event is not None)
    assert ids == sorted(f"birth-{n}" for n in range(RECORDS))
