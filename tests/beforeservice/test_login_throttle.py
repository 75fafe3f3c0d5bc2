"""The login throttle's window on SQLite and PostgreSQL, with the clock in the test's hands (no sleeping)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy.orm import Session, sessionmaker

from beforeservice.console.login_throttle import Admission, LoginThrottle

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
THROTTLE = LoginThrottle(per_account=5, per_address=20, window=timedelta(minutes=15))


def attempt(sessions: sessionmaker[Session], at: datetime, name: str = "kim", address: str = "192.0.2.1") -> Admission:
    with sessions.begin() as session:
        return THROTTLE.admit(session, name, address, at)


def test_a_locked_account_waits_for_its_window_to_pass(sessions: sessionmaker[Session]) -> None:
    admitted = [attempt(sessions, T0 + timedelta(seconds=i)) for i in range(5)]
    assert [a.retry_after for a in admitted] == [None] * 5
    assert [a.last_for for a in admitted] == [()] * 4 + [("account",)]
    assert attempt(sessions, T0 + timedelta(minutes=10)).retry_after == 300  # the window opened at T0
    assert attempt(sessions, T0 + timedelta(minutes=14, seconds=59)).retry_after == 1
    assert attempt(sessions, T0 + timedelta(minutes=10), name="lee").retry_after is None  # other accounts go on
    again = attempt(sessions, T0 + timedelta(minutes=15))
    assert again == Admission(None, ())


def test_a_right_password_gives_the_account_a_fresh_start(sessions: sessionmaker[Session]) -> None:
    for i in range(4):
        attempt(sessions, T0 + timedelta(seconds=i))
    with sessions.begin() as session:
        THROTTLE.succeeded(session, "kim", "192.0.2.1")
    assert [attempt(sessions, T0 + timedelta(seconds=10 + i)).retry_after for i in range(6)] == [None] * 5 + [895]


def test_an_address_is_counted_over_every_account(sessions: sessionmaker[Session]) -> None:
    for i in range(20):
        assert attempt(sessions, T0, name=f"guess-{i}").retry_after is None
    assert attempt(sessions, T0, name="park").retry_after == 900
    assert attempt(sessions, T0, name="park", address="192.0.2.2").retry_after is None
    # Any typed name is only hashed: NUL bytes and markup reach no column.
    assert attempt(sessions, T0, name="\x00<b>" * 100, address="192.0.2.3").retry_after is None
