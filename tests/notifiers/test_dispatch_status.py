"""Dispatch statuses have one home (notifiers/dispatch_status.py): what the outbox, the tact rules, reminders,
review and take-up write and read."""

from __future__ import annotations

import pytest
from sqlalchemy import String, select
from sqlalchemy.orm import Session, sessionmaker

from beforeservice.console.takeup import _channel
from notifiers.dispatch_status import PUSHED, TOLD, UNSENT, DispatchStatus
from notifiers.fcm.sender import FcmPushSender
from notifiers.outbox import dispatch_pending
from notifiers.policy import DispatchPolicy
from notifiers.rendering import shared_templates
from notifiers.tables import NotificationRow
from notifiers.tact import on_death
from tests.support.notification_seeds import T0, notification, offer, opt_in, seed_citizen


def test_the_stored_values_and_the_column_they_fit() -> None:
    """The values are stored: renaming one would strand the rows that carry it."""
    assert [s.value for s in DispatchStatus] == [
        "pending", "held", "sent", "inbox_only", "merged", "failed", "cancelled", "rebuilt"
    ]  # fmt: skip
    column = NotificationRow.__table__.c.dispatch_status
    assert isinstance(column.type, String) and all(len(s) <= (column.type.length or 0) for s in DispatchStatus)


def test_the_groups() -> None:
    assert {DispatchStatus.PENDING, DispatchStatus.HELD} == UNSENT
    assert not UNSENT & TOLD and PUSHED < TOLD
    assert DispatchStatus.FAILED not in TOLD | UNSENT and DispatchStatus.CANCELLED not in TOLD | UNSENT


@pytest.mark.parametrize(
    ("statuses", "channel"),
    [
        (["sent"], "push"),
        (["inbox_only", "merged"], "push"),
        (["inbox_only"], "inbox"),
        (["pending", "failed"], "pending"),
        ([], "none"),
    ],
)
def test_take_up_names_the_channel_from_the_statuses(statuses: list[str], channel: str) -> None:
    assert _channel([NotificationRow(dispatch_status=s) for s in statuses]) == channel


@pytest.mark.integration
def test_every_status_the_dispatcher_writes_is_one_of_them(
    sessions: sessionmaker[Session], sender: FcmPushSender
) -> None:
    for citizen in ("pushed", "inbox", "dead"):
        seed_citizen(sessions, citizen)
    opt_in(sessions, "pushed", ["tok-pushed"])
    opt_in(sessions, "dead", ["tok-dead"])
    expected = {
        notification(sessions, "pushed", [offer(sessions, "pushed")]): DispatchStatus.SENT,
        notification(sessions, "inbox", [offer(sessions, "inbox")]): DispatchStatus.INBOX_ONLY,
        notification(sessions, "dead", [offer(sessions, "dead")]): DispatchStatus.CANCELLED,
    }
    with sessions.begin() as session:
        on_death(session, "dead")
    dispatch_pending(sessions, sender, policy=DispatchPolicy(), templates=shared_templates(), now=T0)
    with sessions() as session:
        stored = {
            r.id: r.dispatch_status
            for r in session.execute(select(NotificationRow.id, NotificationRow.dispatch_status))
        }
    assert {i: DispatchStatus(s) for i, s in stored.items()} == expected
