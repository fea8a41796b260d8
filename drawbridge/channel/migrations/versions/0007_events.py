"""The event outbox and webhooks: an event per change, the webhooks that want them, one
delivery per event and webhook; and each release's hosted documentation.

New tables only; no existing row changes. The outbox starts empty: what happened before
the upgrade is in the records and the audit, not replayed as events.

Revision ID: 0007_events
Revises: 0006_build_jobs
"""

import sqlalchemy as sa
from alembic import op

revision = "0007_events"
down_revision = "0006_build_jobs"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "events",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("kind", sa.String(40), nullable=False),
        sa.Column("channel", sa.String(129), nullable=False),
        sa.Column("subject", sa.String(300), nullable=False),
        sa.Column("path", sa.String(400), nullable=True),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("created", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_events_channel_path", "events", ["channel", "path"])
    op.create_table(
        "hooks",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("url", sa.String(2000), nullable=False),
        sa.Column("kinds", sa.JSON(), nullable=False),
        sa.Column("channel", sa.String(129), nullable=False),
        sa.Column("secret", sa.String(200), nullable=False),
        sa.Column("created_by", sa.String(100), nullable=False),
        sa.Column("created", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_table(
        "hook_deliveries",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("hook", sa.Integer(), nullable=False),
        sa.Column("event", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("state", sa.String(20), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_status", sa.Integer(), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=False),
        sa.Column("finished", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.ForeignKeyConstraint(["hook"], ["hooks.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["event"], ["events.id"], ondelete="CASCADE"),
    )
    op.create_index("ix_hook_deliveries_hook_state", "hook_deliveries", ["hook", "state", "event"])

    op.create_table(
        "hosted_docs",
        sa.Column("channel", sa.String(129), nullable=False),
        sa.Column("project", sa.String(200), nullable=False),
        sa.Column("version", sa.String(100), nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("files", sa.Integer(), nullable=False),
        sa.Column("uploaded_by", sa.String(100), nullable=False),
        sa.Column("uploaded", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("channel", "project", "version"),
    )


def downgrade() -> None:
    op.drop_table("hosted_docs")
    op.drop_table("hook_deliveries")
    op.drop_table("hooks")
    op.drop_table("events")
