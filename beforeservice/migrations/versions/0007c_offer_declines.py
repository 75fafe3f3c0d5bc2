"""citizens' "not for me" on an offer (beforeservice/citizen_app/tables.py)

Revision ID: 0007c
Revises: 0006d
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007c"
down_revision = "0006d"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "offer_declines",
        sa.Column("entitlement_id", sa.String(36), primary_key=True),
        sa.Column("citizen_id", sa.String(80), primary_key=True),
        sa.Column("declined_at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("offer_declines")
