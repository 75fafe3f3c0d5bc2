"""Why an event was refused: precise enough for an agency developer to fix it."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class FieldError:
    field: str  # dotted path, e.g. "data.child.birth_date"
    message: str


class InvalidEvent(ValueError):
    """An event that is malformed or breaks its contract. It is refused (HTTP 4xx) or dead-lettered (Kafka)."""

    def __init__(self, reason: str, errors: list[FieldError] | None = None, status: int = 400) -> None:
        super().__init__(reason)
        self.reason = reason
        self.errors = errors or []
        self.status = status
