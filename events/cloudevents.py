"""CloudEvents 1.0 envelope, in both Kafka/HTTP content modes.

Structured mode carries the whole event as JSON in the body/value; binary mode carries the attributes in
`ce-` (HTTP) or `ce_` (Kafka) headers and the data alone in the body. Both parse to the same `CloudEvent`.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from events.errors import FieldError, InvalidEvent

STRUCTURED_CONTENT_TYPE = "application/cloudevents+json"
# Extension attribute names: lower-case alphanumerics only (CloudEvents 1.0, "Attribute Naming Convention").
_ATTRIBUTE_NAME = re.compile(r"^[a-z0-9]{1,20}$")
_CONTROL_CHARS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


class CloudEvent(BaseModel):
    """A CloudEvents 1.0 event. `source` + `id` identify it uniquely, so consumers de-duplicate on them."""

    model_config = ConfigDict(extra="allow", frozen=True)

    id: str = Field(min_length=1, max_length=256)
    source: str = Field(min_length=1, max_length=512)
    specversion: Literal["1.0"]
    type: str = Field(min_length=1, max_length=256)
    time: datetime | None = None
    subject: str | None = Field(default=None, max_length=256)
    datacontenttype: str | None = None
    dataschema: str | None = None
    # CloudEvents partitioning extension: the Kafka binding maps it to the message key.
    partitionkey: str | None = Field(default=None, max_length=256)
    data: Any = None

    @field_validator("id", "source", "type", "subject", "partitionkey")
    @classmethod
    def _no_control_characters(cls, value: str | None) -> str | None:
        if value is not None and _CONTROL_CHARS.search(value):
            raise ValueError("must not contain control characters")
        return value

    @field_validator("time")
    @classmethod
    def _timezone_required(cls, value: datetime | None) -> datetime | None:
        # RFC 3339 timestamps always carry an offset; a naive time is ambiguous across agencies.
        if value is not None and value.tzinfo is None:
            raise ValueError("must be an RFC 3339 timestamp with a time-zone offset")
        return value

    @property
    def key(self) -> tuple[str, str]:
        return (self.source, self.id)

    def attributes(self) -> dict[str, Any]:
        """Every context attribute (extensions included), without data."""
        return self.model_dump(mode="json", exclude={"data"}, exclude_none=True)

    def to_structured(self) -> bytes:
        return json.dumps(self.model_dump(mode="json", exclude_none=True), ensure_ascii=False).encode()


def invalid_from_validation(err: ValidationError, prefix: str = "") -> InvalidEvent:
    errors = [
        FieldError(
            field=prefix + ".".join(str(p) for p in e["loc"]) if e["loc"] else prefix.rstrip(".") or "event",
            message=e["msg"],
        )
        for e in err.errors()
    ]
    first = errors[0] if errors else FieldError("event", "invalid")
    return InvalidEvent(f"invalid field '{first.field}': {first.message}", errors)


def parse_structured(body: bytes | str) -> CloudEvent:
    """Parse a structured-mode event (the whole event as JSON)."""
    try:
        raw = json.loads(body)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise InvalidEvent(f"body is not valid JSON: {exc}", [FieldError("body", str(exc))]) from exc
    if not isinstance(raw, dict):
        raise InvalidEvent("a structured CloudEvent must be a JSON object", [FieldError("body", "not an object")])
    return _from_mapping(raw)


def _from_mapping(raw: Mapping[str, Any]) -> CloudEvent:
    for name in raw:
        if not _ATTRIBUTE_NAME.match(name):
            raise InvalidEvent(
                f"invalid attribute name '{name}': CloudEvents attribute names are lower-case letters and digits",
                [FieldError(name, "invalid attribute name")],
            )
    try:
        return CloudEvent.model_validate(dict(raw))
    except ValidationError as err:
        raise invalid_from_validation(err) from err


def parse_binary(headers: Iterable[tuple[str, bytes | str]], body: bytes, prefix: str) -> CloudEvent:
    """Parse a binary-mode event: attributes from headers named `prefix + attribute`, data from the body.

    `prefix` is "ce-" for HTTP and "ce_" for Kafka. The body is decoded as JSON when the content type says so.
    """
    attributes: dict[str, Any] = {}
    content_type: str | None = None
    for name, value in headers:
        text = value.decode() if isinstance(value, bytes) else value
        lowered = name.lower()
        if lowered.startswith(prefix):
            attributes[lowered[len(prefix) :]] = text
        elif lowered in ("content-type", "content_type"):
            content_type = text
    if "specversion" not in attributes:
        raise InvalidEvent(
            f"missing attribute 'specversion' (binary mode needs a '{prefix}specversion' header)",
            [FieldError("specversion", "Field required")],
        )
    if content_type:
        attributes["datacontenttype"] = content_type
    attributes["data"] = _decode_data(body, content_type)
    return _from_mapping(attributes)


def _decode_data(body: bytes, content_type: str | None) -> Any:
    if not body:
        return None
    if content_type is None or "json" in content_type:
        try:
            return json.loads(body)
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise InvalidEvent(f"data is not valid JSON: {exc}", [FieldError("data", str(exc))]) from exc
    raise InvalidEvent(
        f"unsupported data content type '{content_type}': life events carry JSON data",
        [FieldError("datacontenttype", "unsupported")],
    )


def binary_headers(event: CloudEvent, prefix: str) -> list[tuple[str, bytes]]:
    """The headers of an event in binary mode (Kafka: prefix "ce_"); the body is `json.dumps(event.data)`."""
    headers = [
        (prefix + name, str(value).encode()) for name, value in event.attributes().items() if name != "datacontenttype"
    ]
    headers.append(("content-type", b"application/json"))
    return headers
