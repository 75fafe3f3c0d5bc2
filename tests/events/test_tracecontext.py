"""W3C Trace Context as plain strings (events/tracecontext.py): what is valid, where it is read from, and that an
event's broken tracing attribute is refused naming the field (docs/observability.md)."""

from __future__ import annotations

import pytest

from events.errors import InvalidEvent
from events.tracecontext import TraceContext, check_extension, from_extension, from_headers, valid_traceparent

GOOD = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"


@pytest.mark.parametrize(
    "value",
    [
        GOOD,
        "01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-03-abcd",  # a later version may add fields
    ],
)
def test_w3c_traceparents_are_valid(value: str) -> None:
    assert valid_traceparent(value)


@pytest.mark.parametrize(
    "value",
    [
        "00-4BF92F3577B34DA6A3CE929D0E0E4736-00F067AA0BA902B7-01",  # upper case
        "00-00000000000000000000000000000000-00f067aa0ba902b7-01",  # all-zero trace id
        "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",  # all-zero span id
        "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",  # version ff
        GOOD + "-00",  # version 00 has exactly four fields
        GOOD + "\n",
        "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7",
        "<script>",
        42,
    ],
)
def test_anything_else_is_not(value: object) -> None:
    assert not valid_traceparent(value)


def test_headers_first_then_binary_mode_then_none() -> None:
    assert from_headers([("traceparent", GOOD.encode()), ("tracestate", b"mois=1")]) == TraceContext(GOOD, "mois=1")
    assert from_headers([("ce_traceparent", GOOD.encode())]) == TraceContext(GOOD)
    assert from_headers({"traceparent": "00-nonsense-01"}) is None  # ignored, as W3C says of a header
    bad_state = from_headers([("traceparent", GOOD.encode()), ("tracestate", b"a=<b>")])
    assert bad_state == TraceContext(GOOD)  # an invalid tracestate is dropped, the traceparent kept
    assert from_extension({"traceparent": GOOD}) == TraceContext(GOOD)
    assert TraceContext(GOOD).trace_id == "4bf92f3577b34da6a3ce929d0e0e4736"


@pytest.mark.parametrize(("field", "value"), [("traceparent", "00-ABC-01"), ("tracestate", "Bad Key=1")])
def test_an_events_broken_tracing_attribute_is_refused_naming_it(field: str, value: str) -> None:
    with pytest.raises(InvalidEvent) as refused:
        check_extension({"traceparent": GOOD, field: value})
    assert refused.value.status == 400 and [e.field for e in refused.value.errors] == [field]
    check_extension({"traceparent": GOOD, "tracestate": "mois=registry,other=x"})  # valid: no error
    check_extension({})


def test_a_retry_in_a_new_trace_is_the_same_event() -> None:
    """The API's payload fingerprint (409 on a reused id) leaves the trace context out."""
    from beforeservice.console.ingestion import digest
    from events.contracts import validate
    from tests.support.births import birth_event

    event = birth_event(mother="m-1", event_id="same-1")
    first = event.model_copy(update={"traceparent": GOOD})
    retry = event.model_copy(update={"traceparent": GOOD.replace("00f067aa0ba902b7", "1111111111111111")})
    assert digest(validate(first)) == digest(validate(retry)) == digest(validate(event))
    changed = birth_event(mother="m-2", event_id="same-1")
    assert digest(validate(changed)) != digest(validate(event))
