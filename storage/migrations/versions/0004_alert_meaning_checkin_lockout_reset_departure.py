"""alerts say what they mean; check-in PIN lockout apart; PIN reset cooling-off; departure

`alerts.stage` held a ladder index, -1 for an admin told as the last resort, and a drill's
answer (0 sent, 1 got it). Those become `stage` (NULL when no ladder stage alerted them),
`last_resort` and `got_it_at`. Members get a check-in PIN counter of its own, the time a
PIN reset was asked for, and the time they asked to be deleted while an SOS was open.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-02 18:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import storage.types

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("members", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("checkin_failures", sa.Integer(), nullable=False, server_default="0")
        )
        for column in ("checkin_locked_until", "reset_requested_at", "departed_at"):
            batch_op.add_column(
                sa.Column(column, storage.types.UTCDateTime(timezone=True), nullable=True)
            )
    with op.batch_alter_table("alerts", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("last_resort", sa.Boolean(), nullable=False, server_default=sa.false())
        )
        batch_op.add_column(
            sa.Column("got_it_at", storage.types.UTCDateTime(timezone=True), nullable=True)
        )
        batch_op.alter_column("stage", existing_type=sa.Integer(), nullable=True)
    op.execute(
        "UPDATE alerts SET got_it_at = alerted_at WHERE stage = 1 AND outcall_id IN "
        "(SELECT id FROM outcalls WHERE drill)"
    )
    op.execute(
        "UPDATE alerts SET stage = NULL WHERE outcall_id IN (SELECT id FROM outcalls WHERE drill)"
    )
    op.execute("UPDATE alerts SET last_resort = TRUE, stage = NULL WHERE stage = -1")


def downgrade() -> None:
    op.execute("UPDATE alerts SET stage = -1 WHERE last_resort")
    op.execute("UPDATE alerts SET stage = 1 WHERE got_it_at IS NOT NULL")
    op.execute("UPDATE alerts SET stage = 0 WHERE stage IS NULL")
    with op.batch_alter_table("alerts", schema=None) as batch_op:
        batch_op.alter_column("stage", existing_type=sa.Integer(), nullable=False)
        batch_op.drop_column("got_it_at")
        batch_op.drop_column("last_resort")
    with op.batch_alter_table("members", schema=None) as batch_op:
        for column in ("departed_at", "reset_requested_at", "checkin_locked_until"):
            batch_op.drop_column(column)
        batch_op.drop_column("checkin_failures")
