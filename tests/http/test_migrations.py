"""Schema migrations: a home Drawbridge 0.1.0 made upgrades in place and is still served; the
migrations make exactly the models' schema; an upgrade is one locked, all-or-nothing step.

The 0.1.0 homes are `tests/data/baseline-home-*.tar.gz`, made by the code of commit 1dd7b57
(`tests/data/make_baseline_home.py` says how): each run uses the one of its database.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from databases import new_database_url
from sqlalchemy import create_engine, inspect, text
from sqlalchemy.engine import Engine

import drawbridge.bridge.records  # noqa: F401  (the bridge's tables, for the full metadata)
import drawbridge.channel.hosted_docs  # noqa: F401  (the docs' table)
import drawbridge.channel.outbox  # noqa: F401  (the outbox's tables)
from drawbridge.channel import schema
from drawbridge.channel.database import Base, Database, database_url
from drawbridge.channel.schema import SchemaError, current_revision, head
from migration_homes import baseline_home, every_row, raw_engine


def described(engine: Engine) -> dict:
    """Every table's columns, keys, indexes and constraints, as the database reports them."""
    inspector = inspect(engine)
    return {
        table: {
            "columns": [
                (c["name"], str(c["type"]), c["nullable"]) for c in inspector.get_columns(table)
            ],
            "primary": inspector.get_pk_constraint(table)["constrained_columns"],
            "indexes": sorted(
                (i["name"], tuple(i["column_names"]), bool(i["unique"]))
                for i in inspector.get_indexes(table)
            ),
            "unique": sorted(
                tuple(u["column_names"]) for u in inspector.get_unique_constraints(table)
            ),
            "foreign": sorted(
                (tuple(f["constrained_columns"]), f["referred_table"])
                for f in inspector.get_foreign_keys(table)
            ),
        }
        for table in sorted(inspector.get_table_names())
        if table != "alembic_version"
    }


def test_the_baseline_is_the_schema_0_1_0_made(tmp_path: Path):
    home, _facts = baseline_home(tmp_path / "fixture")
    made_by_0_1_0 = described(raw_engine(home))
    fresh = create_engine(database_url(new_database_url() or f"sqlite:///{tmp_path}/fresh.db"))
    baseline_only = _migrations_up_to(tmp_path / "migrations", "0001_baseline")
    assert schema.upgrade(fresh, baseline_only) == ["0001_baseline"]
    assert described(fresh) == made_by_0_1_0


def test_the_migrations_make_the_models_schema(tmp_path: Path):
    """What `Base.metadata` declares, the migrations made: nothing for autogenerate to add
    (a model changed without a migration fails here, with the operations to write)."""
    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext

    database = Database(new_database_url() or f"sqlite:///{tmp_path}/new.db")
    every = sorted(p.stem for p in (schema.MIGRATIONS / "versions").glob("0*.py"))
    assert database.upgraded[:6] == [
        "0001_baseline",
        "0002_owner_channel_names",
        "0003_users_groups_permissions",
        "0004_promotion",
        "0005_channel_bases",
        "0006_build_jobs",
    ]
    assert database.upgraded == every  # each in turn, oldest first
    with database.engine.connect() as connection:
        differences = compare_metadata(MigrationContext.configure(connection), Base.metadata)
    assert differences == []
    assert Database(database.url).upgraded == []  # the next open finds nothing to do


def test_the_first_token_uploader_of_a_project_becomes_its_owner(tmp_path: Path):
    """Migration 0003: token users become users; each project's first file uploaded with a
    token gives it to that user, a conda package under its name in PEP 503 form; what the
    CLI published stays unowned."""
    engine = create_engine(database_url(new_database_url() or f"sqlite:///{tmp_path}/o.db"))
    before = _migrations_up_to(tmp_path / "m", "0002_owner_channel_names")
    schema.upgrade(engine, before)
    moment = "2026-01-01 00:00:00"
    with engine.begin() as connection:
        connection.execute(
            text(f"INSERT INTO channels VALUES ('c', '', '{moment}'), ('d', '', '{moment}')")
        )
        connection.execute(
            text(
                'INSERT INTO tokens (id, "user", role, token_sha256, created, revoked) VALUES '
                f"(1, 'ulla', 'uploader', 'a', '{moment}', false), "
                f"(2, 'tom', 'uploader', 'b', '{moment}', false)"
            )
        )
        for number, (channel, name, uploader) in enumerate(
            [
                ("c", "Typing_Extensions", "ulla"),
                ("c", "typing.extensions", "tom"),
                ("c", "clitool", "cli"),
                ("d", "typing_extensions", "tom"),
            ],
            start=1,
        ):
            connection.execute(
                text(
                    "INSERT INTO conda_packages (id, channel, subdir, filename, name, version, "
                    "build, sha256, size, uploaded_by, upload_time) VALUES (:id, :channel, "
                    "'noarch', :filename, :name, '1', '0', 'x', 1, :uploader, :moment)"
                ),
                {
                    "id": number,
                    "channel": channel,
                    "filename": f"{number}.conda",
                    "name": name,
                    "uploader": uploader,
                    "moment": moment,
                },
            )
    schema.upgrade(engine)
    with engine.connect() as connection:
        owners = connection.execute(text("SELECT channel, project, owner FROM project_owners"))
        assert sorted(owners) == [
            ("c", "typing-extensions", "user:ulla"),
            ("d", "typing-extensions", "user:tom"),
        ]
        users = connection.execute(text("SELECT name FROM users ORDER BY name"))
        assert [name for (name,) in users] == ["tom", "ulla"]
    engine.dispose()


def test_a_failed_upgrade_leaves_the_database_as_it_was(tmp_path: Path):
    """A migration that fails after rebuilding a table (SQLite) or altering it (PostgreSQL)
    changes nothing: the upgrade is one transaction."""
    home, _facts = baseline_home(tmp_path / "fixture")
    Database(home.database_url).close()  # at head now
    engine = raw_engine(home)
    rows, shape = every_row(engine), described(engine)
    broken = _migrations_up_to(tmp_path / "migrations", head())
    (broken / "versions" / "0099_fails.py").write_text(
        '"""A migration that fails halfway."""\n'
        "import sqlalchemy as sa\nfrom alembic import op\n\n"
        f'revision = "0099_fails"\ndown_revision = "{head()}"\n\n\n'
        "def upgrade():\n"
        '    with op.batch_alter_table("distributions") as batch:\n'
        '        batch.drop_column("md5")\n'
        '        batch.add_column(sa.Column("extra", sa.Text(), nullable=True))\n'
        '    op.execute("DELETE FROM tokens")\n'
        '    raise RuntimeError("the migration failed")\n'
    )
    with pytest.raises(SchemaError, match="nothing was changed: RuntimeError"):
        schema.upgrade(engine, broken)
    with engine.connect() as connection:
        assert current_revision(connection) == head()
    assert every_row(engine) == rows and described(engine) == shape


def test_a_database_a_newer_drawbridge_upgraded_is_refused(tmp_path: Path):
    database = Database(new_database_url() or f"sqlite:///{tmp_path}/new.db")
    with database.engine.begin() as connection:
        connection.execute(text("UPDATE alembic_version SET version_num = '0100_future'"))
    database.close()
    with pytest.raises(SchemaError, match="'0100_future', made by a newer Drawbridge"):
        Database(database.url)


def _migrations_up_to(folder: Path, last: str) -> Path:
    """A copy of the migrations holding those up to `last` (file names sort by revision)."""
    shutil.copytree(schema.MIGRATIONS, folder, ignore=shutil.ignore_patterns("__pycache__"))
    for script in (folder / "versions").glob("0*.py"):
        if script.stem > last:
            script.unlink()
    return folder
