"""Pushes counted by FCM's answer: a PushSender that wraps the real one (beforeservice_push_outcomes_total).

The outcome label is "accepted" or FCM's error code in lower case, from a fixed list (anything else is "other",
so a new code cannot explode the label's values). "auth_failed" counts messages that could not be sent because
no access token could be had (revoked or deleted service account, unreachable token endpoint).
"""

from __future__ import annotations

from collections.abc import Sequence

import google.auth.exceptions

from beforeservice import metrics
from notifiers.push import PushMessage, PushResult, PushSender

ACCEPTED = "accepted"
AUTH_FAILED = "auth_failed"
OTHER = "other"
KNOWN_ERRORS = frozenset(
    {
        "UNREGISTERED",
        "INVALID_ARGUMENT",
        "QUOTA_EXCEEDED",
        "RESOURCE_EXHAUSTED",
        "UNAVAILABLE",
        "INTERNAL",
        "DEADLINE_EXCEEDED",
        "SENDER_ID_MISMATCH",
        "THIRD_PARTY_AUTH_ERROR",
        "UNAUTHENTICATED",
        "PERMISSION_DENIED",
        "NOT_FOUND",
        "UNKNOWN",
    }
)
# What the FCM auth alert watches: the engine's credentials or the APNs key behind them are refused.
AUTH_OUTCOMES = (AUTH_FAILED, "unauthenticated", "permission_denied", "sender_id_mismatch", "third_party_auth_error")


def outcome_of(result: PushResult) -> str:
    if result.accepted:
        return ACCEPTED
    code = (result.error_code or "UNKNOWN").upper()
    return code.lower() if code in KNOWN_ERRORS else OTHER


class CountedPushSender:
    """Sends through `sender` and counts every message's outcome."""

    def __init__(self, sender: PushSender) -> None:
        self.sender = sender

    def send(self, messages: Sequence[PushMessage]) -> list[PushResult]:
        try:
            results = self.sender.send(messages)
        except google.auth.exceptions.GoogleAuthError:
            metrics.PUSH_OUTCOMES.labels(outcome=AUTH_FAILED).inc(len(messages))
            raise
        for result in results:
            metrics.PUSH_OUTCOMES.labels(outcome=outcome_of(result)).inc()
        return results


def counted(sender: PushSender | None) -> PushSender | None:
    return CountedPushSender(sender) if sender is not None else None
