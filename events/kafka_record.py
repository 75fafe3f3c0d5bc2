"""Read a life event from a Kafka record in either content mode (the CloudEvents Kafka protocol binding)."""

from __future__ import annotations

from collections.abc import Sequence

from events.cloudevents import STRUCTURED_CONTENT_TYPE, parse_binary, parse_structured
from events.contracts import LifeEvent, validate
from events.errors import FieldError, InvalidEvent
from events.privacy import Pseudonymizer, protect_event


def decode(value: bytes | None, headers: Sequence[tuple[str, bytes]], pseudonymizer: Pseudonymizer) -> LifeEvent:
    """Binary mode when a `ce_specversion` header is present, structured mode otherwise.

    Producers pseudonymise RRNs before Kafka; this is the last line of defence for one that did not.
    """
    if value is None:
        raise InvalidEvent("record has no value", [FieldError("value", "missing")])
    names = {name.lower() for name, _ in headers}
    if "ce_specversion" in names:
        return validate(protect_event(parse_binary(headers, value, prefix="ce_"), pseudonymizer))
    for name, header_value in headers:
        if name.lower() == "content-type" and not header_value.decode(errors="replace").startswith(
            (STRUCTURED_CONTENT_TYPE, "application/json")
        ):
            raise InvalidEvent(
                f"unsupported content-type '{header_value.decode(errors='replace')}'",
                [FieldError("content-type", "unsupported")],
            )
    return validate(protect_event(parse_structured(value), pseudonymizer))
