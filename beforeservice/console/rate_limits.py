"""Per-key rate limits shared by every API process: one row per key in the database, taken atomically.

The limit counts events, not requests: a batch of 50 costs 50. The bucket is GCRA (a token bucket written as a
"theoretical arrival time", `tat`): each event pushes `tat` on by one emission interval (a minute / rate), and an
event is allowed while `tat` stays within a minute of now, so a key bursts up to a minute's worth. A request gets
as many of the events it asks for as the bucket allows; the caller refuses the rest (429 each, Retry-After).

One statement per request, `INSERT … ON CONFLICT DO UPDATE … RETURNING`, computed from the row as it is when the
statement runs: PostgreSQL re-reads a row a concurrent transaction just updated, SQLite has one writer at a time,
so two processes never hand out the same allowance. Times are the API hosts' wall clocks, in microseconds.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import text
from sqlalchemy.orm import Session, sessionmaker

MINUTE_US = 60_000_000

# Columns: key_id, tat_us (theoretical arrival time of the next event), granted (the last request's allowance).
_TAKE = text(
    """
    INSERT INTO agency_rate_buckets (key_id, tat_us, granted) VALUES (:key_id, :fresh_tat, :fresh_granted)
    ON CONFLICT (key_id) DO UPDATE SET
        granted = {granted},
        tat_us = {base} + {granted} * CAST(:interval AS BIGINT)
    RETURNING granted, tat_us
    """.format(
        base="(CASE WHEN agency_rate_buckets.tat_us > CAST(:now AS BIGINT) THEN agency_rate_buckets.tat_us "
        "ELSE CAST(:now AS BIGINT) END)",
        granted="(CASE WHEN {room} < 0 THEN 0 WHEN {room} > CAST(:cost AS BIGINT) THEN CAST(:cost AS BIGINT) "
        "ELSE {room} END)".format(
            # Whole events that fit before tat runs a minute ahead of now (integer division on both databases).
            room="((CAST(:now AS BIGINT) + CAST(:burst AS BIGINT) - (CASE WHEN agency_rate_buckets.tat_us > "
            "CAST(:now AS BIGINT) THEN agency_rate_buckets.tat_us ELSE CAST(:now AS BIGINT) END)) "
            "/ CAST(:interval AS BIGINT))"
        ),
    )
)


@dataclass(frozen=True)
class Allowance:
    granted: int  # how many of the events asked for may go ahead
    retry_after: int  # seconds until the next event would be allowed (0 when all were granted)


class RateLimiter:
    def __init__(self, sessions: sessionmaker[Session], clock: Callable[[], float] = time.time) -> None:
        self._sessions, self._clock = sessions, clock

    def take(self, key_id: str, rate_per_minute: int, cost: int) -> Allowance:
        interval = max(1, MINUTE_US // max(1, rate_per_minute))
        now = int(self._clock() * 1_000_000)
        fresh = min(cost, MINUTE_US // interval)
        params = {
            "key_id": key_id,
            "now": now,
            "cost": cost,
            "interval": interval,
            "burst": MINUTE_US,
            "fresh_granted": fresh,
            "fresh_tat": now + fresh * interval,
        }
        with self._sessions.begin() as session:
            granted, tat = session.execute(_TAKE, params).one()
        if granted >= cost:
            return Allowance(int(granted), 0)
        # The next event fits once tat - now <= burst - interval.
        wait_us = tat + interval - MINUTE_US - now
        return Allowance(int(granted), max(1, math.ceil(wait_us / 1_000_000)))
