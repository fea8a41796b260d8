"""Policy holds files back, and misses are counted: two new tables, no existing row changes.

`held_files`: each file policy kept out of a channel (a bundle import, a bridge run), with
its reasons and what a maintainer decided. `misses`: per channel and project, how often a
client asked for a project the channel lacks.

Revision ID: 0008_policy_bundles
Revises: 0007_events
"""

import sqlalchemy as sa
from alembic import op

revision = "0008_policy_bundles"
down_revision = "0007_events"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "held_files",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("channel", sa.String(129), nullable=False),
        sa.Column("filename", sa.String(300), nullable=False),
        sa.Column("project", sa.String(200), nullable=False),
        sa.Column("version", sa.String(100), nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("reasons", sa.JSON(), nullable=False),
        sa.Column("advisories", sa.JSON(), nullable=False),
        sa.Column("source", sa.String(300), nullable=False),
        sa.Column("made_how", sa.String(20), nullable=False),
        sa.Column("made_from", sa.String(300), nullable=False),
        sa.Column("held_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("state", sa.String(20), nullable=False),
        sa.Column("decided_by", sa.String(100), nullable=False),
        sa.Column("comment", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_held_files_channel", "held_files", ["channel"])
    op.create_table(
        "misses",
        sa.Column("channel", sa.String(129), nullable=False),
        sa.Column("project", sa.String(200), nullable=False),
        sa.Column("count", sa.BigInteger(), nullable=False),
        sa.Column("first_seen", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_seen", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("channel", "project"),
    )


def downgrade() -> None:
    op.drop_table("misses")
    op.drop_index("ix_held_files_channel", table_name="held_files")
    op.drop_table("held_files")
