"""A life-events topic read from its first offset to its current end (shadow replays, rebuilds)."""

from __future__ import annotations

from collections.abc import Iterable

from kafka import KafkaConsumer, TopicPartition

from events.contracts import LifeEvent
from events.errors import InvalidEvent
from events.kafka_record import decode
from events.privacy import Pseudonymizer
from events.topics import LIFE_EVENTS


def read_history(
    bootstrap_servers: str, pseudonymizer: Pseudonymizer, topic: str = LIFE_EVENTS
) -> Iterable[LifeEvent | None]:
    """Every record of the topic from offset 0 to its current end, decoded (None for a refused one)."""
    consumer = KafkaConsumer(bootstrap_servers=bootstrap_servers, enable_auto_commit=False, group_id=None)
    try:
        partitions = [TopicPartition(topic, p) for p in sorted(consumer.partitions_for_topic(topic) or ())]
        consumer.assign(partitions)
        consumer.seek_to_beginning(*partitions)
        ends = consumer.end_offsets(partitions)
        remaining = {tp for tp in partitions if ends[tp] > 0}
        while remaining:
            for tp, records in consumer.poll(timeout_ms=1000).items():
                for record in records:
                    try:
                        yield decode(record.value, list(record.headers or []), pseudonymizer)
                    except InvalidEvent:
                        yield None
                if consumer.position(tp) >= ends[tp]:
                    remaining.discard(tp)
    finally:
        consumer.close()
