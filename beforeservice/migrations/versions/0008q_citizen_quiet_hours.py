"""citizens' own quiet hours (notifiers/tables.py PreferenceRow.quiet_start/quiet_end)

Revision ID: 0008q
Revises: 0007c
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008q"
down_revision = "0007c"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("citizen_preferences") as table:
        table.add_column(sa.Column("quiet_start", sa.Time(), nullable=True))
        table.add_column(sa.Column("quiet_end", sa.Time(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("citizen_preferences") as table:
        table.drop_column("quiet_end")
        table.drop_column("quiet_start")
