"""Prometheus metrics of every engine process (worker, dispatcher, scheduler, API).

Each process exposes the metrics it moves: the API on /metrics, the worker, the dispatcher and the scheduler on
their own port (beforeservice/probes.py). The names below are what deploy/prometheus/alerts.yml and
deploy/grafana/beforeservice.json query (tests/beforeservice/ops check that they stay in step); docs/operations.md
lists them. Counters are exposed with the `_total` suffix.
"""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client import REGISTRY, Counter, Gauge, Histogram
from prometheus_client.core import CounterMetricFamily
from prometheus_client.registry import Collector

EVENTS_CONSUMED = Counter("beforeservice_events_consumed", "Life events read from Kafka")
EVENTS_PROCESSED = Counter("beforeservice_events_processed", "Life events matched against the catalog")
EVENTS_DUPLICATE = Counter("beforeservice_events_duplicate", "Redelivered or replayed events skipped")
EVENTS_DEAD_LETTERED = Counter("beforeservice_events_dead_lettered", "Events sent to the dead-letter topic")
ENTITLEMENTS_MATCHED = Counter("beforeservice_entitlements_matched", "Offers matched (eligible)")
ENTITLEMENTS_UNDETERMINED = Counter("beforeservice_entitlements_undetermined", "Matches sent to review")
NOTIFICATIONS_QUEUED = Counter("beforeservice_notifications_queued", "Notifications written to the outbox")
NOTIFICATIONS_PUSHED = Counter("beforeservice_notifications_pushed", "Notifications accepted by FCM")
NOTIFICATIONS_INBOX_ONLY = Counter("beforeservice_notifications_inbox_only", "Notifications left in the inbox only")
BATCH_RETRIES = Counter("beforeservice_batch_retries", "Batches retried after a failure (e.g. database down)")
API_EVENTS_ACCEPTED = Counter("beforeservice_api_events_accepted", "Events accepted over HTTP")
API_EVENTS_REFUSED = Counter("beforeservice_api_events_refused", "Events refused over HTTP", ["status"])

# -- worker ------------------------------------------------------------------------------------------------------
CONSUMER_LAG = Gauge(
    "beforeservice_consumer_lag",
    "Records of a partition not yet committed by the worker holding it (end offset - committed offset)",
    ["topic", "partition"],
)
BATCH_DURATION = Histogram(
    "beforeservice_batch_duration_seconds",
    "Time to process one batch of life events (matching, outbox and commit; retries included)",
    buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120),
)
EVENT_OUTCOMES_NAME = "beforeservice_event_outcomes"
OUTCOME_SOURCES: dict[str, Counter] = {
    # What became of life events. matched/undetermined count the offers the events produced (eligible / sent to
    # a caseworker); dead_lettered, refused (by the ingestion API) and duplicate count events.
    "matched": ENTITLEMENTS_MATCHED,
    "undetermined": ENTITLEMENTS_UNDETERMINED,
    "dead_lettered": EVENTS_DEAD_LETTERED,
    "refused": API_EVENTS_REFUSED,
    "duplicate": EVENTS_DUPLICATE,
}

# -- outbox (refreshed from the database by whoever dispatches: beforeservice/outbox_gauges.py) ---------------------
OUTBOX_DEPTH = Gauge(
    "beforeservice_outbox_depth",
    "Notifications not yet dispatched: due (pending, or held and past not_before) or held (waiting on purpose)",
    ["state"],
)
OUTBOX_OLDEST_AGE = Gauge(
    "beforeservice_outbox_oldest_age_seconds", "How long the oldest due notification has been waiting for dispatch"
)

# -- pushes, fallback, outreach -------------------------------------------------------------------------------------
PUSH_OUTCOMES = Counter(
    "beforeservice_push_outcomes",
    "Pushes handed to FCM (one per device), by FCM's answer: accepted or its error code in lower case",
    ["outcome"],
)
FALLBACK_TEXTS = Counter("beforeservice_fallback_texts", "Unopened high-value offers chased by KakaoTalk or SMS")
OUTREACH_TASKS = Counter("beforeservice_outreach_tasks", "Outreach tasks opened for caseworkers (no channel reached)")

# -- scheduler ------------------------------------------------------------------------------------------------------
SCHEDULER_JOBS = Counter(
    "beforeservice_scheduler_jobs", "Scheduled job runs by job and result (ok, error, missed)", ["job", "result"]
)
SCHEDULER_LEASE_HELD = Gauge(
    "beforeservice_scheduler_lease_held", "1 while this scheduler process holds the lease and runs the jobs"
)

# -- API ------------------------------------------------------------------------------------------------------------
API_REQUEST_DURATION = Histogram(
    "beforeservice_api_request_duration_seconds",
    "HTTP request latency by route template (never the raw path), method and status class",
    ["route", "method", "status"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)


class EventOutcomes(Collector):
    """`beforeservice_event_outcomes_total{outcome}`: one counter to graph and alert on, read from the counters
    above at scrape time, so that each outcome is counted in one place only (the API counts refusals, the worker
    the rest)."""

    def collect(self) -> Iterator[CounterMetricFamily]:
        family = CounterMetricFamily(EVENT_OUTCOMES_NAME, "Life events by outcome", labels=["outcome"])
        for outcome, counter in OUTCOME_SOURCES.items():
            family.add_metric([outcome], _total(counter))
        yield family


def _total(counter: Counter) -> float:
    """The sum of a counter over all its labels."""
    return sum(
        sample.value for metric in counter.collect() for sample in metric.samples if sample.name.endswith("_total")
    )


REGISTRY.register(EventOutcomes())
