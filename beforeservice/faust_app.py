"""The Faust app a worker runs (the engine's worker, and the benchmark's one-event-at-a-time peer alike).

Faust fixes aiokafka's `fetch_max_wait_ms` at 1,500 ms; the app here takes ours. A fetch that finds no new
records waits up to that long on the broker. Apache Kafka answers it as soon as a record arrives, so the wait
costs no latency there; the embedded broker (tansu) lets it run out, so a record produced into a quiet topic
waited most of that wait before the worker saw it (figures in docs/benchmarks.md, pipeline). A short wait costs
only idle fetch requests (20 a second at 50 ms), which either broker answers cheaply.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import faust
from faust.transport.drivers import aiokafka as driver

from beforeservice.logs import logging_config
from beforeservice.settings import Settings


def use_fetch_wait(app: faust.App, milliseconds: int) -> None:
    """Make `app`'s consumer wait at most `milliseconds` for records per fetch (call before the app starts)."""

    class ConsumerThread(driver.AIOKafkaConsumerThread):
        def _create_worker_consumer(self, transport: Any) -> Any:
            consumer = super()._create_worker_consumer(transport)
            # Read by AIOKafkaConsumer.start() when it builds its fetcher, i.e. after this returns.
            consumer._fetch_max_wait_ms = milliseconds
            return consumer

    class Consumer(driver.Consumer):
        def _new_consumer_thread(self) -> Any:
            return ConsumerThread(self, loop=self.loop, beacon=self.beacon)

    app.transport.Consumer = Consumer  # type: ignore[misc]  # this app's transport only, not Faust's class


def use_idempotence(app: faust.App) -> None:
    """Make `app`'s producer (the dead letters) idempotent: a send retried after a lost answer is written once.
    Faust asks for it only inside transactions (exactly-once), so the setting is added here."""

    class Producer(driver.Producer):
        def _settings_extra(self) -> Mapping[str, Any]:
            return {**super()._settings_extra(), "acks": "all", "enable_idempotence": True}

    app.transport.Producer = Producer  # type: ignore[misc]  # this app's transport only, not Faust's class


def worker_app(settings: Settings) -> faust.App:
    """A Faust app consuming as one member of consumer group WORKER_ID, from the earliest offset the group has
    not committed, with in-memory tables (the worker keeps no state in Faust)."""
    Path(settings.data_dir, "faust").mkdir(parents=True, exist_ok=True)
    app = faust.App(
        settings.worker_id,
        broker=f"kafka://{settings.bootstrap_servers}",
        store="memory://",
        web_enabled=False,
        topic_partitions=settings.life_events_partitions,
        datadir=f"{settings.data_dir}/faust",
        consumer_auto_offset_reset="earliest",
        producer_acks=-1,  # all in-sync replicas (min.insync.replicas, beforeservice/topics.py)
        topic_replication_factor=settings.replication_factor,  # topics Faust itself may declare
        # Faust sets up the worker's logs itself: JSON lines when LOG_FORMAT=json (beforeservice/logs.py).
        logging_config=logging_config("worker", "json", settings.log_level) if settings.log_format == "json" else None,
    )
    use_fetch_wait(app, settings.kafka_fetch_max_wait_ms)
    if settings.idempotent_producers:
        use_idempotence(app)
    return app


def raw_topic(app: faust.App, name: str, partitions: int | None = None) -> Any:
    """A topic of raw bytes: keys and values are decoded by the engine itself (events/kafka_record.py)."""
    return app.topic(
        name, key_type=bytes, value_type=bytes, key_serializer="raw", value_serializer="raw", partitions=partitions
    )
