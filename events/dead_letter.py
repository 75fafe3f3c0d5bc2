"""A dead-letter record: the original bytes of a refused event with the reason, so nothing is lost."""

from __future__ import annotations

import base64
from datetime import UTC, datetime

from pydantic import BaseModel, Field

from events.errors import InvalidEvent


class DeadLetter(BaseModel):
    reason: str
    errors: list[dict[str, str]] = Field(default_factory=list)
    topic: str
    partition: int
    offset: int
    key_b64: str | None
    value_b64: str
    headers: list[tuple[str, str]] = Field(default_factory=list)  # header values base64-encoded
    dead_lettered_at: datetime

    @classmethod
    def of(
        cls,
        error: InvalidEvent,
        *,
        topic: str,
        partition: int,
        offset: int,
        key: bytes | None,
        value: bytes,
        headers: list[tuple[str, bytes]],
    ) -> DeadLetter:
        return cls(
            reason=error.reason,
            errors=[{"field": e.field, "message": e.message} for e in error.errors],
            topic=topic,
            partition=partition,
            offset=offset,
            key_b64=base64.b64encode(key).decode() if key is not None else None,
            value_b64=base64.b64encode(value).decode(),
            headers=[(name, base64.b64encode(v).decode()) for name, v in headers],
            dead_lettered_at=datetime.now(UTC),
        )

    def original_value(self) -> bytes:
        return base64.b64decode(self.value_b64)
