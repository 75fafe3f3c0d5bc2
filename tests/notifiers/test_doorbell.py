"""The outbox doorbell: a committed ring wakes a waiting dispatcher at once; a rolled-back one does not; where
there is no bell (SQLite) a wait is the plain poll interval. Real PostgreSQL LISTEN/NOTIFY."""

from __future__ import annotations

import threading
import time

import pytest
from sqlalchemy import text
from sqlalchemy.orm import Session, sessionmaker

from notifiers.doorbell import CHANNEL, Doorbell, ring


def _timed_wait(bell: Doorbell, seconds: float) -> tuple[threading.Thread, list[float]]:
    took: list[float] = []

    def waiting() -> None:
        started = time.monotonic()
        bell.wait(seconds)
        took.append(time.monotonic() - started)

    thread = threading.Thread(target=waiting)
    thread.start()
    return thread, took


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_a_committed_ring_wakes_the_waiting_dispatcher(database_url: str, sessions: sessionmaker[Session]) -> None:
    bell = Doorbell(database_url, threading.Event())
    try:
        assert bell.listen()
        thread, took = _timed_wait(bell, 30.0)
        time.sleep(0.3)
        with sessions.begin() as session:
            ring(session)
        thread.join(35)
        assert took and took[0] < 10, f"woke after {took}: the ring was not heard"
    finally:
        bell.close()


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_a_rolled_back_ring_wakes_nobody(database_url: str, sessions: sessionmaker[Session]) -> None:
    bell = Doorbell(database_url, threading.Event())
    try:
        assert bell.listen()
        thread, took = _timed_wait(bell, 1.5)
        time.sleep(0.2)
        with sessions() as session:
            ring(session)
            session.rollback()
        thread.join(10)
        assert took and took[0] >= 1.4, f"woke after {took[0]:.2f}s by a ring that was never committed"
    finally:
        bell.close()


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_without_a_bell_a_wait_is_the_poll_interval_and_stop_ends_it(database_url: str) -> None:
    stop = threading.Event()
    bell = Doorbell(database_url, stop)
    assert not bell.listen()
    started = time.monotonic()
    bell.wait(0.3)
    assert time.monotonic() - started >= 0.25
    stop.set()
    started = time.monotonic()
    bell.wait(30)
    assert time.monotonic() - started < 5


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_stop_ends_a_long_wait_promptly(database_url: str) -> None:
    stop = threading.Event()
    bell = Doorbell(database_url, stop)
    try:
        assert bell.listen()
        thread, took = _timed_wait(bell, 60.0)
        time.sleep(0.3)
        stop.set()
        thread.join(10)
        assert took and took[0] < 5
    finally:
        bell.close()


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_a_lost_connection_falls_back_to_polling_then_listens_again(
    database_url: str, sessions: sessionmaker[Session]
) -> None:
    bell = Doorbell(database_url, threading.Event())
    try:
        assert bell.listen()
        with sessions.begin() as session:  # the database drops the listener (restart, failover, idle kill)
            session.execute(
                text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE query = :q"),
                {"q": f"LISTEN {CHANNEL}"},
            )
        started = time.monotonic()
        bell.wait(0.5)  # does not raise: waits out the interval as a poll would
        assert time.monotonic() - started >= 0.4
        thread, took = _timed_wait(bell, 30.0)  # reconnected and listening again
        time.sleep(0.5)
        with sessions.begin() as session:
            ring(session)
        thread.join(35)
        assert took and took[0] < 10
    finally:
        bell.close()
