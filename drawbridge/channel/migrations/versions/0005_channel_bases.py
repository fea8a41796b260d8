"""Channels inherit: each channel's ordered list of bases (other channels or upstream mirrors).

A new table only; no existing row changes. An empty table means every channel is flat, as
before.

Revision ID: 0005_channel_bases
Revises: 0004_promotion
"""

import sqlalchemy as sa
from alembic import op

revision = "0005_channel_bases"
down_revision = "0004_promotion"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "channel_bases",
        sa.Column("channel", sa.String(129), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("base", sa.String(138), nullable=False),
        sa.PrimaryKeyConstraint("channel", "position"),
        sa.ForeignKeyConstraint(["channel"], ["channels.name"]),
    )


def downgrade() -> None:
    op.drop_table("channel_bases")
