"""dated deadlines with their kinds on every entitlement; one head again

Each offer carries its dated deadlines by kind (rules_engine/deadlines.py): `deadline` becomes the day the offer
ends, with its kind in `deadline_kind` (application_closes: it expires after it; entitlement_ends: it ends); the
retroactive window and a voucher's use-by date get columns of their own (indexed with the status, for reminders);
`deadlines` keeps the whole list as decided.

Existing rows are re-classified as the catalog now declares them: 부모급여 and 아동수당 carried their 60-day
retroactive window as `deadline` (the daily job expired them on day 61 although the right stands): it moves to
`retroactive_until` and they no longer carry an end. The First Meeting Voucher's date is its use-by date and the
end of the entitlement. Other dated offers keep their date as the day the application closes, the job-seeking
allowance's as the end of its benefit period. Offers the old job already expired are left as they are (see
docs/lifecycle.md: reopening them is a caseworker's or a re-evaluation's decision, not a migration's).

Merges the three heads of 0005 (audit, sessions, rate buckets).

Revision ID: 0006d
Revises: 0005a, 0005i, 0005r
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006d"
down_revision = ("0005a", "0005i", "0005r")
branch_labels = None
depends_on = None

_RETROACTIVE = ("parental_benefit", "child_allowance")
_ENTITLEMENT_ENDS = ("job_seeking_allowance", "first_meeting_voucher", "kepco_birth_household_discount")


def upgrade() -> None:
    with op.batch_alter_table("entitlements") as table:
        table.add_column(sa.Column("deadline_kind", sa.String(24), nullable=True))
        table.add_column(sa.Column("retroactive_until", sa.Date(), nullable=True))
        table.add_column(sa.Column("use_by", sa.Date(), nullable=True))
        table.add_column(sa.Column("deadlines", sa.JSON(), nullable=True))
    op.create_index("ix_entitlements_status_retroactive_until", "entitlements", ["status", "retroactive_until"])
    op.create_index("ix_entitlements_status_use_by", "entitlements", ["status", "use_by"])
    entitlements = sa.table(
        "entitlements",
        sa.column("benefit_id", sa.String()),
        sa.column("deadline", sa.Date()),
        sa.column("deadline_kind", sa.String()),
        sa.column("retroactive_until", sa.Date()),
        sa.column("use_by", sa.Date()),
    )
    dated = entitlements.c.deadline.is_not(None)
    op.execute(
        entitlements.update()
        .where(entitlements.c.benefit_id.in_(_RETROACTIVE), dated)
        .values(retroactive_until=entitlements.c.deadline, deadline=None)
    )
    op.execute(
        entitlements.update()
        .where(entitlements.c.benefit_id == "first_meeting_voucher", dated)
        .values(use_by=entitlements.c.deadline)
    )
    op.execute(
        entitlements.update()
        .where(entitlements.c.benefit_id.in_(_ENTITLEMENT_ENDS), dated)
        .values(deadline_kind="entitlement_ends")
    )
    op.execute(
        entitlements.update()
        .where(dated, entitlements.c.deadline_kind.is_(None))
        .values(deadline_kind="application_closes")
    )


def downgrade() -> None:
    entitlements = sa.table(
        "entitlements",
        sa.column("benefit_id", sa.String()),
        sa.column("deadline", sa.Date()),
        sa.column("retroactive_until", sa.Date()),
    )
    op.execute(
        entitlements.update()
        .where(entitlements.c.benefit_id.in_(_RETROACTIVE))
        .values(deadline=entitlements.c.retroactive_until)
    )
    op.drop_index("ix_entitlements_status_use_by", table_name="entitlements")
    op.drop_index("ix_entitlements_status_retroactive_until", table_name="entitlements")
    with op.batch_alter_table("entitlements") as table:
        table.drop_column("deadlines")
        table.drop_column("use_by")
        table.drop_column("retroactive_until")
        table.drop_column("deadline_kind")
