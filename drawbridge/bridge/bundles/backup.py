"""A whole home as a bundle, and back into an empty home: the disaster-recovery path, and
the way to move a home from SQLite to PostgreSQL.

The backup is a bundle of kind "home": every channel's files (as an export carries them),
each conda subdir's repodata.json (so the restored index keeps rattler's records as they
were, its `indexed_timestamp`s included), the database's rows but the file records
(users, groups, token hashes, permissions, owners, bases, promotions, audit, recipes,
requests, held files, misses: `database.json`), and the home's own files (recipes/,
held/, the OSV snapshot; drawbridge.toml comes back as `drawbridge.toml.from-backup`,
since the new home has its own database URL). The signing key never travels.

Restoring refuses a home that holds anything, then writes the rows (keeping their ids),
publishes every file through the normal checks with its first upload time, and writes
the home's files.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import DateTime, delete, func, insert, select, text
from sqlalchemy.types import TypeDecorator

from drawbridge.channel import conda_index, repodata_files
from drawbridge.bridge import records  # noqa: F401  (the bridge's tables, registered)
from drawbridge.bridge.bundles import signing
from drawbridge.bridge.bundles.chunks import staged_path
from drawbridge.bridge.bundles.export import (
    Carried,
    Selection,
    record_file,
    scratch,
    remove_scratch,
    write_bundle,
)
from drawbridge.bridge.bundles.importing import ImportReport, verify_and_stage
from drawbridge.bridge.bundles.manifest import PUBLISHED_ROLES, Manifest
from drawbridge.bridge.errors import BundleError, BundleRefused
from drawbridge.channel import bases as channel_bases
from drawbridge.channel.changes import announce
from drawbridge.channel.database import Base
from drawbridge.channel.distributions import ExpectedDigests
from drawbridge.channel.outbox import DeliveryRow, EventRow
from drawbridge.channel.service import Channels, Provenance

#: tables publishing fills (or that live only while it runs): never carried as rows
FILE_TABLES = ("distributions", "conda_packages", "publish_intents")
#: folders of the home carried as they are
HOME_FOLDERS = ("recipes", "held", "osv")
CONFIG_COPY = "drawbridge.toml.from-backup"


def table_rows(channels: Channels) -> dict[str, list[dict[str, Any]]]:
    """Every row of every table but the file records, as JSON-ready dicts."""
    dumped: dict[str, list[dict[str, Any]]] = {}
    with channels.db.session() as session:
        for table in Base.metadata.sorted_tables:
            if table.name in FILE_TABLES:
                continue
            rows = session.execute(select(table)).mappings()
            dumped[table.name] = [
                {key: _jsonable(value) for key, value in row.items()} for row in rows
            ]
    return dumped


def _jsonable(value: object) -> object:
    return value.isoformat() if isinstance(value, dt.datetime) else value


def export_home(
    out: Path, channels: Channels, private_key: Ed25519PrivateKey, chunk_size: int
) -> Manifest:
    """Write a backup of `channels`' whole home into the new, empty folder `out`."""
    root = channels.home.root
    records_dir = scratch(out.parent / f".{out.name}-database")
    try:
        extra = [
            Carried(record_file(records_dir, "database.json", table_rows(channels)), "database", "")
        ]
        for name in channels.names():
            conda_dir = channels.layout(name).conda_dir
            repodata_files.ensure_channel(conda_dir)  # made from the shards if stale
            for repodata in sorted(conda_dir.glob("*/repodata.json")):
                subject = repodata.relative_to(conda_dir).as_posix()
                extra.append(Carried(repodata, "index", name, subject=subject))
        for folder in HOME_FOLDERS:
            for path in sorted((root / folder).rglob("*")) if (root / folder).is_dir() else []:
                if path.is_file():
                    subject = path.relative_to(root).as_posix()
                    extra.append(Carried(path, "home-file", "", subject=subject))
        extra.append(Carried(channels.home.config_path, "home-file", "", subject=CONFIG_COPY))
        return write_bundle(
            out,
            channels,
            [Selection(name) for name in channels.names()],
            private_key,
            chunk_size,
            extra=extra,
            kind="home",
        )
    finally:
        remove_scratch(records_dir)


def check_empty(channels: Channels) -> None:
    """BundleError unless the home holds no row in any table (a fresh `drawbridge init`)."""
    with channels.db.session() as session:
        for table in Base.metadata.sorted_tables:
            if session.scalar(select(func.count()).select_from(table)):
                raise BundleError(
                    f"{channels.home.root} is not empty (its table {table.name!r} has rows): a "
                    "backup is restored only into a new home (`drawbridge init --home NEW`)"
                )


def import_home(channels: Channels, bundle: Path, trusted: list[signing.PublicKey]) -> ImportReport:
    """Restore the backup `bundle` into `channels`' empty home (see the module)."""
    check_empty(channels)
    manifest, staging, report = verify_and_stage(channels.home.root, bundle, trusted)
    if manifest.kind != "home":
        raise BundleError(f"{bundle} is not a backup of a home (`bundle export --all` makes one)")
    files = list(enumerate(manifest.files))
    (database,) = [staged_path(staging, i, f) for i, f in files if f.role == "database"]
    dumped = json.loads(database.read_text("utf-8"))
    _insert_rows(channels, dumped)
    last_event = max((row["id"] for row in dumped.get(EventRow.__tablename__, [])), default=0)
    root = channels.home.root.resolve()
    for settings in manifest.channels:
        channels.create(settings.name)  # the row is there: this makes its folders, indexes
        layout = channels.layout(settings.name)
        for index, item in files:
            if item.role == "index" and item.channel == settings.name:
                target = _inside(layout.conda_dir, item.subject)
                target.write_bytes(staged_path(staging, index, item).read_bytes())
                # its shards from it, so the records restored keep their timestamps
                conda_index.finish_subdir(target.parent)
        items = [
            (staged_path(staging, i, f), f)
            for i, f in files
            if f.role in PUBLISHED_ROLES and f.channel == settings.name
        ]
        report.published[settings.name] = channels.publish_all(
            settings.name,
            [path for path, _ in items],
            uploaded_by="restore",
            provenance={
                path: Provenance(f.made_how, f.made_from)  # type: ignore[arg-type]
                for path, f in items
                if f.role == "conda" and f.made_how
            },
            expected={path: ExpectedDigests(sha256=f.sha256) for path, f in items},
            upload_times={
                path: dt.datetime.fromisoformat(f.uploaded) for path, f in items if f.uploaded
            },
        )
    for index, item in files:
        if item.role == "home-file":
            target = _inside(root, item.subject)
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(staged_path(staging, index, item).read_bytes())
    _drop_events_after(channels, last_event)
    channel_bases.touch_stamp(channels.home.channels_dir)
    announce(channels.db, "bases")
    channels.access.note_change()
    return report


def _drop_events_after(channels: Channels, last_event: int) -> None:
    """A restore is no change: the events that placing the backup's files wrote (and their
    webhook deliveries) are removed, so the outbox is the backup's and no webhook fires
    for a file its receivers already heard of."""
    with channels.db.session() as session:
        session.execute(delete(DeliveryRow).where(DeliveryRow.event > last_event))
        session.execute(delete(EventRow).where(EventRow.id > last_event))


def _inside(root: Path, relative: str) -> Path:
    """`root / relative`, refused if it would leave `root`."""
    target = (root / relative).resolve()
    if root.resolve() not in target.parents or relative.startswith("/"):
        raise BundleRefused(f"{relative!r} would be written outside {root}; refused")
    return target


def _insert_rows(channels: Channels, dumped: dict[str, list[dict[str, Any]]]) -> None:
    """Insert every dumped row, ids kept, in one transaction (tables in foreign-key order);
    on PostgreSQL each id sequence then continues after the largest id."""
    engine = channels.db.engine
    with engine.begin() as connection:
        for table in Base.metadata.sorted_tables:
            rows = dumped.get(table.name, [])
            if not rows:
                continue
            dates = {c.name for c in table.columns if _is_date(c.type)}
            connection.execute(
                insert(table),
                [
                    {
                        k: (dt.datetime.fromisoformat(v) if k in dates and v else v)
                        for k, v in row.items()
                        if k in table.columns
                    }
                    for row in rows
                ],
            )
        if engine.dialect.name == "postgresql":
            for table in Base.metadata.sorted_tables:
                if "id" in table.columns and table.name in dumped and dumped[table.name]:
                    connection.execute(
                        text(
                            f"SELECT setval(pg_get_serial_sequence('{table.name}', 'id'), "
                            f"(SELECT max(id) FROM {table.name}))"
                        )
                    )


def _is_date(column_type: object) -> bool:
    if isinstance(column_type, TypeDecorator):
        column_type = column_type.impl
    return isinstance(column_type, DateTime)
