"""The build farm: build jobs, the records agents upload with their builds, the agents as
last seen, and the platforms a builder token may build for.

New tables and one new nullable column; no existing row changes (a token without
`platforms` is limited to none, which matters only for builder tokens, which are new).

Revision ID: 0006_build_jobs
Revises: 0005_channel_bases
"""

import sqlalchemy as sa
from alembic import op

revision = "0006_build_jobs"
down_revision = "0005_channel_bases"
branch_labels = None
depends_on = None


def _moment() -> sa.DateTime:
    return sa.DateTime(timezone=True)


def upgrade() -> None:
    with op.batch_alter_table("tokens") as batch:
        batch.add_column(sa.Column("platforms", sa.JSON(), nullable=True))
    op.create_table(
        "build_jobs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("recipe", sa.String(200), nullable=False),
        sa.Column("recipe_sha256", sa.String(64), nullable=False),
        sa.Column("channel", sa.String(129), nullable=False),
        sa.Column("subdir", sa.String(20), nullable=False),
        sa.Column("python", sa.String(10), nullable=False),
        sa.Column("state", sa.String(20), nullable=False),
        sa.Column("agent", sa.String(200), nullable=False),
        sa.Column("holder", sa.String(100), nullable=False),
        sa.Column("lease_expires", _moment(), nullable=True),
        sa.Column("heartbeat_at", _moment(), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("created", _moment(), nullable=False),
        sa.Column("claimed_at", _moment(), nullable=True),
        sa.Column("finished_at", _moment(), nullable=True),
        sa.Column("log", sa.Text(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_build_jobs_recipe", "build_jobs", ["recipe"])
    op.create_index("ix_build_jobs_state", "build_jobs", ["state"])
    op.create_table(
        "build_records",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("job", sa.Integer(), nullable=False),
        sa.Column("agent", sa.String(200), nullable=False),
        sa.Column("accepted", sa.Boolean(), nullable=False),
        sa.Column("record", sa.JSON(), nullable=False),
        sa.Column("created", _moment(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.ForeignKeyConstraint(["job"], ["build_jobs.id"]),
    )
    op.create_index("ix_build_records_job", "build_records", ["job"])
    op.create_table(
        "build_agents",
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("holder", sa.String(100), nullable=False),
        sa.Column("platforms", sa.String(200), nullable=False),
        sa.Column("pythons", sa.String(200), nullable=False),
        sa.Column("last_seen", _moment(), nullable=False),
        sa.PrimaryKeyConstraint("name"),
    )


def downgrade() -> None:
    op.drop_table("build_agents")
    op.drop_table("build_records")
    op.drop_table("build_jobs")
    with op.batch_alter_table("tokens") as batch:
        batch.drop_column("platforms")
