"""the warning list and raid alerts: reports, raids, who got a raid alert, muted report
messages, an outcall's report match; outbox priorities make room for raid and report pushes

Pending outbox rows keep their order: reminders and replies move down one step (raid alerts
go between check-in alerts and reminders, report messages below everything).

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-04 18:45:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import storage.types

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "reports",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("jurisdiction", sa.String(length=64), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=True),
        sa.Column("plate_hash", sa.LargeBinary(length=32), nullable=True),
        sa.Column("plate_hint", sa.String(length=8), nullable=True),
        sa.Column("phone_hash", sa.LargeBinary(length=32), nullable=True),
        sa.Column("phone_hint", sa.String(length=8), nullable=True),
        sa.Column("vehicle", sa.Text(), nullable=True),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("area", sa.String(length=120), nullable=True),
        sa.Column("happened", sa.String(length=16), nullable=True),
        sa.Column("reporter_id", sa.Integer(), nullable=True),
        sa.Column("question", sa.Text(), nullable=True),
        sa.Column("answer", sa.Text(), nullable=True),
        sa.Column("created_at", storage.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("published_at", storage.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("expires_at", storage.types.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["reporter_id"], ["members.id"], ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_reports_list", "reports", ["jurisdiction", "state", "expires_at"])
    op.create_index("ix_reports_plate_hash", "reports", ["plate_hash"])
    op.create_index("ix_reports_phone_hash", "reports", ["phone_hash"])
    op.create_index("ix_reports_reporter_id", "reports", ["reporter_id"])
    op.create_table(
        "raids",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("jurisdiction", sa.String(length=64), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=True),
        sa.Column("area", sa.String(length=120), nullable=True),
        sa.Column("happened", sa.String(length=16), nullable=True),
        sa.Column("reporter_id", sa.Integer(), nullable=True),
        sa.Column("created_at", storage.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("published_at", storage.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("expires_at", storage.types.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["reporter_id"], ["members.id"], ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_raids_list", "raids", ["jurisdiction", "state", "expires_at"])
    op.create_index("ix_raids_reporter_id", "raids", ["reporter_id"])
    op.create_table(
        "raid_deliveries",
        sa.Column("raid_id", sa.Integer(), nullable=False),
        sa.Column("member_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["raid_id"], ["raids.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["member_id"], ["members.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("raid_id", "member_id"),
    )
    op.create_table(
        "report_mutes",
        sa.Column("member_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["member_id"], ["members.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("member_id"),
    )
    with op.batch_alter_table("outcalls", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("report_match", sa.Boolean(), nullable=False, server_default=sa.false())
        )
    op.execute("UPDATE outbox SET priority = priority + 1 WHERE priority >= 1")


def downgrade() -> None:
    op.execute("UPDATE outbox SET priority = 0 WHERE priority = 1")
    op.execute("UPDATE outbox SET priority = priority - 1 WHERE priority IN (2, 3)")
    op.execute("UPDATE outbox SET priority = 2 WHERE priority = 4")
    with op.batch_alter_table("outcalls", schema=None) as batch_op:
        batch_op.drop_column("report_match")
    op.drop_table("report_mutes")
    op.drop_table("raid_deliveries")
    op.drop_index("ix_raids_reporter_id", table_name="raids")
    op.drop_index("ix_raids_list", table_name="raids")
    op.drop_table("raids")
    op.drop_index("ix_reports_reporter_id", table_name="reports")
    op.drop_index("ix_reports_phone_hash", table_name="reports")
    op.drop_index("ix_reports_plate_hash", table_name="reports")
    op.drop_index("ix_reports_list", table_name="reports")
    op.drop_table("reports")
