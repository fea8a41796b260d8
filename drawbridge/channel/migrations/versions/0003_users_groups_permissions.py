"""Users, groups, per-channel permissions, project owners; tokens belong to users and may be
limited to channels and expire.

Every user name a token already carried becomes a user row (no groups, not disabled), so
existing tokens keep working. A project already in a channel is owned by the user who
uploaded its first file (a wheel or sdist, else a conda package of its name in PEP 503
form), where that was a token's user; projects the CLI or the bridge
published stay unowned (only admins and the channel's reviewers add to those).

Revision ID: 0003_users_groups_permissions
Revises: 0002_owner_channel_names
"""

import sqlalchemy as sa
from alembic import op

revision = "0003_users_groups_permissions"
down_revision = "0002_owner_channel_names"
branch_labels = None
depends_on = None


def _moment() -> sa.DateTime:
    return sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "groups",
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("created", _moment(), nullable=False),
        sa.PrimaryKeyConstraint("name"),
    )
    op.create_table(
        "users",
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("primary_group", sa.String(100), nullable=True),
        sa.Column("disabled", sa.Boolean(), nullable=False),
        sa.Column("created", _moment(), nullable=False),
        sa.ForeignKeyConstraint(["primary_group"], ["groups.name"]),
        sa.PrimaryKeyConstraint("name"),
    )
    op.create_table(
        "group_members",
        sa.Column("group", sa.String(100), nullable=False),
        sa.Column("user", sa.String(100), nullable=False),
        sa.ForeignKeyConstraint(["group"], ["groups.name"]),
        sa.ForeignKeyConstraint(["user"], ["users.name"]),
        sa.PrimaryKeyConstraint("group", "user"),
    )
    op.create_table(
        "channel_permissions",
        sa.Column("channel", sa.String(129), nullable=False),
        sa.Column("action", sa.String(10), nullable=False),
        sa.Column("principal", sa.String(110), nullable=False),
        sa.ForeignKeyConstraint(["channel"], ["channels.name"]),
        sa.PrimaryKeyConstraint("channel", "action", "principal"),
    )
    op.create_table(
        "project_owners",
        sa.Column("channel", sa.String(129), nullable=False),
        sa.Column("project", sa.String(200), nullable=False),
        sa.Column("owner", sa.String(110), nullable=False),
        sa.Column("since", _moment(), nullable=False),
        sa.ForeignKeyConstraint(["channel"], ["channels.name"]),
        sa.PrimaryKeyConstraint("channel", "project"),
    )
    # every token's user becomes a user row before the foreign key points at users
    op.execute(
        'INSERT INTO users (name, primary_group, disabled, created) SELECT DISTINCT "user", '
        "NULL, false, CURRENT_TIMESTAMP FROM tokens"
    )
    with op.batch_alter_table("tokens") as batch:
        batch.add_column(sa.Column("channels", sa.JSON(), nullable=True))
        batch.add_column(sa.Column("expires", _moment(), nullable=True))
        batch.create_foreign_key("fk_tokens_user_users", "users", ["user"], ["name"])
    # a project's first uploader (a token's user) owns it
    op.execute(
        "INSERT INTO project_owners (channel, project, owner, since) "
        "SELECT d.channel, d.project, 'user:' || d.uploaded_by, CURRENT_TIMESTAMP "
        "FROM distributions d JOIN users u ON u.name = d.uploaded_by "
        "WHERE d.id = (SELECT MIN(e.id) FROM distributions e "
        "WHERE e.channel = d.channel AND e.project = d.project)"
    )
    # a conda package counts under its name in PEP 503 form, where no wheel or sdist did
    normalised = "replace(replace(lower({}.name), '_', '-'), '.', '-')"
    op.execute(
        "INSERT INTO project_owners (channel, project, owner, since) "
        f"SELECT c.channel, {normalised.format('c')}, 'user:' || c.uploaded_by, "
        "CURRENT_TIMESTAMP FROM conda_packages c JOIN users u ON u.name = c.uploaded_by "
        "WHERE c.id = (SELECT MIN(k.id) FROM conda_packages k WHERE k.channel = c.channel "
        f"AND {normalised.format('k')} = {normalised.format('c')}) "
        "AND NOT EXISTS (SELECT 1 FROM project_owners o WHERE o.channel = c.channel "
        f"AND o.project = {normalised.format('c')})"
    )
