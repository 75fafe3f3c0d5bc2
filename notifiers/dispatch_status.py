"""Where a notification stands in the outbox: the one list of its dispatch statuses.

pending → sent | inbox_only | merged | failed | held | cancelled; held → (at `not_before`) the same as pending;
rebuilt is written once by a rebuild from the log (docs/operations-kafka.md) and never changes.
"""

from __future__ import annotations

from enum import StrEnum


class DispatchStatus(StrEnum):
    PENDING = "pending"  # waiting for the dispatcher
    HELD = "held"  # waiting until `not_before`: quiet hours, the weekly budget, a bereavement cooling-off
    SENT = "sent"  # pushed to at least one of the citizen's devices
    INBOX_ONLY = "inbox_only"  # no consent or no device: shown in the app's inbox only
    MERGED = "merged"  # carried by a digest push with others
    FAILED = "failed"  # the push was refused for good (after retries)
    CANCELLED = "cancelled"  # never to be sent: its recipient died
    REBUILT = "rebuilt"  # written by `beforeservice rebuild`: delivered in the original run, never sent again


UNSENT = frozenset({DispatchStatus.PENDING, DispatchStatus.HELD})  # what the dispatcher may still send or cancel
# The citizen has been told, by a push, a digest or the inbox: its offers become `notified`.
TOLD = frozenset({DispatchStatus.SENT, DispatchStatus.INBOX_ONLY, DispatchStatus.MERGED})
PUSHED = frozenset({DispatchStatus.SENT, DispatchStatus.MERGED})  # reached a phone (take-up's "push" channel)
