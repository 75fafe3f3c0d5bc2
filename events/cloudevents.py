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
from events.values import EventTime

STRUCTURED_CONTENT_TYPE = "application/cloudevents+json"
# Extension attribute names: lower-case alphanumerics only (CloudEvents 1.0, "Attribute Naming Convention").
_ATTRIBUTE_NAME = re.compile(r"[a-z0-9]{1,20}")
# Every attribute an agency sends is shown somewhere (console, logs) and `source` + `id` are an event's identity:
# ASCII only, no markup, no whitespace, no control characters, anchored at both ends (pydantic's `$` is the end of
# the text), so that "id\n" is not a second event and "<button ...>" is not an id.
IDENTIFIER_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._:~-]{0,255}$"
# A URI-reference path: "/"-separated segments, none empty ("//"), none "." or ".." (no segment starts with a dot).
SOURCE_PATTERN = r"^(/[A-Za-z0-9_~-][A-Za-z0-9._~-]{0,63}){1,16}$"
TYPE_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,255}$"
MEDIA_TYPE_PATTERN = (
    r"^[A-Za-z0-9][A-Za-z0-9.+-]{0,63}/[A-Za-z0-9][A-Za-z0-9.+-]{0,63}( ?; ?[A-Za-z0-9_-]{1,32}=[A-Za-z0-9._-]{1,64})*$"
)
URI_PATTERN = r"^[A-Za-z0-9._~:/?#@!$&()*+,;=%\[\]-]{1,512}$"
# Extension values: printable ASCII without markup or quotes (traceparent, tracestate, a correlation id...).
_EXTENSION_TEXT = re.compile(r"[\x20-\x7e]{0,256}")
_MARKUP = re.compile(r"[<>\"'`\\]")


class CloudEvent(BaseModel):
    """A CloudEvents 1.0 event. `source` + `id` identify it uniquely, so consumers de-duplicate on them."""

    model_config = ConfigDict(extra="allow", frozen=True)

    id: str = Field(pattern=IDENTIFIER_PATTERN)
    source: str = Field(pattern=SOURCE_PATTERN, max_length=512)
    specversion: Literal["1.0"]
    type: str = Field(pattern=TYPE_PATTERN)
    time: EventTime | None = None
    subject: str | None = Field(default=None, pattern=IDENTIFIER_PATTERN)
    datacontenttype: str | None = Field(default=None, pattern=MEDIA_TYPE_PATTERN)
    dataschema: str | None = Field(default=None, pattern=URI_PATTERN)
    # CloudEvents partitioning extension: the Kafka binding maps it to the message key.
    partitionkey: str | None = Field(default=None, pattern=IDENTIFIER_PATTERN)
    data: Any = None

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
    except RecursionError as exc:  # JSON nested a thousand levels deep
        raise InvalidEvent("body is nested too deeply", [FieldError("body", "nested too deeply")]) from exc
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise InvalidEvent(f"body is not valid JSON: {exc}", [FieldError("body", str(exc))]) from exc
    if not isinstance(raw, dict):
        raise InvalidEvent("a structured CloudEvent must be a JSON object", [FieldError("body", "not an object")])
    return _from_mapping(raw)


def _from_mapping(raw: Mapping[str, Any]) -> CloudEvent:
    for name, value in raw.items():
        if not (isinstance(name, str) and _ATTRIBUTE_NAME.fullmatch(name)):
            shown = name.encode("ascii", "backslashreplace").decode()[:40]
            raise InvalidEvent(
                f"invalid attribute name '{shown}': CloudEvents attribute names are 1-20 lower-case letters and digits",
                [FieldError(shown, "invalid attribute name")],
            )
        if name not in CloudEvent.model_fields and not _plain_extension_value(value):
            raise InvalidEvent(
                f"invalid field '{name}': an extension attribute is printable ASCII without markup (at most 256 "
                "characters), an integer or a boolean",
                [FieldError(name, "not a plain extension value")],
            )
    try:
        return CloudEvent.model_validate(dict(raw))
    except ValidationError as err:
        raise invalid_from_validation(err) from err


def _plain_extension_value(value: Any) -> bool:
    """CloudEvents attribute values are scalars; ours are short printable ASCII, integers or booleans."""
    if isinstance(value, bool) or (isinstance(value, int) and -(2**31) <= value < 2**31):
        return True
    return isinstance(value, str) and bool(_EXTENSION_TEXT.fullmatch(value)) and not _MARKUP.search(value)


def parse_binary(headers: Iterable[tuple[str, bytes | str]], body: bytes, prefix: str) -> CloudEvent:
    """Parse a binary-mode event: attributes from headers named `prefix + attribute`, data from the body.

    `prefix` is "ce-" for HTTP and "ce_" for Kafka. The body is decoded as JSON when the content type says so.
    """
    attributes: dict[str, Any] = {}
    content_type: str | None = None
    for name, value in headers:
        try:
            text = value.decode() if isinstance(value, bytes) else value
        except UnicodeDecodeError as exc:
            raise InvalidEvent(f"header '{name}' is not UTF-8", [FieldError(name, "not UTF-8")]) from exc
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
        except RecursionError as exc:
            raise InvalidEvent("data is nested too deeply", [FieldError("data", "nested too deeply")]) from exc
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
