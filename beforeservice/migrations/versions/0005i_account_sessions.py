"""account sessions: a per-account session generation (revokes tokens and console sessions) and login throttling

Revision ID: 0005i
Revises: 0004s
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005i"
down_revision = "0004s"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("caseworkers") as batch:
        batch.add_column(sa.Column("session_generation", sa.Integer(), nullable=False, server_default="0"))
    op.create_table(
        "login_throttle",
        sa.Column("key", sa.String(64), primary_key=True),  # SHA-256 of "account:<name>" or "ip:<address>"
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("window_started_at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("login_throttle")
    with op.batch_alter_table("caseworkers") as batch:
        batch.drop_column("session_generation")
