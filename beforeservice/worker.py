"""The Faust worker: consumes `life-events` in batches, dead-letters bad records, dispatches the outbox.

Faust acks every event of a batch when the loop body finishes, even when it raised: so a batch that fails
(database down) is retried here until it succeeds, and never acked unprocessed.
"""

from __future__ import annotations

import asyncio
import logging

import faust
from prometheus_client import start_http_server

from beforeservice import metrics
from beforeservice.dispatcher import dispatch_round
from beforeservice.faust_app import raw_topic, worker_app
from beforeservice.pipeline import BatchResult, Record
from beforeservice.settings import get_settings
from beforeservice.wiring import processor, push_sender, sessions
from events.topics import DEAD_LETTERS, LIFE_EVENTS

log = logging.getLogger(__name__)
settings = get_settings()
app = worker_app(settings)
life_events = raw_topic(app, LIFE_EVENTS, settings.life_events_partitions)
dead_letters = raw_topic(app, DEAD_LETTERS, 1)

_processor = processor(settings)
_sessions = sessions(settings)
_push = push_sender(settings)
_RETRY_MAX_SECONDS = 30.0


@app.agent(life_events)
async def process_life_events(stream: faust.StreamT[bytes]) -> None:
    batches = stream.take_events(settings.worker_batch_size, within=settings.worker_batch_seconds)  # type: ignore[attr-defined]
    async for events in batches:
        records = [
            Record(
                e.message.topic,
                e.message.partition,
                e.message.offset,
                e.message.key,
                e.message.value,
                [(k, v) for k, v in (e.message.headers or [])],
            )
            for e in events
        ]
        result = await _process_until_done(records)
        for letter in result.dead_letters:
            # Awaited, so the batch is not acked before its dead letters are safely on Kafka.
            await dead_letters.send(
                key=letter.key_b64.encode() if letter.key_b64 else None, value=letter.model_dump_json().encode()
            )
        _count(result)


async def _process_until_done(records: list[Record]) -> BatchResult:
    delay = 0.5
    while True:
        try:
            return await asyncio.to_thread(_processor.process, records)
        except Exception:  # a failure must not ack the batch: log, back off, try again
            metrics.BATCH_RETRIES.inc()
            log.exception("batch of %d records failed; retrying in %.1fs", len(records), delay)
            await asyncio.sleep(delay)
            delay = min(delay * 2, _RETRY_MAX_SECONDS)


def _count(result: BatchResult) -> None:
    metrics.EVENTS_CONSUMED.inc(result.consumed)
    metrics.EVENTS_PROCESSED.inc(result.processed)
    metrics.EVENTS_DUPLICATE.inc(result.duplicates)
    metrics.EVENTS_DEAD_LETTERED.inc(len(result.dead_letters))
    metrics.ENTITLEMENTS_MATCHED.inc(result.offers)
    metrics.ENTITLEMENTS_UNDETERMINED.inc(result.undetermined)
    metrics.NOTIFICATIONS_QUEUED.inc(result.notifications)


async def dispatch_outbox() -> None:
    from notifiers.policy import DispatchPolicy
    from notifiers.rendering import shared_templates

    policy, templates = DispatchPolicy.of(settings), shared_templates()  # templates load (and check) once
    try:
        while await asyncio.to_thread(dispatch_round, _sessions, _push, policy, templates):
            pass  # until the outbox is drained
    except Exception:  # the rows stay pending and the next tick tries again
        log.exception("outbox dispatch failed")


if settings.worker_dispatches_outbox:  # otherwise `beforeservice dispatcher` processes send (docker-compose.yml)
    app.timer(interval=settings.dispatch_interval_seconds)(dispatch_outbox)


@app.task
async def serve_metrics() -> None:
    if settings.worker_metrics_port:
        start_http_server(settings.worker_metrics_port, addr=settings.worker_metrics_host)


def main() -> None:
    app.main()
