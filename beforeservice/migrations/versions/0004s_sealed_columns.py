"""sealed personal data at rest (merges the console and notification branches)

The sealed columns keep their SQL type, Text, except ``entitlements.trace``: JSON until now, and a sealed value is
not JSON, so PostgreSQL gets ``ALTER ... TYPE TEXT`` (SQLite's declared types do not constrain values: JSON there
was already text). Then every plaintext value of the sealed columns is sealed under the active key of DATA_KEYS,
in pages, in this migration's transaction. The downgrade opens them back to plaintext (and trace to JSON).

Revision ID: 0004s
Revises: 0003c, 0003n
"""

from __future__ import annotations

from alembic import op
from sqlalchemy import Connection, Text, column, func, or_, select, table

from entitlements.persistence.sealed_columns import SealedTable, installed_keyring, open_with, reseal_all, reseal_with
from entitlements.persistence.sealing import Keyring, SealingError

revision = "0004s"
down_revision = ("0003c", "0003n")
branch_labels = None
depends_on = None

# Frozen here (not read from the models): what this revision seals.
SEALED = [
    SealedTable(
        "entitlements",
        "id",
        {c: f"entitlements.{c}" for c in ("trace", "reason_ko", "reason_en")},
        frozenset({"trace"}),
    ),
    SealedTable("notifications", "id", {c: f"notifications.{c}" for c in ("message_ko", "message_en")}),
    SealedTable("review_actions", "id", {"note": "review_actions.note"}),
    SealedTable(
        "review_cases", "entitlement_id", {c: f"review_cases.{c}" for c in ("info_request", "rejection_reason")}
    ),
]


def _values(connection: Connection) -> int:
    total = 0
    for spec in SEALED:
        raw = table(spec.name, *(column(name, Text()) for name in spec.columns))
        query = select(func.count()).select_from(raw).where(or_(*(raw.c[n].is_not(None) for n in spec.columns)))
        total += connection.execute(query).scalar_one()
    return total


def _keyring(connection: Connection) -> Keyring | None:
    keyring = installed_keyring()
    if keyring is None and _values(connection):
        raise SealingError("sealing existing rows needs DATA_KEYS: run `beforeservice db upgrade`")
    return keyring


def upgrade() -> None:
    connection = op.get_bind()
    if connection.dialect.name == "postgresql":
        op.execute("ALTER TABLE entitlements ALTER COLUMN trace TYPE TEXT USING trace::text")
    keyring = _keyring(connection)
    if keyring is not None:
        reseal_all(connection, SEALED, reseal_with(keyring), keyring.header_of(keyring.active))


def downgrade() -> None:
    connection = op.get_bind()
    keyring = _keyring(connection)
    if keyring is not None:
        reseal_all(connection, SEALED, open_with(keyring), None)
    if connection.dialect.name == "postgresql":
        op.execute("ALTER TABLE entitlements ALTER COLUMN trace TYPE JSON USING trace::json")
