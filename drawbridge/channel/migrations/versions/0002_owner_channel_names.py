"""Channel names may carry an owner (`company/dev`): room for 64 + "/" + 64 characters.

The channel name is the key of `channels` and the foreign key of every table that names a
channel, so each such column widens. PostgreSQL alters the columns in place (a wider
varchar rewrites nothing); SQLite rebuilds each table (batch mode, foreign keys off for
the upgrade), copying every row.

Revision ID: 0002_owner_channel_names
Revises: 0001_baseline
"""

import sqlalchemy as sa
from alembic import op

revision = "0002_owner_channel_names"
down_revision = "0001_baseline"
branch_labels = None
depends_on = None

OLD, NEW = sa.String(64), sa.String(129)
#: (table, column) naming a channel; `channels.name` first
CHANNEL_COLUMNS = [
    ("channels", "name"),
    ("distributions", "channel"),
    ("conda_packages", "channel"),
    ("publish_intents", "channel"),
]


def upgrade() -> None:
    for table, column in CHANNEL_COLUMNS:
        with op.batch_alter_table(table) as batch:
            batch.alter_column(column, type_=NEW, existing_type=OLD, existing_nullable=False)
