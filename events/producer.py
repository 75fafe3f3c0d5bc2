"""The agency-side producer: puts life events on the `life-events` topic, keyed by household (kafka-python)."""

from __future__ import annotations

import json

from kafka import KafkaProducer

from events.cloudevents import STRUCTURED_CONTENT_TYPE, CloudEvent, binary_headers
from events.contracts import partition_key, validate
from events.privacy import Pseudonymizer, protect_event
from events.topics import LIFE_EVENTS
from events.tracecontext import from_extension


class AgencyProducer:
    def __init__(
        self, bootstrap_servers: str, topic: str = LIFE_EVENTS, pseudonymizer: Pseudonymizer | None = None
    ) -> None:
        self.topic = topic
        self.pseudonymizer = pseudonymizer
        # Idempotent: a send retried after a lost answer is written once (kafka-python's does work on tansu too).
        self._producer = KafkaProducer(
            bootstrap_servers=bootstrap_servers, acks="all", enable_idempotence=True, linger_ms=5, retries=5
        )

    def send(self, event: CloudEvent, *, binary: bool = False, validate_first: bool = True) -> None:
        """Queue one event; call `flush()` to wait. Validates the contract first so agencies fail fast.

        With a pseudonymizer, `rrn` fields become keyed pseudonyms before anything leaves the agency.
        """
        if self.pseudonymizer is not None:
            event = protect_event(event, self.pseudonymizer)
        key = partition_key(validate(event)) if validate_first else (event.partitionkey or event.id)
        if binary:
            value = json.dumps(event.data, ensure_ascii=False).encode()
            headers = binary_headers(event, prefix="ce_")
        else:
            value = event.to_structured()
            headers = [("content-type", STRUCTURED_CONTENT_TYPE.encode())]
        # The distributed-tracing extension also as the Kafka `traceparent`/`tracestate` headers, which the worker
        # reads without decoding the value (docs/observability.md).
        trace_context = from_extension(event.model_extra or {})
        if trace_context is not None:
            headers += trace_context.headers()
        self._producer.send(self.topic, key=key.encode(), value=value, headers=headers)

    def send_raw(self, value: bytes, key: bytes | None = None, headers: list[tuple[str, bytes]] | None = None) -> None:
        """Send bytes as they are (tools and tests that replay or probe the dead-letter path)."""
        self._producer.send(self.topic, key=key, value=value, headers=headers or [])

    def flush(self, timeout: float = 30.0) -> None:
        self._producer.flush(timeout=timeout)

    def close(self) -> None:
        self._producer.close()
