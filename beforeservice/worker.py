"""The Faust worker: consumes `life-events` in batches, dead-letters bad records, dispatches the outbox.

Faust acks every event of a batch when the loop body finishes, even when it raised: so a batch that fails
because the database or the network is down is retried here until it succeeds, and never acked unprocessed.
Any other failure is the fault of an event, not of the infrastructure: the batch is halved until the event that
raises is alone, that event is dead-lettered with the reason and the rest go on (entitlements/persistence/isolation.py).
A worker told to stop while it retries leaves the batch unacked, for the next owner of the partition.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence

import faust

from beforeservice import metrics, tracing
from beforeservice.bootstrap import Process
from beforeservice.consumer_lag import refresh_consumer_lag
from beforeservice.dispatcher import dispatch_round
from beforeservice.faust_app import raw_topic, worker_app
from beforeservice.logs import event_id_of
from beforeservice.outbox_gauges import OutboxGauges
from beforeservice.probes import Probes, database_reachable, serve
from beforeservice.push_outcomes import counted
from beforeservice.settings import get_settings
from entitlements.batch import BatchResult, Record
from entitlements.persistence.isolation import FailedRecord, infrastructure_failure, merge, processing_failure
from events.topics import DEAD_LETTERS, LIFE_EVENTS

log = logging.getLogger(__name__)
settings = get_settings()
app = worker_app(settings)
life_events = raw_topic(app, LIFE_EVENTS, settings.life_events_partitions)
dead_letters = raw_topic(app, DEAD_LETTERS, 1)

process = Process(settings)  # one engine, keyring, catalog watch and FCM sender for this worker
_processor = process.processor
_sessions = process.sessions
_push = counted(process.push_sender)
_RETRY_MAX_SECONDS = 30.0
_WATCH_SECONDS = 5.0
# Ready: holds partitions of life-events and reached the database on the last check (beforeservice/probes.py).
probes = Probes(["partitions", "database"])


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
        with metrics.BATCH_DURATION.time(), tracing.batch_span([r.headers for r in records]) as span:
            result = await _process_until_done(records)
            tracing.batch_outcome(span, result)
            if result is not None:
                _log(result)
        if result is None:  # stopping: the batch must not be acked, so that the next owner processes it
            _leave_unacked(events)
            continue
        for letter in result.dead_letters:
            # Awaited, so the batch is not acked before its dead letters are safely on Kafka.
            await dead_letters.send(
                key=letter.key_b64.encode() if letter.key_b64 else None, value=letter.model_dump_json().encode()
            )
        _count(result)


async def _process_until_done(records: list[Record]) -> BatchResult | None:
    """The batch processed: infrastructure failures retried with backoff, an event that raises isolated and
    dead-lettered. None when the worker is told to stop first."""
    result = BatchResult()
    pending = [records]  # halves in stream order, so a household's events keep their order
    delay = 0.5
    while pending:
        batch = pending.pop(0)
        try:
            with probes.working():  # a call that never returns makes the worker not live (restarted)
                part = await asyncio.to_thread(_processor.process, batch)
            merge(result, part)
            delay = 0.5
        except Exception as error:
            if infrastructure_failure(error):  # not the events' fault: try the same events again
                metrics.BATCH_RETRIES.inc()
                log.exception("batch of %d records failed; retrying in %.1fs", len(batch), delay)
                await app.sleep(delay)  # returns early when the worker is told to stop
                if app.should_stop:
                    return None
                delay = min(delay * 2, _RETRY_MAX_SECONDS)
                pending.insert(0, batch)
            elif len(batch) > 1:  # one of these events raises: halve until it is alone
                log.warning("batch of %d records raised %s; isolating the event", len(batch), type(error).__name__)
                half = len(batch) // 2
                pending[:0] = [batch[:half], batch[half:]]
            else:
                failed = FailedRecord(batch[0], processing_failure(error))
                log.error("event at %s dead-lettered: %s", failed.where, failed.reason.reason)
                merge(result, failed.result())
    return result


def _leave_unacked(events: Sequence[faust.EventT[bytes]]) -> None:
    """Keep a batch from ever being acked by this worker, and let Faust's shutdown stop waiting for it.

    `take_events` acks its events when the loop body ends; a reference of our own keeps each message's count
    above zero, so that ack commits nothing. Faust's `wait_empty` waits for every tracked message to be acked
    before it stops: these are removed from that set, so the worker stops and the batch is read again later.
    """
    tracked = app.consumer._unacked_messages  # type: ignore[attr-defined]  # Faust has no public way to untrack
    for event in events:
        event.message.incref()
        tracked.discard(event.message)


def _log(result: BatchResult) -> None:
    """A line per batch (its counts) and one per dead letter (the event's id when it has one, where, and why)."""
    log.info(
        "batch processed",
        extra={
            "consumed": result.consumed,
            "processed": result.processed,
            "duplicates": result.duplicates,
            "dead_lettered": len(result.dead_letters),
            "notifications": result.notifications,
        },
    )
    for letter in result.dead_letters:
        where = f"{letter.topic}/{letter.partition}/{letter.offset}"
        fields = {"event_id": event_id_of(letter), "reason": letter.reason, "where": where}
        log.warning("life event dead-lettered", extra=fields)


def _count(result: BatchResult) -> None:
    metrics.EVENTS_CONSUMED.inc(result.consumed)
    metrics.EVENTS_PROCESSED.inc(result.processed)
    metrics.EVENTS_DUPLICATE.inc(result.duplicates)
    metrics.EVENTS_DEAD_LETTERED.inc(len(result.dead_letters))
    metrics.ENTITLEMENTS_MATCHED.inc(result.offers)
    metrics.ENTITLEMENTS_UNDETERMINED.inc(result.undetermined)
    metrics.NOTIFICATIONS_QUEUED.inc(result.notifications)


_outbox_gauges = OutboxGauges(_sessions)


async def dispatch_outbox() -> None:
    from notifiers.policy import DispatchPolicy

    policy, templates = DispatchPolicy.of(settings), process.templates  # templates load (and check) once
    await asyncio.to_thread(_outbox_gauges.refresh)
    try:
        while await asyncio.to_thread(dispatch_round, _sessions, _push, policy, templates):
            pass  # until the outbox is drained
    except Exception:  # the rows stay pending and the next tick tries again
        log.exception("outbox dispatch failed")


if settings.worker_dispatches_outbox:  # otherwise `beforeservice dispatcher` processes send (docker-compose.yml)
    app.timer(interval=settings.dispatch_interval_seconds)(dispatch_outbox)


@app.task
async def serve_metrics() -> None:
    serve(probes, settings.worker_metrics_host, settings.worker_metrics_port)  # /metrics, /livez, /readyz


@app.timer(interval=_WATCH_SECONDS)
async def watch() -> None:
    """Beat the liveness heartbeat from the event loop; report partitions held, their lag, and the database."""
    probes.beat()
    try:
        held = await refresh_consumer_lag(app.consumer, LIFE_EVENTS)
    except Exception:  # not started yet, or a rebalance under way: not ready until the next look
        log.debug("consumer lag not available yet", exc_info=True)
        held = 0
    probes.report("partitions", held > 0)
    probes.report("database", await asyncio.to_thread(database_reachable, _sessions))


def main() -> None:
    app.main()
