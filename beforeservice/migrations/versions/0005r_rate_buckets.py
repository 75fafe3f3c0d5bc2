"""agency rate buckets shared by every API process

One row per agency key: the GCRA state of its per-minute limit (beforeservice/console/rate_limits.py).

Revision ID: 0005r
Revises: 0004s
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005r"
down_revision = "0004s"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "agency_rate_buckets",
        sa.Column("key_id", sa.String(32), primary_key=True),
        sa.Column("tat_us", sa.BigInteger(), nullable=False),
        sa.Column("granted", sa.Integer(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("agency_rate_buckets")
