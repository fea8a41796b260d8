"""Homes as Drawbridge 0.1.0 made them, for the migration tests of both tiers: the fixture
homes `tests/data/baseline-home-*.tar.gz` (made by `tests/data/make_baseline_home.py`),
unpacked onto this run's database, and every row of their tables to compare."""

from __future__ import annotations

import json
import tarfile
from pathlib import Path

from databases import MODE, cluster
from sqlalchemy import create_engine, text
from sqlalchemy.engine import Engine
from tiers import TESTS

from drawbridge.channel.database import database_url
from drawbridge.channel.home import Home, load_home


DATA = TESTS / "data"


TABLES = [
    "audit",
    "bridge_requests",
    "channels",
    "conda_packages",
    "distributions",
    "publish_intents",
    "recipes",
    "tokens",
]


def baseline_home(folder: Path) -> tuple[Home, dict]:
    """A copy of the 0.1.0 home for this run's database (restored into a new PostgreSQL
    database on a PostgreSQL run), and what its fixture.json says it holds."""
    with tarfile.open(DATA / f"baseline-home-{MODE}.tar.gz") as tar:
        tar.extractall(folder, filter="data")
    if MODE == "postgresql":
        url = cluster().create_database("baseline")
        cluster().restore(url, folder / "database.sql")
        config = folder / "home" / "drawbridge.toml"
        config.write_text(
            config.read_text().replace('database_url = ""', f'database_url = "{url}"')
        )
    return load_home(folder / "home"), json.loads((folder / "fixture.json").read_text())


def raw_engine(home: Home) -> Engine:
    """An engine that upgrades nothing: to look at a database as it is."""
    return create_engine(database_url(home.database_url))


def every_row(
    engine: Engine, columns: dict[str, list[str]] | None = None
) -> dict[str, list[tuple]]:
    """Every row of every table of 0.1.0 (only `columns` of each, if given)."""

    def chosen(table: str) -> str:
        return ", ".join(f'"{c}"' for c in columns[table]) if columns else "*"

    with engine.connect() as connection:
        return {
            table: sorted(
                (
                    tuple(row)
                    for row in connection.execute(text(f'SELECT {chosen(table)} FROM "{table}"'))
                ),
                key=repr,
            )
            for table in TABLES
        }
