"""Alembic's migrations of the Drawbridge database, applied by `drawbridge.channel.schema`."""
