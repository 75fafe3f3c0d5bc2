"""A life-events topic read from given offsets (or its first) until caught up: shadow replays, rebuilds, restores.

tansu reports a partition's end (ListOffsets) as the last produced batch's first offset + 1, not the offset after
its last record (measured: 7 records in one batch, end offset 5), so a reader that stops at the reported end loses
the tail. Caught up here means past the end offsets reported at the start AND a poll that finds nothing more: a
record produced meanwhile is read too (the readers' consumers de-duplicate on processed_events, or do not care).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping

from kafka import KafkaConsumer, TopicPartition
from kafka.consumer.fetcher import ConsumerRecord

from events.contracts import LifeEvent
from events.errors import InvalidEvent
from events.kafka_record import decode
from events.privacy import Pseudonymizer
from events.topics import LIFE_EVENTS


def read_history(
    bootstrap_servers: str, pseudonymizer: Pseudonymizer, topic: str = LIFE_EVENTS
) -> Iterable[LifeEvent | None]:
    """Every record of the topic from offset 0 until caught up, decoded (None for a refused one)."""
    consumer = KafkaConsumer(bootstrap_servers=bootstrap_servers, enable_auto_commit=False, group_id=None)
    try:
        for records in read_to_end(consumer, topic):
            for record in records:
                try:
                    yield decode(record.value, list(record.headers or []), pseudonymizer)
                except InvalidEvent:
                    yield None
    finally:
        consumer.close()


def read_to_end(
    consumer: KafkaConsumer, topic: str, start: Mapping[int, int] | None = None
) -> Iterator[list[ConsumerRecord]]:
    """Each poll's records (every partition's order kept) of `topic`, from `start` (offset per partition; a
    partition not named, or no `start`, from its first offset) until caught up. The consumer must have no group."""
    partitions = [TopicPartition(topic, p) for p in sorted(consumer.partitions_for_topic(topic) or ())]
    consumer.assign(partitions)
    consumer.seek_to_beginning(*partitions)
    reached = {tp: 0 for tp in partitions}
    for tp in partitions:
        if start and start.get(tp.partition):
            consumer.seek(tp, start[tp.partition])
            reached[tp] = start[tp.partition]
    ends = consumer.end_offsets(partitions)
    while True:
        polled = consumer.poll(timeout_ms=1000)
        batch: list[ConsumerRecord] = []
        for tp, records in polled.items():
            batch.extend(records)
            if records:
                reached[tp] = records[-1].offset + 1
        if batch:
            yield batch
        if not polled and all(reached[tp] >= ends[tp] for tp in partitions):
            return
