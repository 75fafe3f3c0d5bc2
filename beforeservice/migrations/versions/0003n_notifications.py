"""notifications: timing, fallback channels, consent history, preferences, outreach tasks

Revision ID: 0003n
Revises: 0002
Create Date: 2026-11-23 10:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003n"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("notifications", schema=None) as batch_op:
        batch_op.add_column(sa.Column("not_before", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("hold_reason", sa.String(length=16), nullable=True))
        batch_op.add_column(sa.Column("collapse_key", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("digest_of", sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column("channel", sa.String(length=16), nullable=True))
        batch_op.add_column(sa.Column("escalate_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.create_index("ix_notifications_escalate_at", ["escalate_at"], unique=False)

    with op.batch_alter_table("push_deliveries", schema=None) as batch_op:
        batch_op.add_column(sa.Column("channel", sa.String(length=16), nullable=False, server_default="push"))

    with op.batch_alter_table("devices", schema=None) as batch_op:
        batch_op.create_index("ix_devices_last_refreshed_at", ["last_refreshed_at"], unique=False)

    op.create_table(
        "consent_events",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("citizen_id", sa.String(length=80), nullable=False),
        sa.Column("category", sa.String(length=32), nullable=False),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("action", sa.String(length=8), nullable=False),
        sa.Column("text_version", sa.String(length=32), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_consent_events_citizen_id", "consent_events", ["citizen_id"], unique=False)

    op.create_table(
        "citizen_preferences",
        sa.Column("citizen_id", sa.String(length=80), nullable=False),
        sa.Column("language", sa.String(length=8), nullable=False),
        sa.Column("easy_read", sa.Boolean(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("citizen_id"),
    )

    op.create_table(
        "outreach_tasks",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("citizen_id", sa.String(length=80), nullable=False),
        sa.Column("notification_id", sa.String(length=36), nullable=False),
        sa.Column("reason", sa.String(length=200), nullable=False),
        sa.Column("worth_krw", sa.BigInteger(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("status", sa.String(length=8), nullable=False),
        sa.Column("assigned_to", sa.String(length=80), nullable=True),
        sa.ForeignKeyConstraint(["notification_id"], ["notifications.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("notification_id", name="uq_outreach_notification"),
    )
    op.create_index("ix_outreach_tasks_citizen_id", "outreach_tasks", ["citizen_id"], unique=False)
    op.create_index("ix_outreach_tasks_status", "outreach_tasks", ["status", "created_at"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_outreach_tasks_status", table_name="outreach_tasks")
    op.drop_index("ix_outreach_tasks_citizen_id", table_name="outreach_tasks")
    op.drop_table("outreach_tasks")
    op.drop_table("citizen_preferences")
    op.drop_index("ix_consent_events_citizen_id", table_name="consent_events")
    op.drop_table("consent_events")
    with op.batch_alter_table("devices", schema=None) as batch_op:
        batch_op.drop_index("ix_devices_last_refreshed_at")
    with op.batch_alter_table("push_deliveries", schema=None) as batch_op:
        batch_op.drop_column("channel")
    with op.batch_alter_table("notifications", schema=None) as batch_op:
        batch_op.drop_index("ix_notifications_escalate_at")
        batch_op.drop_column("escalate_at")
        batch_op.drop_column("channel")
        batch_op.drop_column("digest_of")
        batch_op.drop_column("collapse_key")
        batch_op.drop_column("hold_reason")
        batch_op.drop_column("not_before")
