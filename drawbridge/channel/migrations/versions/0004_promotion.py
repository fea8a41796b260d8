"""Promotion and channel mutability: where each conda package came from, whether a channel
is standard, immutable or volatile, and the promotions under way.

`conda_packages.made_how` is filled for the packages already there from who published
them (the bridge repacks wheels, `drawbridge build` builds recipes, anything else was
uploaded); `made_from` (the wheel or sdist's file name) was never recorded before, so it
stays empty for them, and promotion finds them by their conda name instead.

Revision ID: 0004_promotion
Revises: 0003_users_groups_permissions
"""

import sqlalchemy as sa
from alembic import op

revision = "0004_promotion"
down_revision = "0003_users_groups_permissions"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("channels") as batch:
        batch.add_column(
            sa.Column("mutability", sa.String(20), nullable=False, server_default="standard")
        )
    with op.batch_alter_table("conda_packages") as batch:
        batch.add_column(
            sa.Column("made_how", sa.String(20), nullable=False, server_default="upload")
        )
        batch.add_column(sa.Column("made_from", sa.String(300), nullable=False, server_default=""))
    packages = sa.table(
        "conda_packages", sa.column("made_how", sa.String), sa.column("uploaded_by", sa.String)
    )
    for uploader, how in (("bridge", "wheel"), ("build", "recipe")):
        op.execute(packages.update().where(packages.c.uploaded_by == uploader).values(made_how=how))
    op.create_table(
        "promotions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("source", sa.String(129), nullable=False),
        sa.Column("target", sa.String(129), nullable=False),
        sa.Column("move", sa.Boolean(), nullable=False),
        sa.Column("files", sa.JSON(), nullable=False),
        sa.Column("user", sa.String(100), nullable=False),
        sa.Column("comment", sa.Text(), nullable=False),
        sa.Column("created", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.ForeignKeyConstraint(["source"], ["channels.name"]),
        sa.ForeignKeyConstraint(["target"], ["channels.name"]),
    )
