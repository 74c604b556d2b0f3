"""outbox locale: the language a message to a newcomer was written in

A newcomer has no member row to hold their language while registering, so their messages
carry it: the channel renders its own words ("Reply 1 for …") in the language they chose.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-04 20:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.add_column(sa.Column("locale", sa.String(length=16), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.drop_column("locale")
