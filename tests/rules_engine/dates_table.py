"""A table holding each of the given days (and one NULL), for tests that compare the SQL evaluation of a date rule
with its reference over every day of a range, in SQLite and PostgreSQL alike."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import date
from typing import Any

from sqlalchemy import Column, Date, Integer, MetaData, Table

from beforeservice.database import make_engine


@contextmanager
def every_day(database_url: str, name: str, days: Sequence[date]) -> Iterator[tuple[Any, Table]]:
    engine = make_engine(database_url)
    table = Table(name, MetaData(), Column("row", Integer, primary_key=True), Column("day", Date))
    with engine.begin() as connection:
        table.create(connection)
        rows = [{"row": i, "day": d} for i, d in enumerate(days)] + [{"row": len(days), "day": None}]
        connection.execute(table.insert(), rows)
    try:
        yield engine, table
    finally:
        with engine.begin() as connection:
            table.drop(connection)
        engine.dispose()
