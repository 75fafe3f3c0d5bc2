"""One trace per life event (issue 14, docs/observability.md): the agency's request, the worker's batch and the push
to FCM, across the API, worker and dispatcher processes, exported over OTLP/HTTP to a local collector; and with
tracing off (the default) nothing is exported and everything still works."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import date

import httpx
import pytest
from kafka import KafkaConsumer
from sqlalchemy import select

from beforeservice.tracing import BATCH_SPAN, INGEST_SPAN, PUSH_SPAN
from events.topics import LIFE_EVENTS
from notifiers.tables import NotificationRow
from tests.conftest import Component, Stack, agency_key, wait_for
from tests.support.births import as_json, birth_event, register_device, seed_household
from tests.support.otlp_collector import LocalOtlpCollector, ReceivedSpan

pytestmark = pytest.mark.integration

AGENCY_TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"
AGENCY_SPAN = "00f067aa0ba902b7"
AGENCY_TRACEPARENT = f"00-{AGENCY_TRACE}-{AGENCY_SPAN}-01"
STRUCTURED = {"content-type": "application/cloudevents+json"}


@pytest.fixture
def collector() -> Iterator[LocalOtlpCollector]:
    with LocalOtlpCollector() as running:
        yield running


def _processes(stack: Stack, env: dict[str, str]) -> Iterator[httpx.Client]:
    """API, worker (matching only) and dispatcher as processes with `env`; a client with a MOIS key."""
    env = {**env, "WORKER_DISPATCHES_OUTBOX": "false"}
    key = agency_key(env["DATABASE_URL"])
    components = [Component(name, env, stack.logs) for name in ("worker", "dispatcher", "api")]
    base = f"http://127.0.0.1:{env['API_PORT']}"

    def healthy() -> bool:
        try:
            return httpx.get(f"{base}/healthz", timeout=1).status_code == 200
        except httpx.HTTPError:
            return False

    try:
        wait_for(healthy, timeout=60, what="the API to answer /healthz")
        with httpx.Client(base_url=base, timeout=30, headers={"x-api-key": key}) as client:
            yield client
    finally:
        for component in components:
            component.stop()
            print(f"--- {component.name} log ---\n{component.tail()}")


def _without_otel(env: dict[str, str]) -> dict[str, str]:
    return {k: v for k, v in env.items() if not k.startswith("OTEL_")}


def _family(stack: Stack, tag: str) -> str:
    mother = f"m-{tag}"
    seed_household(stack.sessions, f"hh-{tag}", [mother], "41110", date(2021, 5, 1))
    register_device(stack.sessions, mother, f"token-{tag}-phone")
    return mother


def _pushed(stack: Stack, token: str) -> bool:
    return any(m["token"] == token for m in stack.fcm.received)


def _one(spans: list[ReceivedSpan], what: str) -> ReceivedSpan:
    assert len(spans) == 1, (what, spans)
    return spans[0]


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_one_trace_ties_an_events_ingestion_to_its_push(stack: Stack, collector: LocalOtlpCollector) -> None:
    env = {
        **_without_otel(stack.env),
        "OTEL_TRACES_EXPORTER": "otlp",
        "OTEL_EXPORTER_OTLP_ENDPOINT": collector.endpoint,
        "OTEL_BSP_SCHEDULE_DELAY": "100",
    }
    traced_mother, untraced_mother = _family(stack, "traced"), _family(stack, "untraced")
    # An agency that traces: its context travels in the event (the CloudEvents distributed-tracing extension).
    traced = birth_event(mother=traced_mother, birth_order=1).model_copy(
        update={"traceparent": AGENCY_TRACEPARENT, "tracestate": "mois=registry"}
    )
    # One that does not, with a broken traceparent header: ignored (W3C Trace Context), the engine starts a trace.
    untraced = birth_event(mother=untraced_mother, birth_order=1)
    for client in _processes(stack, env):
        sent = client.post("/v1/events", content=traced.to_structured(), headers=STRUCTURED)
        assert sent.status_code == 202, sent.text
        sent = client.post(
            "/v1/events", content=untraced.to_structured(), headers={**STRUCTURED, "traceparent": "00-nonsense-01"}
        )
        assert sent.status_code == 202, sent.text
        # A broken trace context inside the event is the agency's bug: refused at the door, naming the attribute.
        bad = as_json(birth_event(mother=traced_mother)) | {"traceparent": "00-ABC-01"}
        refused = client.post("/v1/events", content=json.dumps(bad), headers=STRUCTURED)
        assert refused.status_code == 400, refused.text
        assert refused.json()["errors"][0]["field"] == "traceparent"

        wait_for(lambda: _pushed(stack, "token-traced-phone") and _pushed(stack, "token-untraced-phone"), what="pushes")
        wait_for(lambda: len(collector.named(PUSH_SPAN)) >= 2, what="the dispatcher's push spans exported")

    for event, mother in ((traced, traced_mother), (untraced, untraced_mother)):
        ingest = _one(
            [s for s in collector.named(INGEST_SPAN) if s.attributes.get("cloudevents.event_id") == event.id],
            f"the ingestion span of {event.id}",
        )
        assert ingest.service == "beforeservice-api"
        assert ingest.attributes["cloudevents.event_type"] == "kr.go.mois.birth.registered"
        assert ingest.attributes["beforeservice.agency"] == "mois"
        assert ingest.attributes["http.response.status_code"] == 202
        with stack.sessions() as session:
            stored = session.scalar(select(NotificationRow.traceparent).where(NotificationRow.recipient_id == mother))
        # The outbox row continues the event's trace (the flags: sampled, and with this SDK "random" too).
        assert stored is not None and stored[:-2] == f"00-{ingest.trace_id}-{ingest.span_id}-"
        # The worker's batch is a trace of its own, linked to the event's.
        batches = [s for s in collector.named(BATCH_SPAN) if (ingest.trace_id, ingest.span_id) in s.links]
        assert len(batches) == 1 and batches[0].service == "beforeservice-worker", collector.named(BATCH_SPAN)
        assert batches[0].trace_id != ingest.trace_id
        # The push: in the event's trace, a child of its ingestion, ending at FCM's answer.
        notification_id = _notification_id(stack, mother)
        push = _one(
            [s for s in collector.named(PUSH_SPAN) if s.attributes["beforeservice.notification_id"] == notification_id],
            f"the push span of {event.id}",
        )
        assert push.service == "beforeservice-dispatcher"
        assert (push.trace_id, push.parent_span_id) == (ingest.trace_id, ingest.span_id)
        assert push.attributes["beforeservice.push.outcome"] == "accepted"

    traced_ingest = _one(
        [s for s in collector.named(INGEST_SPAN) if s.attributes.get("cloudevents.event_id") == traced.id], "traced"
    )
    assert (traced_ingest.trace_id, traced_ingest.parent_span_id) == (AGENCY_TRACE, AGENCY_SPAN)  # the agency's trace
    untraced_ingest = _one(
        [s for s in collector.named(INGEST_SPAN) if s.attributes.get("cloudevents.event_id") == untraced.id], "root"
    )
    # With no context of its own, the event's trace starts at the HTTP request (FastAPI's server span), a root here:
    # the broken header was ignored.
    by_id = {s.span_id: s for s in collector.spans}
    root = by_id[untraced_ingest.parent_span_id]
    while root.parent_span_id:  # FastAPI's operation spans lie between
        root = by_id[root.parent_span_id]
    assert (root.service, root.trace_id) == ("beforeservice-api", untraced_ingest.trace_id)
    assert root.attributes.get("http.route") == "/v1/events", root
    assert untraced_ingest.trace_id != AGENCY_TRACE
    refused_ingest = [s for s in collector.named(INGEST_SPAN) if s.attributes.get("http.response.status_code") == 400]
    assert len(refused_ingest) == 1 and refused_ingest[0].status_code == 2  # STATUS_CODE_ERROR
    # The Kafka record carries the trace context as headers; the event's own extension is kept as the agency sent it.
    headers = _record_headers(stack, traced.id)
    assert headers["traceparent"][:-2] == f"00-{AGENCY_TRACE}-{traced_ingest.span_id}-".encode()
    assert headers["tracestate"] == b"mois=registry"


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_with_tracing_off_nothing_is_exported_and_the_context_is_passed_on(
    stack: Stack, collector: LocalOtlpCollector
) -> None:
    # An endpoint is configured, but no exporter: the default is off.
    env = {
        **_without_otel(stack.env),
        "OTEL_EXPORTER_OTLP_ENDPOINT": collector.endpoint,
        "OTEL_BSP_SCHEDULE_DELAY": "100",
    }
    mother = _family(stack, "quiet")
    event = birth_event(mother=mother, birth_order=1).model_copy(update={"traceparent": AGENCY_TRACEPARENT})
    for client in _processes(stack, env):
        sent = client.post("/v1/events", content=event.to_structured(), headers=STRUCTURED)
        assert sent.status_code == 202, sent.text
        wait_for(lambda: _pushed(stack, "token-quiet-phone"), what="the push")
    # Every process has stopped (and would have flushed its spans at exit): none came.
    assert (collector.requests, collector.spans) == (0, [])
    # The agency's context still travels, unchanged, for a traced consumer downstream.
    assert _record_headers(stack, event.id)["traceparent"] == AGENCY_TRACEPARENT.encode()
    with stack.sessions() as session:
        stored = session.scalar(select(NotificationRow.traceparent).where(NotificationRow.recipient_id == mother))
    assert stored == AGENCY_TRACEPARENT


def _notification_id(stack: Stack, mother: str) -> str:
    with stack.sessions() as session:
        found = session.scalar(select(NotificationRow.id).where(NotificationRow.recipient_id == mother))
    assert found is not None
    return found


def _record_headers(stack: Stack, event_id: str) -> dict[str, bytes]:
    consumer = KafkaConsumer(
        LIFE_EVENTS,
        bootstrap_servers=stack.broker.bootstrap_servers,
        auto_offset_reset="earliest",
        consumer_timeout_ms=3000,
        group_id=None,
    )
    try:
        for record in consumer:
            if json.loads(record.value)["id"] == event_id:
                return {name: value for name, value in record.headers}
    finally:
        consumer.close()
    raise AssertionError(f"no record of {event_id} on {LIFE_EVENTS}")
