"""Webhook deliveries are found by their event: one new index, no row changes.

Deleting an event (the outbox pruned after `[server] outbox_keep_days`, a publish undone)
deletes its deliveries through the foreign key's `ON DELETE CASCADE`, and the prune asks
which events no delivery names. Both look deliveries up by `event`, which the existing
index (`hook`, `state`, `event`) cannot serve: PostgreSQL scanned the whole table once per
event deleted (10,000 old events beside 100,000 kept deliveries: 62 s, 0.38 s with this
index; docs/performance.md, "Pruning the event outbox").

Revision ID: 0009_deliveries_by_event
Revises: 0008_policy_bundles
"""

from alembic import op

revision = "0009_deliveries_by_event"
down_revision = "0008_policy_bundles"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_hook_deliveries_event", "hook_deliveries", ["event"])


def downgrade() -> None:
    op.drop_index("ix_hook_deliveries_event", table_name="hook_deliveries")
