"""the trace context of the life event a notification answers (docs/observability.md)

Revision ID: 0008t
Revises: 0008q
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008t"
down_revision = "0008q"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Nullable: rows written before tracing, and events that came without a trace context, have none.
    op.add_column("notifications", sa.Column("traceparent", sa.String(256), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("notifications") as batch:  # SQLite rebuilds the table to drop a column
        batch.drop_column("traceparent")
