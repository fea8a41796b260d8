"""A replica's own store, kept to the records its standby database replicates: which
recorded files it lacks, which it holds that are no longer recorded, a fetched file kept
only once its sha256 is the record's, and its indexes rebuilt from the records.

Files are immutable and named by their records' sha256, so this is a cache filled from
the primary, not a protocol: a file is streamed to a temporary name in `incoming/`,
checked, and renamed into place; one killed half-way leaves only the temporary, which is
never served and is removed on the next start, and the file is fetched again. Nothing
here writes to the database (the standby refuses it).
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from packaging.utils import (
    InvalidSdistFilename,
    InvalidWheelFilename,
    canonicalize_name,
    parse_sdist_filename,
    parse_wheel_filename,
)
from sqlalchemy import select

from drawbridge.channel import conda_index, pip_view
from drawbridge.channel.database import CondaPackageRow, Database, DistributionRow
from drawbridge.channel.distributions import inspect_distribution
from drawbridge.channel.errors import ChannelError
from drawbridge.channel.home import Home
from drawbridge.channel.hosted_docs import DocsRow
from drawbridge.channel.indexes import ChannelIndexes
from drawbridge.channel.layout import ChannelLayout
from drawbridge.channel.stamps import renew
from drawbridge.channel.storage import write_bytes_atomic

#: the prefix of a fetch's temporary file in `incoming/`
FETCH_PREFIX = ".replica-fetch."
#: where a replica says how far it got, for /health (in the home)
STATUS_NAME = "replica-status.json"
#: renewed when a request met a recorded file the store lacks: fetch now (in the home)
WANTED_NAME = "replica-wanted.stamp"
#: bytes read per chunk while a file is checked
CHUNK = 1 << 20


class FetchRefused(ChannelError):
    """A file fetched from the primary is not the recorded one (another size or sha256)."""


@dataclass(frozen=True)
class RecordedFile:
    """A file a channel's records name: where it goes in the store, what it must hash to,
    and what it touches in the indexes (a project's pages, or a conda subdir)."""

    channel: str
    path: str  # relative to the channel's folder
    sha256: str
    size: int
    project: str | None = None  # a wheel or sdist's PEP 503 name
    subdir: str | None = None  # a conda package's subdir
    metadata_sha256: str | None = None  # a wheel's PEP 658 file, written from the wheel


def recorded_files(database: Database, channel: str) -> list[RecordedFile]:
    """Every file channel `channel`'s records name."""
    with database.session() as session:
        wheels = session.execute(
            select(
                DistributionRow.filename,
                DistributionRow.sha256,
                DistributionRow.size,
                DistributionRow.project,
                DistributionRow.metadata_sha256,
            ).where(DistributionRow.channel == channel)
        ).all()
        packages = session.execute(
            select(
                CondaPackageRow.subdir,
                CondaPackageRow.filename,
                CondaPackageRow.sha256,
                CondaPackageRow.size,
            ).where(CondaPackageRow.channel == channel)
        ).all()
    return [
        RecordedFile(channel, f"pypi/files/{name}", sha, size, project, None, metadata)
        for name, sha, size, project, metadata in wheels
    ] + [
        RecordedFile(channel, f"conda/{subdir}/{name}", sha, size, None, subdir)
        for subdir, name, sha, size in packages
    ]


def stored_file(database: Database, home: Home, sha256: str) -> Path | None:
    """Where the store keeps a recorded file of that sha256 (in any channel), or None."""
    with database.session() as session:
        wheels = session.execute(
            select(DistributionRow.channel, DistributionRow.filename).where(
                DistributionRow.sha256 == sha256
            )
        ).all()
        packages = session.execute(
            select(CondaPackageRow.channel, CondaPackageRow.subdir, CondaPackageRow.filename).where(
                CondaPackageRow.sha256 == sha256
            )
        ).all()
        docs = session.execute(
            select(DocsRow.channel, DocsRow.project, DocsRow.version).where(
                DocsRow.sha256 == sha256
            )
        ).all()
    places = [home.channel(channel).files_dir / name for channel, name in wheels] + [
        home.channel(channel).conda_dir / subdir / name for channel, subdir, name in packages
    ]
    places += [
        home.channel(channel).root / "docs" / project / f"{version}.zip"
        for channel, project, version in docs
    ]
    return next((path for path in places if path.is_file()), None)


def is_recorded(database: Database, channel: str, path: str) -> bool:
    """Whether channel `channel`'s records name the file at `path` (relative to the
    channel's folder: `pypi/files/<name>`, `conda/<subdir>/<name>`)."""
    view, _, rest = path.partition("/")
    with database.session() as session:
        if view == "pypi" and rest.startswith("files/"):
            query = select(DistributionRow.id).where(
                DistributionRow.channel == channel, DistributionRow.filename == rest[6:]
            )
        elif view == "conda" and "/" in rest:
            subdir, name = rest.split("/", 1)
            query = select(CondaPackageRow.id).where(
                CondaPackageRow.channel == channel,
                CondaPackageRow.subdir == subdir,
                CondaPackageRow.filename == name,
            )
        else:
            return False
        return session.scalar(query.limit(1)) is not None


def ask_for_files(home: Home) -> None:
    """Tell the replica's background pass that a request waits for a file (a new stamp)."""
    renew(home.root / WANTED_NAME)


def asked_at(home: Home) -> float:
    """When a request last asked for files (0 for never)."""
    try:
        return (home.root / WANTED_NAME).stat().st_mtime
    except OSError:
        return 0.0


def missing(layout: ChannelLayout, files: Iterable[RecordedFile]) -> list[RecordedFile]:
    """The recorded files the store lacks (a file of the recorded size counts as there:
    only a checked file is ever renamed into place)."""
    return [item for item in files if not _present(layout.root / item.path, item.size)]


def _present(path: Path, size: int) -> bool:
    try:
        return path.stat().st_size == size
    except OSError:
        return False


def unrecorded(layout: ChannelLayout, files: Iterable[RecordedFile]) -> list[Path]:
    """Files in the store that no record names any more (moved or deleted on the primary)."""
    wanted = {layout.root / item.path for item in files}
    found = [path for path in _stored(layout) if path not in wanted]
    return found


def project_of(filename: str) -> str | None:
    """The PEP 503 name of a wheel or sdist file name, or None if it names neither."""
    try:
        if filename.endswith(".whl"):
            return canonicalize_name(parse_wheel_filename(filename)[0])
        return canonicalize_name(parse_sdist_filename(filename)[0])
    except (InvalidWheelFilename, InvalidSdistFilename):
        return None


def _stored(layout: ChannelLayout) -> Iterator[Path]:
    if layout.files_dir.is_dir():
        for path in layout.files_dir.iterdir():
            if path.is_file() and not path.name.endswith(".metadata"):
                yield path
    if layout.conda_dir.is_dir():
        for subdir in layout.conda_dir.iterdir():
            if subdir.is_dir():
                for path in subdir.iterdir():
                    if path.name.endswith((".conda", ".tar.bz2")):
                        yield path


def fetch_into_place(
    home: Home,
    item: RecordedFile,
    download: Callable[[RecordedFile, Path], None],
) -> Path:
    """`download` the file into a temporary file, check its size and sha256 against the
    record, then rename it into place (with a wheel's .metadata written from it);
    FetchRefused, and nothing placed, if it is not the recorded file."""
    home.incoming_dir.mkdir(parents=True, exist_ok=True)
    temporary = home.incoming_dir / f"{FETCH_PREFIX}{item.sha256}.{os.getpid()}"
    try:
        download(item, temporary)
        digest, size = _digest(temporary)
        if (digest, size) != (item.sha256, item.size):
            raise FetchRefused(
                f"{item.channel}/{item.path} fetched from the primary has sha256 {digest} "
                f"({size} bytes), its record says {item.sha256} ({item.size} bytes); not kept"
            )
        target = home.channel(item.channel).root / item.path
        target.parent.mkdir(parents=True, exist_ok=True)
        if item.metadata_sha256:
            metadata = inspect_distribution(temporary, target.name).metadata_bytes
            if metadata is not None:
                write_bytes_atomic(target.with_name(target.name + ".metadata"), metadata)
        os.replace(temporary, target)
        return target
    finally:
        temporary.unlink(missing_ok=True)


def _digest(path: Path) -> tuple[str, int]:
    hasher, size = hashlib.sha256(), 0
    with path.open("rb") as handle:
        while chunk := handle.read(CHUNK):
            hasher.update(chunk)
            size += len(chunk)
    return hasher.hexdigest(), size


def remove_fetch_leftovers(home: Home) -> int:
    """Remove the temporaries of fetches a killed replica left; how many there were."""
    if not home.incoming_dir.is_dir():
        return 0
    left = [p for p in home.incoming_dir.iterdir() if p.name.startswith(FETCH_PREFIX)]
    for path in left:
        path.unlink(missing_ok=True)
    return len(left)


def prepare_layout(indexes: ChannelIndexes, layout: ChannelLayout) -> None:
    """A channel's folders and empty indexes, as `create` makes them, with no database
    write (the channel is recorded already, on the primary)."""
    layout.files_dir.mkdir(parents=True, exist_ok=True)
    with indexes.db.locks.channel(layout):
        if not (layout.conda_dir / "noarch" / "repodata.json").exists():
            conda_index.index_conda(layout, conda_index.CHANNEL_SUBDIRS)
        if not (layout.simple_dir / "index.html").exists():
            indexes.write_root_pages(layout)
            pip_view.stamp_pages_format(layout.simple_dir)


def write_status(home: Home, status: dict[str, Any]) -> None:
    """Say how far the replica got (`read_status` reads it, for /health)."""
    write_bytes_atomic(home.root / STATUS_NAME, json.dumps(status, sort_keys=True).encode())


def read_status(home: Home) -> dict[str, Any]:
    """What the replica said last, or {} before it said anything."""
    try:
        said = json.loads((home.root / STATUS_NAME).read_bytes())
    except (OSError, ValueError):
        return {}
    return said if isinstance(said, dict) else {}
