"""console: agency keys, ingested events, caseworkers, reviews, append-only audit log

Revision ID: 0003c
Revises: 0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003c"
down_revision = "0002"
branch_labels = None
depends_on = None

_BIGINT_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")  # SQLite autoincrements INTEGER keys only


def upgrade() -> None:
    op.create_table(
        "agency_keys",
        sa.Column("key_id", sa.String(32), primary_key=True),
        sa.Column("agency", sa.String(80), nullable=False, index=True),
        sa.Column("key_hash", sa.String(64), nullable=False),
        sa.Column("event_types", sa.JSON(), nullable=False),
        sa.Column("source_prefixes", sa.JSON(), nullable=False),
        sa.Column("rate_per_minute", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
    )
    op.create_table(
        "ingested_events",
        sa.Column("source", sa.String(512), primary_key=True),
        sa.Column("event_id", sa.String(256), primary_key=True),
        sa.Column("type", sa.String(256), nullable=False),
        sa.Column("key_id", sa.String(32), nullable=False, index=True),
        sa.Column("digest", sa.String(64), nullable=False),
        sa.Column("accepted_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "caseworkers",
        sa.Column("username", sa.String(64), primary_key=True),
        sa.Column("display_name", sa.String(120), nullable=False),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("password_hash", sa.String(256), nullable=False),
        sa.Column("agencies", sa.JSON(), nullable=False),
        sa.Column("municipalities", sa.JSON(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "review_actions",
        sa.Column("id", _BIGINT_ID, primary_key=True, autoincrement=True),
        sa.Column("entitlement_id", sa.String(36), nullable=False, index=True),
        sa.Column("action", sa.String(24), nullable=False),
        sa.Column("actor", sa.String(64), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("assignee", sa.String(64), nullable=True),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "review_cases",
        sa.Column("entitlement_id", sa.String(36), primary_key=True),
        sa.Column("assigned_to", sa.String(64), nullable=True, index=True),
        sa.Column("info_requested_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("info_request", sa.Text(), nullable=True),
        sa.Column("rejection_reason", sa.Text(), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "audit_log",
        sa.Column("id", _BIGINT_ID, primary_key=True, autoincrement=True),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("account", sa.String(64), nullable=False, index=True),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("ip", sa.String(64), nullable=True),
        sa.Column("action", sa.String(48), nullable=False),
        sa.Column("kind", sa.String(8), nullable=False),
        sa.Column("data_subject", sa.String(80), nullable=True),
        sa.Column("object_id", sa.String(80), nullable=True),
        sa.Column("detail", sa.JSON(), nullable=False),
        sa.Column("prev_hash", sa.String(64), nullable=False),
        sa.Column("hash", sa.String(64), nullable=False, unique=True),
    )
    op.create_index("ix_audit_log_subject", "audit_log", ["data_subject"])
    # Append-only in the database too: the application never updates or deletes, and neither may anyone else
    # without first dropping these triggers (which `beforeservice audit verify` would then expose by the hashes).
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            """
            CREATE FUNCTION audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
                RAISE EXCEPTION 'audit_log is append-only';
            END;
            $$
            """
        )
        op.execute(
            "CREATE TRIGGER audit_log_append_only BEFORE UPDATE OR DELETE ON audit_log "
            "FOR EACH ROW EXECUTE FUNCTION audit_log_append_only()"
        )
    else:
        for verb in ("UPDATE", "DELETE"):
            op.execute(
                f"CREATE TRIGGER audit_log_no_{verb.lower()} BEFORE {verb} ON audit_log "
                "BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END"
            )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS audit_log_append_only ON audit_log")
        op.execute("DROP FUNCTION IF EXISTS audit_log_append_only()")
    op.drop_index("ix_audit_log_subject", table_name="audit_log")
    for table in ("audit_log", "review_cases", "review_actions", "caseworkers", "ingested_events", "agency_keys"):
        op.drop_table(table)
