"""W3C Trace Context as plain strings: how a life event's trace travels (the CloudEvents distributed-tracing
extension, the HTTP and Kafka `traceparent`/`tracestate` headers), without any tracing library.

The engine's spans are made in beforeservice/tracing.py; the domain only carries these strings along (Kafka
headers, the outbox row), so that events/, entitlements/ and notifiers/ need no OpenTelemetry.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from events.errors import FieldError, InvalidEvent

TRACEPARENT = "traceparent"
TRACESTATE = "tracestate"
# version-traceid-parentid-flags, lower-case hex (https://www.w3.org/TR/trace-context/#traceparent-header).
# Version ff is invalid; a later version may append fields; all-zero ids are invalid.
_TRACEPARENT = re.compile(r"(?!ff)([0-9a-f]{2})-(?!0{32})[0-9a-f]{32}-(?!0{16})[0-9a-f]{16}-[0-9a-f]{2}(-[0-9a-f-]+)?")
# list-members key=value separated by commas (https://www.w3.org/TR/trace-context/#tracestate-header), at most 32.
_MEMBER = re.compile(
    r"[a-z0-9][_0-9a-z\-*/]{0,255}(@[a-z][_0-9a-z\-*/]{0,13})?=[\x20-\x2b\x2d-\x3c\x3e-\x7e]{0,255}[\x21-\x2b\x2d-\x3c\x3e-\x7e]"
)
TRACEPARENT_PATTERN = _TRACEPARENT.pattern
_MARKUP = re.compile(r"[<>\"'`\\]")


def valid_traceparent(value: object) -> bool:
    if not isinstance(value, str):
        return False
    match = _TRACEPARENT.fullmatch(value)
    # Version 00 has exactly four fields; only a later version may carry more.
    return match is not None and not (match.group(1) == "00" and match.group(2))


def valid_tracestate(value: object) -> bool:
    # Stricter than W3C: no markup or quotes either (every outside string is hostile wherever it may be shown).
    if not isinstance(value, str) or len(value) > 512 or _MARKUP.search(value):
        return False
    members = [m.strip(" \t") for m in value.split(",")]
    return 0 < len(members) <= 32 and all(_MEMBER.fullmatch(m) for m in members if m)


@dataclass(frozen=True)
class TraceContext:
    """A valid `traceparent`, and its `tracestate` when that is valid too (an invalid one is dropped, as W3C says)."""

    traceparent: str
    tracestate: str | None = None

    @classmethod
    def of(cls, traceparent: object, tracestate: object = None) -> TraceContext | None:
        if not valid_traceparent(traceparent):
            return None
        assert isinstance(traceparent, str)
        return cls(traceparent, tracestate if valid_tracestate(tracestate) else None)  # type: ignore[arg-type]

    @property
    def trace_id(self) -> str:
        return self.traceparent.split("-")[1]

    def headers(self) -> list[tuple[str, bytes]]:
        """As Kafka record headers."""
        found = [(TRACEPARENT, self.traceparent.encode())]
        if self.tracestate:
            found.append((TRACESTATE, self.tracestate.encode()))
        return found


def from_headers(headers: Sequence[tuple[str, bytes | str]] | Mapping[str, Any]) -> TraceContext | None:
    """The trace context of a Kafka record or an HTTP request: `traceparent` (protocol header), else `ce_traceparent`
    (a binary-mode CloudEvent's extension); None when absent or invalid."""
    pairs = headers.items() if isinstance(headers, Mapping) else headers
    found: dict[str, str] = {}
    for name, value in pairs:
        lowered = name.lower()
        if lowered in (TRACEPARENT, TRACESTATE, "ce_" + TRACEPARENT, "ce_" + TRACESTATE):
            found.setdefault(lowered, value.decode(errors="replace") if isinstance(value, bytes) else str(value))
    return TraceContext.of(found.get(TRACEPARENT), found.get(TRACESTATE)) or TraceContext.of(
        found.get("ce_" + TRACEPARENT), found.get("ce_" + TRACESTATE)
    )


def from_extension(attributes: Mapping[str, Any]) -> TraceContext | None:
    """The CloudEvents distributed-tracing extension of an event's attributes (None when absent or invalid)."""
    return TraceContext.of(attributes.get(TRACEPARENT), attributes.get(TRACESTATE))


def check_extension(attributes: Mapping[str, Any]) -> None:
    """Refuse an event whose distributed-tracing extension is present but not W3C Trace Context: an agency's
    tracing bug is shown to it at the door (400 naming the attribute) rather than silently breaking its trace."""
    if TRACEPARENT in attributes and not valid_traceparent(attributes[TRACEPARENT]):
        raise InvalidEvent(
            "invalid field 'traceparent': not a W3C traceparent (version-traceid-parentid-flags in lower-case hex, "
            "e.g. 00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01)",
            [FieldError(TRACEPARENT, "not a W3C traceparent")],
        )
    if TRACESTATE in attributes and not valid_tracestate(attributes[TRACESTATE]):
        raise InvalidEvent(
            "invalid field 'tracestate': not a W3C tracestate (up to 32 comma-separated key=value members)",
            [FieldError(TRACESTATE, "not a W3C tracestate")],
        )
