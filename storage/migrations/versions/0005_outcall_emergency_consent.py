"""outcall emergency consent: the worker's emergency-contact opt-in as it stood at SOS or duress

Rows from before get false and keep following the member's current opt-in.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-03 06:50:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("outcalls", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("emergency_consent", sa.Boolean(), nullable=False, server_default=sa.false())
        )


def downgrade() -> None:
    with op.batch_alter_table("outcalls", schema=None) as batch_op:
        batch_op.drop_column("emergency_consent")
