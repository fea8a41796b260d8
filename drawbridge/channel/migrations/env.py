"""Alembic's environment: run the migrations on the connection `schema.upgrade` hands over.

The connection arrives inside the transaction that holds the database's write lock, so
every migration runs in that one transaction (Alembic sees it and begins none of its own).
"""

from alembic import context

connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError(
        "Drawbridge upgrades its database itself when it opens it: run any drawbridge "
        "command, e.g. `drawbridge channel list` (docs/operating.md, 'Upgrading')"
    )
context.configure(connection=connection, render_as_batch=True, transactional_ddl=True)
with context.begin_transaction():
    context.run_migrations()
