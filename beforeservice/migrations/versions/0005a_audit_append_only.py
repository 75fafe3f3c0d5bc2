"""audit_log append-only against every form of overwrite: SQLite REPLACE/INSERT OR REPLACE, PostgreSQL TRUNCATE

0003c refuses UPDATE and DELETE. Two statements got past it:
- SQLite's REPLACE conflict resolution (``REPLACE INTO``, ``INSERT OR REPLACE``, also a conflict on the unique
  hash) deletes the existing row without firing DELETE triggers unless the connection turned recursive triggers
  on, which an attacker's connection does not: a BEFORE INSERT trigger now refuses any row whose id or hash is
  already there (an UPSERT's ``DO UPDATE`` fires the UPDATE trigger and was refused already);
- PostgreSQL's TRUNCATE fires no row triggers: a BEFORE TRUNCATE statement trigger now refuses it (an UPSERT's
  ``DO UPDATE`` and MERGE fire the row triggers of 0003c).

Revision ID: 0005a
Revises: 0004s
"""

from __future__ import annotations

from alembic import op

revision = "0005a"
down_revision = "0004s"
branch_labels = None
depends_on = None


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            "CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log "
            "FOR EACH STATEMENT EXECUTE FUNCTION audit_log_append_only()"
        )
    else:
        op.execute(
            "CREATE TRIGGER audit_log_no_replace BEFORE INSERT ON audit_log "
            "WHEN EXISTS (SELECT 1 FROM audit_log WHERE id = NEW.id OR hash = NEW.hash) "
            "BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END"
        )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS audit_log_no_truncate ON audit_log")
    else:
        op.execute("DROP TRIGGER IF EXISTS audit_log_no_replace")
