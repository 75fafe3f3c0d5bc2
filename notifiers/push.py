"""The push port: what the dispatcher asks of any push channel (FCM in production, fakes in unit tests)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol


@dataclass(frozen=True)
class PushMessage:
    """One push to one device. Title and body are shown on the lock screen: never personal data."""

    token: str
    title: str
    body: str
    collapse_key: str  # stable per offer bundle, so a re-send replaces rather than duplicates
    data: dict[str, str] = field(default_factory=dict)  # opaque ids only; details are fetched in the app
    ttl_seconds: int = 7 * 24 * 3600
    # The W3C traceparent of the life event it answers, for the sender's span; never sent to the device.
    trace_context: str | None = None


@dataclass(frozen=True)
class PushResult:
    token: str
    accepted: bool
    message_id: str | None = None
    error_code: str | None = None  # FCM error code, e.g. "UNREGISTERED", "QUOTA_EXCEEDED"
    retryable: bool = False
    token_invalid: bool = False  # the token must be deleted (UNREGISTERED)


class PushSender(Protocol):
    def send(self, messages: Sequence[PushMessage]) -> list[PushResult]:
        """Send messages (any number; the sender batches) and return one result per message, in order."""
        ...
