"""One trace per life event (OpenTelemetry): the agency's request, the worker's batch, the push to FCM.

Off by default: with OTEL_TRACES_EXPORTER unset (or "none") no provider is installed and the API's tracer is a
no-op. OTEL_TRACES_EXPORTER=otlp sends spans over OTLP/HTTP to OTEL_EXPORTER_OTLP_ENDPOINT (the SDK reads it, and
the other OTEL_EXPORTER_OTLP_* and OTEL_BSP_* variables); "console" prints them. OTEL_SERVICE_NAME overrides
the default service name `beforeservice-<role>`. Spans and attributes: docs/observability.md.

The context travels as plain W3C strings (events/tracecontext.py) in Kafka headers and the outbox row; only this
module of the engine speaks OpenTelemetry.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import google.auth.exceptions
from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.trace import Link, Span, SpanKind, Status, StatusCode
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

from beforeservice.push_outcomes import AUTH_FAILED, outcome_of
from entitlements.batch import BatchResult
from events.cloudevents import CloudEvent
from events.topics import LIFE_EVENTS
from events.tracecontext import TRACEPARENT, TRACESTATE, TraceContext, from_extension, from_headers
from notifiers.push import PushMessage, PushResult, PushSender

log = logging.getLogger(__name__)
_PROPAGATOR = TraceContextTextMapPropagator()
_tracer = trace.get_tracer("beforeservice")  # a proxy: real once configure_tracing installed a provider
_enabled = False

INGEST_SPAN = "life-event ingest"
BATCH_SPAN = "life-events process"
PUSH_SPAN = "push send"


def configure_tracing(role: str) -> bool:
    """Install the tracer provider the OTEL_* variables ask for (once per process); whether tracing is on."""
    global _enabled
    if _enabled:
        return True
    if os.environ.get("OTEL_SDK_DISABLED", "").strip().lower() == "true":
        return False
    names = [n.strip().lower() for n in os.environ.get("OTEL_TRACES_EXPORTER", "none").split(",")]
    names = [n for n in names if n and n != "none"]
    if not names:
        return False
    from opentelemetry.sdk.resources import SERVICE_NAME, Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor, ConsoleSpanExporter, SpanExporter

    # Resource.create reads OTEL_SERVICE_NAME and OTEL_RESOURCE_ATTRIBUTES; what is passed here wins, so the
    # default name is passed only when the operator named none.
    default = {} if os.environ.get("OTEL_SERVICE_NAME") else {SERVICE_NAME: f"beforeservice-{role}"}
    provider = TracerProvider(resource=Resource.create(default))
    for name in names:
        exporter: SpanExporter
        if name == "otlp":
            protocol = os.environ.get(
                "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", os.environ.get("OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf")
            )
            if protocol != "http/protobuf":
                raise ValueError(f"OTEL_EXPORTER_OTLP_PROTOCOL={protocol}: the engine exports http/protobuf only")
            from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

            exporter = OTLPSpanExporter()
        elif name == "console":
            exporter = ConsoleSpanExporter()
        else:
            raise ValueError(f"OTEL_TRACES_EXPORTER: unknown exporter '{name}' (otlp, console or none)")
        provider.add_span_processor(BatchSpanProcessor(exporter))  # flushed at exit by the provider
    trace.set_tracer_provider(provider)
    _enabled = True
    log.info("tracing on: %s", ", ".join(names))
    return True


def tracing_enabled() -> bool:
    return _enabled


def parent_of(context: TraceContext | None) -> Context | None:
    if context is None:
        return None
    carrier = {TRACEPARENT: context.traceparent}
    if context.tracestate:
        carrier[TRACESTATE] = context.tracestate
    return _PROPAGATOR.extract(carrier)


def context_of(span: Span) -> TraceContext | None:
    """The span's context as W3C strings (None for a no-op span)."""
    carrier: dict[str, str] = {}
    _PROPAGATOR.inject(carrier, trace.set_span_in_context(span))
    return TraceContext.of(carrier.get(TRACEPARENT), carrier.get(TRACESTATE))


def trace_id_of(span: Span) -> str | None:
    context = span.get_span_context()
    return f"{context.trace_id:032x}" if context.is_valid else None


def _event_attributes(event: CloudEvent) -> dict[str, Any]:
    # CloudEvents semantic conventions; ids and types only (never data, never the subject).
    return {
        "cloudevents.event_id": event.id,
        "cloudevents.event_source": event.source,
        "cloudevents.event_type": event.type,
        "cloudevents.event_spec_version": event.specversion,
    }


def start_ingestion(event: CloudEvent, agency: str, incoming: TraceContext | None) -> Span:
    """The span of one event taken in over HTTP; end it with `end_ingestion`. Its parent: the event's own trace
    context (its distributed-tracing extension: the trace the agency started), else the request's span (FastAPI's
    own telemetry makes one, a child of a valid `traceparent` header), else that header, else none (a new trace)."""
    own = from_extension(event.model_extra or {})
    if own is not None:
        parent = parent_of(own)
    elif trace.get_current_span().get_span_context().is_valid:
        parent = None  # the current context: the HTTP request's span
    else:
        parent = parent_of(incoming)
    attributes = {**_event_attributes(event), "beforeservice.agency": agency}
    return _tracer.start_span(INGEST_SPAN, context=parent, kind=SpanKind.PRODUCER, attributes=attributes)


def onward(span: Span, event: CloudEvent, incoming: TraceContext | None) -> TraceContext | None:
    """What the Kafka record carries: the ingestion span's context; with tracing off, the context the event came
    with, passed on unchanged so that a traced consumer still joins the agency's trace."""
    return context_of(span) or from_extension(event.model_extra or {}) or incoming


def end_ingestion(span: Span, status: int, repeat: bool = False) -> None:
    span.set_attribute("http.response.status_code", status)
    if repeat:
        span.set_attribute("beforeservice.ingestion.repeat", True)  # accepted before: not produced again
    if status >= 400:
        span.set_status(Status(StatusCode.ERROR, f"refused with {status}"))
    span.end()


@contextmanager
def batch_span(headers: Sequence[Sequence[tuple[str, bytes]]]) -> Iterator[Span]:
    """The worker's span of one batch (a trace of its own), with a link to each record's trace context."""
    links = []
    if _enabled:  # reading the headers is work a no-op tracer does not need
        for record_headers in headers:
            context = from_headers(record_headers)
            if context is not None:
                links.append(Link(trace.get_current_span(parent_of(context)).get_span_context()))
    attributes: dict[str, str | int] = {
        "messaging.system": "kafka",
        "messaging.destination.name": LIFE_EVENTS,
        "messaging.operation.type": "process",
        "messaging.batch.message_count": len(headers),
    }
    with _tracer.start_as_current_span(BATCH_SPAN, kind=SpanKind.CONSUMER, links=links, attributes=attributes) as span:
        yield span


class TracedPushSender:
    """Sends through `sender`; each message's span continues its life event's trace and ends at FCM's answer."""

    def __init__(self, sender: PushSender) -> None:
        self.sender = sender

    def send(self, messages: Sequence[PushMessage]) -> list[PushResult]:
        spans = [
            _tracer.start_span(
                PUSH_SPAN,
                context=parent_of(TraceContext.of(m.trace_context)),
                kind=SpanKind.CLIENT,
                attributes={
                    "messaging.system": "fcm",
                    "beforeservice.notification_id": m.data.get("notification_id", ""),
                },
            )
            for m in messages
        ]
        try:
            results = self.sender.send(messages)
        except BaseException as error:
            outcome = AUTH_FAILED if isinstance(error, google.auth.exceptions.GoogleAuthError) else "error"
            for span in spans:
                span.set_attribute("beforeservice.push.outcome", outcome)
                span.set_status(Status(StatusCode.ERROR, type(error).__name__))
                span.end()
            raise
        for span, result in zip(spans, results, strict=True):
            span.set_attribute("beforeservice.push.outcome", outcome_of(result))
            if not result.accepted:
                span.set_status(Status(StatusCode.ERROR, result.error_code or "refused"))
            span.end()
        return results

    def close(self) -> None:
        close = getattr(self.sender, "close", None)
        if close is not None:
            close()


def traced(sender: PushSender | None) -> PushSender | None:
    """`sender` with a span per push when tracing is on; itself otherwise (no cost)."""
    return TracedPushSender(sender) if sender is not None and _enabled else sender


def batch_outcome(span: Span, result: BatchResult | None) -> None:
    """What the batch did (a BatchResult; None when the worker stopped before it was done)."""
    if result is None:
        span.set_attribute("beforeservice.batch.unfinished", True)
        return
    span.set_attributes(
        {
            "beforeservice.batch.processed": result.processed,
            "beforeservice.batch.duplicates": result.duplicates,
            "beforeservice.batch.dead_lettered": len(result.dead_letters),
            "beforeservice.batch.notifications": result.notifications,
        }
    )
