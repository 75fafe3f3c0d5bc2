"""SQLAlchemy column types that seal personal data at rest (an adapter around entitlements/persistence/sealing.py).

``SealedText("entitlements.reason_ko")`` and ``SealedJSON("entitlements.trace")`` are transparent to the ORM and
to Core statements: values are sealed when bound and opened when read, under the process-wide keyring that the
process's bootstrap installs (``beforeservice.bootstrap.configure_keyring`` is its one installer). The column's
identity is the associated data, so a value moved to another column does not open.

A sealed column can be read and written, never compared in SQL: each sealing draws a fresh nonce, so equal
plaintexts differ at rest. Only columns that no WHERE, ORDER BY, JOIN or GROUP BY looks into are sealed.

``reseal_page`` is the one routine that reads and writes the stored (sealed) text itself: the key rotation and
the migration that seals plaintext rows use it.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

from sqlalchemy import Column, Connection, MetaData, Table, Text, and_, bindparam, column, or_, select, table
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator

from entitlements.persistence.sealing import Keyring, SealingError

_keyring: Keyring | None = None
T = TypeVar("T")


def install_keyring(keyring: Keyring) -> None:
    """The keyring every sealed column of this process uses from now on."""
    global _keyring
    _keyring = keyring


def installed_keyring() -> Keyring | None:
    return _keyring


def current_keyring() -> Keyring:
    if _keyring is None:
        raise SealingError("no keyring: build the process with beforeservice.bootstrap (it installs DATA_KEYS)")
    return _keyring


class _SealedColumn(TypeDecorator[T]):
    """Stored as Text (sealed text is neither the value's type nor JSON); `context` is the column's identity,
    ``"<table>.<column>"``, bound into every value as associated data."""

    impl = Text

    def __init__(self, context: str) -> None:
        super().__init__()
        self.context = context
        self._aad = context.encode()


class SealedText(_SealedColumn[str]):
    """Text sealed with AES-GCM at rest."""

    cache_ok = True  # SQLAlchemy reads it from each class itself, not from a base: without it, no statement caching

    def process_bind_param(self, value: str | None, dialect: Dialect) -> str | None:
        if value is None:
            return None
        return current_keyring().seal(value.encode(), self._aad)

    def process_result_value(self, value: str | None, dialect: Dialect) -> str | None:
        if value is None:
            return None
        return current_keyring().open(value, self._aad).decode()


class SealedJSON(_SealedColumn[Any]):
    """A JSON document sealed at rest."""

    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Dialect) -> str | None:
        if value is None:
            return None
        return self.seal_document(self.document(value))

    @staticmethod
    def document(value: Any) -> bytes:
        return json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode()

    def seal_document(self, document: bytes) -> str:
        """Seal an already serialised document (a batch serialises a document its rows share only once)."""
        return current_keyring().seal(document, self._aad)

    def process_result_value(self, value: str | None, dialect: Dialect) -> Any:
        if value is None:
            return None
        return json.loads(current_keyring().open(value, self._aad))


SEALED_TYPES = (SealedText, SealedJSON)


@dataclass(frozen=True)
class SealedTable:
    """A table's primary key and its sealed columns (name → context), for work on the stored text itself."""

    name: str
    key: str
    columns: Mapping[str, str]
    json_columns: frozenset[str] = field(default_factory=frozenset)


def sealed_tables(*metadatas: MetaData) -> list[SealedTable]:
    """Every table with sealed columns in the given metadata, in a stable order."""
    found: list[SealedTable] = []
    for metadata in metadatas:
        for t in metadata.sorted_tables:
            sealed = {c.name: c.type.context for c in t.columns if isinstance(c.type, SEALED_TYPES)}
            if not sealed:
                continue
            keys = list(t.primary_key.columns)
            if len(keys) != 1:
                raise SealingError(f"{t.name}: sealed columns need a single-column primary key")
            for name, context in sealed.items():
                if context != f"{t.name}.{name}":
                    raise SealingError(f"{t.name}.{name}: sealed with the context {context!r}")
            json_columns = frozenset(c.name for c in t.columns if isinstance(c.type, SealedJSON))
            found.append(SealedTable(t.name, keys[0].name, sealed, json_columns))
    return found


def _raw(spec: SealedTable, extra: Iterable[str] = ()) -> tuple[Table, Column[Any]]:
    """The table as plain Text columns: the stored text, neither sealed nor opened by SQLAlchemy."""
    raw = table(
        spec.name, column(spec.key), *(column(name, Text()) for name in spec.columns), *(column(n) for n in extra)
    )
    return raw, raw.c[spec.key]  # type: ignore[return-value]


Transform = Callable[[str, str], str]  # (stored text, column context) -> new stored text


def reseal_with(keyring: Keyring) -> tuple[Callable[[str], bool], Transform]:
    """What a rotation does: (is this stored text already under the active key?, re-seal it under it).

    Plaintext (a row from before sealing, or written by raw SQL) is sealed as it is."""

    def seal_again(stored: str, context: str) -> str:
        aad = context.encode()
        try:
            plaintext = keyring.open(stored, aad)
        except SealingError:
            if stored.startswith("v1."):
                raise
            plaintext = stored.encode()
        return keyring.seal(plaintext, aad)

    return keyring.is_current, seal_again


def open_with(keyring: Keyring) -> tuple[Callable[[str], bool], Transform]:
    """The inverse (a downgrade): every sealed value back to plaintext."""

    def is_plain(stored: str) -> bool:
        return not stored.startswith("v1.")

    def open_value(stored: str, context: str) -> str:
        return keyring.open(stored, context.encode()).decode()

    return is_plain, open_value


def reseal_page(
    connection: Connection,
    spec: SealedTable,
    done: tuple[Callable[[str], bool], Transform],
    header: str | None,
    after: Any,
    limit: int,
    match: Mapping[str, Any] | None = None,
) -> tuple[Any, dict[str, int]]:
    """One page (by primary key, after `after`) of rows with a value to transform: transform it, in the caller's
    transaction. `header` is the prefix of values already done (filtered in SQL); None = look at every row.
    `match` restricts the rows to those with these column values.

    Returns the last key seen (None when there are no more rows) and the number of values changed per column.
    Each UPDATE compares the stored text first, so a value a writer changed meanwhile is left alone (it was written
    under the active key already). Re-running is safe: what is done is skipped."""
    is_done, transform = done
    match = match or {}
    raw, key = _raw(spec, match)
    todo = [
        and_(raw.c[name].is_not(None), ~raw.c[name].startswith(header, autoescape=True))
        if header is not None
        else raw.c[name].is_not(None)
        for name in spec.columns
    ]
    query = select(key, *(raw.c[name] for name in spec.columns)).where(or_(*todo)).order_by(key).limit(limit)
    if after is not None:
        query = query.where(key > after)
    for name, value in match.items():
        query = query.where(raw.c[name] == value)
    rows = connection.execute(query).all()
    counts = dict.fromkeys(spec.columns, 0)
    if not rows:
        return None, counts
    for name, context in spec.columns.items():
        changes = [
            {"k": row[0], "old": stored, "new": transform(stored, context)}
            for row in rows
            if (stored := row._mapping[name]) is not None and not is_done(stored)
        ]
        if changes:
            statement = (
                raw.update()
                .where(key == bindparam("k"), raw.c[name] == bindparam("old"))
                .values({name: bindparam("new")})
            )
            connection.execute(statement, changes)
            counts[name] += len(changes)
    return rows[-1][0], counts


def reseal_all(
    connection: Connection,
    specs: Iterable[SealedTable],
    done: tuple[Callable[[str], bool], Transform],
    header: str | None,
    limit: int = 1000,
    match: Mapping[str, Any] | None = None,
) -> dict[str, int]:
    """Every page of every table, in the caller's one transaction (a migration, the SQL backfill)."""
    total: dict[str, int] = {}
    for spec in specs:
        after: Any = None
        while True:
            after, counts = reseal_page(connection, spec, done, header, after, limit, match)
            for name, n in counts.items():
                total[f"{spec.name}.{name}"] = total.get(f"{spec.name}.{name}", 0) + n
            if after is None:
                break
    return total
