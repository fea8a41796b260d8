"""The database schema's version: Alembic migrations, applied when a database is opened.

The migrations are `channel/migrations/versions/*.py`, one per change, written by hand with
Alembic's operations in batch mode (so SQLite's table rebuilds work as PostgreSQL's
`ALTER`s do). The first, `0001_baseline`, is the schema Drawbridge 0.1.0 made without
Alembic: on a database of that release it finds the tables there and only records its
revision, and the later ones change the tables with their rows in them.

`upgrade(engine)` brings a database to the newest revision. Server workers and commands
may open one database at the same moment, so the upgrade runs in one transaction that
holds the database's write lock: `BEGIN EXCLUSIVE` on SQLite (whose DDL is transactional
when the transaction is begun by hand), a transaction-scoped advisory lock on PostgreSQL.
A second process waits for the first, then finds nothing to do. A crash, or a migration
that fails, rolls the whole upgrade back: the database keeps its old schema and its rows.
"""

from __future__ import annotations

import logging
from functools import lru_cache
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from alembic.util import CommandError
from sqlalchemy import create_engine, event, inspect, text
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.engine.interfaces import DBAPIConnection
from sqlalchemy.pool import ConnectionPoolEntry, NullPool

from drawbridge.channel.errors import ChannelError

log = logging.getLogger("drawbridge")
MIGRATIONS = Path(__file__).parent / "migrations"
#: the advisory lock PostgreSQL upgrades hold ("draw" in ASCII)
ADVISORY_LOCK = 0x64726177
#: how long an SQLite upgrade waits for another process's transaction, in milliseconds
SQLITE_WAIT_MS = 120_000


class SchemaError(ChannelError):
    """The database's schema cannot be brought to what this Drawbridge needs."""


@lru_cache(maxsize=4)
def _scripts(migrations: Path) -> tuple[Config, ScriptDirectory]:
    config = Config()
    config.set_main_option("script_location", str(migrations))
    return config, ScriptDirectory.from_config(config)


def head(migrations: Path = MIGRATIONS) -> str:
    """The newest revision this Drawbridge knows."""
    revision = _scripts(migrations)[1].get_current_head()
    assert revision is not None
    return revision


def current_revision(connection: Connection) -> str | None:
    """The revision a database is at; None for a new database or one of 0.1.0."""
    return MigrationContext.configure(connection).get_current_revision()


def upgrade(engine: Engine, migrations: Path = MIGRATIONS) -> list[str]:
    """Bring the database behind `engine` to the newest revision of `migrations`; return
    the revisions applied (none when it is already there: one query, no lock). SchemaError
    if the database is newer than this Drawbridge or a migration fails."""
    config, scripts = _scripts(migrations)
    target = head(migrations)
    with engine.connect() as connection:
        before = current_revision(connection)
        existing = before is not None or bool(inspect(connection).get_table_names())
    if before == target:
        return []
    _check_known(scripts, before, engine, target)
    migrator = _migration_engine(engine)
    try:
        with migrator.begin() as connection:
            if connection.dialect.name == "postgresql":
                connection.execute(
                    text("SELECT pg_advisory_xact_lock(:key)"), {"key": ADVISORY_LOCK}
                )
            start = current_revision(connection)
            _check_known(scripts, start, engine, target)
            config.attributes["connection"] = connection
            try:
                command.upgrade(config, target)
            finally:
                config.attributes.pop("connection", None)
            if connection.dialect.name == "sqlite":
                _check_foreign_keys(connection)
    except SchemaError:
        raise
    except Exception as error:  # a migration's own failure, whatever it is: nothing changed
        raise SchemaError(
            f"upgrading the database {_shown(engine)} failed, and nothing was changed: "
            f"{type(error).__name__}: {error}"
        ) from error
    finally:
        migrator.dispose()
    applied = [r.revision for r in scripts.iterate_revisions(target, start or "base")][::-1]
    if applied and existing:
        log.warning("database %s upgraded from %s to %s", _shown(engine), start or "0.1.0", target)
    return applied


def check_at_head(engine: Engine, migrations: Path = MIGRATIONS) -> list[str]:
    """SchemaError unless the database (a replica's read-only standby, which cannot be
    upgraded) is at this Drawbridge's newest revision; applies nothing, returns []."""
    target = head(migrations)
    with engine.connect() as connection:
        found = current_revision(connection)
    if found != target:
        raise SchemaError(
            f"the database {_shown(engine)} is at schema {found or 'none'}, this Drawbridge "
            f"needs {target}: a replica's standby follows its primary, so upgrade the primary "
            "(`drawbridge init` there) and run the same Drawbridge on both"
        )
    return []


def _migration_engine(engine: Engine) -> Engine:
    """An engine for the upgrade alone: on SQLite, transactions begun by hand with
    `BEGIN EXCLUSIVE` (pysqlite would otherwise commit before each DDL statement) and
    foreign keys off, as rebuilding a table needs."""
    migrator = create_engine(engine.url, poolclass=NullPool)
    if engine.dialect.name == "sqlite":

        @event.listens_for(migrator, "connect")
        def connect(dbapi_connection: DBAPIConnection, _record: ConnectionPoolEntry) -> None:
            dbapi_connection.isolation_level = None
            for pragma in (
                f"busy_timeout={SQLITE_WAIT_MS}",
                "journal_mode=WAL",
                "foreign_keys=OFF",
            ):
                dbapi_connection.execute(f"PRAGMA {pragma}")

        @event.listens_for(migrator, "begin")
        def begin(connection: Connection) -> None:
            connection.exec_driver_sql("BEGIN EXCLUSIVE")

    return migrator


def _check_known(
    scripts: ScriptDirectory, revision: str | None, engine: Engine, target: str
) -> None:
    if revision is None:
        return
    try:
        scripts.get_revision(revision)
    except CommandError:
        raise SchemaError(
            f"the database {_shown(engine)} is at revision {revision!r}, made by a newer "
            f"Drawbridge (this one knows up to {target!r}); run that Drawbridge, or restore "
            "the backup taken before it upgraded the database"
        ) from None


def _check_foreign_keys(connection: Connection) -> None:
    """Refuse to commit an SQLite upgrade that left a row pointing nowhere (foreign keys
    are off while tables are rebuilt, so nothing else would notice)."""
    broken = connection.exec_driver_sql("PRAGMA foreign_key_check").fetchall()
    if broken:
        raise SchemaError(f"rows without their parent after the upgrade: {broken[:5]}")


def _shown(engine: Engine) -> str:
    return engine.url.render_as_string(hide_password=True)
